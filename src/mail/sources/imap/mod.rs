//! IMAP source: each configured account's folder is read by UID, never by
//! the \Seen flag (another client reading the mail must not hide it).
//!
//! Per (account, folder) the database keeps the UIDVALIDITY seen and two
//! UIDs (see `state`): `last_uid`, up to which everything is committed, and
//! `acked_uid`, up to which everything is also marked, moved or deleted on
//! the server. A pass:
//!
//! 1. SELECTs the folder; a UIDVALIDITY other than the stored one means the
//!    UIDs changed meaning: start again from 0 (deduplication in the
//!    pipeline recognises what is already stored, so nothing doubles);
//! 2. finishes acknowledging `(acked_uid, last_uid]` (a crash after a
//!    commit, or a failed MOVE, left those);
//! 3. `UID SEARCH UID last+1:*`, then per batch: `UID FETCH … BODY.PEEK[]`
//!    (PEEK: fetching sets no flag), `ingest_batch` (one transaction), and
//!    only after it committed: store `last_uid`, acknowledge the batch,
//!    store `acked_uid`.
//!
//! A crash before the commit: nothing is stored, the mail is fetched again.
//! Between the commit and the `last_uid` update: fetched again, recognised
//! as duplicates, acknowledged. Between that and the acknowledgement: the
//! next pass acknowledges. Nothing is lost, nothing is stored twice.

pub mod account;
pub mod conn;
pub mod state;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use futures_util::TryStreamExt;

use self::account::{After, ImapAccount};
use self::conn::{mutf7, timed, Connected};
use self::state::FolderState;
use crate::config::Config;
use crate::db::Db;
use crate::mail::inbound::{self, Ingest, IngestError};
use crate::mail::message_id::MessageIdSigner;
use crate::mail::sources::maildir::PassSummary;

/// Messages per transaction, and the most bytes one batch may hold (a
/// single larger message makes a batch of its own).
pub const BATCH_MESSAGES: usize = 100;
pub const BATCH_BYTES: u64 = 16 << 20;
/// The default pause between polls in `serve` (or the longest IDLE).
pub const DEFAULT_POLL_SECONDS: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// Unreachable, TLS failed, no greeting: try again later.
    #[error("IMAP {account}: cannot connect: {message}")]
    Connect { account: String, message: String },
    #[error("IMAP {account}: login failed: {message}")]
    Login { account: String, message: String },
    /// The server refused or broke off a command.
    #[error("IMAP {account}: {message}")]
    Server { account: String, message: String },
    /// Nothing of the batch was committed; it is fetched again next time.
    #[error("IMAP {account}: {error}; nothing acknowledged, the mail stays on the server")]
    Store { account: String, error: IngestError },
}

/// Set when `serve` shuts down; checked between batches and while waiting.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new(flag: Arc<AtomicBool>) -> Stop {
        Stop(flag)
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    async fn wait(&self) {
        while !self.is_set() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sleeps `d`, or less when stopped meanwhile.
    async fn sleep(&self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.wait() => {}
        }
    }
}

/// Runs blocking store work off the async thread.
async fn blocking<T, F>(f: F) -> Result<T, IngestError>
where
    F: FnOnce() -> Result<T, IngestError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(IngestError::Store(format!("store task failed: {e}"))))
}

/// The pipeline context for an account: its mailbox looked up by address.
async fn context(
    db: &Db,
    signer: &MessageIdSigner,
    config: &Config,
    account: &ImapAccount,
) -> Result<Ingest, ImapError> {
    let (db, signer, config, acc) = (db.clone(), signer.clone(), config.clone(), account.clone());
    blocking(move || {
        let mailbox = match &acc.mailbox {
            Some(addr) => {
                let found = db.query(|c| crate::mailboxes::find_by_address(c, addr))?;
                if found.is_none() {
                    tracing::warn!(mailbox = %addr, account = %acc, "no mailbox with this address is configured; its mail comes in without one");
                }
                found
            }
            None => None,
        };
        Ok(Ingest::new(signer, &config, mailbox).load_mailboxes(&db)?)
    })
    .await
    .map_err(|error| ImapError::Store {
        account: account.to_string(),
        error,
    })
}

/// `1:3,7,9:12` for a sorted list of UIDs.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Splits UIDs (sorted) into batches of at most BATCH_MESSAGES and
/// BATCH_BYTES (by their RFC822.SIZE).
fn batches(uids: &[u32], sizes: &HashMap<u32, u64>) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut cur: Vec<u32> = Vec::new();
    let mut bytes = 0u64;
    for &u in uids {
        let size = sizes.get(&u).copied().unwrap_or(0);
        if !cur.is_empty() && (cur.len() >= BATCH_MESSAGES || bytes + size > BATCH_BYTES) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        cur.push(u);
        bytes += size;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

struct Pass<'a> {
    account: &'a ImapAccount,
    db: &'a Db,
    ctx: &'a Ingest,
    stop: &'a Stop,
}

impl Pass<'_> {
    fn server(&self, message: String) -> ImapError {
        ImapError::Server {
            account: self.account.to_string(),
            message,
        }
    }

    fn store(&self, error: IngestError) -> ImapError {
        ImapError::Store {
            account: self.account.to_string(),
            error,
        }
    }

    async fn save(&self, state: FolderState) -> Result<(), ImapError> {
        let (db, key, folder) = (
            self.db.clone(),
            self.account.state_key(),
            self.account.folder.clone(),
        );
        blocking(move || {
            state::save(&db, &key, &folder, state, crate::time::now_ms()).map_err(IngestError::from)
        })
        .await
        .map_err(|e| self.store(e))
    }

    /// Marks, moves or deletes the messages in `set`, as configured. UIDs
    /// that no longer exist are ignored by the server, so repeating this
    /// after a crash is harmless.
    async fn acknowledge(&self, c: &mut Connected, set: &str) -> Result<(), ImapError> {
        let s = &mut c.session;
        let what = self.account.after.to_string();
        let fail = |e: String| {
            self.server(format!(
                "stored, but cannot {what} UIDs {set} ({e}); retried on the next pass"
            ))
        };
        match &self.account.after {
            After::Mark(flag) => {
                timed(async {
                    s.uid_store(set, format!("+FLAGS.SILENT ({flag})"))
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await
                .map_err(fail)?;
            }
            After::Move(target) if c.move_ => {
                timed(s.uid_mv(set, mutf7(target))).await.map_err(fail)?;
            }
            After::Move(_) | After::Delete => {
                if let After::Move(target) = &self.account.after {
                    timed(s.uid_copy(set, mutf7(target))).await.map_err(fail)?;
                }
                timed(async {
                    s.uid_store(set, "+FLAGS.SILENT (\\Deleted)")
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await
                .map_err(fail)?;
                // Without UIDPLUS only a plain EXPUNGE exists: it also
                // removes what other clients flagged \Deleted.
                if c.uidplus {
                    timed(async { s.uid_expunge(set).await?.try_collect::<Vec<_>>().await })
                        .await
                        .map_err(fail)?;
                } else {
                    timed(async { s.expunge().await?.try_collect::<Vec<_>>().await })
                        .await
                        .map_err(fail)?;
                }
            }
        }
        Ok(())
    }

    async fn run(&self, c: &mut Connected) -> Result<PassSummary, ImapError> {
        let account = self.account;
        let mut summary = PassSummary::default();
        let folder = mutf7(&account.folder);
        if let (After::Move(target), false) = (&account.after, c.target_ready) {
            // Creating the target is the portable "does it exist": a NO
            // (it exists already) is fine; a real problem shows at MOVE.
            let _ = timed(c.session.create(mutf7(target))).await;
            c.target_ready = true;
        }
        let mbox = timed(c.session.select(&folder))
            .await
            .map_err(|e| self.server(format!("cannot open folder {:?}: {e}", account.folder)))?;
        let uidvalidity = i64::from(
            mbox.uid_validity
                .ok_or_else(|| self.server("the server sent no UIDVALIDITY".into()))?,
        );
        let (db, key, fname) = (self.db.clone(), account.state_key(), account.folder.clone());
        let stored = blocking(move || state::load(&db, &key, &fname).map_err(IngestError::from))
            .await
            .map_err(|e| self.store(e))?;
        let mut st = match stored {
            Some(s) if s.uidvalidity == uidvalidity => s,
            other => {
                if let Some(old) = other {
                    tracing::warn!(
                        account = %account,
                        old = old.uidvalidity,
                        new = uidvalidity,
                        "UIDVALIDITY changed: reading the folder again from the start (mail already stored is recognised, not stored twice)"
                    );
                }
                let fresh = FolderState::fresh(uidvalidity);
                self.save(fresh).await?;
                fresh
            }
        };
        if st.acked_uid < st.last_uid {
            let set = format!("{}:{}", st.acked_uid + 1, st.last_uid);
            tracing::info!(account = %account, uids = %set, "acknowledging mail stored by an earlier pass");
            self.acknowledge(c, &set).await?;
            st.acked_uid = st.last_uid;
            self.save(st).await?;
        }
        if mbox
            .uid_next
            .is_some_and(|next| i64::from(next) <= st.last_uid + 1)
        {
            return Ok(summary);
        }
        let first =
            u32::try_from(st.last_uid + 1).map_err(|_| self.server("UID out of range".into()))?;
        let found = timed(c.session.uid_search(format!("UID {first}:*")))
            .await
            .map_err(|e| self.server(format!("UID SEARCH: {e}")))?;
        // `n:*` also matches the highest UID when it is below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u >= first).collect();
        uids.sort_unstable();
        if uids.is_empty() {
            return Ok(summary);
        }
        let mut sizes: HashMap<u32, u64> = HashMap::new();
        for chunk in uids.chunks(1000) {
            let got = timed(async {
                c.session
                    .uid_fetch(uid_set(chunk), "(UID RFC822.SIZE)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await
            .map_err(|e| self.server(format!("UID FETCH sizes: {e}")))?;
            for f in got {
                if let (Some(u), Some(size)) = (f.uid, f.size) {
                    sizes.insert(u, u64::from(size));
                }
            }
        }
        for batch in batches(&uids, &sizes) {
            if self.stop.is_set() {
                break;
            }
            let fetched = timed(async {
                c.session
                    .uid_fetch(uid_set(&batch), "(UID BODY.PEEK[])")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await
            .map_err(|e| self.server(format!("UID FETCH {}: {e}", uid_set(&batch))))?;
            let wanted: HashSet<u32> = batch.iter().copied().collect();
            let mut mails: Vec<(u32, Vec<u8>)> = fetched
                .iter()
                .filter_map(|f| {
                    let u = f.uid.filter(|u| wanted.contains(u))?;
                    Some((u, f.body()?.to_vec()))
                })
                .collect();
            drop(fetched);
            mails.sort_by_key(|(u, _)| *u);
            mails.dedup_by_key(|(u, _)| *u);
            let got: HashSet<u32> = mails.iter().map(|(u, _)| *u).collect();
            // Up to where every message of the batch came: a message the
            // server did not return is looked for again next pass (if it
            // was expunged meanwhile, the search will not find it).
            let complete_to = batch.iter().take_while(|u| got.contains(u)).last().copied();
            let (committed, raws): (Vec<u32>, Vec<Vec<u8>>) = mails.into_iter().unzip();
            if !raws.is_empty() {
                let (db, ctx) = (self.db.clone(), self.ctx.clone());
                let outcomes = blocking(move || {
                    inbound::ingest_batch(&db, &ctx, &raws, crate::time::now_ms())
                })
                .await
                .map_err(|e| self.store(e))?;
                for o in &outcomes {
                    summary.add(o);
                }
            }
            // Committed: now the state, then the server, may learn of it.
            if let Some(top) = complete_to {
                st.last_uid = i64::from(top);
                self.save(st).await?;
            }
            if !committed.is_empty() {
                self.acknowledge(c, &uid_set(&committed)).await?;
            }
            if st.acked_uid < st.last_uid {
                st.acked_uid = st.last_uid;
                self.save(st).await?;
            }
            if complete_to != batch.last().copied() {
                let missing: Vec<u32> =
                    batch.iter().filter(|u| !got.contains(u)).copied().collect();
                tracing::warn!(account = %account, uids = %uid_set(&missing), "the server did not return these messages; looking again on the next pass");
                break;
            }
        }
        // Unsolicited responses (EXISTS, flags) are not needed: the next
        // pass asks again.
        while c.session.unsolicited_responses.try_recv().is_ok() {}
        Ok(summary)
    }
}

async fn logout(c: &mut Connected) {
    let _ = tokio::time::timeout(Duration::from_secs(5), c.session.logout()).await;
}

/// One pass over one account: connect, sync, log out.
async fn fetch_account(
    db: &Db,
    signer: &MessageIdSigner,
    config: &Config,
    account: &ImapAccount,
) -> Result<PassSummary, ImapError> {
    let ctx = context(db, signer, config, account).await?;
    let mut c = conn::connect(account).await?;
    let stop = Stop::default();
    let result = Pass {
        account,
        db,
        ctx: &ctx,
        stop: &stop,
    }
    .run(&mut c)
    .await;
    logout(&mut c).await;
    result
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// One pass over every configured account (the `fetch` command), each
/// account on its own: one failing does not keep the others from running.
pub fn fetch_all(
    db: &Db,
    signer: &MessageIdSigner,
    config: &Config,
) -> Vec<(String, Result<PassSummary, ImapError>)> {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return config
                .imap
                .iter()
                .map(|a| {
                    let err = ImapError::Server {
                        account: a.to_string(),
                        message: format!("cannot start the IMAP runtime: {e}"),
                    };
                    (a.to_string(), Err(err))
                })
                .collect()
        }
    };
    rt.block_on(async {
        let mut out = Vec::new();
        for account in &config.imap {
            let r = fetch_account(db, signer, config, account).await;
            match &r {
                Ok(s) => tracing::info!(account = %account, summary = %s, "IMAP pass"),
                Err(e) => tracing::error!(error = %e, "IMAP pass failed"),
            }
            out.push((account.to_string(), r));
        }
        out
    })
}

/// Waits in IDLE for at most `d` (new mail ends it early). Returns the
/// session, or None when stopping.
async fn idle(c: Connected, d: Duration, stop: &Stop) -> Result<Option<Connected>, String> {
    let Connected {
        session,
        idle,
        move_,
        uidplus,
        target_ready,
    } = c;
    let mut handle = session.idle();
    timed(handle.init()).await?;
    let woke = {
        let (wait, _interrupt) = handle.wait_with_timeout(d);
        tokio::select! {
            r = wait => Some(r),
            _ = stop.wait() => None,
        }
    };
    match woke {
        None => Ok(None),
        Some(r) => {
            if let IdleResponse::NewData(_) = r.map_err(|e| e.to_string())? {
                tracing::debug!("IDLE: the folder changed");
            }
            let session = timed(handle.done()).await?;
            Ok(Some(Connected {
                session,
                idle,
                move_,
                uidplus,
                target_ready,
            }))
        }
    }
}

/// One connection's life in `serve`: passes, with IDLE (or a pause) in
/// between, until an error (returned) or the stop (Ok).
async fn session(
    db: &Db,
    signer: &MessageIdSigner,
    config: &Config,
    account: &ImapAccount,
    stop: &Stop,
    failing: &mut bool,
) -> Result<(), ImapError> {
    let poll = Duration::from_secs(config.imap_poll_seconds);
    let mut c = conn::connect(account).await?;
    tracing::info!(account = %account, idle = c.idle, "IMAP connected");
    loop {
        let ctx = context(db, signer, config, account).await?;
        let summary = Pass {
            account,
            db,
            ctx: &ctx,
            stop,
        }
        .run(&mut c)
        .await?;
        if *failing {
            tracing::info!(account = %account, "IMAP ingestion works again");
            *failing = false;
        }
        if summary.total() > 0 {
            tracing::info!(account = %account, summary = %summary, "IMAP pass");
        }
        if stop.is_set() {
            logout(&mut c).await;
            return Ok(());
        }
        if c.idle {
            // IDLE must be renewed now and then (RFC 2177: within 29 min).
            let wait = poll.min(Duration::from_secs(25 * 60));
            c = match idle(c, wait, stop).await {
                Ok(Some(c)) => c,
                Ok(None) => return Ok(()),
                Err(message) => {
                    return Err(ImapError::Server {
                        account: account.to_string(),
                        message: format!("IDLE: {message}"),
                    })
                }
            };
        } else {
            stop.sleep(poll).await;
            if stop.is_set() {
                logout(&mut c).await;
                return Ok(());
            }
        }
    }
}

async fn watch_account(
    db: &Db,
    signer: &MessageIdSigner,
    config: &Config,
    account: &ImapAccount,
    stop: &Stop,
) {
    // Reconnect after a failure within a minute, even with long polls.
    let retry = Duration::from_secs(config.imap_poll_seconds.min(60));
    let mut failing = false;
    while !stop.is_set() {
        match session(db, signer, config, account, stop, &mut failing).await {
            Ok(()) => return,
            Err(e) => {
                if failing {
                    tracing::debug!(error = %e, "IMAP still failing");
                } else {
                    tracing::error!(error = %e, "IMAP ingestion failed; unacknowledged mail stays on the server and is fetched on a later pass");
                }
                failing = true;
            }
        }
        stop.sleep(retry).await;
    }
}

/// Polls every configured account until `stop` is set (the `serve`
/// background thread): one connection per account, IDLE where offered.
pub fn watch(db: Db, signer: MessageIdSigner, config: Config, stop: Arc<AtomicBool>) {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the IMAP runtime; IMAP accounts are not polled");
            return;
        }
    };
    let stop = Stop::new(stop);
    rt.block_on(futures_util::future::join_all(
        config
            .imap
            .iter()
            .map(|a| watch_account(&db, &signer, &config, a, &stop)),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_and_batches() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10, 11, 12]), "1:3,7,9:12");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
        let uids: Vec<u32> = (1..=250).collect();
        let b = batches(&uids, &HashMap::new());
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        let sizes: HashMap<u32, u64> = [(1, 10), (2, BATCH_BYTES), (3, 10), (4, 10)].into();
        let b = batches(&[1, 2, 3, 4], &sizes);
        assert_eq!(b, vec![vec![1], vec![2], vec![3, 4]]);
    }
}
