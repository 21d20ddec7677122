//! The setup as files: Kubernetes YAML, JSON policy documents, a shell script of `aws` /
//! `kubectl` commands, and Terraform.

use super::{Mode, Setup};
use crate::fix::command;
use crate::fix::guard::APP_POLICY_NAME;
use crate::report::Apply;
use std::path::{Path, PathBuf};

/// File name → contents, in a stable order.
pub fn files(setup: &Setup) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "serviceaccount.yaml".to_string(),
            service_account_yaml(setup),
        ),
        (
            "deployment-snippet.yaml".to_string(),
            deployment_snippet(setup),
        ),
        (
            "trust-policy.json".to_string(),
            setup.trust.to_pretty_json(),
        ),
    ];
    if let Some(app) = &setup.answers.app_policy {
        files.push(("app-policy.json".to_string(), app.to_pretty_json()));
    }
    for w in &setup.plan.writes {
        let own_file = match &w.apply {
            Apply::PutRolePolicy { policy_name, .. } => policy_name != APP_POLICY_NAME,
            Apply::SetRepositoryPolicy { .. } => true,
            _ => false,
        };
        if own_file {
            files.push((document_file(&w.apply), w.after.clone().unwrap_or_default()));
        }
    }
    files.push(("apply.sh".to_string(), script(setup)));
    files.push(("main.tf".to_string(), terraform(setup)));
    files
}

/// Writes the files into `dir`; returns their paths. A file that exists is overwritten only with
/// `overwrite` (`--force`), and then replaced, never written through: a planted symlink is
/// removed, not followed. Without it, nothing is written when any file exists.
pub fn write(setup: &Setup, dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, String> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let files = files(setup);
    let existing: Vec<String> = files
        .iter()
        .map(|(name, _)| dir.join(name))
        .filter(|path| path.symlink_metadata().is_ok())
        .map(|path| path.display().to_string())
        .collect();
    if !existing.is_empty() && !overwrite {
        return Err(format!(
            "{} already exist(s); nothing was written (--force overwrites)",
            existing.join(", ")
        ));
    }
    let mut paths = Vec::new();
    for (name, text) in files {
        let path = dir.join(&name);
        let cannot = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        if path.symlink_metadata().is_ok() {
            std::fs::remove_file(&path).map_err(cannot)?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(cannot)?;
        paths.push(path);
    }
    Ok(paths)
}

fn service_account_yaml(setup: &Setup) -> String {
    let (ns, sa) = (&setup.answers.namespace, &setup.answers.service_account);
    let annotations = match setup.mode {
        Mode::Irsa => format!(
            "  annotations:\n    eks.amazonaws.com/role-arn: {}\n",
            setup.role_arn
        ),
        Mode::PodIdentity => String::new(),
    };
    format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {sa}\n  namespace: {ns}\n{annotations}"
    )
}

fn deployment_snippet(setup: &Setup) -> String {
    let (ns, sa) = (&setup.answers.namespace, &setup.answers.service_account);
    let image = setup
        .repositories
        .first()
        .map(|k| {
            format!(
                "{}.dkr.ecr.{}.amazonaws.com/{}:TAG",
                k.registry, k.region, k.name
            )
        })
        .unwrap_or_default();
    format!(
        "# Merge into the app's Deployment: the pods run as the ServiceAccount.\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: APP\n  namespace: {ns}\nspec:\n  template:\n    spec:\n      serviceAccountName: {sa}\n      containers:\n        - name: APP\n          image: {image}\n"
    )
}

/// The file of the script that holds a write's document.
fn document_file(apply: &Apply) -> String {
    match apply {
        Apply::PutRolePolicy { policy_name, .. } if policy_name == APP_POLICY_NAME => {
            "app-policy.json".into()
        }
        Apply::PutRolePolicy {
            role, policy_name, ..
        } => format!("{role}-{policy_name}.json"),
        Apply::SetRepositoryPolicy { repository, .. } => {
            format!("repository-policy-{}.json", repository.replace('/', "_"))
        }
        other => command::default_file(other),
    }
}

fn script(setup: &Setup) -> String {
    let mut out = format!(
        "#!/usr/bin/env bash\n# pulldoctor wizard: {}\n# Mode: {} ({}).\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\n\n",
        crate::text::escape_line(&setup.plan.title),
        setup.mode.as_str(),
        setup.mode_reason
    );
    // One line each, escaped: an annotation's value (tenant text) may hold a line break.
    for what in &setup.plan.takes_over {
        out.push_str(&format!(
            "# TAKES OVER what exists: {}\n",
            crate::text::escape_line(what)
        ));
    }
    for w in &setup.plan.writes {
        if let Apply::SetRepositoryPolicy { registry, .. } = &w.apply {
            out.push_str(&format!(
                "# In account {} (the repository's owner):\n",
                crate::text::escape_line(registry)
            ));
        }
        let file = document_file(&w.apply);
        out.push_str(&command::line(&w.apply, &file, w.after.as_deref()));
        out.push('\n');
    }
    out
}

fn terraform(setup: &Setup) -> String {
    let (ns, sa) = (&setup.answers.namespace, &setup.answers.service_account);
    let ident = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    };
    let mut out = String::from("# pulldoctor wizard: the same setup as Terraform.\n\n");
    for w in &setup.plan.writes {
        if let Apply::CreateOpenIdConnectProvider { url, client_id, .. } = &w.apply {
            out.push_str(&format!(
                "resource \"aws_iam_openid_connect_provider\" \"cluster\" {{\n  url            = \"{url}\"\n  client_id_list = [\"{client_id}\"]\n}}\n\n"
            ));
        }
    }
    let boundary = setup
        .answers
        .permissions_boundary
        .as_deref()
        .map(|b| format!("  permissions_boundary = \"{b}\"\n"))
        .unwrap_or_default();
    out.push_str(&format!(
        "resource \"aws_iam_role\" \"app\" {{\n  name               = \"{}\"\n  assume_role_policy = file(\"${{path.module}}/trust-policy.json\")\n{boundary}}}\n\n",
        setup.role_name
    ));
    if setup.answers.app_policy.is_some() {
        out.push_str("resource \"aws_iam_role_policy\" \"app\" {\n  name   = \"app\"\n  role   = aws_iam_role.app.id\n  policy = file(\"${path.module}/app-policy.json\")\n}\n\n");
    }
    for w in &setup.plan.writes {
        if let Apply::PutRolePolicy {
            role, policy_name, ..
        } = &w.apply
            && policy_name != APP_POLICY_NAME
        {
            out.push_str(&format!(
                "resource \"aws_iam_role_policy\" \"pull_{}\" {{\n  name   = \"{policy_name}\"\n  role   = \"{role}\"\n  policy = file(\"${{path.module}}/{role}-{policy_name}.json\")\n}}\n\n",
                ident(role)
            ));
        }
    }
    for w in &setup.plan.writes {
        if let Apply::SetRepositoryPolicy {
            registry,
            repository,
            ..
        } = &w.apply
        {
            out.push_str(&format!(
                "# Applied by the repository's owner, account {registry}.\nresource \"aws_ecr_repository_policy\" \"{}\" {{\n  repository = \"{repository}\"\n  policy     = file(\"${{path.module}}/repository-policy-{}.json\")\n}}\n\n",
                ident(repository),
                repository.replace('/', "_")
            ));
        }
    }
    match setup.mode {
        Mode::Irsa => out.push_str(&format!(
            "resource \"kubernetes_service_account\" \"app\" {{\n  metadata {{\n    name      = \"{sa}\"\n    namespace = \"{ns}\"\n    annotations = {{\n      \"eks.amazonaws.com/role-arn\" = aws_iam_role.app.arn\n    }}\n  }}\n}}\n"
        )),
        Mode::PodIdentity => out.push_str(&format!(
            "resource \"kubernetes_service_account\" \"app\" {{\n  metadata {{\n    name      = \"{sa}\"\n    namespace = \"{ns}\"\n  }}\n}}\n\nresource \"aws_eks_pod_identity_association\" \"app\" {{\n  cluster_name    = \"{}\"\n  namespace       = \"{ns}\"\n  service_account = \"{sa}\"\n  role_arn        = aws_iam_role.app.arn\n}}\n",
            setup.cluster
        )),
    }
    out
}
