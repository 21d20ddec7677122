//! `kubectl pulldoctor …`: kubectl finds this binary on the PATH by its name and runs it with the
//! arguments after `pulldoctor`, in its own environment (`KUBECONFIG` included). The flags are
//! pulldoctor's own, named as kubectl names them (`--context`, `-n`, `--kubeconfig`).

use std::process::ExitCode;

fn main() -> ExitCode {
    pulldoctor::cmd::main_as("kubectl pulldoctor")
}
