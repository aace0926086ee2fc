//! The outbox sender: delivers queued `outbox` rows over SMTP.
//!
//! Exactly once, from our side: a row is claimed (`status='sending'`,
//! `claimed_at`) in a committed transaction BEFORE anything is sent, and
//! marked `sent` after the server accepted it. Two senders never hold the
//! same claim: PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, SQLite's
//! single writer makes the conditional UPDATE enough. If the process dies
//! between sending and marking, the row stays `sending` and is claimed again
//! after `stale_after_ms`; that resend carries the Message-ID fixed when the
//! row was written, so the recipient's mail client shows it once.

use crate::mail::subject_tag::SubjectTag;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use askama::Template;
use diesel::prelude::*;
use futures_util::StreamExt;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox as LettreMailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{redact_url, Config};
use crate::db::schema::{groups, mailboxes, messages, outbox, tickets};
use crate::db::{Db, DbConn, DbError};
use crate::mail::LOOP_HEADER;
use crate::tickets::{attachments, notify};
use crate::time::now_ms;

/// Where mail goes: a real SMTP server, or (for tests and dry runs) files
/// in a directory or a list in memory.
#[derive(Clone)]
pub enum EmailTransport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(PathBuf),
    Memory(Arc<Mutex<Vec<SentMail>>>),
}

/// One mail as handed to a `File` or `Memory` transport.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub from: String,
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

/// Why a send did not go through.
#[derive(Debug)]
pub enum SendError {
    /// 4xx, connection or TLS trouble: try again later.
    Transient(String),
    /// 5xx: the server refused the mail for good.
    Permanent(String),
}

impl EmailTransport {
    /// `smtp://[user:pass@]host:port` (plain), `smtp://…?tls=starttls`
    /// (STARTTLS required) or `smtps://…` (TLS from the first byte).
    pub fn from_url(url: &str) -> Result<EmailTransport, String> {
        // lettre calls STARTTLS `tls=required`; we accept the clearer name.
        let url = url.replace("tls=starttls", "tls=required");
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map(|b| EmailTransport::Smtp(b.timeout(Some(Duration::from_secs(30))).build()))
            .map_err(|e| format!("HELPDESK_SMTP_URL {}: {e}", redact_url(&url)))
    }

    async fn send(&self, msg: &Message) -> Result<(), SendError> {
        match self {
            EmailTransport::Smtp(t) => match t.send(msg.clone()).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Transient(e.to_string())),
            },
            EmailTransport::File(dir) => {
                let path = dir.join(format!("{}.eml", now_ms_unique()));
                std::fs::write(&path, msg.formatted())
                    .map_err(|e| SendError::Transient(format!("{}: {e}", path.display())))
            }
            EmailTransport::Memory(list) => {
                let env = msg.envelope();
                list.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(SentMail {
                        from: env.from().map(|a| a.to_string()).unwrap_or_default(),
                        to: env.to().iter().map(|a| a.to_string()).collect(),
                        raw: msg.formatted(),
                    });
                Ok(())
            }
        }
    }
}

fn now_ms_unique() -> String {
    format!("{}-{:08x}", now_ms(), rand::random::<u32>())
}

/// One outbox row as the sender needs it.
#[derive(Debug, Clone, Queryable)]
struct Row {
    id: i64,
    ticket_id: Option<i64>,
    message_id: Option<i64>,
    kind: String,
    to_addrs: String,
    cc_addrs: String,
    subject: String,
    mail_message_id: String,
    mail_in_reply_to: Option<String>,
    mail_references: Option<String>,
    attempts: i32,
    body_text: Option<String>,
    body_html: Option<String>,
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextPart<'a> {
    text: &'a str,
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlPart<'a> {
    subject: &'a str,
    paragraphs: Vec<Vec<&'a str>>,
    link: Option<String>,
}

/// Paragraphs (separated by blank lines) of lines, for the HTML part.
fn paragraphs(text: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(line);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub struct Sender {
    pub db: Db,
    pub transport: EmailTransport,
    /// `support_address`, used when a ticket came through no mailbox.
    pub fallback_from: Option<String>,
    /// The value of our loop header (our mail domain).
    pub loop_domain: String,
    /// Public URL for the link under a ticket mail.
    pub base_url: Option<String>,
    /// The configured ticket tag; rows are written with `[#id]`.
    pub subject_tag: SubjectTag,
    /// Rows claimed per round.
    pub batch: i64,
    /// Mails in flight at once.
    pub concurrency: usize,
    /// Attempts before a row is marked failed.
    pub max_attempts: i32,
    /// First retry delay; doubles with each attempt (capped at an hour).
    pub backoff_ms: i64,
    /// A row `sending` this long belongs to a sender that died: claim it again.
    pub stale_after_ms: i64,
    /// Pause when nothing is due.
    pub idle: Duration,
}

impl Sender {
    pub fn new(db: Db, transport: EmailTransport, config: &Config) -> Sender {
        Sender {
            db,
            transport,
            fallback_from: config.support_address.clone(),
            loop_domain: config.mail_domain(),
            base_url: config.base_url.clone(),
            subject_tag: config.subject_tag.clone(),
            // No more claimed than are sent at once: a sender that dies
            // strands only the mails it was sending.
            batch: 8,
            concurrency: 8,
            max_attempts: 8,
            backoff_ms: 60_000,
            stale_after_ms: config.outbox_reclaim_seconds as i64 * 1000,
            idle: Duration::from_secs(2),
        }
    }

    /// Sends until `stop` is set. Database errors are logged and retried.
    pub async fn run(&self, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            match self.round(now_ms()).await {
                Ok(0) => tokio::time::sleep(self.idle).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: database unavailable, retrying");
                    tokio::time::sleep(self.idle).await;
                }
            }
        }
    }

    /// Sends everything due now; returns how many rows were handled.
    pub async fn drain(&self) -> Result<usize, DbError> {
        let mut total = 0;
        loop {
            let n = self.round(now_ms()).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Claims one batch of due rows and handles each: sent, retry or failed.
    /// Up to `concurrency` mails are in flight at once: each SMTP delivery
    /// spends most of its time waiting on the network (lettre writes the
    /// final dot separately, so Nagle and delayed ACKs add ~40 ms per mail).
    pub async fn round(&self, now: i64) -> Result<usize, DbError> {
        let rows = self.claim(now)?;
        let n = rows.len();
        let mut composed = Vec::with_capacity(n);
        for row in rows {
            // A database error leaves the batch `sending`; it is claimed
            // again once stale.
            let mail = match self.db.read(|c| compose(c, self, &row)) {
                Ok(m) => Ok(m),
                Err(ComposeError::Db(e)) => return Err(e),
                Err(ComposeError::Invalid(e)) => Err(SendError::Permanent(e)),
            };
            composed.push((row, mail));
        }
        let mut sends =
            futures_util::stream::iter(composed.into_iter().map(|(row, mail)| async move {
                let result = match mail {
                    Ok(m) => self.transport.send(&m).await,
                    Err(e) => Err(e),
                };
                (row, result)
            }))
            .buffer_unordered(self.concurrency.max(1));
        while let Some((row, result)) = sends.next().await {
            self.finish(&row, result, now_ms())?;
        }
        Ok(n)
    }

    fn claim(&self, now: i64) -> Result<Vec<Row>, DbError> {
        let stale = now - self.stale_after_ms;
        let batch = self.batch;
        self.db.write(|conn| -> Result<Vec<Row>, DbError> {
            let due = outbox::status
                .eq("queued")
                .and(outbox::next_attempt_at.le(now))
                .or(outbox::status
                    .eq("sending")
                    .and(outbox::claimed_at.lt(stale)));
            let ids: Vec<i64> = match conn {
                // Rows another sender has locked are skipped, not waited
                // for, and stay theirs.
                DbConn::Postgres(pg) => outbox::table
                    .filter(due)
                    .order((outbox::next_attempt_at, outbox::id))
                    .limit(batch)
                    .select(outbox::id)
                    .for_update()
                    .skip_locked()
                    .load(pg)?,
                DbConn::Sqlite(s) => outbox::table
                    .filter(due)
                    .order((outbox::next_attempt_at, outbox::id))
                    .limit(batch)
                    .select(outbox::id)
                    .load(s)?,
            };
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)).filter(due))
                .set((outbox::status.eq("sending"), outbox::claimed_at.eq(now)))
                .execute(conn)?;
            Ok(outbox::table
                .filter(outbox::id.eq_any(&ids))
                .filter(outbox::status.eq("sending"))
                .filter(outbox::claimed_at.eq(now))
                .order(outbox::id)
                .select((
                    outbox::id,
                    outbox::ticket_id,
                    outbox::message_id,
                    outbox::kind,
                    outbox::to_addrs,
                    outbox::cc_addrs,
                    outbox::subject,
                    outbox::mail_message_id,
                    outbox::mail_in_reply_to,
                    outbox::mail_references,
                    outbox::attempts,
                    outbox::body_text,
                    outbox::body_html,
                ))
                .load(conn)?)
        })
    }

    fn finish(&self, row: &Row, result: Result<(), SendError>, at: i64) -> Result<(), DbError> {
        let target = outbox::table
            .filter(outbox::id.eq(row.id))
            .filter(outbox::status.eq("sending"));
        let attempts = row.attempts + 1;
        self.db.write(|conn| -> Result<(), DbError> {
            match &result {
                Ok(()) => {
                    diesel::update(target)
                        .set((
                            outbox::status.eq("sent"),
                            outbox::sent_at.eq(at),
                            outbox::attempts.eq(attempts),
                            outbox::last_error.eq(None::<String>),
                        ))
                        .execute(conn)?;
                    if row.kind.starts_with("csat_") {
                        // The survey links are personal and live for weeks:
                        // once delivered, the only copy is the recipient's.
                        diesel::update(outbox::table.find(row.id))
                            .set((
                                outbox::body_text.eq(None::<String>),
                                outbox::body_html.eq(None::<String>),
                            ))
                            .execute(conn)?;
                    }
                }
                Err(SendError::Transient(e)) if attempts < self.max_attempts => {
                    let delay = (self.backoff_ms << (attempts - 1).min(20)).min(3_600_000);
                    tracing::warn!(outbox = row.id, attempts, error = %e, "outbox: will retry");
                    diesel::update(target)
                        .set((
                            outbox::status.eq("queued"),
                            outbox::attempts.eq(attempts),
                            outbox::next_attempt_at.eq(at + delay),
                            outbox::last_error.eq(e),
                        ))
                        .execute(conn)?;
                }
                Err(SendError::Transient(e) | SendError::Permanent(e)) => {
                    tracing::warn!(outbox = row.id, attempts, error = %e, "outbox: failed");
                    diesel::update(target)
                        .set((
                            outbox::status.eq("failed"),
                            outbox::attempts.eq(attempts),
                            outbox::last_error.eq(e),
                        ))
                        .execute(conn)?;
                }
            }
            Ok(())
        })
    }
}

enum ComposeError {
    Db(DbError),
    Invalid(String),
}

impl From<diesel::result::Error> for ComposeError {
    fn from(e: diesel::result::Error) -> Self {
        ComposeError::Db(e.into())
    }
}

impl From<DbError> for ComposeError {
    fn from(e: DbError) -> Self {
        ComposeError::Db(e)
    }
}

/// An address as stored (`a@b`, `<a@b>`) or configured (`Name <a@b>`),
/// with `name` as display name when given.
fn parse_mailbox(name: Option<&str>, address: &str) -> Result<LettreMailbox, ComposeError> {
    let trimmed = address.trim();
    let parsed: LettreMailbox = trimmed
        .parse()
        .or_else(|_| trimmed.trim_matches(['<', '>']).parse())
        .map_err(|e| ComposeError::Invalid(format!("address {address:?}: {e}")))?;
    let name = name
        .map(str::to_string)
        .filter(|n| !n.is_empty())
        .or(parsed.name);
    Ok(LettreMailbox::new(name, parsed.email))
}

fn addresses(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|a| !a.is_empty())
}

/// Splits a notification body into its text and the path on its link line.
fn notification_link(text: &str) -> (String, Option<String>) {
    let mut path = None;
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| match l.strip_prefix(notify::LINK_PREFIX) {
            Some(p) if p.starts_with('/') && path.is_none() => {
                path = Some(p.to_string());
                false
            }
            _ => true,
        })
        .collect();
    (kept.join("\n").trim_end().to_string(), path)
}

/// Builds the mail for one outbox row.
/// The subject with the configured tag in place of the `[#id]` the outbox
/// row was written with (tickets::ops knows no configuration).
fn retag(subject: &str, ticket_id: i64, tag: &SubjectTag) -> String {
    subject.replacen(&format!("[#{ticket_id}]"), &tag.format(ticket_id), 1)
}

fn compose(conn: &mut DbConn, s: &Sender, row: &Row) -> Result<Message, ComposeError> {
    // From: the ticket's mailbox, named after the ticket's group (or the
    // mailbox); the support address for mail of no mailbox.
    let mut from: Option<(Option<String>, String)> = None;
    if let Some(t) = row.ticket_id {
        let (mailbox_id, group_id): (Option<i64>, Option<i64>) = tickets::table
            .find(t)
            .select((tickets::mailbox_id, tickets::group_id))
            .first(conn)?;
        let group_name: Option<String> = match group_id {
            Some(g) => groups::table
                .find(g)
                .select(groups::name)
                .first(conn)
                .optional()?,
            None => None,
        };
        if let Some(m) = mailbox_id {
            let (address, name): (String, String) = mailboxes::table
                .find(m)
                .select((mailboxes::address, mailboxes::name))
                .first(conn)?;
            from = Some((group_name.or(Some(name)), address));
        } else if let Some(a) = &s.fallback_from {
            from = Some((group_name, a.clone()));
        }
    } else if let Some(a) = &s.fallback_from {
        from = Some((None, a.clone()));
    }
    let Some((from_name, from_addr)) = from else {
        return Err(ComposeError::Invalid(
            "no sender address: set HELPDESK_SUPPORT_ADDRESS or route the ticket through a mailbox"
                .into(),
        ));
    };
    let from = parse_mailbox(from_name.as_deref(), &from_addr)?;

    let mut b = Message::builder()
        .from(from.clone())
        .reply_to(from)
        .subject(match row.ticket_id {
            Some(id) => retag(&row.subject, id, &s.subject_tag),
            None => row.subject.clone(),
        })
        .message_id(Some(row.mail_message_id.clone()));
    for a in addresses(&row.to_addrs) {
        b = b.to(parse_mailbox(None, a)?);
    }
    for a in addresses(&row.cc_addrs) {
        b = b.cc(parse_mailbox(None, a)?);
    }
    if let Some(irt) = &row.mail_in_reply_to {
        b = b.in_reply_to(irt.clone());
    }
    if let Some(r) = &row.mail_references {
        b = b.references(r.clone());
    }
    b = b.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str(LOOP_HEADER),
        s.loop_domain.clone(),
    ));
    let notification = row.kind.starts_with("notify_");
    if row.kind != "reply" {
        // RFC 3834: responders must not answer this. A notification or a
        // survey answers no mail, so it is generated rather than replied.
        let value = if notification || row.kind.starts_with("csat_") {
            "auto-generated"
        } else {
            "auto-replied"
        };
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            value.into(),
        ));
    }

    // A row with its own body (a survey's personal links) sends that, not
    // the copy kept on the ticket.
    let own_body = row.body_text.is_some();
    let (text, files) = match row.message_id {
        Some(m) => {
            let text: String = messages::table
                .find(m)
                .select(messages::body_text)
                .first(conn)?;
            let files: Vec<attachments::Attachment> = crate::db::schema::attachments::table
                .filter(crate::db::schema::attachments::message_id.eq(m))
                .order(crate::db::schema::attachments::id)
                .select(attachments::Attachment::as_select())
                .load(conn)?;
            (text, files)
        }
        None => (row.body_text.clone().unwrap_or_default(), Vec::new()),
    };
    let text = match &row.body_text {
        Some(own) => own.clone(),
        None => text,
    };
    let mut link = match (row.ticket_id, &s.base_url) {
        (Some(t), Some(base)) if row.message_id.is_some() && !own_body => {
            Some(format!("{}/portal/tickets/{t}", base.trim_end_matches('/')))
        }
        _ => None,
    };
    let mut text = text;
    if let (true, Some(base)) = (notification, &s.base_url) {
        // Notifications carry the staff page's path; the link goes under
        // the public base URL, which only the sender knows.
        let (kept, path) = notification_link(&text);
        if let Some(path) = path {
            link = Some(format!("{}{path}", base.trim_end_matches('/')));
            text = kept;
        }
    }
    let render = |e: askama::Error| ComposeError::Invalid(format!("mail template: {e}"));
    let text_part = TextPart {
        text: &text,
        link: link.clone(),
    }
    .render()
    .map_err(render)?;
    let html_part = match &row.body_html {
        Some(h) => h.clone(),
        None => HtmlPart {
            subject: &row.subject,
            paragraphs: paragraphs(&text),
            link,
        }
        .render()
        .map_err(render)?,
    };
    let alternative = MultiPart::alternative()
        .singlepart(SinglePart::plain(text_part))
        .singlepart(SinglePart::html(html_part));
    let body = if files.is_empty() {
        alternative
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for f in &files {
            let data = attachments::data(conn, &f.blob_sha256)?;
            let ct = ContentType::parse(&f.content_type).unwrap_or(
                ContentType::parse("application/octet-stream")
                    .map_err(|e| ComposeError::Invalid(format!("content type: {e}")))?,
            );
            mixed = mixed.singlepart(Attachment::new(f.filename.clone()).body(data, ct));
        }
        mixed
    };
    b.multipart(body)
        .map_err(|e| ComposeError::Invalid(format!("cannot build the mail: {e}")))
}

/// Starts the sender on its own thread (database calls block), if an SMTP
/// server is configured. Without one, mail stays queued.
pub fn spawn(
    db: Db,
    config: &Config,
    stop: Arc<AtomicBool>,
) -> Result<Option<std::thread::JoinHandle<()>>, String> {
    let Some(url) = config.smtp_url.as_deref() else {
        tracing::info!("no HELPDESK_SMTP_URL: outgoing mail stays in the outbox");
        return Ok(None);
    };
    let transport = EmailTransport::from_url(url)?;
    let sender = Sender::new(db, transport, config);
    tracing::info!(smtp = %redact_url(url), "sending outgoing mail");
    crate::background::spawn(
        "outbox",
        move || match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(sender.run(stop)),
            Err(e) => tracing::error!(error = %e, "outbox: cannot start its runtime"),
        },
    )
    .map(Some)
    .map_err(|e| format!("cannot start the outbox sender: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_carry_the_configured_tag() {
        let acme = SubjectTag::parse("[ACME #{id}]").unwrap();
        assert_eq!(retag("[#12] Printer", 12, &acme), "[ACME #12] Printer");
        assert_eq!(
            retag("Re: [#12] Printer", 12, &SubjectTag::default()),
            "Re: [#12] Printer"
        );
        assert_eq!(
            retag("[#7] other", 12, &acme),
            "[#7] other",
            "only its own tag"
        );
    }

    #[test]
    fn addresses_parse_bare_bracketed_and_named() {
        let ok = |name: Option<&str>, a: &str| match parse_mailbox(name, a) {
            Ok(m) => m.to_string(),
            Err(_) => panic!("{a} should parse"),
        };
        assert_eq!(ok(None, "help@example.com"), "help@example.com");
        assert_eq!(ok(None, "<help@example.com>"), "help@example.com");
        assert_eq!(
            ok(None, "Help <help@example.com>"),
            "Help <help@example.com>"
        );
        assert_eq!(
            ok(Some("Billing"), "Help <help@example.com>"),
            "Billing <help@example.com>"
        );
        assert!(parse_mailbox(None, "not an address").is_err());
    }

    #[test]
    fn smtp_urls_plain_starttls_tls_and_auth() {
        for ok in [
            "smtp://127.0.0.1:2525",
            "smtp://user:secret@mail.example.com:587?tls=starttls",
            "smtps://user:secret@mail.example.com:465",
        ] {
            assert!(EmailTransport::from_url(ok).is_ok(), "{ok}");
        }
        let Err(e) = EmailTransport::from_url("imap://user:secret@mail.example.com") else {
            panic!("imap:// is no SMTP URL");
        };
        assert!(!e.contains("secret"), "the password leaked: {e}");
    }

    #[test]
    fn html_part_escapes_and_keeps_paragraphs() {
        let html = HtmlPart {
            subject: "s",
            paragraphs: paragraphs("Hello <b>you</b>\nline two\n\n\nNext & last"),
            link: None,
        }
        .render()
        .unwrap();
        assert!(
            html.contains("<p>Hello &#60;b&#62;you&#60;/b&#62;<br>\nline two</p>"),
            "{html}"
        );
        assert!(html.contains("<p>Next &#38; last</p>"), "{html}");
    }

    #[test]
    fn notification_link_line_is_taken_out_of_the_text() {
        let (text, path) = notification_link("Ticket #3: x\n\nOpen it: /tickets/3");
        assert_eq!(text, "Ticket #3: x");
        assert_eq!(path.as_deref(), Some("/tickets/3"));
        let (text, path) = notification_link("Open it: later");
        assert_eq!((text.as_str(), path), ("Open it: later", None));
    }
}
