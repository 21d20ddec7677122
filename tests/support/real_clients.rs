//! The real clients an engineer runs: the machine's `kubectl` and the AWS CLI pinned into the
//! moto venv (both installed by `scripts/test`), pointed at the stand-ins.

use super::Harness;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `kubectl`: `PULLDOCTOR_KUBECTL`, else the first on the PATH.
pub fn kubectl() -> PathBuf {
    if let Some(p) = std::env::var_os("PULLDOCTOR_KUBECTL") {
        return PathBuf::from(p);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("kubectl"))
}

/// The AWS CLI, beside the moto server in its venv.
pub fn aws() -> PathBuf {
    super::moto_binary().with_file_name("aws")
}

/// Whether both clients are here. Where `scripts/test` could get no kubectl at all it says why
/// in `PULLDOCTOR_NO_KUBECTL`, and the tests that need one say so and stop; anywhere else a
/// missing client fails the test with the way to install it.
pub fn available() -> Option<()> {
    assert!(
        aws().is_file(),
        "the AWS CLI is not at {}: run scripts/test, which installs it beside moto",
        aws().display()
    );
    if kubectl().is_file() {
        return Some(());
    }
    match std::env::var("PULLDOCTOR_NO_KUBECTL") {
        Ok(why) => {
            eprintln!("SKIPPED: no kubectl on this machine ({why})");
            None
        }
        Err(_) => panic!("no kubectl on the PATH: run scripts/test, which installs one"),
    }
}

/// A command with the real clients first on the PATH, `kubectl` on the stand-in's kubeconfig
/// and the AWS CLI on the AWS front, with no Region and no profile of the machine's.
pub fn command(program: impl AsRef<std::ffi::OsStr>, h: &Harness, dir: &Path) -> Command {
    let mut path = vec![aws().parent().unwrap().to_path_buf()];
    path.extend(kubectl().parent().map(Path::to_path_buf));
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let mut command = Command::new(program);
    command
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("KUBECONFIG", &h.kubeconfig)
        .env("KUBECACHEDIR", dir.join("kube-cache"))
        .env("AWS_ENDPOINT_URL", h.front.url())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION");
    command
}
