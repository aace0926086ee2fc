//! The breach job: records SLA breaches when they happen (not when a page
//! is opened) and applies each policy's escalation. It runs inside `serve`;
//! `tick` takes the clock as an argument so tests control time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;

use super::policy::Book;
use crate::db::schema::tickets;
use crate::db::{Db, DbError};
use crate::tickets::sla::breach;
use crate::tickets::TicketError;

/// How long the job sleeps at most between looks: new tickets and changes
/// can bring a due time closer than the one it was waiting for.
pub const MAX_SLEEP: Duration = Duration::from_secs(5);
/// Tickets handled per write transaction (each in its own savepoint).
const BATCH: i64 = 100;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// Tickets the job looked at (their next SLA instant had come).
    pub looked_at: usize,
    /// Breaches recorded.
    pub breaches: usize,
    /// Tickets escalated by a policy.
    pub escalated: usize,
}

/// Acts on every ticket whose next SLA instant is at or before `now`.
pub fn tick(db: &Db, now: i64) -> Result<Tick, DbError> {
    let mut out = Tick::default();
    let mut after = 0i64;
    let mut book: Option<Book> = None;
    loop {
        let ids: Vec<i64> = db.query(|c| {
            tickets::table
                .filter(tickets::sla_next_at.le(now))
                .filter(tickets::id.gt(after))
                .order(tickets::id)
                .limit(BATCH)
                .select(tickets::id)
                .load(c)
        })?;
        let Some(&last) = ids.last() else {
            break;
        };
        let book = match &book {
            Some(b) => b,
            None => book.insert(db.query(Book::load)?),
        };
        db.write(|c| {
            for &id in &ids {
                out.looked_at += 1;
                match breach(c, id, book, now) {
                    Ok(b) => {
                        out.breaches += b.targets.len();
                        out.escalated += usize::from(b.escalated);
                        for t in &b.targets {
                            tracing::info!(
                                ticket = id,
                                target = t.as_str(),
                                escalated = b.escalated,
                                "SLA breached"
                            );
                        }
                    }
                    Err(TicketError::Db(e)) => return Err(DbError::from(e)),
                    // The ticket vanished or refused a change: its savepoint
                    // was rolled back; the others go on.
                    Err(e) => tracing::warn!(ticket = id, error = %e, "SLA job skipped a ticket"),
                }
            }
            Ok::<_, DbError>(())
        })?;
        after = last;
        if (ids.len() as i64) < BATCH {
            break;
        }
    }
    Ok(out)
}

/// The soonest SLA instant still ahead, if any.
pub fn next_at(db: &Db) -> Result<Option<i64>, DbError> {
    // ORDER BY ... LIMIT 1 rather than MIN(): with stale statistics
    // PostgreSQL aggregates over the whole partial index (74 ms at 100,000
    // open tickets) instead of reading its first entry.
    db.query(|c| {
        tickets::table
            .filter(tickets::sla_next_at.is_not_null())
            .order(tickets::sla_next_at)
            .select(tickets::sla_next_at)
            .first::<Option<i64>>(c)
            .optional()
            .map(Option::flatten)
    })
}

/// Runs the job until `stop` is set: a tick, then sleep until the next due
/// instant (at most `MAX_SLEEP`).
pub fn run(db: Db, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let now = crate::time::now_ms();
        let wait = match tick(&db, now).and_then(|_| next_at(&db)) {
            Ok(Some(next)) => {
                Duration::from_millis((next - now).clamp(0, MAX_SLEEP.as_millis() as i64) as u64)
            }
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::warn!(error = %e, "SLA job: store unavailable; retrying");
                MAX_SLEEP
            }
        };
        let until = std::time::Instant::now() + wait.max(Duration::from_millis(50));
        while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < until {
            std::thread::sleep(
                Duration::from_millis(100)
                    .min(until.saturating_duration_since(std::time::Instant::now())),
            );
        }
    }
}

/// Starts the job on its own thread.
pub fn spawn(db: Db, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
    crate::background::spawn("sla", move || run(db, stop))
}
