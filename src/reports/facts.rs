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
//! of the tickets it writes from what it writes, in the same transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use diesel::prelude::*;

use super::compute::{
    resolved_ats, stretches, ClockEnd, CohortFacts, Stretch, TicketHistory, TicketRef,
};
use crate::db::schema::ticket_facts;
use crate::db::{Db, DbConn, DbError};
use crate::sla::policy::Book;
use crate::tickets::{Channel, Priority};

/// How many rows one refresh transaction recomputes.
pub const BATCH: usize = 500;

/// The format of `summary`; a row in another one is read from its events.
const VERSION: u8 = 1;
const REOPENED: u64 = 1;
const ESCALATED: u64 = 2;
const CUSTOMER_AFTER_REPLY: u64 = 4;
const FINISHED: u64 = 8;

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
    pub settled_at: Option<i64>,
    pub summary: Vec<u8>,
}

/// A row's `summary`, decoded: everything the report needs of the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub ticket: TicketRef,
    /// The book fingerprint the business times and clocks were computed with.
    pub book: i64,
    /// The last event the facts saw (or the creation).
    pub last_at: i64,
    pub facts: CohortFacts,
    pub stretches: Vec<Stretch>,
    pub resolutions: Vec<i64>,
}

/// The position of `x` in a text enum's `ALL` list (the stored code).
pub fn code_of<T: PartialEq>(all: &[T], x: &T) -> i32 {
    all.iter().position(|a| a == x).unwrap_or(0) as i32
}

fn from_code<T: Copy>(all: &[T], code: u64) -> Option<T> {
    usize::try_from(code).ok().and_then(|i| all.get(i)).copied()
}

/// 0: no clock; 1: a clock; 2: a clock that counts as met unless missed.
fn clock_code(c: &Option<ClockEnd>) -> u64 {
    c.map_or(0, |c| 1 + u64::from(c.met_if_on_time))
}

/// LEB128 varints, zigzag for signed values; times as offsets from the
/// creation, so most fit in two to four bytes.
struct Writer(Vec<u8>);

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

impl Writer {
    fn u(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn i(&mut self, v: i64) {
        self.u(zigzag(v));
    }
    /// 0 for none, else the zigzag value + 1.
    fn opt(&mut self, v: Option<i64>) {
        self.u(v.map_or(0, |v| zigzag(v).saturating_add(1)));
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
    fn i(&mut self) -> Option<i64> {
        let z = self.u()?;
        Some(((z >> 1) as i64) ^ -((z & 1) as i64))
    }
    fn opt(&mut self) -> Option<Option<i64>> {
        match self.u()? {
            0 => Some(None),
            z => {
                let z = z - 1;
                Some(Some(((z >> 1) as i64) ^ -((z & 1) as i64)))
            }
        }
    }
    fn count(&mut self) -> Option<usize> {
        // A count can never exceed the bytes left (each item takes one).
        usize::try_from(self.u()?)
            .ok()
            .filter(|&n| n <= self.0.len())
    }
}

impl Summary {
    pub fn encode(&self) -> Vec<u8> {
        let c = self.ticket.created_at;
        let off = |v: Option<i64>| v.map(|v| v - c);
        let f = &self.facts;
        let mut w = Writer(Vec::with_capacity(48));
        w.0.push(VERSION);
        w.i(c);
        w.i(self.book);
        w.i(self.last_at - c);
        w.u(code_of(Channel::ALL, &self.ticket.channel) as u64);
        w.u(code_of(Priority::ALL, &self.ticket.priority) as u64);
        w.opt(self.ticket.group);
        w.opt(self.ticket.assignee);
        w.opt(off(f.first_reply));
        w.opt(off(f.first_resolved));
        w.u(u64::from(f.replies));
        w.u(u64::from(f.customer_messages));
        let bit = |on: bool, b: u64| if on { b } else { 0 };
        w.u(bit(f.reopened, REOPENED)
            | bit(f.escalated, ESCALATED)
            | bit(f.customer_after_reply, CUSTOMER_AFTER_REPLY)
            | bit(f.finished, FINISHED));
        w.opt(f.fr_business);
        w.opt(f.res_business);
        for clock in [&f.sla_fr, &f.sla_res] {
            w.u(clock_code(clock));
            if let Some(k) = clock {
                w.opt(off(k.due));
                w.opt(off(k.stopped));
            }
        }
        w.u(self.stretches.len() as u64);
        for &(a, b) in &self.stretches {
            w.i(a - c);
            w.opt(off(b));
        }
        w.u(self.resolutions.len() as u64);
        for &r in &self.resolutions {
            w.i(r - c);
        }
        w.0
    }

    /// The summary of ticket `id`; `None` for bytes `encode` did not write
    /// (the row is then read from its events).
    pub fn decode(id: i64, bytes: &[u8]) -> Option<Summary> {
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION {
            return None;
        }
        let mut r = Reader(rest);
        let c = r.i()?;
        let at = |v: Option<i64>| v.map(|v| v + c);
        let book = r.i()?;
        let last_at = r.i()? + c;
        let channel = from_code(Channel::ALL, r.u()?)?;
        let priority = from_code(Priority::ALL, r.u()?)?;
        let ticket = TicketRef {
            id,
            created_at: c,
            channel,
            priority,
            group: r.opt()?,
            assignee: r.opt()?,
        };
        let first_reply = at(r.opt()?);
        let first_resolved = at(r.opt()?);
        let replies = u32::try_from(r.u()?).ok()?;
        let customer_messages = u32::try_from(r.u()?).ok()?;
        let flags = r.u()?;
        let fr_business = r.opt()?;
        let res_business = r.opt()?;
        let mut clocks = [None, None];
        for clock in &mut clocks {
            let code = r.u()?;
            if code != 0 {
                *clock = Some(ClockEnd {
                    due: at(r.opt()?),
                    stopped: at(r.opt()?),
                    met_if_on_time: code == 2,
                });
            }
        }
        let n = r.count()?;
        let mut stretches = Vec::with_capacity(n);
        for _ in 0..n {
            stretches.push((r.i()? + c, at(r.opt()?)));
        }
        let n = r.count()?;
        let mut resolutions = Vec::with_capacity(n);
        for _ in 0..n {
            resolutions.push(r.i()? + c);
        }
        if !r.0.is_empty() {
            return None;
        }
        Some(Summary {
            ticket,
            book,
            last_at,
            facts: CohortFacts {
                first_reply,
                first_resolved,
                finished: flags & FINISHED != 0,
                replies,
                customer_messages,
                reopened: flags & REOPENED != 0,
                escalated: flags & ESCALATED != 0,
                customer_after_reply: flags & CUSTOMER_AFTER_REPLY != 0,
                fr_business,
                res_business,
                sla_fr: clocks[0],
                sla_res: clocks[1],
            },
            stretches,
            resolutions,
        })
    }
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

impl FactsRow {
    /// A clean row from the ticket's whole history (all the events `load`
    /// reads for it, in history order).
    pub fn of(history: &TicketHistory, book: &Book, fingerprint: i64) -> FactsRow {
        let (t, events) = (&history.ticket, &history.events);
        let summary = Summary {
            ticket: *t,
            book: fingerprint,
            last_at: events.iter().map(|e| e.at).max().unwrap_or(t.created_at),
            facts: CohortFacts::of(t, events, book),
            stretches: stretches(t.created_at, events),
            resolutions: resolved_ats(events),
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
            settled_at: settled_at(t.created_at, &summary.stretches, &summary.resolutions),
            summary: summary.encode(),
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

/// Writes rows of tickets that have none yet (import, in the transaction
/// that wrote the tickets).
pub fn insert_rows(conn: &mut DbConn, rows: &[FactsRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        DbConn::Postgres(pg) => {
            diesel::copy_from(ticket_facts::table)
                .from_insertable(rows)
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
    // On PostgreSQL the rows are locked as they are picked, skipping any a
    // change holds: the job then never waits for a row while holding others
    // (it updated them one by one while a maildir batch marked several
    // dirty in arrival order: "deadlock detected"). A skipped row is being
    // marked dirty (so the next pass takes it) or refreshed by another
    // process's job. SQLite's one writer keeps them apart anyway.
    let q = ticket_facts::table
        .filter(ticket_facts::dirty)
        .order(ticket_facts::ticket_id)
        .select((ticket_facts::ticket_id, ticket_facts::gen))
        .limit(BATCH as i64);
    let mut todo: Vec<(i64, i64)> = match &mut *conn {
        DbConn::Postgres(pg) => q.for_update().skip_locked().load(pg)?,
        sqlite => q.load(sqlite)?,
    };
    if todo.len() < BATCH && *checked != Some(fingerprint) {
        let room = BATCH - todo.len();
        let q = ticket_facts::table
            .filter(ticket_facts::book.ne(fingerprint))
            .filter(ticket_facts::dirty.eq(false))
            .order(ticket_facts::ticket_id)
            .select((ticket_facts::ticket_id, ticket_facts::gen))
            .limit(room as i64);
        let stale: Vec<(i64, i64)> = match &mut *conn {
            DbConn::Postgres(pg) => q.for_update().skip_locked().load(pg)?,
            sqlite => q.load(sqlite)?,
        };
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
    crate::background::spawn("report-facts", move || run(db, stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Summary {
        let c = 1_767_225_600_000;
        Summary {
            ticket: TicketRef {
                id: 7,
                created_at: c,
                channel: Channel::Agent,
                priority: Priority::Urgent,
                group: Some(3),
                assignee: None,
            },
            book: -5_000_000_000_123,
            last_at: c + 90_000,
            facts: CohortFacts {
                first_reply: Some(c + 1_800_000),
                first_resolved: None,
                finished: true,
                replies: 2,
                customer_messages: 300,
                reopened: true,
                escalated: false,
                customer_after_reply: true,
                fr_business: Some(0),
                res_business: None,
                sla_fr: Some(ClockEnd {
                    due: Some(c + 3_600_000),
                    stopped: Some(c + 1_800_000),
                    met_if_on_time: true,
                }),
                sla_res: Some(ClockEnd {
                    due: None,
                    stopped: None,
                    met_if_on_time: false,
                }),
            },
            // An event before the creation (imported history) gives a
            // negative offset.
            stretches: vec![(c, Some(c + 5)), (c + 9, None)],
            resolutions: vec![c - 3, c + 5],
        }
    }

    #[test]
    fn summaries_round_trip() {
        let s = sample();
        let bytes = s.encode();
        assert!(bytes.len() < 64, "{} bytes", bytes.len());
        assert_eq!(Summary::decode(7, &bytes), Some(s));
    }

    #[test]
    fn foreign_bytes_are_refused_not_misread() {
        let bytes = sample().encode();
        assert_eq!(Summary::decode(7, &[]), None);
        assert_eq!(Summary::decode(7, &bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Summary::decode(7, &longer), None);
        let mut other = bytes;
        other[0] = VERSION + 1;
        assert_eq!(Summary::decode(7, &other), None);
        // A count larger than what follows.
        assert_eq!(
            Summary::decode(
                7,
                &[VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x7f]
            ),
            None
        );
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
