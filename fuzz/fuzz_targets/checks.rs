//! What the fuzz targets check of each input, shared with the seed replay
//! in `tests/api/fuzz_seeds.rs` (which includes this file), so both hold
//! the pipeline to the same promises.

use std::path::Path;

use diesel::prelude::*;
use helpdesk::db::schema::raw_mails;
use helpdesk::db::Db;
use helpdesk::import::{import_file, Options};
use helpdesk::mail::inbound::{self, classify, parse, Ingest, Outcome};

/// Ingests `raw`: a healthy store takes every mail (processed or
/// quarantined), and its bytes are kept, or it is a duplicate of a mail
/// kept.
pub fn inbound(db: &Db, ctx: &Ingest, raw: &[u8]) {
    if let Ok(p) = parse::parse(raw) {
        let _ = classify::classify(&p, "support.example.com");
    }
    let outcome = inbound::ingest(db, ctx, raw, helpdesk::time::now_ms())
        .expect("a healthy store takes every mail (processed or quarantined)");
    let kept: i64 = match outcome {
        Outcome::Loop => return,
        Outcome::Duplicate { raw_mail_id } => db.query(|c| {
            raw_mails::table
                .filter(raw_mails::id.eq(raw_mail_id))
                .count()
                .get_result(c)
        }),
        _ => db.query(|c| {
            raw_mails::table
                .filter(raw_mails::data.eq(raw))
                .count()
                .get_result(c)
        }),
    }
    .expect("count");
    assert!(kept >= 1, "the raw mail is kept");
}

/// Imports the file at `path` (holding `data`): the import never fails on a
/// healthy store, every bad line is reported with a reason, and every
/// non-blank line is counted exactly once.
pub fn import(db: &Db, path: &Path, data: &[u8]) {
    let opts = Options {
        batch_size: 3,
        progress: false,
        writers: None,
    };
    let mut reported = 0;
    let summary = import_file(db, path, &opts, |_, message| {
        assert!(
            !message.trim().is_empty(),
            "a bad line is reported with a reason"
        );
        reported += 1;
    })
    .expect("a healthy store takes every file");
    assert_eq!(summary.bad, reported);
    let lines = data
        .split(|b| *b == b'\n')
        .filter(|l| !String::from_utf8_lossy(l).trim().is_empty())
        .count();
    assert_eq!(
        summary.imported + summary.skipped + summary.bad,
        lines,
        "{summary:?}"
    );
}
