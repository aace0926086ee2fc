//! The inbound pipeline on arbitrary bytes: parse, classify, then the whole
//! ingestion (deduplication, threading, quarantine) into a real database.
//! A healthy store must take every input: processed or quarantined, never
//! an error, never a panic, and the raw bytes always kept.

#![no_main]

#[path = "checks.rs"]
mod checks;
#[path = "common.rs"]
mod common;

use helpdesk::config::Config;
use helpdesk::mail::inbound::Ingest;
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
        let signer =
            MessageIdSigner::new(b"fuzzing secret of enough length", "support.example.com");
        Ingest::new(signer, &config, None)
            .load_mailboxes(&common::world().db)
            .expect("mailboxes")
    })
}

fuzz_target!(|raw: &[u8]| {
    checks::inbound(&common::world().db, ingest_ctx(), raw);
});
