use std::process::ExitCode;

fn main() -> ExitCode {
    pulldoctor::cmd::main()
}
