//! Image manifests: which platforms an image index offers.

use oci_spec::image::ImageIndex;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestKind {
    /// An image index (OCI) or manifest list (Docker): the platforms it offers.
    Index(Vec<Platform>),
    /// A single-platform manifest: any node pulls it (a wrong architecture fails at start).
    Single,
}

/// Reads a manifest as ECR's `batch-get-image` returns it (a JSON string).
pub fn parse(manifest: &str) -> Result<ManifestKind, String> {
    let value: Value =
        serde_json::from_str(manifest).map_err(|e| format!("manifest is not JSON: {e}"))?;
    if value.get("manifests").is_none() {
        return Ok(ManifestKind::Single);
    }
    let index: ImageIndex =
        serde_json::from_value(value).map_err(|e| format!("image index does not parse: {e}"))?;
    let platforms = index
        .manifests()
        .iter()
        .filter_map(|d| d.platform().as_ref())
        .map(|p| Platform {
            os: p.os().to_string(),
            architecture: p.architecture().to_string(),
            variant: p.variant().clone(),
        })
        // Attestation manifests carry the platform "unknown/unknown".
        .filter(|p| p.os != "unknown")
        .collect();
    Ok(ManifestKind::Index(platforms))
}

/// Whether an index entry runs on a node of this OS and architecture (the variant is left to
/// the runtime, which picks the best one).
pub fn offers(platforms: &[Platform], os: &str, architecture: &str) -> bool {
    platforms
        .iter()
        .any(|p| p.os == os && p.architecture == architecture)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn index(platforms: &[(&str, &str)], media: &str) -> String {
        let manifests: Vec<Value> = platforms
            .iter()
            .map(|(os, arch)| {
                serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": D1, "size": 1, "platform": {"os": os, "architecture": arch}})
            })
            .collect();
        serde_json::json!({"schemaVersion": 2, "mediaType": media, "manifests": manifests})
            .to_string()
    }

    #[test]
    fn oci_index_and_docker_list() {
        for media in [
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ] {
            let kind = parse(&index(&[("linux", "amd64"), ("unknown", "unknown")], media)).unwrap();
            let ManifestKind::Index(platforms) = kind else {
                panic!("not an index")
            };
            assert_eq!(platforms.len(), 1);
            assert!(offers(&platforms, "linux", "amd64"));
            assert!(!offers(&platforms, "linux", "arm64"));
        }
    }

    #[test]
    fn single_manifest_and_garbage() {
        let single = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
        assert_eq!(parse(single).unwrap(), ManifestKind::Single);
        assert!(parse("{not json").is_err());
        assert!(parse(r#"{"manifests": 3}"#).is_err());
    }
}
