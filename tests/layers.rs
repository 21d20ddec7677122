//! The import direction of `src/`: the shell (`cmd`) imports everything and nothing imports it;
//! the domain (facts, sources, diagnosis, fixes, reports, the wizard's plans) imports neither the
//! shell nor the TUI. A module that breaks this fails here, naming the file and the line.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

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
        "facts", "source", "chain", "diagnose", "iam", "ecr", "fix", "report", "wizard",
        "scenario", "collect", "text",
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
            if shell && top != "cmd" && relative != "main.rs" && !relative.starts_with("bin/") {
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

/// The top-level modules `src/X` (or `src/X.rs`) that `text` names with `crate::X`.
fn modules_named(text: &str, modules: &[String]) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    modules
        .iter()
        .filter(|m| {
            code.match_indices(&format!("crate::{m}"))
                .any(|(at, found)| {
                    !code[at + found.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                })
        })
        .cloned()
        .collect()
}

#[test]
fn the_modules_of_src_import_one_another_without_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| Some(p.file_stem()?.to_string_lossy().into_owned()))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    modules.sort();
    modules.dedup();
    // Edges: module → the other top-level modules its files name.
    let mut edges: Vec<(String, Vec<String>)> = Vec::new();
    for module in &modules {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src.join(format!("{module}.rs")));
        }
        let mut named: Vec<String> = files
            .iter()
            .flat_map(|f| modules_named(&std::fs::read_to_string(f).unwrap(), &modules))
            .filter(|m| m != module)
            .collect();
        named.sort();
        named.dedup();
        edges.push((module.clone(), named));
    }
    assert!(
        edges
            .iter()
            .any(|(m, to)| m == "diagnose" && to.contains(&"chain".to_string()))
    );
    let cycle = a_cycle(&edges);
    assert!(
        cycle.is_none(),
        "import cycle: {}",
        cycle.unwrap_or_default().join(" → ")
    );
    // The README's diagram names every edge, and only those.
    let readme = std::fs::read_to_string(src.join("../README.md")).unwrap();
    let drawn: Vec<(String, Vec<String>)> = readme
        .split("```text imports")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README's import diagram")
        .lines()
        .filter_map(|line| {
            let (from, to) = line.split_once("─▶")?;
            let mut to: Vec<String> = to
                .split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect();
            to.sort();
            Some((from.trim().to_string(), to))
        })
        .collect();
    let actual: Vec<(String, Vec<String>)> =
        edges.into_iter().filter(|(_, to)| !to.is_empty()).collect();
    let mut drawn = drawn;
    drawn.sort();
    assert_eq!(
        drawn, actual,
        "the README's import diagram is not what src/ imports"
    );
}

/// The files of one folder `dir` (mod.rs left out: it is the folder itself) and, for each, the
/// sibling files it names (`super::x`, or `crate::PATH::x`).
fn sibling_edges(src: &Path, dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| p.file_stem().is_some_and(|s| s != "mod"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let path = dir
        .strip_prefix(src)
        .unwrap()
        .to_string_lossy()
        .replace('/', "::");
    files
        .iter()
        .zip(&names)
        .map(|(file, name)| {
            let code: String = std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            let names_sibling = |sibling: &String| {
                [
                    format!("super::{sibling}"),
                    format!("crate::{path}::{sibling}"),
                ]
                .iter()
                .any(|pattern| {
                    code.match_indices(pattern.as_str()).any(|(at, found)| {
                        !code[at + found.len()..]
                            .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                    })
                })
            };
            let to = names
                .iter()
                .filter(|s| *s != name && names_sibling(s))
                .cloned()
                .collect();
            (name.clone(), to)
        })
        .collect()
}

/// A cycle among `edges`, if there is one.
fn a_cycle(edges: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    fn from(
        at: &str,
        path: &mut Vec<String>,
        edges: &[(String, Vec<String>)],
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|p| p == at) {
            let mut cycle = path[start..].to_vec();
            cycle.push(at.to_string());
            return Some(cycle);
        }
        path.push(at.to_string());
        let next = edges
            .iter()
            .find(|(m, _)| m == at)
            .map(|(_, to)| to.clone());
        for to in next.unwrap_or_default() {
            if let Some(cycle) = from(&to, path, edges) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    edges
        .iter()
        .find_map(|(m, _)| from(m, &mut Vec::new(), edges))
}

/// Inside each folder of `src/`, its files import one another without a cycle (shared types get
/// a file of their own, as `chain/outcome.rs` and `tui/action.rs` do).
#[test]
fn the_files_of_each_folder_import_one_another_without_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![src.clone()];
    let mut folders = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path.clone());
                folders.push(path);
            }
        }
    }
    folders.sort();
    assert!(folders.iter().any(|f| f.ends_with("chain")), "{folders:?}");
    let mut wrong = Vec::new();
    for folder in &folders {
        let name = folder
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if let Some(cycle) = a_cycle(&sibling_edges(&src, folder)) {
            wrong.push(format!("src/{name}: {}", cycle.join(" → ")));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    // A planted circle is found.
    let planted = vec![
        ("a".to_string(), vec!["b".to_string()]),
        ("b".to_string(), vec!["a".to_string()]),
    ];
    assert_eq!(
        a_cycle(&planted),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}

/// A file of `src/` holds one concern: past 1,000 lines (tests included) it holds several.
#[test]
fn no_file_of_src_is_over_a_thousand_lines() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    assert!(files.len() > 50, "src/ was not found");
    let long: Vec<String> = files
        .iter()
        .map(|f| (f, std::fs::read_to_string(f).unwrap().lines().count()))
        .filter(|(_, lines)| *lines > 1000)
        .map(|(f, lines)| format!("{} ({lines} lines)", f.display()))
        .collect();
    assert_eq!(long, Vec::<String>::new(), "split these by concern");
}
