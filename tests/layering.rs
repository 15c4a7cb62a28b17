//! The layering rules of `docs/architecture.md`, checked against the source: which part
//! of `src/` may name which (`crate::part` paths and `use` lines). Test code (files named
//! `tests.rs` or `*_tests.rs`, files in a `tests/` folder, and everything after a file's
//! first `#[cfg(test)]`) and comments are not checked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The parts of the crate and the top-level names in each.
const ROOT: &[&str] = &["daemon", "modules", "fuzzing"];
const MODULES: &[&str] = &[
    "apps",
    "calendar",
    "funcs",
    "channels",
    "voicemail",
    "cdr",
    "pbx_config",
    "res",
    "manager",
];
const CONSOLE: &[&str] = &["cli"];
const CORE: &[&str] = &["pbx", "logger"];
const PURE: &[&str] = &["dialplan", "config", "astdb"];
const PROTOCOL: &[&str] = &["sip", "media", "xmpp", "net"];

/// (part that imports, parts it must never name, why).
fn rules() -> Vec<(&'static [&'static str], Vec<&'static str>, &'static str)> {
    let cat = |parts: &[&'static [&'static str]]| {
        parts
            .iter()
            .flat_map(|p| p.iter().copied())
            .collect::<Vec<_>>()
    };
    vec![
        (
            CORE,
            cat(&[MODULES, ROOT]),
            "the core never imports a module (or the composition root)",
        ),
        (CORE, cat(&[CONSOLE]), "the core never imports the console"),
        (
            PROTOCOL,
            cat(&[CORE, ROOT]),
            "protocol libraries never import the core",
        ),
        (
            PROTOCOL,
            cat(&[MODULES, CONSOLE]),
            "protocol libraries never import a module",
        ),
        (
            CONSOLE,
            cat(&[MODULES, ROOT]),
            "the console names no module and never calls back into daemon.rs",
        ),
        (
            PURE,
            cat(&[CORE, MODULES, CONSOLE, ROOT, PROTOCOL]),
            "the dialplan stays pure",
        ),
        (
            MODULES,
            cat(&[ROOT]),
            "modules never import the composition root",
        ),
    ]
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level parts a file names outside its tests and comments.
fn named_parts(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with("#[cfg(test)]") {
            break;
        }
        if l.starts_with("//") {
            continue;
        }
        let mut rest = l;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + 7..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
            rest = after;
        }
    }
    out
}

#[test]
fn layering_rules_hold() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (part, forbidden, why) in rules() {
        for top in part {
            let mut files = Vec::new();
            let dir = src.join(top);
            rs_files(&dir, &mut files);
            let single = src.join(format!("{top}.rs"));
            if single.exists() {
                files.push(single);
            }
            for f in files {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let in_tests_dir = f
                    .parent()
                    .and_then(|d| d.file_name())
                    .is_some_and(|d| d == "tests");
                if name == "tests.rs" || name.ends_with("_tests.rs") || in_tests_dir {
                    continue;
                }
                let text = std::fs::read_to_string(&f).unwrap_or_default();
                for used in named_parts(&text) {
                    if forbidden.contains(&used.as_str()) {
                        broken.push(format!(
                            "{} names crate::{used}: {why}",
                            f.strip_prefix(&src).unwrap_or(&f).display()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layering rules broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_source_folder_belongs_to_a_part() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known: Vec<&str> = [ROOT, MODULES, CONSOLE, CORE, PURE, PROTOCOL]
        .iter()
        .flat_map(|p| p.iter().copied())
        .chain(["lib", "main", "testutil"])
        .collect();
    for e in std::fs::read_dir(&src).expect("src").flatten() {
        let p = e.path();
        let stem = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        assert!(
            known.contains(&stem.as_str()),
            "src/{stem} is in no part of the layering (add it to tests/layering.rs and docs/architecture.md)"
        );
    }
}
