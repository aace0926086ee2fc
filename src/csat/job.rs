//! The survey job: sends the surveys that are due and their one reminder.
//! It runs inside `serve`; `tick` takes the clock as an argument so tests
//! control time. Each survey is claimed in the write transaction that
//! sends it (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the write lock),
//! so two `serve` processes never send the same survey twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::LinkKey;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::mail::message_id::MessageIdSigner;
use crate::tickets::csat::{self, Mailer, Step};
use crate::tickets::TicketError;

/// Surveys are not urgent: a look every half minute is on time.
pub const INTERVAL: Duration = Duration::from_secs(30);
/// Surveys handled per write transaction (each in its own savepoint).
const BATCH: i64 = 50;

/// What the job needs besides the store.
#[derive(Clone)]
pub struct Settings {
    pub signer: MessageIdSigner,
    pub key: LinkKey,
    /// Public URL the links point at.
    pub base_url: String,
    /// From the survey to its reminder; 0: no reminder.
    pub reminder_ms: i64,
}

impl Settings {
    pub fn new(config: &Config, secret: &[u8], base_url: &str) -> Settings {
        Settings {
            signer: MessageIdSigner::new(secret, &config.mail_domain()),
            key: LinkKey::derive(secret),
            base_url: base_url.trim_end_matches('/').to_string(),
            reminder_ms: config.csat_reminder_days as i64 * 24 * 60 * 60 * 1000,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    pub sent: usize,
    pub reminded: usize,
    pub cancelled: usize,
}

type Pick = fn(&mut crate::db::DbConn, i64, &Settings) -> diesel::QueryResult<Vec<i64>>;
type Act = fn(&mut crate::db::DbConn, &Mailer<'_>, i64, i64) -> Result<Step, TicketError>;

/// Sends every survey due at `now`, then every reminder due.
pub fn tick(db: &Db, now: i64, settings: &Settings) -> Result<Tick, DbError> {
    let mut out = Tick::default();
    let surveys: Pick = |c, now, _| csat::due(c, now, BATCH);
    run_pass(db, now, settings, surveys, csat::send, &mut out)?;
    if settings.reminder_ms > 0 {
        let reminders: Pick = |c, now, s| csat::reminders_due(c, now, s.reminder_ms, BATCH);
        run_pass(db, now, settings, reminders, csat::remind, &mut out)?;
    }
    Ok(out)
}

/// Batches until nothing is left: each handled survey leaves the set `pick`
/// selects (sent, cancelled or reminded), so the loop ends.
fn run_pass(
    db: &Db,
    now: i64,
    settings: &Settings,
    pick: Pick,
    act: Act,
    out: &mut Tick,
) -> Result<(), DbError> {
    let mailer = Mailer {
        signer: &settings.signer,
        key: &settings.key,
        base_url: &settings.base_url,
    };
    loop {
        // Counted once the batch is committed.
        let (n, done) = db.write(|c| -> Result<(usize, Tick), DbError> {
            let mut out = Tick::default();
            let ids = pick(c, now, settings)?;
            for &id in &ids {
                match act(c, &mailer, id, now) {
                    Ok(Step::Sent) => out.sent += 1,
                    Ok(Step::Reminded) => out.reminded += 1,
                    Ok(Step::Cancelled(reason)) => {
                        out.cancelled += 1;
                        tracing::info!(survey = id, reason, "CSAT survey cancelled");
                    }
                    Ok(Step::Skipped) => {}
                    Err(TicketError::Db(e)) => return Err(DbError::from(e)),
                    Err(TicketError::Store(e)) => return Err(e),
                    Err(e) => {
                        // Its savepoint was rolled back; without the cancel
                        // it would come up again on every pass.
                        tracing::warn!(survey = id, error = %e, "CSAT survey not sent");
                        csat::give_up(c, id)?;
                        out.cancelled += 1;
                    }
                }
            }
            Ok((ids.len(), out))
        })?;
        out.sent += done.sent;
        out.reminded += done.reminded;
        out.cancelled += done.cancelled;
        if (n as i64) < BATCH {
            return Ok(());
        }
    }
}

/// Runs the job until `stop` is set.
pub fn run(db: Db, settings: Settings, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = tick(&db, crate::time::now_ms(), &settings) {
            tracing::warn!(error = %e, "CSAT job: store unavailable; retrying");
        }
        let until = std::time::Instant::now() + INTERVAL;
        while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Starts the job on its own thread.
pub fn spawn(
    db: Db,
    settings: Settings,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    crate::background::spawn("csat", move || run(db, settings, stop))
}
