//! The fuzzers' seed corpus (`fuzz/seeds/`), replayed with the fuzz
//! targets' own checks (`fuzz/fuzz_targets/checks.rs`) on every test run,
//! so what fuzzing found stays fixed (inputs that once failed are added
//! there).

#[path = "../../fuzz/fuzz_targets/checks.rs"]
mod checks;

use crate::helpers::test_db;
use crate::ingest::ctx;

fn seeds(kind: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

#[test]
fn inbound_seeds_are_processed_or_quarantined_and_kept() {
    let (db, _g) = test_db();
    let ingest = ctx(&db);
    for path in seeds("inbound") {
        eprintln!("{}", path.display());
        checks::inbound(&db, &ingest, &std::fs::read(&path).unwrap());
    }
}

#[test]
fn import_seeds_count_every_line_once() {
    let (db, _g) = test_db();
    for path in seeds("import") {
        eprintln!("{}", path.display());
        checks::import(&db, &path, &std::fs::read(&path).unwrap());
    }
}
