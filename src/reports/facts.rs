//! Stored report facts: one `ticket_facts` row per ticket holding what its
//! history says for the reports (`compute::CohortFacts` and its active
//! stretches), so a report over a million tickets reads one row per ticket
//! instead of five million events.
//!
//! The events stay the truth; a row is a cache of them with three guards:
//! - every recorded event marks its ticket's row dirty and bumps `gen`
//!   (`mark_dirty`, called by `tickets::ops::record`); `refresh` recomputes
//!   dirty rows and writes only if `gen` is unchanged, so a change that
//!   lands meanwhile is never overwritten by an older computation;
//! - `book` is the SLA book's fingerprint the business times and clocks
//!   were computed with; rows of another book are recomputed;
//! - `last_at` is the ticket's last relevant event: a report whose period
//!   ends at or before it reads that ticket's events instead.
//!
//! Reports read the events of any row they cannot use (`load`), so figures
//! never depend on whether the job has caught up. Import computes the rows
//! of the tickets it writes in the same transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use diesel::prelude::*;

use super::compute::{
    resolved_ats, stretches, ClockEnd, CohortFacts, Stretch, TicketHistory, TicketRef,
};
use crate::db::schema::ticket_facts;
use crate::db::{Db, DbConn, DbError};
use crate::sla::policy::Book;
use crate::tickets::{Channel, Priority, Status};

const REOPENED: i32 = 1;
const ESCALATED: i32 = 2;
const CUSTOMER_AFTER_REPLY: i32 = 4;

/// How many rows one refresh transaction recomputes.
pub const BATCH: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(
    table_name = ticket_facts,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
pub struct FactsRow {
    pub ticket_id: i64,
    pub gen: i64,
    pub dirty: bool,
    pub book: i64,
    pub created_at: i64,
    pub channel: i32,
    pub priority: i32,
    pub group_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub last_at: i64,
    pub status: i32,
    pub first_reply_at: Option<i64>,
    pub first_resolved_at: Option<i64>,
    pub replies: i32,
    pub customer_messages: i32,
    pub flags: i32,
    pub fr_business_ms: Option<i64>,
    pub res_business_ms: Option<i64>,
    pub sla_fr: i32,
    pub sla_fr_due: Option<i64>,
    pub sla_fr_stopped: Option<i64>,
    pub sla_res: i32,
    pub sla_res_due: Option<i64>,
    pub sla_res_stopped: Option<i64>,
    pub settled_at: Option<i64>,
    pub stretches: String,
    pub resolutions: String,
}

/// The position of `x` in a text enum's `ALL` list (the stored code).
pub fn code_of<T: PartialEq>(all: &[T], x: &T) -> i32 {
    all.iter().position(|a| a == x).unwrap_or(0) as i32
}

fn from_code<T: Copy>(all: &[T], code: i32, fallback: T) -> T {
    usize::try_from(code)
        .ok()
        .and_then(|i| all.get(i))
        .copied()
        .unwrap_or(fallback)
}

/// 0: no clock; 1: a clock; 2: a clock that counts as met unless missed.
fn clock_code(c: Option<ClockEnd>) -> (i32, Option<i64>, Option<i64>) {
    match c {
        None => (0, None, None),
        Some(c) => (1 + i32::from(c.met_if_on_time), c.due, c.stopped),
    }
}

fn clock_of(code: i32, due: Option<i64>, stopped: Option<i64>) -> Option<ClockEnd> {
    (code != 0).then_some(ClockEnd {
        due,
        stopped,
        met_if_on_time: code == 2,
    })
}

/// Stretches as offsets from the creation, `a-b` or `a-` (still active),
/// comma-separated: short text both backends store alike.
pub fn encode_stretches(created_at: i64, s: &[Stretch]) -> String {
    let mut out = String::new();
    for (i, &(a, b)) in s.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&(a - created_at).to_string());
        out.push('-');
        if let Some(b) = b {
            out.push_str(&(b - created_at).to_string());
        }
    }
    out
}

/// The inverse of `encode_stretches`; `None` for text it did not write.
pub fn decode_stretches(created_at: i64, text: &str, out: &mut Vec<Stretch>) -> Option<()> {
    out.clear();
    if text.is_empty() {
        return Some(());
    }
    for part in text.split(',') {
        let (a, b) = part.split_once('-')?;
        let a = created_at + a.parse::<i64>().ok()?;
        let b = if b.is_empty() {
            None
        } else {
            Some(created_at + b.parse::<i64>().ok()?)
        };
        out.push((a, b));
    }
    Some(())
}

/// After this instant the ticket is never active and never resolved, so
/// no report of a later period sees it; `None` while it is active.
fn settled_at(created_at: i64, st: &[Stretch], resolved: &[i64]) -> Option<i64> {
    let active_until = match st.last() {
        Some(&(_, b)) => b?,
        None => created_at,
    };
    Some(resolved.iter().copied().fold(active_until, i64::max))
}

/// Instants as offsets from the creation, comma-separated.
pub fn encode_instants(created_at: i64, ats: &[i64]) -> String {
    let parts: Vec<String> = ats.iter().map(|a| (a - created_at).to_string()).collect();
    parts.join(",")
}

/// The inverse of `encode_instants`; `None` for text it did not write.
pub fn decode_instants(created_at: i64, text: &str, out: &mut Vec<i64>) -> Option<()> {
    out.clear();
    if text.is_empty() {
        return Some(());
    }
    for part in text.split(',') {
        out.push(created_at + part.parse::<i64>().ok()?);
    }
    Some(())
}

impl FactsRow {
    /// A clean row from the ticket's whole history (all the events `load`
    /// reads for a cohort, in history order).
    pub fn of(t: &TicketHistory, book: &Book, fingerprint: i64) -> FactsRow {
        let f = CohortFacts::of(t, &t.events, book);
        let st = stretches(t.created_at, &t.events);
        let resolved = resolved_ats(&t.events);
        let status = super::compute::status_at(&t.events, i64::MAX);
        let (sla_fr, sla_fr_due, sla_fr_stopped) = clock_code(f.sla_fr);
        let (sla_res, sla_res_due, sla_res_stopped) = clock_code(f.sla_res);
        let flags = if f.reopened { REOPENED } else { 0 }
            | if f.escalated { ESCALATED } else { 0 }
            | if f.customer_after_reply {
                CUSTOMER_AFTER_REPLY
            } else {
                0
            };
        FactsRow {
            ticket_id: t.id,
            gen: 0,
            dirty: false,
            book: fingerprint,
            created_at: t.created_at,
            channel: code_of(Channel::ALL, &t.channel),
            priority: code_of(Priority::ALL, &t.priority),
            group_id: t.group,
            assignee_id: t.assignee,
            last_at: t.events.iter().map(|e| e.at).max().unwrap_or(t.created_at),
            status: code_of(Status::ALL, &status),
            first_reply_at: f.first_reply,
            first_resolved_at: f.first_resolved,
            replies: f.replies as i32,
            customer_messages: f.customer_messages as i32,
            flags,
            fr_business_ms: f.fr_business,
            res_business_ms: f.res_business,
            sla_fr,
            sla_fr_due,
            sla_fr_stopped,
            sla_res,
            sla_res_due,
            sla_res_stopped,
            settled_at: settled_at(t.created_at, &st, &resolved),
            stretches: encode_stretches(t.created_at, &st),
            resolutions: encode_instants(t.created_at, &resolved),
        }
    }

    pub fn ticket(&self) -> TicketRef {
        TicketRef {
            id: self.ticket_id,
            created_at: self.created_at,
            channel: from_code(Channel::ALL, self.channel, Channel::Email),
            priority: from_code(Priority::ALL, self.priority, Priority::Normal),
            group: self.group_id,
            assignee: self.assignee_id,
        }
    }

    pub fn cohort_facts(&self) -> CohortFacts {
        let status = from_code(Status::ALL, self.status, Status::New);
        CohortFacts {
            first_reply: self.first_reply_at,
            first_resolved: self.first_resolved_at,
            finished: matches!(status, Status::Resolved | Status::Closed),
            replies: self.replies.max(0) as u32,
            customer_messages: self.customer_messages.max(0) as u32,
            reopened: self.flags & REOPENED != 0,
            escalated: self.flags & ESCALATED != 0,
            customer_after_reply: self.flags & CUSTOMER_AFTER_REPLY != 0,
            fr_business: self.fr_business_ms,
            res_business: self.res_business_ms,
            sla_fr: clock_of(self.sla_fr, self.sla_fr_due, self.sla_fr_stopped),
            sla_res: clock_of(self.sla_res, self.sla_res_due, self.sla_res_stopped),
        }
    }
}

/// Marks a ticket's row dirty (creating it for a new ticket): called for
/// every recorded event, in the change's transaction.
pub fn mark_dirty(conn: &mut DbConn, ticket_id: i64) -> QueryResult<()> {
    // One statement for both cases; `$1` is positional on both backends.
    diesel::sql_query(
        "INSERT INTO ticket_facts (ticket_id, created_at, dirty) \
         SELECT id, created_at, TRUE FROM tickets WHERE id = $1 \
         ON CONFLICT (ticket_id) DO UPDATE SET dirty = TRUE, gen = ticket_facts.gen + 1",
    )
    .bind::<diesel::sql_types::BigInt, _>(ticket_id)
    .execute(conn)
    .map(|_| ())
}

/// Computes the rows of `ids` from their stored histories.
pub fn compute(conn: &mut DbConn, ids: &[i64], book: &Book) -> QueryResult<Vec<FactsRow>> {
    let fingerprint = book.fingerprint();
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        super::load::histories(conn, chunk, None, i64::MAX, |t| {
            rows.push(FactsRow::of(t, book, fingerprint))
        })?;
    }
    Ok(rows)
}

/// Writes the rows of tickets that have none yet (import, in the
/// transaction that wrote them).
pub fn insert_new(conn: &mut DbConn, ids: &[i64], book: &Book) -> QueryResult<()> {
    let rows = compute(conn, ids, book)?;
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        DbConn::Postgres(pg) => {
            diesel::copy_from(ticket_facts::table)
                .from_insertable(&rows)
                .execute(pg)?;
        }
        DbConn::Sqlite(lite) => {
            for chunk in rows.chunks(1000) {
                diesel::insert_into(ticket_facts::table)
                    .values(chunk)
                    .execute(lite)?;
            }
        }
    }
    Ok(())
}

/// Recomputes up to `BATCH` rows that are dirty or were computed with
/// another book (call inside `Db::write`); how many it wrote. A row whose ticket
/// changed meanwhile (`gen` moved) stays dirty for the next pass.
/// `checked` remembers the book no row is stale for any more, so an idle
/// pass does not scan every row.
pub fn refresh(conn: &mut DbConn, checked: &mut Option<i64>) -> QueryResult<usize> {
    let book = Book::load(conn)?;
    let fingerprint = book.fingerprint();
    let mut todo: Vec<(i64, i64)> = ticket_facts::table
        .filter(ticket_facts::dirty)
        .order(ticket_facts::ticket_id)
        .select((ticket_facts::ticket_id, ticket_facts::gen))
        .limit(BATCH as i64)
        .load(conn)?;
    if todo.len() < BATCH && *checked != Some(fingerprint) {
        let room = BATCH - todo.len();
        let stale: Vec<(i64, i64)> = ticket_facts::table
            .filter(ticket_facts::book.ne(fingerprint))
            .filter(ticket_facts::dirty.eq(false))
            .select((ticket_facts::ticket_id, ticket_facts::gen))
            .limit(room as i64)
            .load(conn)?;
        if stale.len() < room {
            *checked = Some(fingerprint);
        }
        todo.extend(stale);
    }
    if todo.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = todo.iter().map(|&(id, _)| id).collect();
    let gens: std::collections::HashMap<i64, i64> = todo.into_iter().collect();
    let mut written = 0;
    for mut row in compute(conn, &ids, &book)? {
        let Some(&gen) = gens.get(&row.ticket_id) else {
            continue;
        };
        row.gen = gen;
        written += diesel::update(
            ticket_facts::table
                .filter(ticket_facts::ticket_id.eq(row.ticket_id))
                .filter(ticket_facts::gen.eq(gen)),
        )
        .set(&row)
        .execute(conn)?;
    }
    Ok(written)
}

/// Whether `refresh` has anything to do.
fn has_work(conn: &mut DbConn, checked: Option<i64>) -> QueryResult<bool> {
    let dirty = ticket_facts::table
        .filter(ticket_facts::dirty)
        .select(ticket_facts::ticket_id)
        .first::<i64>(conn)
        .optional()?;
    if dirty.is_some() {
        return Ok(true);
    }
    let fingerprint = Book::load(conn)?.fingerprint();
    Ok(checked != Some(fingerprint))
}

/// Refreshes until nothing is left (or only rows that keep changing).
pub fn refresh_all(db: &Db) -> Result<usize, DbError> {
    let mut total = 0;
    let mut checked = None;
    loop {
        let n = db.write(|c| refresh(c, &mut checked).map_err(DbError::from))?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
    }
}

/// How long the job sleeps when nothing is dirty: a report meanwhile reads
/// the few changed tickets' events, so this only bounds that extra work.
pub const IDLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs the refresh until `stop` is set: batch after batch while there is
/// work, then every `IDLE`.
pub fn run(db: Db, stop: Arc<AtomicBool>) {
    let mut checked = None;
    while !stop.load(Ordering::Relaxed) {
        // Looked for with a read first, so an idle pass never takes
        // SQLite's write lock.
        let work = db.query(|c| has_work(c, checked)).and_then(|w| {
            if w {
                db.write(|c| refresh(c, &mut checked).map_err(DbError::from))
            } else {
                Ok(0)
            }
        });
        let wait = match work {
            Ok(n) if n > 0 => {
                tracing::debug!(rows = n, "report facts refreshed");
                continue;
            }
            Ok(_) => IDLE,
            Err(e) => {
                tracing::warn!(error = %e, "report facts: store unavailable; retrying");
                IDLE
            }
        };
        let until = std::time::Instant::now() + wait;
        while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// Starts the job on its own thread.
pub fn spawn(db: Db, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("report-facts".into())
        .spawn(move || run(db, stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretches_round_trip() {
        let c = 1_000_000;
        let s = vec![(c, Some(c + 5)), (c + 9, Some(c + 12)), (c + 20, None)];
        let text = encode_stretches(c, &s);
        assert_eq!(text, "0-5,9-12,20-");
        let mut back = Vec::new();
        assert_eq!(decode_stretches(c, &text, &mut back), Some(()));
        assert_eq!(back, s);
        assert_eq!(decode_stretches(c, "", &mut back), Some(()));
        assert!(back.is_empty());
        assert_eq!(decode_stretches(c, "x-1", &mut back), None);
        let ats = vec![c - 3, c, c + 70];
        let text = encode_instants(c, &ats);
        assert_eq!(text, "-3,0,70");
        let mut back = Vec::new();
        assert_eq!(decode_instants(c, &text, &mut back), Some(()));
        assert_eq!(back, ats);
        assert_eq!(decode_instants(c, "1,,2", &mut back), None);
    }

    #[test]
    fn settled_after_the_last_stretch_or_resolution() {
        assert_eq!(settled_at(10, &[(10, Some(20))], &[20]), Some(20));
        // Resolved again after closing (imported history): that counts.
        assert_eq!(settled_at(10, &[(10, Some(20))], &[20, 35]), Some(35));
        assert_eq!(settled_at(10, &[(10, Some(20)), (30, None)], &[20]), None);
        assert_eq!(settled_at(10, &[], &[]), Some(10));
    }
}
