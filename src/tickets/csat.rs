//! Satisfaction surveys (CSAT): one per ticket, scheduled when the ticket is
//! resolved, sent by the survey job, answered through a mailed link.
//!
//! A link carries a token only the job can compute (an HMAC of the survey
//! under the server secret, see `crate::csat::LinkKey`); the table keeps its
//! SHA-256, never the token. Each change runs in one transaction, like `ops`.

use diesel::prelude::*;
use serde_json::json;

use super::model::Ticket;
use super::notify::{self, Notice};
use super::ops::{self, EventSpec, MailBody};
use super::types::{Actor, EventKind, MessageKind, Role, Status};
use super::{Body, TicketError};
use crate::auth::tokens::hash_token;
use crate::db::schema::{csat_surveys, customers, events, tickets};
use crate::db::DbConn;
use crate::mail::message_id::MessageIdSigner;
use crate::people;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a survey link works after the survey was sent.
pub const LINK_LIFETIME_DAYS: u64 = 30;
pub const LINK_LIFETIME_MS: i64 = LINK_LIFETIME_DAYS as i64 * DAY_MS;
pub const MAX_COMMENT_CHARS: usize = 5000;

/// What resolving a ticket does about its survey (ops take it as an
/// argument: the domain reads no configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Survey {
    pub enabled: bool,
    /// From resolution to the survey mail.
    pub delay_ms: i64,
}

impl Survey {
    /// No survey (imports, tools, tests that are about something else).
    pub const OFF: Survey = Survey {
        enabled: false,
        delay_ms: 0,
    };

    pub fn from_config(c: &crate::config::Config) -> Survey {
        Survey {
            enabled: c.csat_enabled,
            delay_ms: c.csat_delay_hours as i64 * 60 * 60 * 1000,
        }
    }
}

pub const SCHEDULED: &str = "scheduled";
pub const SENT: &str = "sent";
pub const ANSWERED: &str = "answered";
pub const CANCELLED: &str = "cancelled";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = csat_surveys)]
pub struct SurveyRow {
    pub id: i64,
    pub ticket_id: i64,
    pub customer_id: i64,
    pub token_hash: Option<String>,
    pub state: String,
    pub due_at: i64,
    pub sent_at: Option<i64>,
    pub reminded_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub rating: Option<i32>,
    pub comment: Option<String>,
    pub answered_at: Option<i64>,
    pub followed_up_at: Option<i64>,
    pub followed_up_by: Option<i64>,
    pub created_at: i64,
}

impl SurveyRow {
    /// Rated 1 or 2 and nobody has followed up yet.
    pub fn needs_follow_up(&self) -> bool {
        is_low(self.rating) && self.followed_up_at.is_none()
    }
}

fn is_low(rating: Option<i32>) -> bool {
    matches!(rating, Some(1 | 2))
}

/// The words for each rating, 1 to 5.
pub fn rating_label(rating: i32) -> &'static str {
    match rating {
        1 => "Very dissatisfied",
        2 => "Dissatisfied",
        3 => "Neither satisfied nor dissatisfied",
        4 => "Satisfied",
        5 => "Very satisfied",
        _ => "Not a rating",
    }
}

/// Schedules the ticket's survey at `resolved_at + delay`. Nothing happens
/// when surveys are off, the ticket already has a survey (one per ticket,
/// however often it is resolved), the requester opted out, or no agent ever
/// replied (closed without an answer: spam, auto-replies, no contact).
pub(super) fn schedule(
    conn: &mut DbConn,
    ticket_id: i64,
    survey: Survey,
    resolved_at: i64,
) -> QueryResult<bool> {
    if !survey.enabled {
        return Ok(false);
    }
    let existing: i64 = csat_surveys::table
        .filter(csat_surveys::ticket_id.eq(ticket_id))
        .count()
        .get_result(conn)?;
    if existing > 0 {
        return Ok(false);
    }
    let requester: i64 = tickets::table
        .find(ticket_id)
        .select(tickets::requester_id)
        .first(conn)?;
    if opted_out(conn, requester)? {
        return Ok(false);
    }
    let replies: i64 = events::table
        .filter(events::ticket_id.eq(ticket_id))
        .filter(events::kind.eq(EventKind::AgentReply.as_str()))
        .count()
        .get_result(conn)?;
    if replies == 0 {
        return Ok(false);
    }
    diesel::insert_into(csat_surveys::table)
        .values((
            csat_surveys::ticket_id.eq(ticket_id),
            csat_surveys::customer_id.eq(requester),
            csat_surveys::state.eq(SCHEDULED),
            csat_surveys::due_at.eq(resolved_at + survey.delay_ms.max(0)),
            csat_surveys::created_at.eq(resolved_at),
        ))
        .execute(conn)?;
    Ok(true)
}

fn opted_out(conn: &mut DbConn, customer_id: i64) -> QueryResult<bool> {
    customers::table
        .find(customer_id)
        .select(customers::csat_opt_out)
        .first(conn)
}

/// The ticket's survey, if it has one.
pub fn for_ticket(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Option<SurveyRow>> {
    csat_surveys::table
        .filter(csat_surveys::ticket_id.eq(ticket_id))
        .select(SurveyRow::as_select())
        .first(conn)
        .optional()
}

/// Reads a survey and, on PostgreSQL, locks it until commit, so two
/// processes cannot both act on it (SQLite's write lock already does).
fn lock_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<SurveyRow>> {
    let q = csat_surveys::table.find(id);
    match conn {
        DbConn::Postgres(pg) => q
            .select(SurveyRow::as_select())
            .for_update()
            .first(pg)
            .optional(),
        sqlite => q.select(SurveyRow::as_select()).first(sqlite).optional(),
    }
}

/// The survey a link token belongs to (locked, as `lock_by_id`).
fn lock_by_token(conn: &mut DbConn, token: &str) -> QueryResult<Option<SurveyRow>> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let id: Option<i64> = csat_surveys::table
        .filter(csat_surveys::token_hash.eq(hash_token(token)))
        .select(csat_surveys::id)
        .first(conn)
        .optional()?;
    match id {
        Some(id) => lock_by_id(conn, id),
        None => Ok(None),
    }
}

/// What a survey link is, for its pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// It can be answered.
    Open(LinkView),
    /// It was answered already (ratings are final).
    Answered(LinkView),
    Expired,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    pub ticket_id: i64,
    pub subject: String,
    pub rating: Option<i32>,
    pub customer_opted_out: bool,
}

fn view(conn: &mut DbConn, row: &SurveyRow) -> QueryResult<LinkView> {
    let subject: String = tickets::table
        .find(row.ticket_id)
        .select(tickets::subject)
        .first(conn)?;
    Ok(LinkView {
        ticket_id: row.ticket_id,
        subject,
        rating: row.rating,
        customer_opted_out: opted_out(conn, row.customer_id)?,
    })
}

fn classify(conn: &mut DbConn, row: Option<&SurveyRow>, at: i64) -> QueryResult<Link> {
    let Some(row) = row else {
        return Ok(Link::Unknown);
    };
    Ok(match row.state.as_str() {
        ANSWERED => Link::Answered(view(conn, row)?),
        SENT if row.expires_at.is_some_and(|e| e > at) => Link::Open(view(conn, row)?),
        SENT => Link::Expired,
        // Only sent surveys have a token; anything else is not a link of ours.
        _ => Link::Unknown,
    })
}

/// What a link token is, without using it (GET pages: never a vote).
pub fn check(conn: &mut DbConn, token: &str, at: i64) -> QueryResult<Link> {
    if token.is_empty() || token.len() > 100 {
        return Ok(Link::Unknown);
    }
    let row = csat_surveys::table
        .filter(csat_surveys::token_hash.eq(hash_token(token)))
        .select(SurveyRow::as_select())
        .first(conn)
        .optional()?;
    classify(conn, row.as_ref(), at)
}

/// The outcome of a rating sent through a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Recorded {
        ticket_id: i64,
        low: bool,
    },
    /// Already answered: the first answer stands.
    Already(LinkView),
    Expired,
    Unknown,
}

/// Records the rating (1 to 5) and optional comment sent through a link:
/// `csat_received`, the comment as an internal note by the customer, and
/// for 1 or 2 the follow-up mark and a notice to the managers.
pub fn answer(
    conn: &mut DbConn,
    token: &str,
    rating: i32,
    comment: &str,
    at: i64,
) -> Result<Answer, TicketError> {
    if !(1..=5).contains(&rating) {
        return Err(TicketError::Invalid {
            field: "rating",
            message: "choose a rating from 1 to 5".into(),
        });
    }
    let comment = comment.trim();
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(TicketError::Invalid {
            field: "comment",
            message: format!("a comment is at most {MAX_COMMENT_CHARS} characters"),
        });
    }
    conn.transaction(|conn| {
        let found = lock_by_token(conn, token)?;
        let row = match (classify(conn, found.as_ref(), at)?, found) {
            (Link::Open(_), Some(row)) => row,
            (Link::Answered(v), _) => return Ok(Answer::Already(v)),
            (Link::Expired, _) => return Ok(Answer::Expired),
            (Link::Open(_) | Link::Unknown, _) => return Ok(Answer::Unknown),
        };
        let comment = (!comment.is_empty()).then_some(comment);
        // Conditional on the state: of two answers at once, one counts.
        let n = diesel::update(
            csat_surveys::table
                .find(row.id)
                .filter(csat_surveys::state.eq(SENT)),
        )
        .set((
            csat_surveys::state.eq(ANSWERED),
            csat_surveys::rating.eq(rating),
            csat_surveys::comment.eq(comment),
            csat_surveys::answered_at.eq(at),
        ))
        .execute(conn)?;
        if n == 0 {
            let again = lock_by_id(conn, row.id)?;
            return Ok(match classify(conn, again.as_ref(), at)? {
                Link::Answered(v) => Answer::Already(v),
                _ => Answer::Unknown,
            });
        }
        let ticket = ops::lock(conn, row.ticket_id)?;
        let actor = Actor::Customer(row.customer_id);
        let rating_text = rating.to_string();
        ops::record(
            conn,
            ticket.id,
            actor,
            at,
            EventSpec {
                kind: EventKind::CsatReceived,
                from: None,
                to: Some(&rating_text),
                data: json!({ "rating": rating, "comment": comment }),
            },
        )?;
        if let Some(text) = comment {
            let body = Body::text(format!(
                "Satisfaction survey comment (rating {rating} of 5: {}):\n\n{text}",
                rating_label(rating)
            ));
            ops::insert_message(conn, ticket.id, MessageKind::Note, actor, &body, at)?;
            ops::record(conn, ticket.id, actor, at, EventSpec::new(EventKind::Note))?;
        }
        diesel::update(tickets::table.find(ticket.id))
            .set(tickets::updated_at.eq(at))
            .execute(conn)?;
        let low = is_low(Some(rating));
        if low {
            let managers = managers_of(conn, &ticket)?;
            let who = match people::find_customer(conn, row.customer_id)? {
                Some(c) if !c.name.is_empty() => format!("{} <{}>", c.name, c.email),
                Some(c) => c.email,
                None => "The customer".into(),
            };
            let who = format!("{who} ({rating} of 5: {})", rating_label(rating));
            notify::notify(conn, &ticket, Notice::CsatLow, &managers, None, &who, at)?;
        }
        Ok(Answer::Recorded {
            ticket_id: ticket.id,
            low,
        })
    })
}

/// The managers of the ticket's group; every manager when it has no group
/// (or its group has none), so a low rating always reaches someone.
fn managers_of(conn: &mut DbConn, ticket: &Ticket) -> QueryResult<Vec<i64>> {
    let is_manager = |u: &people::User| u.role() == Role::Manager && u.active;
    if let Some(g) = ticket.group_id {
        let in_group: Vec<i64> = people::group_members(conn, g)?
            .iter()
            .filter(|u| is_manager(u))
            .map(|u| u.id)
            .collect();
        if !in_group.is_empty() {
            return Ok(in_group);
        }
    }
    Ok(people::list_staff(conn)?
        .iter()
        .filter(|u| is_manager(u))
        .map(|u| u.id)
        .collect())
}

/// Turns surveys off for the customer a link belongs to (any link of
/// theirs that was sent, answered or expired) and cancels their scheduled
/// ones. Returns None for an unknown link.
pub fn opt_out(conn: &mut DbConn, token: &str, at: i64) -> QueryResult<Option<LinkView>> {
    conn.transaction(|conn| {
        let Some(row) = lock_by_token(conn, token)? else {
            return Ok(None);
        };
        diesel::update(customers::table.find(row.customer_id))
            .set(customers::csat_opt_out.eq(true))
            .execute(conn)?;
        diesel::update(
            csat_surveys::table
                .filter(csat_surveys::customer_id.eq(row.customer_id))
                .filter(csat_surveys::state.eq(SCHEDULED)),
        )
        .set(csat_surveys::state.eq(CANCELLED))
        .execute(conn)?;
        tracing::info!(customer_id = row.customer_id, at, "CSAT opt-out");
        view(conn, &row).map(Some)
    })
}

/// The customer a link belongs to, for the opt-out page (any state).
pub fn check_opt_out(conn: &mut DbConn, token: &str) -> QueryResult<Option<LinkView>> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let row = csat_surveys::table
        .filter(csat_surveys::token_hash.eq(hash_token(token)))
        .select(SurveyRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(r) => view(conn, &r).map(Some),
        None => Ok(None),
    }
}

/// An agent followed up on a low rating: the ticket leaves the follow-up
/// view and a note says who did it. False when there was nothing to do.
pub fn follow_up_done(
    conn: &mut DbConn,
    ticket_id: i64,
    agent_id: i64,
    at: i64,
) -> Result<bool, TicketError> {
    conn.transaction(|conn| {
        let ticket = ops::lock(conn, ticket_id)?;
        let n = diesel::update(
            csat_surveys::table
                .filter(csat_surveys::ticket_id.eq(ticket.id))
                .filter(csat_surveys::rating.le(2))
                .filter(csat_surveys::followed_up_at.is_null()),
        )
        .set((
            csat_surveys::followed_up_at.eq(at),
            csat_surveys::followed_up_by.eq(agent_id),
        ))
        .execute(conn)?;
        if n == 0 {
            return Ok(false);
        }
        ops::note(
            conn,
            ticket.id,
            agent_id,
            Body::text("Followed up on the low satisfaction rating."),
            at,
        )?;
        Ok(true)
    })
}

// ---- the survey job's steps -----------------------------------------------

/// Scheduled surveys due at `now`, oldest first. PostgreSQL locks them and
/// skips rows another job holds; SQLite's write lock keeps jobs apart.
pub fn due(conn: &mut DbConn, now: i64, limit: i64) -> QueryResult<Vec<i64>> {
    let q = csat_surveys::table
        .filter(csat_surveys::state.eq(SCHEDULED))
        .filter(csat_surveys::due_at.le(now))
        .order((csat_surveys::due_at, csat_surveys::id))
        .limit(limit)
        .select(csat_surveys::id);
    match conn {
        DbConn::Postgres(pg) => q.for_update().skip_locked().load(pg),
        sqlite => q.load(sqlite),
    }
}

/// Sent surveys whose one reminder is due: unanswered, not reminded, sent
/// `reminder_ms` ago or more, link not expired. Locked as `due`.
pub fn reminders_due(
    conn: &mut DbConn,
    now: i64,
    reminder_ms: i64,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let q = csat_surveys::table
        .filter(csat_surveys::state.eq(SENT))
        .filter(csat_surveys::reminded_at.is_null())
        .filter(csat_surveys::sent_at.le(now - reminder_ms))
        .filter(csat_surveys::expires_at.gt(now))
        .order((csat_surveys::sent_at, csat_surveys::id))
        .limit(limit)
        .select(csat_surveys::id);
    match conn {
        DbConn::Postgres(pg) => q.for_update().skip_locked().load(pg),
        sqlite => q.load(sqlite),
    }
}

/// What the job did with one survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Sent,
    Reminded,
    /// Not sent, for good: reopened, opted out, or too late.
    Cancelled(&'static str),
    /// Nothing to do (another job got there first, or a reminder skipped).
    Skipped,
}

/// What the job needs to write a survey mail.
pub struct Mailer<'a> {
    pub signer: &'a MessageIdSigner,
    pub key: &'a crate::csat::LinkKey,
    pub base_url: &'a str,
}

fn cancel(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(
        csat_surveys::table
            .find(id)
            .filter(csat_surveys::state.eq(SCHEDULED)),
    )
    .set(csat_surveys::state.eq(CANCELLED))
    .execute(conn)
    .map(|_| ())
}

/// Marks a scheduled survey cancelled (the job, when sending failed).
pub fn give_up(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    cancel(conn, id)
}

fn still_resolved(ticket: &Ticket) -> bool {
    matches!(ticket.status(), Status::Resolved | Status::Closed)
}

/// Sends one scheduled survey: the mail through the outbox (an
/// `auto_message`, purpose `csat_survey`), then `csat_sent`.
pub fn send(conn: &mut DbConn, m: &Mailer<'_>, id: i64, now: i64) -> Result<Step, TicketError> {
    conn.transaction(|conn| {
        let Some(row) = lock_by_id(conn, id)? else {
            return Ok(Step::Skipped);
        };
        if row.state != SCHEDULED {
            return Ok(Step::Skipped);
        }
        let ticket = ops::lock(conn, row.ticket_id)?;
        let reason = if !still_resolved(&ticket) {
            Some("the ticket was reopened")
        } else if opted_out(conn, row.customer_id)? {
            Some("the customer opted out")
        } else if row.due_at + LINK_LIFETIME_MS <= now {
            // Surveys that waited longer than a link lives (the job was off)
            // would ask about something long past.
            Some("too late")
        } else {
            None
        };
        if let Some(reason) = reason {
            cancel(conn, row.id)?;
            return Ok(Step::Cancelled(reason));
        }
        let token = m.key.token(row.id, row.created_at);
        diesel::update(
            csat_surveys::table
                .find(row.id)
                .filter(csat_surveys::state.eq(SCHEDULED)),
        )
        .set((
            csat_surveys::state.eq(SENT),
            csat_surveys::token_hash.eq(hash_token(&token)),
            csat_surveys::sent_at.eq(now),
            csat_surveys::expires_at.eq(now + LINK_LIFETIME_MS),
        ))
        .execute(conn)?;
        mail(conn, m, &ticket, &token, "csat_survey", now)?;
        ops::record(
            conn,
            ticket.id,
            Actor::System,
            now,
            EventSpec::new(EventKind::CsatSent),
        )?;
        Ok(Step::Sent)
    })
}

/// Sends a survey's one reminder, with the same link (the token is
/// computed again from the survey; it is not stored).
pub fn remind(conn: &mut DbConn, m: &Mailer<'_>, id: i64, now: i64) -> Result<Step, TicketError> {
    conn.transaction(|conn| {
        let Some(row) = lock_by_id(conn, id)? else {
            return Ok(Step::Skipped);
        };
        if row.state != SENT || row.reminded_at.is_some() {
            return Ok(Step::Skipped);
        }
        // Whatever happens next, this survey is not looked at again.
        diesel::update(csat_surveys::table.find(row.id))
            .set(csat_surveys::reminded_at.eq(now))
            .execute(conn)?;
        let ticket = ops::lock(conn, row.ticket_id)?;
        if !still_resolved(&ticket) || opted_out(conn, row.customer_id)? {
            return Ok(Step::Skipped);
        }
        let token = m.key.token(row.id, row.created_at);
        if row.token_hash.as_deref() != Some(hash_token(&token).as_str()) {
            tracing::warn!(
                survey = row.id,
                "CSAT reminder not sent: the server secret changed since the survey"
            );
            return Ok(Step::Skipped);
        }
        mail(conn, m, &ticket, &token, "csat_reminder", now)?;
        Ok(Step::Reminded)
    })
}

fn mail(
    conn: &mut DbConn,
    m: &Mailer<'_>,
    ticket: &Ticket,
    token: &str,
    purpose: &str,
    now: i64,
) -> Result<(), TicketError> {
    let reminder = purpose == "csat_reminder";
    let rendered = crate::csat::mail::render(m.base_url, token, ticket, reminder).map_err(|e| {
        TicketError::Invalid {
            field: "mail",
            message: format!("survey mail template: {e}"),
        }
    })?;
    let out = MailBody {
        subject: Some(rendered.subject),
        text: rendered.text,
        html: Some(rendered.html),
        requester_only: true,
    };
    ops::auto_message_mail(
        conn,
        m.signer,
        ticket.id,
        purpose,
        Body::text(rendered.history),
        Some(&out),
        now,
    )?;
    Ok(())
}
