//! The import on arbitrary files: every non-blank line is imported,
//! skipped as already present, or reported bad with a message; the import
//! itself never fails on a healthy store and never panics.

#![no_main]

#[path = "checks.rs"]
mod checks;
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let world = common::world();
    let path = world.dir.path().join("input.jsonl");
    std::fs::write(&path, data).expect("write the input");
    checks::import(&world.db, &path, data);
});
