//! The fuzzers' seed corpus (`fuzz/seeds/`), replayed with the fuzz
//! targets' checks on every test run, so what fuzzing found stays fixed
//! (inputs that once failed are added there).

use diesel::prelude::*;
use helpdesk::db::schema::raw_mails;
use helpdesk::import::{import_file, Options};
use helpdesk::mail::inbound::{self, Outcome};
use helpdesk::time::now_ms;

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
        let raw = std::fs::read(&path).unwrap();
        let outcome = inbound::ingest(&db, &ingest, &raw, now_ms())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let kept: i64 = match outcome {
            Outcome::Loop => continue,
            Outcome::Duplicate { raw_mail_id } => db.query(|c| {
                raw_mails::table
                    .filter(raw_mails::id.eq(raw_mail_id))
                    .count()
                    .get_result(c)
            }),
            _ => db.query(|c| {
                raw_mails::table
                    .filter(raw_mails::data.eq(&raw))
                    .count()
                    .get_result(c)
            }),
        }
        .unwrap();
        assert!(kept >= 1, "{}: raw mail not kept", path.display());
    }
}

#[test]
fn import_seeds_count_every_line_once() {
    let (db, _g) = test_db();
    for path in seeds("import") {
        let data = std::fs::read(&path).unwrap();
        let opts = Options {
            batch_size: 3,
            progress: false,
            writers: None,
        };
        let mut reported = 0;
        let summary = import_file(&db, &path, &opts, |_, m| {
            assert!(!m.trim().is_empty());
            reported += 1;
        })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let lines = data
            .split(|b| *b == b'\n')
            .filter(|l| !String::from_utf8_lossy(l).trim().is_empty())
            .count();
        assert_eq!(summary.bad, reported);
        assert_eq!(
            summary.imported + summary.skipped + summary.bad,
            lines,
            "{}: {summary:?}",
            path.display()
        );
    }
}
