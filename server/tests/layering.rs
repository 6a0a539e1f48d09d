//! The server's shape, checked on its source: every write commits in the
//! unit of work (`src/work.rs`) and nowhere else, and SQL lives in the
//! storage layer. A change that commits elsewhere, or puts SQL in a new
//! place, fails here with the file and line.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(file relative to the crate, line number, line)` for every code line
/// (not a comment) of the server's sources containing `needle`.
fn find(needle: &str) -> Vec<(String, usize, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        for (i, line) in std::fs::read_to_string(&file).unwrap().lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") && code.contains(needle) {
                found.push((relative.clone(), i + 1, line.trim().to_owned()));
            }
        }
    }
    found
}

#[test]
fn writes_commit_only_in_the_unit_of_work() {
    let stray: Vec<_> = find(".commit()")
        .into_iter()
        .chain(find("begin_write("))
        .filter(|(file, _, line)| {
            file != "src/work.rs"
                && !(file == "src/db/mod.rs" && line.starts_with("pub async fn begin_write"))
        })
        .collect();
    assert!(
        stray.is_empty(),
        "a write transaction opened or committed outside src/work.rs:\n{stray:#?}"
    );
}

#[test]
fn sql_stays_in_the_storage_layer() {
    let stray: Vec<_> = find("sqlx::query")
        .into_iter()
        .filter(|(file, ..)| !file.starts_with("src/db/"))
        .collect();
    assert!(
        stray.is_empty(),
        "SQL outside the storage layer (src/db/):\n{stray:#?}"
    );
}

/// The adapters: they parse, call one service and render, and may import
/// anything below them.
fn is_adapter(file: &str) -> bool {
    file.starts_with("src/http/")
        || file.starts_with("src/console/")
        || matches!(
            file,
            "src/main.rs" | "src/lib.rs" | "src/sync/session.rs" | "src/sync/commands.rs"
        )
}

/// Imports go one way — adapters → services → unit of work → storage →
/// model — and this is checked on the source rather than by separate crates:
/// the server is one crate so that one build serves the binary, the tests
/// and the benches, and the few rules below name every way up there is.
#[test]
fn imports_go_one_way() {
    let mut upward = Vec::new();
    for adapter in [
        "crate::http",
        "crate::console",
        "crate::sync::session",
        "crate::sync::commands",
    ] {
        upward.extend(
            find(adapter)
                .into_iter()
                .filter(|(file, ..)| !is_adapter(file)),
        );
    }
    // The unit of work sits below the services.
    for service in [
        "crate::accounts",
        "crate::alerts",
        "crate::calls",
        "crate::helpdesk",
        "crate::invoices",
        "crate::journeys",
        "crate::kpi",
        "crate::photos",
        "crate::ratings",
        "crate::settings",
        "crate::visits",
    ] {
        upward.extend(find(service).into_iter().filter(|(file, ..)| {
            file == "src/work.rs" || file.starts_with("src/events/") || file.starts_with("src/db/")
        }));
    }
    // Storage knows rows and the model only.
    upward.extend(find("crate::").into_iter().filter(|(file, _, line)| {
        file.starts_with("src/db/")
            && ["crate::work", "crate::events", "crate::sync", "crate::auth"]
                .iter()
                .any(|up| line.contains(up))
    }));
    assert!(upward.is_empty(), "imports that run upward:\n{upward:#?}");
}
