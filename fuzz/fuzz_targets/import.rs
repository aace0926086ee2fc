//! The import on arbitrary files: every non-blank line is imported,
//! skipped as already present, or reported bad with a message; the import
//! itself never fails on a healthy store and never panics.

#![no_main]

#[path = "common.rs"]
mod common;

use helpdesk::import::{import_file, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let world = common::world();
    let path = world.dir.path().join("input.jsonl");
    std::fs::write(&path, data).expect("write the input");
    let opts = Options {
        batch_size: 3,
        progress: false,
        writers: None,
    };
    let mut reported = 0;
    let summary = import_file(&world.db, &path, &opts, |_, message| {
        assert!(!message.trim().is_empty(), "a bad line is reported with a reason");
        reported += 1;
    })
    .expect("a healthy store takes every file");
    assert_eq!(summary.bad, reported);
    // Each non-blank line is counted exactly once.
    let lines = data
        .split(|b| *b == b'\n')
        .filter(|l| !String::from_utf8_lossy(l).trim().is_empty())
        .count();
    assert_eq!(
        summary.imported + summary.skipped + summary.bad,
        lines,
        "{summary:?}"
    );
});
