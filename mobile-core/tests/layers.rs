//! The crate's module layering, checked on its source: imports go one way
//! (down the list in `LAYERS`), and each table is written only by the module
//! that owns it. The rules and their reasons are in the crate doc (`lib.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first. A module may use modules of
/// lower layers, never of its own layer or above.
const LAYERS: &[&[&str]] = &[
    &["photo"],
    &["error"],
    &["geo", "model", "schema"],
    &["events", "store", "files"],
    &["account"],
    &["shared"],
    &["documents"],
    &["outbox"],
    &["visits", "tickets"],
    &["photos"],
    &["invoices", "journeys", "calls"],
    &["auth"],
    &["sync_client"],
    &["facade"],
];

/// Tables, the module that owns (writes) each, and the modules that may
/// also read it with their own queries (the features' lists over the index).
const TABLES: &[(&str, &str, &[&str])] = &[
    ("meta", "store", &[]),
    ("account", "account", &[]),
    (
        "documents",
        "documents",
        &["visits", "tickets", "invoices", "photos", "journeys"],
    ),
    (
        "doc_index",
        "documents",
        &["visits", "tickets", "invoices", "photos"],
    ),
    ("outbox", "outbox", &[]),
    ("photo_uploads", "photos", &[]),
    ("journey_forms", "journeys", &[]),
    ("calls", "calls", &[]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, with its top-level module (`None` for
/// `lib.rs`, which only declares and re-exports) and its code without
/// comment lines.
fn sources() -> Vec<(PathBuf, Option<String>, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = src();
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).expect("under src");
            let first = relative
                .components()
                .next()
                .expect("a component")
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            let module = (first != "lib").then_some(first);
            let text = std::fs::read_to_string(&path).expect("readable");
            let code: String = text
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .map(|line| format!("{line}\n"))
                .collect();
            (relative.to_path_buf(), module, code)
        })
        .collect()
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level modules a piece of code names through `crate::`, including
/// inside `use crate::{a, b::c}` groups.
fn crate_modules(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
        rest = after;
    }
    found
}

#[test]
fn every_module_has_a_layer() {
    for (path, module, _) in sources() {
        if let Some(module) = module {
            assert!(
                layer_of(&module).is_some(),
                "{} (module `{module}`) is in no layer of tests/layers.rs",
                path.display()
            );
        }
    }
}

#[test]
fn imports_go_down_the_layers() {
    let mut climbing = Vec::new();
    for (path, module, code) in sources() {
        let Some(module) = module else { continue };
        let Some(own) = layer_of(&module) else {
            continue;
        };
        for target in crate_modules(&code) {
            if target == module {
                continue;
            }
            // Re-exports at the crate root name types, not layers.
            let Some(theirs) = layer_of(&target) else {
                continue;
            };
            if theirs >= own {
                climbing.push(format!("{}: `{module}` uses `{target}`", path.display()));
            }
        }
    }
    climbing.dedup();
    assert!(
        climbing.is_empty(),
        "imports that climb or cross a layer:\n{}",
        climbing.join("\n")
    );
}

#[test]
fn each_table_is_written_by_its_module_and_read_by_few() {
    let mut misplaced = BTreeMap::new();
    for (path, module, code) in sources() {
        let Some(module) = module else { continue };
        if module == "schema" {
            continue; // the migrations create every table
        }
        for (table, owner, readers) in TABLES {
            if module == *owner {
                continue;
            }
            let writes = ["INSERT INTO", "UPDATE", "DELETE FROM"].iter().any(|verb| {
                code.contains(&format!("{verb} {table} "))
                    || code.contains(&format!("{verb} {table}\""))
            });
            let reads = ["FROM", "JOIN"].iter().any(|verb| {
                code.contains(&format!("{verb} {table} "))
                    || code.contains(&format!("{verb} {table}\""))
            });
            if writes || (reads && !readers.contains(&module.as_str())) {
                misplaced
                    .entry(path.display().to_string())
                    .or_insert_with(Vec::new)
                    .push(*table);
            }
        }
    }
    assert!(
        misplaced.is_empty(),
        "SQL on another module's table: {misplaced:?}"
    );
}

#[test]
fn the_checks_see_what_they_should() {
    assert_eq!(
        crate_modules("use crate::{outbox, photos::Photos};\nlet x = crate::store::now_ms();"),
        ["outbox", "photos", "store"]
    );
    assert!(layer_of("facade") > layer_of("sync_client"));
    let (_, _, outbox) = sources()
        .into_iter()
        .find(|(path, ..)| path.ends_with("outbox.rs"))
        .expect("outbox.rs");
    assert!(
        outbox.contains("INSERT INTO outbox "),
        "the SQL matcher sees the outbox's own insert"
    );
}
