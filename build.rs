//! Embeds the trove classifier list in the server binary, so that uploads
//! are checked against it as PyPI checks them.
//!
//! The list is PyPA's `trove-classifiers` package on PyPI, fetched by
//! `scripts/setup.sh` (a pinned version) and written as
//! `.tools/trove-classifiers.txt`: one classifier per line, `C\t<name>`,
//! or `D\t<name>\t<replacement>\t...` for a deprecated one. Nothing of it
//! is committed here. `CHEESESHOP_TROVE_CLASSIFIERS` names another file.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=CHEESESHOP_TROVE_CLASSIFIERS");
    let source = env::var_os("CHEESESHOP_TROVE_CLASSIFIERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".tools/trove-classifiers.txt"));
    println!("cargo:rerun-if-changed={}", source.display());
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("trove.rs");

    // Only the server checks classifiers; the WASM bundle needs nothing.
    if env::var_os("CARGO_FEATURE_SSR").is_none() {
        fs::write(&out, "").expect("write OUT_DIR/trove.rs");
        return;
    }
    let text = match fs::read_to_string(&source) {
        Ok(text) => text,
        Err(e) => panic!(
            "cannot read the trove classifier list {} ({e}); `make setup` (scripts/setup.sh) fetches it \
             from PyPI's trove-classifiers package",
            source.display()
        ),
    };
    let mut current = Vec::new();
    let mut deprecated = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut fields = line.split('\t');
        match (fields.next(), fields.next()) {
            (Some("C"), Some(name)) => current.push(name.to_owned()),
            (Some("D"), Some(name)) => {
                deprecated.push((name.to_owned(), fields.map(str::to_owned).collect::<Vec<_>>()))
            }
            _ => panic!("{}: malformed line {line:?}", source.display()),
        }
    }
    assert!(
        current.len() > 100,
        "{}: only {} classifiers; is it the full list?",
        source.display(),
        current.len()
    );
    current.sort();
    deprecated.sort();
    let mut code =
        String::from("/// Every classifier PyPI accepts today, sorted.\npub static CLASSIFIERS: &[&str] = &[\n");
    for name in &current {
        let _ = writeln!(code, "    {name:?},");
    }
    code.push_str("];\n/// Deprecated classifiers and what replaces them, sorted.\npub static DEPRECATED: &[(&str, &[&str])] = &[\n");
    for (name, replacements) in &deprecated {
        let _ = writeln!(code, "    ({name:?}, &{replacements:?}),");
    }
    code.push_str("];\n");
    fs::write(&out, code).expect("write OUT_DIR/trove.rs");
}
