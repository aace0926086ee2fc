//! The inbound pipeline behind every mail source (MTA pipe, maildir, IMAP):
//! raw bytes → parse → classify → thread → store, through `ingest` (one
//! message, one transaction) or `ingest_batch` (several messages, one
//! transaction, each still deduplicated on its own).
//!
//! Contract for sources: `Ok(_)` means the message is durably committed —
//! its raw bytes are stored exactly once, together with what it did to a
//! ticket (or in the quarantine) — and the source may acknowledge it
//! (exit 0, move it to `cur/`, mark it on the IMAP server). `Err(_)` means
//! nothing was committed: the source must NOT acknowledge it and should
//! offer it again later (exit 75, leave it in `new/`, leave it unmarked).
//! A message that cannot be parsed or processed is never an `Err`: it is
//! stored in the quarantine, and quarantining is a commit too.

pub mod charset;
pub mod classify;
pub mod parse;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use self::classify::Class;
use self::parse::{DeliveryReport, Parsed};
use crate::config::Config;
use crate::db::schema::{
    customers, mailboxes, messages, outbox, participants, quarantine, raw_mails, tickets,
};
use crate::db::{Db, DbConn, DbError};
use crate::mail::message_id::MessageIdSigner;
use crate::mail::subject_tag::SubjectTag;
use crate::mailboxes::Mailbox;
use crate::people::{self, EmailAddress};
use crate::tickets::attachments::sha256_hex;
use crate::tickets::ops::{
    self, DeliveryFailure, MAX_ATTACHMENTS, MAX_BODY_BYTES, MAX_SUBJECT_CHARS,
};
use crate::tickets::{Actor, Body, Channel, NewTicket, Priority, Status, TicketError};

/// At most this many To/Cc addresses of one mail become participants.
const MAX_NEW_PARTICIPANTS: usize = 20;

/// What the pipeline needs besides the message.
#[derive(Debug, Clone)]
pub struct Ingest {
    pub signer: MessageIdSigner,
    pub subject_tag: SubjectTag,
    /// Larger mail is quarantined unprocessed.
    pub max_bytes: usize,
    /// The mailbox the source delivers to; None: found from the mail's
    /// Delivered-To/To/Cc among the configured mailboxes, if any.
    pub mailbox: Option<Mailbox>,
    /// Our own addresses (support address, mailboxes, lower case): never
    /// made participants.
    pub own_addresses: Vec<String>,
}

impl Ingest {
    pub fn new(signer: MessageIdSigner, config: &Config, mailbox: Option<Mailbox>) -> Ingest {
        let mut own = Vec::new();
        if let Some(a) = config
            .support_address
            .as_deref()
            .and_then(|a| EmailAddress::parse(a.trim_matches(['<', '>'])).ok())
        {
            own.push(a.to_string());
        }
        Ingest {
            signer,
            subject_tag: config.subject_tag.clone(),
            max_bytes: config.max_mail_bytes,
            mailbox,
            own_addresses: own,
        }
    }

    /// Adds every configured mailbox's address to `own_addresses`.
    pub fn load_mailboxes(mut self, db: &Db) -> Result<Ingest, DbError> {
        let all: Vec<String> = db.query(|c| mailboxes::table.select(mailboxes::address).load(c))?;
        for a in all {
            if !self.own_addresses.contains(&a) {
                self.own_addresses.push(a);
            }
        }
        if let Some(m) = &self.mailbox {
            if !self.own_addresses.contains(&m.address) {
                self.own_addresses.push(m.address.clone());
            }
        }
        Ok(self)
    }

    fn is_own(&self, address: &EmailAddress) -> bool {
        self.own_addresses.iter().any(|a| a == address.as_str())
    }
}

/// What happened to a message. Every variant but `Loop` is a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It opened a ticket: `linked_to` the closed ticket it follows up
    /// (`follow_up`) or the ticket whose tag it carried from a stranger.
    NewTicket {
        ticket_id: i64,
        message_id: i64,
        linked_to: Option<i64>,
        follow_up: bool,
        /// False for automatic mail: no acknowledgement may answer it.
        ack_allowed: bool,
    },
    /// A customer message on an existing ticket.
    Appended {
        ticket_id: i64,
        message_id: i64,
        reopened: bool,
        ack_allowed: bool,
    },
    /// An automatic mail (out-of-office, list, bulk) stored on its ticket.
    AutoReply { ticket_id: i64, message_id: i64 },
    /// Already stored (same mailbox and Message-ID, or same bytes).
    Duplicate { raw_mail_id: i64 },
    /// A bounce, recorded as a delivery failure (with its ticket if known).
    Bounce {
        failure_id: i64,
        ticket_id: Option<i64>,
    },
    /// Our own mail came back: dropped, nothing stored.
    Loop,
    /// Stored in the quarantine for an admin, with the reason.
    Quarantined { quarantine_id: i64, reason: String },
}

impl Outcome {
    /// Whether an acknowledgement may answer this mail (never for
    /// automatic mail, bounces, loops, duplicates or quarantined mail).
    pub fn ack_allowed(&self) -> bool {
        match self {
            Outcome::NewTicket { ack_allowed, .. } | Outcome::Appended { ack_allowed, .. } => {
                *ack_allowed
            }
            _ => false,
        }
    }

    pub fn ticket_id(&self) -> Option<i64> {
        match self {
            Outcome::NewTicket { ticket_id, .. }
            | Outcome::Appended { ticket_id, .. }
            | Outcome::AutoReply { ticket_id, .. } => Some(*ticket_id),
            Outcome::Bounce { ticket_id, .. } => *ticket_id,
            _ => None,
        }
    }

    /// One word for logs and summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::NewTicket { .. } => "new_ticket",
            Outcome::Appended { .. } => "appended",
            Outcome::AutoReply { .. } => "auto_reply",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::Bounce { .. } => "bounce",
            Outcome::Loop => "loop",
            Outcome::Quarantined { .. } => "quarantined",
        }
    }
}

/// Why nothing was committed. Both mean: do not acknowledge, try later.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The store cannot be reached or refused to commit (connection, lock,
    /// disk): the usual case, and a retry later will work.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered but would not take even the quarantine row: a
    /// bug or a damaged database. Retrying is still the only safe thing.
    #[error("store refused the message: {0}")]
    Store(String),
}

impl From<DbError> for IngestError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Query(q) => q.into(),
            other => IngestError::Unavailable(other.to_string()),
        }
    }
}

impl From<DieselError> for IngestError {
    fn from(e: DieselError) -> Self {
        if is_data_error(&e) {
            IngestError::Store(e.to_string())
        } else {
            IngestError::Unavailable(e.to_string())
        }
    }
}

/// A database error caused by the data (a constraint), not by the store
/// being unreachable: the message is at fault, quarantine it.
fn is_data_error(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(kind, _) => matches!(
            kind,
            DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::NotNullViolation
                | DatabaseErrorKind::CheckViolation
        ),
        DieselError::NotFound
        | DieselError::DeserializationError(_)
        | DieselError::SerializationError(_) => true,
        _ => false,
    }
}

/// Processing failed: because of the message (quarantine it) or the store.
enum Fail {
    Reject(String),
    Store(IngestError),
}

impl From<DieselError> for Fail {
    fn from(e: DieselError) -> Self {
        if is_data_error(&e) {
            Fail::Reject(format!("database refused it: {e}"))
        } else {
            Fail::Store(IngestError::Unavailable(e.to_string()))
        }
    }
}

impl From<TicketError> for Fail {
    fn from(e: TicketError) -> Self {
        match e {
            TicketError::Db(d) => d.into(),
            TicketError::Store(DbError::Query(d)) => d.into(),
            TicketError::Store(other) => Fail::Store(other.into()),
            other => Fail::Reject(other.to_string()),
        }
    }
}

/// A message parsed and classified before its transaction (no lock held
/// while parsing).
enum Prepared {
    Rejected {
        reason: String,
        message_id: Option<String>,
    },
    Ready(Box<Parsed>, Class),
}

fn prepare(ctx: &Ingest, raw: &[u8]) -> Prepared {
    if raw.len() > ctx.max_bytes {
        let message_id = mail_parser::MessageParser::default()
            .parse_headers(&raw[..charset::header_end(raw)])
            .and_then(|m| m.message_id().and_then(parse::bracket_id));
        let reason = format!(
            "the mail is {} bytes, over the limit of {} bytes (max_mail_bytes)",
            raw.len(),
            ctx.max_bytes
        );
        tracing::warn!(size = raw.len(), limit = ctx.max_bytes, message_id = ?message_id, "mail over the size limit: quarantined");
        return Prepared::Rejected { reason, message_id };
    }
    // The parser promises not to panic; a mail must not take the process
    // down if it does anyway.
    let parsed = std::panic::catch_unwind(|| parse::parse(raw))
        .unwrap_or_else(|_| Err("the mail parser crashed on this mail".to_string()));
    match parsed {
        Ok(p) => {
            let class = classify::classify(&p, ctx.signer.domain());
            Prepared::Ready(Box::new(p), class)
        }
        Err(reason) => Prepared::Rejected {
            reason,
            message_id: None,
        },
    }
}

/// Ingests one message in its own transaction. See the module doc for the
/// contract: `Ok` = committed (or, for `Loop`, deliberately dropped), safe
/// to acknowledge; `Err` = nothing committed, do not acknowledge.
pub fn ingest(db: &Db, ctx: &Ingest, raw: &[u8], now: i64) -> Result<Outcome, IngestError> {
    let prepared = prepare(ctx, raw);
    if let Prepared::Ready(p, Class::Loop) = &prepared {
        log_loop(p);
        return Ok(Outcome::Loop);
    }
    let outcome = db.write(|conn| store(conn, ctx, raw, &prepared, now))?;
    log_outcome(&outcome);
    Ok(outcome)
}

/// Ingests several messages in ONE transaction (much faster on SQLite,
/// where each commit waits for the disk). Each message is deduplicated and
/// quarantined on its own; a store failure rolls back the whole batch. The
/// outcomes are in input order; acknowledge each message only after this
/// returned Ok.
pub fn ingest_batch<B: AsRef<[u8]>>(
    db: &Db,
    ctx: &Ingest,
    raws: &[B],
    now: i64,
) -> Result<Vec<Outcome>, IngestError> {
    let prepared: Vec<Prepared> = raws.iter().map(|r| prepare(ctx, r.as_ref())).collect();
    let outcomes = db.write(|conn| {
        let mut out = Vec::with_capacity(raws.len());
        for (raw, p) in raws.iter().zip(&prepared) {
            if let Prepared::Ready(_, Class::Loop) = p {
                out.push(Outcome::Loop);
                continue;
            }
            out.push(store(conn, ctx, raw.as_ref(), p, now)?);
        }
        Ok::<_, IngestError>(out)
    })?;
    for (o, p) in outcomes.iter().zip(&prepared) {
        match (o, p) {
            (Outcome::Loop, Prepared::Ready(parsed, _)) => log_loop(parsed),
            _ => log_outcome(o),
        }
    }
    Ok(outcomes)
}

fn log_loop(p: &Parsed) {
    tracing::info!(
        message_id = ?p.message_id,
        from = ?p.from.as_ref().map(|s| s.address.to_string()),
        header = crate::mail::LOOP_HEADER,
        "dropped our own mail coming back (mail loop)"
    );
}

fn log_outcome(o: &Outcome) {
    match o {
        Outcome::Quarantined {
            quarantine_id,
            reason,
        } => {
            tracing::warn!(quarantine_id, reason = %reason, "mail quarantined")
        }
        Outcome::Bounce {
            failure_id,
            ticket_id,
        } => {
            tracing::info!(failure_id, ticket_id = ?ticket_id, "bounce recorded as a delivery failure")
        }
        other => {
            tracing::debug!(outcome = other.kind(), ticket_id = ?other.ticket_id(), "mail ingested")
        }
    }
}

/// The dedupe key: the Message-ID, or the content hash without one.
fn dedupe_key(message_id: Option<&str>, raw: &[u8]) -> String {
    match message_id {
        Some(id) => format!("mid:{id}"),
        None => format!("sha256:{}", sha256_hex(raw)),
    }
}

/// Stores one message inside the caller's transaction.
fn store(
    conn: &mut DbConn,
    ctx: &Ingest,
    raw: &[u8],
    prepared: &Prepared,
    now: i64,
) -> Result<Outcome, IngestError> {
    let (message_id, parsed) = match prepared {
        Prepared::Rejected { message_id, .. } => (message_id.clone(), None),
        Prepared::Ready(p, class) => (p.message_id.clone(), Some((p.as_ref(), class))),
    };
    let mailbox = match &ctx.mailbox {
        Some(m) => Some(m.clone()),
        None => match parsed {
            Some((p, _)) => find_mailbox(conn, p)?,
            None => None,
        },
    };
    let key = dedupe_key(message_id.as_deref(), raw);
    let raw_id = match insert_raw(
        conn,
        mailbox.as_ref().map(|m| m.id),
        raw,
        &key,
        message_id.as_deref(),
        now,
    )? {
        Stored::New(id) => id,
        Stored::Existing(id) => return Ok(Outcome::Duplicate { raw_mail_id: id }),
    };
    let (p, class) = match (prepared, parsed) {
        (Prepared::Rejected { reason, .. }, _) => return quarantine_new(conn, raw_id, reason, now),
        (_, Some(pc)) => pc,
        (_, None) => return quarantine_new(conn, raw_id, "unparsed", now),
    };
    // A savepoint: whatever processing wrote is undone if it fails, and the
    // raw mail goes to the quarantine instead.
    match conn.transaction(|c| process(c, ctx, mailbox.as_ref(), raw_id, p, class, now)) {
        Ok(o) => Ok(o),
        Err(Fail::Reject(reason)) => quarantine_new(conn, raw_id, &reason, now),
        Err(Fail::Store(e)) => Err(e),
    }
}

fn find_mailbox(conn: &mut DbConn, p: &Parsed) -> QueryResult<Option<Mailbox>> {
    let wanted: Vec<&str> = p
        .delivered_to
        .iter()
        .chain(p.recipients.iter())
        .map(|a| a.as_str())
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let found: Vec<Mailbox> = mailboxes::table
        .filter(mailboxes::address.eq_any(&wanted))
        .select(Mailbox::as_select())
        .load(conn)?;
    Ok(wanted
        .iter()
        .find_map(|w| found.iter().find(|m| m.address == *w))
        .cloned())
}

enum Stored {
    New(i64),
    Existing(i64),
}

/// Inserts the raw mail unless (mailbox, key) is stored already. The unique
/// index decides, so two concurrent deliveries cannot both insert; the
/// savepoint keeps a PostgreSQL transaction usable after the violation.
fn insert_raw(
    conn: &mut DbConn,
    mailbox_id: Option<i64>,
    raw: &[u8],
    key: &str,
    message_id: Option<&str>,
    now: i64,
) -> QueryResult<Stored> {
    let inserted = conn.transaction(|c| {
        diesel::insert_into(raw_mails::table)
            .values((
                raw_mails::sha256.eq(sha256_hex(raw)),
                raw_mails::size.eq(raw.len() as i64),
                raw_mails::data.eq(raw),
                raw_mails::mailbox_id.eq(mailbox_id),
                raw_mails::received_at.eq(now),
                raw_mails::dedupe_key.eq(key),
                raw_mails::mail_message_id.eq(message_id),
            ))
            .returning(raw_mails::id)
            .get_result::<i64>(c)
    });
    match inserted {
        Ok(id) => Ok(Stored::New(id)),
        Err(e) if people::is_unique_violation(&e) => {
            let q = raw_mails::table
                .filter(raw_mails::dedupe_key.eq(key))
                .select(raw_mails::id)
                .into_boxed();
            let q = match mailbox_id {
                Some(m) => q.filter(raw_mails::mailbox_id.eq(m)),
                None => q.filter(raw_mails::mailbox_id.is_null()),
            };
            Ok(Stored::Existing(q.first(conn)?))
        }
        Err(e) => Err(e),
    }
}

fn quarantine_new(
    conn: &mut DbConn,
    raw_id: i64,
    reason: &str,
    now: i64,
) -> Result<Outcome, IngestError> {
    let reason: String = reason.chars().take(2000).collect();
    let id = diesel::insert_into(quarantine::table)
        .values((
            quarantine::raw_mail_id.eq(raw_id),
            quarantine::error.eq(&reason),
            quarantine::created_at.eq(now),
            quarantine::attempts.eq(0),
        ))
        .returning(quarantine::id)
        .get_result(conn)?;
    Ok(Outcome::Quarantined {
        quarantine_id: id,
        reason,
    })
}

/// Where threading puts a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Ticket(i64),
    /// A new ticket, linked to this one.
    Related(i64),
    New,
}

fn ticket_exists(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    Ok(tickets::table.find(id).count().get_result::<i64>(conn)? > 0)
}

/// Threading, in order: (1) our signed Message-IDs in In-Reply-To or
/// References; (2) any Message-ID we know in them; (3) the subject tag, only
/// when the sender is the requester or a participant of that ticket (else a
/// new ticket linked to it); (4) a new ticket.
fn thread(
    conn: &mut DbConn,
    ctx: &Ingest,
    p: &Parsed,
    sender: &EmailAddress,
) -> QueryResult<Target> {
    let ids = p.thread_ids();
    for id in &ids {
        if let Some(t) = ctx.signer.verify(id) {
            if ticket_exists(conn, t)? {
                return Ok(Target::Ticket(t));
            }
        }
    }
    if !ids.is_empty() {
        let known: Vec<(Option<String>, i64)> = messages::table
            .filter(messages::mail_message_id.eq_any(&ids))
            .select((messages::mail_message_id, messages::ticket_id))
            .load(conn)?;
        for id in &ids {
            // The newest ticket, if a Message-ID is on several (follow-ups).
            if let Some(t) = known
                .iter()
                .filter(|(m, _)| m.as_deref() == Some(id))
                .map(|(_, t)| *t)
                .max()
            {
                return Ok(Target::Ticket(t));
            }
        }
    }
    // The configured tag, else the default one (what mail sent before a
    // change of the setting carries, and what `ops::tagged_subject` writes).
    let tagged = ctx
        .subject_tag
        .find(&p.subject)
        .or_else(|| SubjectTag::default().find(&p.subject));
    if let Some(t) = tagged {
        if ticket_exists(conn, t)? {
            return Ok(if is_on_ticket(conn, t, sender)? {
                Target::Ticket(t)
            } else {
                Target::Related(t)
            });
        }
    }
    Ok(Target::New)
}

/// The sender is the ticket's requester or one of its participants.
fn is_on_ticket(conn: &mut DbConn, ticket_id: i64, sender: &EmailAddress) -> QueryResult<bool> {
    let requester: i64 = tickets::table
        .find(ticket_id)
        .inner_join(customers::table)
        .filter(customers::email.eq(sender.as_str()))
        .count()
        .get_result(conn)?;
    if requester > 0 {
        return Ok(true);
    }
    let participant: i64 = participants::table
        .inner_join(customers::table)
        .filter(participants::ticket_id.eq(ticket_id))
        .filter(customers::email.eq(sender.as_str()))
        .count()
        .get_result(conn)?;
    Ok(participant > 0)
}

fn truncate_bytes(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    true
}

/// The message body as the ticket stores it, within the domain's limits
/// (the raw mail keeps everything).
fn body_of(p: &Parsed, raw_id: i64) -> Body {
    let mut notes = Vec::new();
    let mut text = p.text.clone();
    if truncate_bytes(&mut text, MAX_BODY_BYTES - 1024) {
        notes.push("[The text was cut here; the original mail holds all of it.]".to_string());
    }
    let mut html = p.html.clone();
    if html.as_ref().is_some_and(|h| h.len() > 4 * MAX_BODY_BYTES) {
        html = None;
        notes.push(
            "[The HTML version is too large to show; the original mail holds it.]".to_string(),
        );
    }
    let mut files = p.attachments.clone();
    if files.len() > MAX_ATTACHMENTS {
        notes.push(format!(
            "[{} more attachments are in the original mail.]",
            files.len() - MAX_ATTACHMENTS
        ));
        files.truncate(MAX_ATTACHMENTS);
    }
    for n in notes {
        text.push_str("\n\n");
        text.push_str(&n);
    }
    Body {
        text,
        html,
        mail_message_id: p.message_id.clone(),
        mail_in_reply_to: p.in_reply_to.first().cloned(),
        raw_mail_id: Some(raw_id),
        attachments: files,
    }
}

fn subject_of(p: &Parsed) -> String {
    let s = p.subject.trim();
    if s.is_empty() {
        return "(no subject)".to_string();
    }
    s.chars().take(MAX_SUBJECT_CHARS).collect()
}

fn process(
    conn: &mut DbConn,
    ctx: &Ingest,
    mailbox: Option<&Mailbox>,
    raw_id: i64,
    p: &Parsed,
    class: &Class,
    now: i64,
) -> Result<Outcome, Fail> {
    let auto = match class {
        Class::Loop => return Ok(Outcome::Loop),
        Class::Bounce(report) => return bounce(conn, ctx, raw_id, p, report, now),
        Class::Auto(reason) => {
            tracing::debug!(reason, "automatic mail");
            true
        }
        Class::Person => false,
    };
    let sender = p
        .from
        .as_ref()
        .ok_or_else(|| Fail::Reject("no valid sender address (From, Sender or Reply-To)".into()))?;
    let target = thread(conn, ctx, p, &sender.address)?;
    let customer =
        people::find_or_create_customer(conn, &sender.address, sender.name.as_deref(), now)?;
    let body = body_of(p, raw_id);
    let outcome = match target {
        Target::Ticket(t) if auto => {
            let posted = ops::incoming_auto_message(conn, t, customer.id, body, now)?;
            return Ok(Outcome::AutoReply {
                ticket_id: posted.ticket_id,
                message_id: posted.message_id,
            });
        }
        Target::Ticket(t) => {
            let before: String = tickets::table.find(t).select(tickets::status).first(conn)?;
            let posted = ops::customer_message(conn, t, customer.id, body, now)?;
            if posted.follow_up {
                Outcome::NewTicket {
                    ticket_id: posted.ticket_id,
                    message_id: posted.message_id,
                    linked_to: Some(t),
                    follow_up: true,
                    ack_allowed: true,
                }
            } else {
                // Someone who replies in the thread is on the ticket now.
                ops::add_participant(conn, t, customer.id, now)?;
                Outcome::Appended {
                    ticket_id: posted.ticket_id,
                    message_id: posted.message_id,
                    reopened: before == Status::Resolved.as_str(),
                    ack_allowed: true,
                }
            }
        }
        Target::Related(_) | Target::New => {
            let new = NewTicket {
                subject: subject_of(p),
                body,
                requester: sender.address.clone(),
                requester_name: sender.name.clone(),
                channel: Channel::Email,
                priority: Priority::Normal,
                group_id: mailbox.and_then(|m| m.group_id),
                assignee_id: None,
                mailbox_id: mailbox.map(|m| m.id),
                actor: Actor::Customer(customer.id),
            };
            let (posted, linked_to) = match target {
                Target::Related(t) => (ops::create_related(conn, t, new, now)?, Some(t)),
                _ => (ops::create(conn, new, now)?, None),
            };
            Outcome::NewTicket {
                ticket_id: posted.ticket_id,
                message_id: posted.message_id,
                linked_to,
                follow_up: false,
                ack_allowed: !auto,
            }
        }
    };
    // Before the participants are added: the acknowledgement goes to the
    // sender alone, not to everyone they copied (an auto-responder among
    // them would answer it).
    if let (Outcome::NewTicket { ticket_id, .. }, Some(m)) = (&outcome, mailbox) {
        if outcome.ack_allowed() && m.ack_enabled {
            acknowledge(conn, ctx, *ticket_id, &sender.address, now)?;
        }
    }
    if !auto {
        if let Some(t) = outcome.ticket_id() {
            add_participants(conn, ctx, t, p, &sender.address, now)?;
        }
    }
    Ok(outcome)
}

/// At most this many acknowledgements per sender per hour: two systems that
/// answer each other without honouring `Auto-Submitted` stop here.
pub const MAX_ACKS_PER_HOUR: i64 = 5;

/// Queues the acknowledgement of a new ticket, in the transaction that
/// opened it, unless the sender had `MAX_ACKS_PER_HOUR` already.
fn acknowledge(
    conn: &mut DbConn,
    ctx: &Ingest,
    ticket_id: i64,
    sender: &EmailAddress,
    now: i64,
) -> Result<(), Fail> {
    let recent: i64 = outbox::table
        .filter(outbox::kind.eq("acknowledgement"))
        .filter(outbox::to_addrs.eq(sender.as_str()))
        .filter(outbox::created_at.gt(now - 3_600_000))
        .count()
        .get_result(conn)?;
    if recent >= MAX_ACKS_PER_HOUR {
        tracing::info!(ticket = ticket_id, %sender, "acknowledgement skipped: rate limit for this sender");
        return Ok(());
    }
    let text = format!(
        "Thank you for your message. We opened ticket #{ticket_id} for it and will answer \
         as soon as we can.\n\nTo add to it, reply to this mail and keep [#{ticket_id}] \
         in the subject."
    );
    ops::auto_message(
        conn,
        &ctx.signer,
        ticket_id,
        "acknowledgement",
        Body::text(text),
        now,
    )?;
    Ok(())
}

/// To/Cc addresses other than ours and the sender's become participants.
fn add_participants(
    conn: &mut DbConn,
    ctx: &Ingest,
    ticket_id: i64,
    p: &Parsed,
    sender: &EmailAddress,
    now: i64,
) -> Result<(), Fail> {
    for r in p
        .recipients
        .iter()
        .filter(|r| *r != sender && !ctx.is_own(r))
        .take(MAX_NEW_PARTICIPANTS)
    {
        let c = people::find_or_create_customer(conn, r, None, now)?;
        ops::add_participant(conn, ticket_id, c.id, now)?;
    }
    Ok(())
}

/// The ticket a bounce is about: the Message-IDs it quotes, checked as our
/// signed ids, then against what we sent and stored.
fn bounce_ticket(
    conn: &mut DbConn,
    ctx: &Ingest,
    p: &Parsed,
    report: &DeliveryReport,
) -> QueryResult<(Option<i64>, Option<String>)> {
    let mut ids: Vec<String> = report.original_ids.clone();
    ids.extend(p.thread_ids());
    ids.extend(parse::find_message_ids(&p.text));
    ids.retain(|i| Some(i) != p.message_id.as_ref());
    ids.dedup();
    for id in &ids {
        if let Some(t) = ctx.signer.verify(id) {
            if ticket_exists(conn, t)? {
                return Ok((Some(t), Some(id.clone())));
            }
        }
    }
    if !ids.is_empty() {
        let sent: Option<(String, Option<i64>)> = outbox::table
            .filter(outbox::mail_message_id.eq_any(&ids))
            .filter(outbox::ticket_id.is_not_null())
            .select((outbox::mail_message_id, outbox::ticket_id))
            .first(conn)
            .optional()?;
        if let Some((id, t)) = sent {
            return Ok((t, Some(id)));
        }
        let known: Option<(Option<String>, i64)> = messages::table
            .filter(messages::mail_message_id.eq_any(&ids))
            .select((messages::mail_message_id, messages::ticket_id))
            .first(conn)
            .optional()?;
        if let Some((id, t)) = known {
            return Ok((Some(t), id));
        }
    }
    Ok((None, ids.first().cloned()))
}

fn bounce(
    conn: &mut DbConn,
    ctx: &Ingest,
    raw_id: i64,
    p: &Parsed,
    report: &DeliveryReport,
    now: i64,
) -> Result<Outcome, Fail> {
    let (ticket_id, original) = bounce_ticket(conn, ctx, p, report)?;
    let diagnostic = report
        .diagnostic
        .clone()
        .or_else(|| report.status.clone().map(|s| format!("status {s}")))
        .unwrap_or_else(|| {
            if p.subject.is_empty() {
                "delivery failed".to_string()
            } else {
                p.subject.clone()
            }
        });
    let failure_id = ops::delivery_failure(
        conn,
        DeliveryFailure {
            ticket_id,
            raw_mail_id: raw_id,
            recipient: report.recipient.clone(),
            status: report.status.clone(),
            diagnostic,
            original_message_id: original,
        },
        now,
    )?;
    Ok(Outcome::Bounce {
        failure_id,
        ticket_id,
    })
}

/// One quarantined mail, for the admin list.
#[derive(Debug, Clone, Queryable)]
pub struct QuarantinedMail {
    pub id: i64,
    pub raw_mail_id: i64,
    pub error: String,
    pub created_at: i64,
    pub retried_at: Option<i64>,
    pub attempts: i32,
    pub resolved_at: Option<i64>,
    pub size: i64,
    pub mail_message_id: Option<String>,
}

/// Quarantined mail, unresolved first, newest first.
pub fn quarantined(
    conn: &mut DbConn,
    include_resolved: bool,
    limit: i64,
) -> QueryResult<Vec<QuarantinedMail>> {
    let q = quarantine::table
        .inner_join(raw_mails::table)
        .select((
            quarantine::id,
            quarantine::raw_mail_id,
            quarantine::error,
            quarantine::created_at,
            quarantine::retried_at,
            quarantine::attempts,
            quarantine::resolved_at,
            raw_mails::size,
            raw_mails::mail_message_id,
        ))
        .order((quarantine::created_at.desc(), quarantine::id.desc()))
        .limit(limit)
        .into_boxed();
    let q = if include_resolved {
        q
    } else {
        q.filter(quarantine::resolved_at.is_null())
    };
    q.load(conn)
}

/// The raw bytes of a quarantined mail.
pub fn quarantined_raw(conn: &mut DbConn, quarantine_id: i64) -> QueryResult<Option<Vec<u8>>> {
    quarantine::table
        .find(quarantine_id)
        .inner_join(raw_mails::table)
        .select(raw_mails::data)
        .first(conn)
        .optional()
}

/// Runs a quarantined mail through the pipeline again (after a fix, or a
/// raised limit). On success the entry is resolved; otherwise it stays,
/// with the new error. The raw mail is not stored again.
pub fn retry(
    db: &Db,
    ctx: &Ingest,
    quarantine_id: i64,
    now: i64,
) -> Result<Option<Outcome>, IngestError> {
    let found: Option<(Vec<u8>, Option<i64>, i64)> = db.query(|c| {
        quarantine::table
            .find(quarantine_id)
            .inner_join(raw_mails::table)
            .select((raw_mails::data, raw_mails::mailbox_id, raw_mails::id))
            .first(c)
            .optional()
    })?;
    let Some((raw, mailbox_id, raw_id)) = found else {
        return Ok(None);
    };
    let mailbox = match mailbox_id {
        Some(m) => db.query(|c| crate::mailboxes::find(c, m))?,
        None => None,
    };
    let ctx = Ingest {
        mailbox: mailbox.or_else(|| ctx.mailbox.clone()),
        ..ctx.clone()
    };
    let prepared = prepare(&ctx, &raw);
    let outcome = db.write(|conn| -> Result<Outcome, IngestError> {
        let result = match &prepared {
            Prepared::Rejected { reason, .. } => Err(Fail::Reject(reason.clone())),
            Prepared::Ready(p, class) => {
                let mailbox = ctx.mailbox.clone();
                conn.transaction(|c| process(c, &ctx, mailbox.as_ref(), raw_id, p, class, now))
            }
        };
        let entry = quarantine::table.find(quarantine_id);
        match result {
            Ok(o) => {
                diesel::update(entry)
                    .set((
                        quarantine::resolved_at.eq(now),
                        quarantine::retried_at.eq(now),
                        quarantine::attempts.eq(quarantine::attempts + 1),
                    ))
                    .execute(conn)?;
                Ok(o)
            }
            Err(Fail::Reject(reason)) => {
                diesel::update(entry)
                    .set((
                        quarantine::error.eq(&reason),
                        quarantine::retried_at.eq(now),
                        quarantine::attempts.eq(quarantine::attempts + 1),
                    ))
                    .execute(conn)?;
                Ok(Outcome::Quarantined {
                    quarantine_id,
                    reason,
                })
            }
            Err(Fail::Store(e)) => Err(e),
        }
    })?;
    log_outcome(&outcome);
    Ok(Some(outcome))
}
