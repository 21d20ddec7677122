//! The import direction of `src/`: the shell (`cmd`) imports everything and nothing imports it;
//! the domain (facts, sources, diagnosis, fixes, reports, the wizard's plans) imports neither the
//! shell nor the TUI. A module that breaks this fails here, naming the file and the line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn nothing_imports_the_shell_and_the_domain_imports_no_tui() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let domain = [
        "facts", "source", "diagnose", "iam", "ecr", "fix", "report", "wizard", "scenario",
        "collect", "text",
    ];
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let top = relative
            .split(['/', '.'])
            .next()
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let shell = code.contains("crate::cmd") || code.contains("pulldoctor::cmd");
            if shell && top != "cmd" && relative != "main.rs" {
                wrong.push(format!(
                    "src/{relative}:{}: imports the shell: {}",
                    n + 1,
                    line.trim()
                ));
            }
            if code.contains("crate::tui") && domain.contains(&top.as_str()) {
                wrong.push(format!(
                    "src/{relative}:{}: imports the TUI: {}",
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(files.len() > 30, "read {} files", files.len());
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}
