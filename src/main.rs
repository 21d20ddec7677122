use std::process::ExitCode;

fn main() -> ExitCode {
    pulldoctor::cli::main()
}
