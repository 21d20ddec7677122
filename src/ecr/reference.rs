//! Image references and the registry hosts the node's ECR credential provider covers.

use oci_spec::distribution::Reference;
use regex::Regex;
use std::sync::LazyLock;

/// The host pattern of `ecr-credential-provider` (cloud-provider-aws): only these hosts get
/// node credentials; anything else is pulled anonymously.
#[expect(
    clippy::expect_used,
    reason = "a literal pattern, compiled by every test run"
)]
static PRIVATE_ECR_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{12})\.dkr[\.\-]ecr(\-fips)?\.([a-z0-9][a-z0-9-]*)\.(amazonaws\.(com(\.cn)?|eu)|on\.(aws|amazonwebservices\.com\.cn)|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$",
    )
    .expect("valid regex")
});

/// A host that a person meant as private ECR: an account of 11 to 13 digits and `dkr.ecr` / `dkr-ecr`, in
/// any case (the credential provider matches case-sensitively, so `DKR.ECR` is not covered).
#[expect(
    clippy::expect_used,
    reason = "a literal pattern, compiled by every test run"
)]
static ECR_LOOKALIKE: LazyLock<Regex> =
    // 11 to 13 digits: an account id one digit short or long is still meant as ECR.
    LazyLock::new(|| Regex::new(r"(?i)^\d{11,13}\.dkr[.-]ecr").expect("valid regex"));

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// A private ECR image the node's credential provider covers.
    Ecr(EcrImage),
    /// Public ECR (`public.ecr.aws`, `ecr-public.aws.com`): not private ECR.
    PublicEcr { host: String },
    /// Looks like private ECR but the credential provider does not match it: pulled anonymously.
    EcrLookalike { host: String },
    /// Docker Hub, ghcr.io, quay.io, …
    Other { host: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrImage {
    pub host: String,
    pub account: String,
    pub region: String,
    pub partition: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl EcrImage {
    /// The image is in one of AWS's EKS add-on registries.
    pub fn in_addon_registry(&self) -> bool {
        AWS_EKS_REGISTRIES.contains(&self.account.as_str())
    }

    pub fn repository_arn(&self) -> String {
        crate::iam::arn::build(
            &self.partition,
            "ecr",
            &self.region,
            &self.account,
            &format!("repository/{}", self.repository),
        )
    }

    /// `tag` or `digest` as written in the reference, for messages.
    pub fn version(&self) -> String {
        match (&self.tag, &self.digest) {
            (_, Some(d)) => format!("@{d}"),
            (Some(t), None) => format!(":{t}"),
            (None, None) => ":latest".to_string(),
        }
    }

    /// The digest, else the tag, else `latest`: what a pull asks the registry for.
    pub fn reference(&self) -> String {
        self.digest
            .clone()
            .or_else(|| self.tag.clone())
            .unwrap_or_else(|| "latest".to_string())
    }

    /// `--image-ids` argument for `aws ecr describe-images` / `batch-get-image`.
    pub fn image_id_arg(&self) -> String {
        match (&self.tag, &self.digest) {
            (_, Some(d)) => format!("imageDigest={d}"),
            (Some(t), None) => format!("imageTag={t}"),
            (None, None) => "imageTag=latest".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceError(pub String);

/// The Regions whose EKS add-on images come from a registry of their own (EKS user guide,
/// "Amazon container image registries for Amazon EKS add-ons"); every other Region's come from
/// [`DEFAULT_ADDON_REGISTRY`].
pub const ADDON_REGISTRY_REGIONS: [(&str, &str); 19] = [
    ("af-south-1", "877085696533"),
    ("ap-east-1", "800184023465"),
    ("ap-south-2", "900889452093"),
    ("ap-southeast-3", "296578399912"),
    ("ap-southeast-4", "491585149902"),
    ("ap-southeast-5", "151610086707"),
    ("ap-southeast-7", "121268973566"),
    ("ca-west-1", "761377655185"),
    ("cn-north-1", "918309763551"),
    ("cn-northwest-1", "961992271922"),
    ("eu-central-2", "900612956339"),
    ("eu-south-1", "590381155156"),
    ("eu-south-2", "455263428931"),
    ("il-central-1", "066635153087"),
    ("me-central-1", "759879836304"),
    ("me-south-1", "558608220178"),
    ("mx-central-1", "730335286997"),
    ("us-gov-east-1", "151742754352"),
    ("us-gov-west-1", "013241004608"),
];

/// The add-on registry of most commercial Regions.
pub const DEFAULT_ADDON_REGISTRY: &str = "602401143452";

/// AWS's own ECR registries of EKS images (the pause image, add-ons): every AWS account of their
/// partition may pull from them (`ecr:BatchGetImage` answers), and no one else's credentials can
/// list or describe their repositories or read their policies.
pub const AWS_EKS_REGISTRIES: [&str; 20] = [
    DEFAULT_ADDON_REGISTRY,
    ADDON_REGISTRY_REGIONS[0].1,
    ADDON_REGISTRY_REGIONS[1].1,
    ADDON_REGISTRY_REGIONS[2].1,
    ADDON_REGISTRY_REGIONS[3].1,
    ADDON_REGISTRY_REGIONS[4].1,
    ADDON_REGISTRY_REGIONS[5].1,
    ADDON_REGISTRY_REGIONS[6].1,
    ADDON_REGISTRY_REGIONS[7].1,
    ADDON_REGISTRY_REGIONS[8].1,
    ADDON_REGISTRY_REGIONS[9].1,
    ADDON_REGISTRY_REGIONS[10].1,
    ADDON_REGISTRY_REGIONS[11].1,
    ADDON_REGISTRY_REGIONS[12].1,
    ADDON_REGISTRY_REGIONS[13].1,
    ADDON_REGISTRY_REGIONS[14].1,
    ADDON_REGISTRY_REGIONS[15].1,
    ADDON_REGISTRY_REGIONS[16].1,
    ADDON_REGISTRY_REGIONS[17].1,
    ADDON_REGISTRY_REGIONS[18].1,
];

/// The registry that serves EKS add-on images in `region`.
pub fn addon_registry_of(region: &str) -> &'static str {
    ADDON_REGISTRY_REGIONS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(_, account)| *account)
        .unwrap_or(DEFAULT_ADDON_REGISTRY)
}

/// Parses an image reference as the container runtime does, then classifies its registry.
pub fn parse(image: &str) -> Result<ImageRef, ReferenceError> {
    let reference = Reference::try_from(image)
        .map_err(|e| ReferenceError(format!("\"{image}\" is not a valid image reference: {e}")))?;
    let host = reference.registry().to_string();
    if host == "public.ecr.aws" || host == "ecr-public.aws.com" {
        return Ok(ImageRef::PublicEcr { host });
    }
    if let Some(caps) = PRIVATE_ECR_HOST.captures(&host) {
        let region = caps[3].to_string();
        let partition = partition_for_host(&host, &region);
        return Ok(ImageRef::Ecr(EcrImage {
            account: caps[1].to_string(),
            region,
            partition: partition.to_string(),
            repository: reference.repository().to_string(),
            // A reference with only a digest carries no tag, but oci-spec fills in "latest".
            tag: if reference.digest().is_some() && !has_explicit_tag(image) {
                None
            } else {
                reference.tag().map(str::to_string)
            },
            digest: reference.digest().map(str::to_string),
            host,
        }));
    }
    if ECR_LOOKALIKE.is_match(&host) {
        return Ok(ImageRef::EcrLookalike { host });
    }
    Ok(ImageRef::Other { host })
}

fn has_explicit_tag(image: &str) -> bool {
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    last.contains(':')
}

/// The registry host of a private registry: China's Regions answer under `amazonaws.com.cn`.
pub fn registry_host(account: &str, region: &str) -> String {
    match crate::iam::arn::partition_for_region(region) {
        "aws-cn" => format!("{account}.dkr.ecr.{region}.amazonaws.com.cn"),
        _ => format!("{account}.dkr.ecr.{region}.amazonaws.com"),
    }
}

fn partition_for_host(host: &str, region: &str) -> &'static str {
    if host.ends_with(".amazonaws.eu") {
        "aws-eusc"
    } else if host.ends_with(".c2s.ic.gov") {
        "aws-iso"
    } else if host.ends_with(".sc2s.sgov.gov") {
        "aws-iso-b"
    } else if host.ends_with(".cloud.adc-e.uk") {
        "aws-iso-e"
    } else if host.ends_with(".csp.hci.ic.gov") {
        "aws-iso-f"
    } else {
        crate::iam::arn::partition_for_region(region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecr(image: &str) -> EcrImage {
        match parse(image) {
            Ok(ImageRef::Ecr(e)) => e,
            other => panic!("{image}: {other:?}"),
        }
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn private_ecr_host_forms() {
        let cases = [
            (
                "111122223333.dkr.ecr.us-east-1.amazonaws.com/web:1.4",
                "us-east-1",
                "aws",
            ),
            (
                "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/web:1",
                "cn-north-1",
                "aws-cn",
            ),
            (
                "111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com/web:1",
                "us-gov-west-1",
                "aws-us-gov",
            ),
            (
                "111122223333.dkr-ecr.eu-west-1.on.aws/web:1",
                "eu-west-1",
                "aws",
            ),
            (
                "111122223333.dkr-ecr-fips.us-east-2.on.aws/web:1",
                "us-east-2",
                "aws",
            ),
            (
                "111122223333.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn/web:1",
                "cn-northwest-1",
                "aws-cn",
            ),
            (
                "111122223333.dkr.ecr.us-iso-east-1.c2s.ic.gov/web:1",
                "us-iso-east-1",
                "aws-iso",
            ),
            (
                "111122223333.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/web:1",
                "us-isob-east-1",
                "aws-iso-b",
            ),
            (
                "111122223333.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk/web:1",
                "eu-isoe-west-1",
                "aws-iso-e",
            ),
            (
                "111122223333.dkr.ecr.us-isof-south-1.csp.hci.ic.gov/web:1",
                "us-isof-south-1",
                "aws-iso-f",
            ),
            (
                "111122223333.dkr.ecr.eusc-de-east-1.amazonaws.eu/web:1",
                "eusc-de-east-1",
                "aws-eusc",
            ),
        ];
        for (image, region, partition) in cases {
            let e = ecr(image);
            assert_eq!(e.account, "111122223333", "{image}");
            assert_eq!(e.region, region, "{image}");
            assert_eq!(e.partition, partition, "{image}");
            assert_eq!(e.repository, "web", "{image}");
        }
    }

    #[test]
    fn tags_digests_and_nested_repositories() {
        let e = ecr("111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/api/web:2.0");
        assert_eq!(e.repository, "shop/api/web");
        assert_eq!(e.tag.as_deref(), Some("2.0"));
        assert_eq!(e.digest, None);
        assert_eq!(
            e.repository_arn(),
            "arn:aws:ecr:us-east-1:111122223333:repository/shop/api/web"
        );
        let e = ecr(&format!(
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/web@{DIGEST}"
        ));
        assert_eq!(e.tag, None);
        assert_eq!(e.digest.as_deref(), Some(DIGEST));
        assert_eq!(e.image_id_arg(), format!("imageDigest={DIGEST}"));
        let e = ecr(&format!(
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/web:1@{DIGEST}"
        ));
        assert_eq!(e.tag.as_deref(), Some("1"));
        assert_eq!(e.digest.as_deref(), Some(DIGEST));
        let e = ecr("111122223333.dkr.ecr.us-east-1.amazonaws.com/web");
        assert_eq!(e.tag.as_deref(), Some("latest"));
        let e = ecr(
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/ecr-public/docker/library/python:3.8",
        );
        assert_eq!(e.repository, "ecr-public/docker/library/python");
    }

    #[test]
    fn other_registries_and_lookalikes() {
        assert!(matches!(parse("nginx:1.27"), Ok(ImageRef::Other { .. })));
        assert!(matches!(
            parse("ghcr.io/org/app:1"),
            Ok(ImageRef::Other { .. })
        ));
        assert!(matches!(
            parse("public.ecr.aws/eks/aws-load-balancer-controller:v2"),
            Ok(ImageRef::PublicEcr { .. })
        ));
        assert!(matches!(
            parse("ecr-public.aws.com/docker/library/redis:7"),
            Ok(ImageRef::PublicEcr { .. })
        ));
        for lookalike in [
            "111122223333.dkr.ecr.us-east-1.amazon.com/web:1",
            "111122223333.dkr.ecr.us-east-1.amazonaws.co/web:1",
            "111122223333.dkr-ecr.us-east-1.amazonaws.org/web:1",
            // The credential provider's pattern is case-sensitive.
            "111122223333.DKR.ECR.us-east-1.amazonaws.com/web:1",
            "111122223333.dkr.ecr.US-EAST-1.amazonaws.com/web:1",
            "11112222333.dkr.ecr.us-east-1.amazonaws.com/web:1",
            "1111222233334.dkr.ecr.us-east-1.amazonaws.com/web:1",
        ] {
            assert!(
                matches!(parse(lookalike), Ok(ImageRef::EcrLookalike { .. })),
                "{lookalike}"
            );
        }
        // A custom alias is another registry as far as the node knows.
        assert!(matches!(
            parse("registry.example.com/web:1"),
            Ok(ImageRef::Other { .. })
        ));
    }

    #[test]
    fn malformed_references() {
        for bad in [
            "",
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/Web:1",
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/web@sha256:abc",
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/web:bad tag",
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/web::1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
