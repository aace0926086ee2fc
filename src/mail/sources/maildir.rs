//! Maildir source: every file in `new/` goes through the pipeline and is
//! moved to `cur/` (with the `:2,S` info of the maildir spec) only after
//! the commit that holds it. Several files share one transaction (a batch)
//! for speed; none is moved before that transaction committed. A crash
//! between commit and move leaves the file in `new/`, and the next pass
//! finds it already stored (a duplicate) and just moves it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::config::MaildirSource;
use crate::db::Db;
use crate::mail::inbound::{self, Ingest, IngestError, Outcome};
use crate::mail::message_id::MessageIdSigner;

/// Messages per transaction, and the most bytes one batch may hold.
pub const BATCH_MESSAGES: usize = 200;
pub const BATCH_BYTES: usize = 32 << 20;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassSummary {
    pub stored: usize,
    pub duplicates: usize,
    pub quarantined: usize,
    pub bounces: usize,
    pub loops: usize,
    /// Files that vanished or could not be read or moved (left for later).
    pub skipped: usize,
}

impl PassSummary {
    pub fn total(&self) -> usize {
        self.stored + self.duplicates + self.quarantined + self.bounces + self.loops
    }

    pub fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Duplicate { .. } => self.duplicates += 1,
            Outcome::Quarantined { .. } => self.quarantined += 1,
            Outcome::Bounce { .. } => self.bounces += 1,
            Outcome::Loop => self.loops += 1,
            _ => self.stored += 1,
        }
    }

    pub fn merge(&mut self, other: &PassSummary) {
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.quarantined += other.quarantined;
        self.bounces += other.bounces;
        self.loops += other.loops;
        self.skipped += other.skipped;
    }
}

impl std::fmt::Display for PassSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} stored, {} duplicates, {} quarantined, {} bounces, {} loops dropped, {} skipped",
            self.stored, self.duplicates, self.quarantined, self.bounces, self.loops, self.skipped
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    #[error("maildir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// The name a delivered file gets in `cur/`: the Seen flag added to its
/// info (`:2,` flags are kept sorted, as the spec asks).
pub fn cur_name(name: &str) -> String {
    match name.rsplit_once(":2,") {
        Some((base, flags)) => {
            let mut f: Vec<char> = flags.chars().filter(|c| c.is_ascii_alphabetic()).collect();
            if !f.contains(&'S') {
                f.push('S');
            }
            f.sort_unstable();
            f.dedup();
            format!("{base}:2,{}", f.into_iter().collect::<String>())
        }
        None => format!("{name}:2,S"),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MaildirError + '_ {
    move |source| MaildirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `new/`, `cur/` and `tmp/` when missing.
pub fn ensure(dir: &Path) -> Result<(), MaildirError> {
    for sub in ["new", "cur", "tmp"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(io(&p))?;
    }
    Ok(())
}

/// One pass over `new/`: everything there is ingested and moved, in
/// batches. Stops at the first store failure (the rest stays in `new/`).
pub fn pass(db: &Db, ctx: &Ingest, dir: &Path, batch: usize) -> Result<PassSummary, MaildirError> {
    ensure(dir)?;
    let new = dir.join("new");
    let cur = dir.join("cur");
    let mut names: Vec<String> = std::fs::read_dir(&new)
        .map_err(io(&new))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    // Delivery names start with the time: oldest first keeps threads in order.
    names.sort();
    let mut summary = PassSummary::default();
    let mut pending: Vec<(String, Vec<u8>)> = Vec::new();
    let mut bytes = 0;
    let mut names = names.into_iter().peekable();
    while let Some(name) = names.next() {
        match std::fs::read(new.join(&name)) {
            Ok(data) => {
                bytes += data.len();
                pending.push((name, data));
            }
            // Moved by another reader meanwhile, or unreadable: left for later.
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(file = %new.join(&name).display(), error = %e, "cannot read a maildir file; left in new/");
                }
                summary.skipped += 1;
            }
        }
        if pending.len() >= batch.max(1) || bytes >= BATCH_BYTES || names.peek().is_none() {
            if pending.is_empty() {
                continue;
            }
            let raws: Vec<&[u8]> = pending.iter().map(|(_, d)| d.as_slice()).collect();
            match inbound::ingest_batch(db, ctx, &raws, crate::time::now_ms()) {
                // Committed: now, and only now, each file may be acknowledged.
                Ok(outcomes) => {
                    for ((name, _), o) in pending.iter().zip(&outcomes) {
                        summary.add(o);
                        acknowledge(&new, &cur, name);
                    }
                }
                Err(IngestError::Store(e)) => {
                    // One mail the store refuses even to quarantine (a bug)
                    // must not hold up the others: one transaction each, and
                    // the refused one stays in new/ for the next pass.
                    tracing::error!(error = %e, "a batch was refused; ingesting its mails one by one");
                    for (name, data) in &pending {
                        match inbound::ingest(db, ctx, data, crate::time::now_ms()) {
                            Ok(o) => {
                                summary.add(&o);
                                acknowledge(&new, &cur, name);
                            }
                            Err(IngestError::Store(e)) => {
                                tracing::error!(file = %name, error = %e, "the store refuses this mail; left in new/");
                                summary.skipped += 1;
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
            pending.clear();
            bytes = 0;
        }
    }
    Ok(summary)
}

/// Moves a stored file from `new/` to `cur/`. A failure is harmless: the
/// file is seen again and found to be a duplicate.
fn acknowledge(new: &Path, cur: &Path, name: &str) {
    if let Err(e) = std::fs::rename(new.join(name), cur.join(cur_name(name))) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(file = %name, error = %e, "stored, but cannot move the file to cur/; the next pass sees a duplicate");
        }
    }
}

/// The pipeline context for a configured maildir: its mailbox looked up by
/// address (a missing mailbox is logged; mail still comes in).
pub fn context(
    db: &Db,
    signer: &MessageIdSigner,
    config: &Config,
    source: &MaildirSource,
) -> Result<Ingest, IngestError> {
    let mailbox = match &source.mailbox {
        Some(addr) => {
            let found = db.query(|c| crate::mailboxes::find_by_address(c, addr))?;
            if found.is_none() {
                tracing::warn!(mailbox = %addr, maildir = %source.path.display(), "no mailbox with this address is configured; its mail comes in without one");
            }
            found
        }
        None => None,
    };
    Ok(Ingest::new(signer.clone(), config, mailbox).load_mailboxes(db)?)
}

/// One pass over every configured maildir.
pub fn fetch_all(
    db: &Db,
    signer: &MessageIdSigner,
    config: &Config,
) -> Result<PassSummary, MaildirError> {
    let mut total = PassSummary::default();
    for source in &config.maildirs {
        let ctx = context(db, signer, config, source)?;
        let s = pass(db, &ctx, &source.path, BATCH_MESSAGES)?;
        if s.total() > 0 || s.skipped > 0 {
            tracing::info!(maildir = %source.path.display(), summary = %s, "maildir pass");
        }
        total.merge(&s);
    }
    Ok(total)
}

/// Polls the configured maildirs every second until `stop` is set (the
/// `serve` background thread). Store failures are logged and retried.
pub fn watch(db: Db, signer: MessageIdSigner, config: Config, stop: Arc<AtomicBool>) {
    let mut failing = false;
    while !stop.load(Ordering::Relaxed) {
        match fetch_all(&db, &signer, &config) {
            Ok(_) => {
                if failing {
                    tracing::info!("maildir ingestion works again");
                }
                failing = false;
            }
            Err(e) => {
                if !failing {
                    tracing::error!(error = %e, "maildir ingestion failed; mail stays in new/ and is retried");
                }
                failing = true;
            }
        }
        let pause = if failing { 5 } else { 1 };
        for _ in 0..pause * 10 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cur_names_get_the_seen_flag() {
        assert_eq!(cur_name("1700000000.M1P2.host"), "1700000000.M1P2.host:2,S");
        assert_eq!(cur_name("1.host:2,FR"), "1.host:2,FRS");
        assert_eq!(cur_name("1.host:2,S"), "1.host:2,S");
    }
}
