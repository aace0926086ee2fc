//! The inbound pipeline on arbitrary bytes: parse, classify, then the whole
//! ingestion (deduplication, threading, quarantine) into a real database.
//! A healthy store must take every input: processed or quarantined, never
//! an error, never a panic, and the raw bytes always kept.

#![no_main]

#[path = "common.rs"]
mod common;

use diesel::prelude::*;
use helpdesk::config::Config;
use helpdesk::db::schema::raw_mails;
use helpdesk::mail::inbound::{self, classify, parse, Ingest, Outcome};
use helpdesk::mail::message_id::MessageIdSigner;
use libfuzzer_sys::fuzz_target;

const SUPPORT: &str = "help@support.example.com";

fn ingest_ctx() -> &'static Ingest {
    static CTX: std::sync::OnceLock<Ingest> = std::sync::OnceLock::new();
    CTX.get_or_init(|| {
        let config = Config::from_sources(None, |k| {
            (k == "HELPDESK_SUPPORT_ADDRESS").then(|| SUPPORT.to_string())
        })
        .expect("config");
        let signer = MessageIdSigner::new(b"fuzzing secret of enough length", "support.example.com");
        Ingest::new(signer, &config, None)
            .load_mailboxes(&common::world().db)
            .expect("mailboxes")
    })
}

fuzz_target!(|raw: &[u8]| {
    if let Ok(p) = parse::parse(raw) {
        let _ = classify::classify(&p, "support.example.com");
    }
    let db = &common::world().db;
    let outcome = inbound::ingest(db, ingest_ctx(), raw, helpdesk::time::now_ms())
        .expect("a healthy store takes every mail (processed or quarantined)");
    // Nothing is lost: the bytes are kept, or the mail is one already kept.
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
});
