//! Amazon Resource Names, as far as the chain needs them.

use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

/// The pod identity webhook's check for `eks.amazonaws.com/role-arn` (a mismatch only logs there).
#[expect(
    clippy::expect_used,
    reason = "a literal pattern, compiled by every test run"
)]
static ROLE_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws[a-z0-9-]*:iam::\d{12}:role/[\w+=,.@/-]+$").expect("valid regex")
});

impl Arn {
    pub fn parse(text: &str) -> Option<Arn> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?.to_string(),
            service: parts.next()?.to_string(),
            region: parts.next()?.to_string(),
            account: parts.next()?.to_string(),
            resource: parts.next()?.to_string(),
        };
        (!arn.partition.is_empty() && !arn.service.is_empty()).then_some(arn)
    }

    /// The role name of a role ARN (path stripped) or of an assumed-role session ARN.
    pub fn role_name(&self) -> Option<&str> {
        if self.service == "iam" {
            let path = self.resource.strip_prefix("role/")?;
            return path.rsplit('/').next();
        }
        if self.service == "sts" {
            return self
                .resource
                .strip_prefix("assumed-role/")?
                .split('/')
                .next();
        }
        None
    }
}

/// Whether `text` is a role ARN that the pod identity webhook and STS accept.
pub fn is_well_formed_role_arn(text: &str) -> bool {
    ROLE_ARN.is_match(text)
}

/// The role name inside a role ARN, for commands such as `aws iam get-role --role-name`.
pub fn role_name_of(arn: &str) -> String {
    Arn::parse(arn)
        .and_then(|a| a.role_name().map(str::to_string))
        .unwrap_or_else(|| arn.to_string())
}

pub fn account_of(arn: &str) -> Option<String> {
    Arn::parse(arn)
        .map(|a| a.account)
        .filter(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
}

pub fn partition_of(arn: &str) -> String {
    Arn::parse(arn)
        .map(|a| a.partition)
        .unwrap_or_else(|| "aws".to_string())
}

/// The one ARN builder: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`. Take the partition
/// from the cluster's Region or an ARN at hand ([`partition_for_region`], [`partition_of`]),
/// never `aws` by default: China and GovCloud ARNs differ there.
pub fn build(
    partition: &str,
    service: &str,
    region: &str,
    account: &str,
    resource: &str,
) -> String {
    format!("arn:{partition}:{service}:{region}:{account}:{resource}")
}

/// An IAM ARN (IAM has no Region): `role/NAME`, `oidc-provider/HOST/PATH`, `policy/NAME`.
pub fn iam(partition: &str, account: &str, resource: &str) -> String {
    build(partition, "iam", "", account, resource)
}

/// The partition that owns a region, for building ARNs.
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        for good in [
            "arn:aws:iam::111122223333:role/web",
            "arn:aws:iam::111122223333:role/service-role/web.app@x",
            "arn:aws-cn:iam::111122223333:role/web",
            "arn:aws-us-gov:iam::111122223333:role/a+b=c,d",
        ] {
            assert!(is_well_formed_role_arn(good), "{good}");
        }
        for bad in [
            "arn:aws:iam::11112222333:role/web",
            "arn:aws:iam::111122223333:user/web",
            "arn:aws:iam:us-east-1:111122223333:role/web",
            "web",
            "arn:aws:iam::111122223333:role/",
            " arn:aws:iam::111122223333:role/web",
            "arn:aws:iam::111122223333:role/web ",
        ] {
            assert!(!is_well_formed_role_arn(bad), "{bad}");
        }
    }

    #[test]
    fn names_and_accounts() {
        assert_eq!(
            role_name_of("arn:aws:iam::111122223333:role/path/to/web"),
            "web"
        );
        assert_eq!(
            Arn::parse("arn:aws:sts::111122223333:assumed-role/node/i-0abc")
                .unwrap()
                .role_name(),
            Some("node")
        );
        assert_eq!(
            account_of("arn:aws:ecr:us-east-1:444455556666:repository/a/b").as_deref(),
            Some("444455556666")
        );
        assert_eq!(account_of("arn:aws:iam::aws:policy/X"), None);
        assert_eq!(partition_for_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_for_region("eu-west-1"), "aws");
    }
}
