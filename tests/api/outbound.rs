//! Outgoing mail against a real SMTP server: Debian's `python3-aiosmtpd`,
//! started on a free port by the test, storing every message it accepts in
//! a maildir. It answers 4xx or 5xx while a flag file exists.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use helpdesk::config::Config;
use helpdesk::db::schema::{outbox, tickets};
use helpdesk::db::Db;
use helpdesk::mail::inbound::{self, Ingest, Outcome, MAX_ACKS_PER_HOUR};
use helpdesk::mail::message_id::MessageIdSigner;
use helpdesk::mail::outbound::{EmailTransport, Sender};
use helpdesk::mail::outbox::{self as outbox_mail, Standalone};
use helpdesk::mailboxes::{self, MailboxInput};
use helpdesk::people::{self, EmailAddress};
use helpdesk::tickets::attachments::NewAttachment;
use helpdesk::tickets::{ops, Body, Role};
use helpdesk::time::now_ms;
use mail_parser::{MessageParser, MimeHeaders};

use crate::helpers::{fresh_database_url, signer, staff, test_db};

/// Debian's interpreter: `python3-aiosmtpd` installs for it, not for
/// whatever `python3` comes first on PATH.
const PYTHON: &str = "/usr/bin/python3";

const SERVER: &str = r#"
import os, sys, uuid, threading
from aiosmtpd.controller import Controller

out, port = sys.argv[1], int(sys.argv[2])
for d in ("tmp", "new"):
    os.makedirs(os.path.join(out, d), exist_ok=True)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        if os.path.exists(os.path.join(out, "FAIL5")):
            return "554 5.7.1 rejected for the test"
        if os.path.exists(os.path.join(out, "FAIL4")):
            return "451 4.3.0 try again later"
        name = uuid.uuid4().hex
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        rcpt = ("X-Envelope-To: " + ", ".join(envelope.rcpt_tos) + "\r\n").encode()
        tmp = os.path.join(out, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(rcpt + data)
        os.rename(tmp, os.path.join(out, "new", name))
        return "250 OK stored"

# A fixed server name: the default looks up the FQDN for every connection.
c = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="localhost")
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"#;

pub struct SmtpServer {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.py"), SERVER).unwrap();
        let mut s = SmtpServer {
            dir,
            port,
            child: None,
        };
        s.up();
        s
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// (Re)starts the server on its port; fails the test clearly when
    /// aiosmtpd is missing.
    pub fn up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut child = Command::new(PYTHON)
                .arg(self.dir.path().join("server.py"))
                .arg(self.maildir())
                .arg(self.port.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run {PYTHON}: {e} (apt-get install python3-aiosmtpd)")
                });
            let mut line = String::new();
            let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
            if line.trim() == "ready" {
                self.child = Some(child);
                return;
            }
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            // The port may linger for a moment after a restart.
            if !err.contains("Address already in use") || Instant::now() > deadline {
                panic!(
                    "the test SMTP server did not start (needs Debian's python3-aiosmtpd: \
                     apt-get install python3-aiosmtpd): {err}"
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Answer every message with 4xx (`Some(4)`), 5xx (`Some(5)`) or accept it.
    pub fn fail_with(&self, code: Option<u8>) {
        for f in ["FAIL4", "FAIL5"] {
            let _ = std::fs::remove_file(self.maildir().join(f));
        }
        if let Some(c) = code {
            std::fs::write(self.maildir().join(format!("FAIL{c}")), "").unwrap();
        }
    }

    /// Every message received so far (oldest first not guaranteed).
    pub fn received(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.maildir().join("new")) {
            for e in rd {
                out.push(std::fs::read(e.unwrap().path()).unwrap());
            }
        }
        out
    }

    /// Takes the received messages out of the maildir.
    pub fn take(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.maildir().join("new")) {
            for e in rd {
                let p = e.unwrap().path();
                out.push(std::fs::read(&p).unwrap());
                std::fs::remove_file(p).unwrap();
            }
        }
        out
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.down();
    }
}

const SUPPORT: &str = "help@support.example.com";
const BILLING: &str = "billing@support.example.com";

pub(crate) fn config_for(support: &str) -> Config {
    let support = support.to_string();
    Config::from_sources(None, move |k| {
        (k == "HELPDESK_SUPPORT_ADDRESS").then(|| support.clone())
    })
    .unwrap()
}

pub(crate) fn sender(db: &Db, smtp: &SmtpServer, config: &Config) -> Sender {
    let mut s = Sender::new(
        db.clone(),
        EmailTransport::from_url(&smtp.url()).unwrap(),
        config,
    );
    s.backoff_ms = 50;
    s.idle = Duration::from_millis(20);
    s
}

pub(crate) fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A mailbox (routing to group `Billing`) with acknowledgements on or off.
fn billing_mailbox(db: &Db, address: &str, ack: bool) -> mailboxes::Mailbox {
    let c = &mut db.conn().unwrap();
    let (g, _) = people::find_or_create_group(c, "Billing", now_ms()).unwrap();
    mailboxes::create(
        c,
        MailboxInput {
            address: &EmailAddress::parse(address).unwrap(),
            name: "Billing desk",
            group_id: Some(g.id),
            ack_enabled: ack,
        },
        now_ms(),
    )
    .unwrap()
}

fn ctx(db: &Db, signer: MessageIdSigner, config: &Config) -> Ingest {
    Ingest::new(signer, config, None)
        .load_mailboxes(db)
        .unwrap()
}

fn row_state(db: &Db, mail_id: &str) -> (String, i32, Option<String>, Option<i64>) {
    db.query(|c| {
        outbox::table
            .filter(outbox::mail_message_id.eq(mail_id))
            .select((
                outbox::status,
                outbox::attempts,
                outbox::last_error,
                outbox::sent_at,
            ))
            .first(c)
    })
    .unwrap()
}

/// A ticket opened by mail from ann to the billing mailbox, copying bob;
/// returns the ticket.
fn ticket_from_mail(db: &Db, config: &Config) -> i64 {
    let raw = format!(
        "From: Ann <ann@example.com>\r\nTo: {BILLING}\r\nCc: bob@example.org\r\n\
         Subject: Invoice question\r\nMessage-ID: <first@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nWhere is my invoice?\r\n"
    );
    match inbound::ingest(db, &ctx(db, signer(), config), raw.as_bytes(), now_ms()).unwrap() {
        Outcome::NewTicket { ticket_id, .. } => ticket_id,
        o => panic!("expected a new ticket, got {o:?}"),
    }
}

fn reply(db: &Db, t: i64, agent: i64, text: &str, files: Vec<NewAttachment>) -> String {
    let posted = db
        .write(|c| {
            ops::reply(
                c,
                &signer(),
                t,
                agent,
                Body {
                    attachments: files,
                    ..Body::text(text)
                },
                None,
                helpdesk::tickets::csat::Survey::OFF,
                now_ms(),
            )
        })
        .unwrap();
    db.query(|c| {
        outbox::table
            .filter(outbox::message_id.eq(posted.message_id))
            .select(outbox::mail_message_id)
            .first(c)
    })
    .unwrap()
}

fn header(m: &mail_parser::Message<'_>, name: &str) -> String {
    m.header_raw(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .trim()
        .to_string()
}

#[test]
fn agent_reply_arrives_with_headers_parts_and_attachment_and_the_answer_threads_back() {
    let (db, _g) = test_db();
    let smtp = SmtpServer::start();
    let config = config_for(SUPPORT);
    billing_mailbox(&db, BILLING, false);
    let t = ticket_from_mail(&db, &config);
    let (agent, _) = staff(&db, "agent@support.example.com", Role::Agent, &["Billing"]);
    let pdf = b"%PDF-1.4 not really a pdf \x00\x01\x02".to_vec();
    let mail_id = reply(
        &db,
        t,
        agent,
        "Hello Ann, <here> it is.\nSecond line & more.\n\nKind regards",
        vec![NewAttachment {
            filename: "invoice 42.pdf".into(),
            content_type: "application/pdf".into(),
            content_id: None,
            inline: false,
            data: pdf.clone(),
        }],
    );
    assert_eq!(block(sender(&db, &smtp, &config).drain()).unwrap(), 1);

    let got = smtp.received();
    assert_eq!(got.len(), 1);
    let m = MessageParser::default().parse(&got[0]).unwrap();
    let envelope = header(&m, "X-Envelope-To");
    assert!(
        envelope.contains("ann@example.com") && envelope.contains("bob@example.org"),
        "{envelope}"
    );
    assert_eq!(header(&m, "From"), format!("Billing <{BILLING}>"));
    assert_eq!(header(&m, "Reply-To"), format!("Billing <{BILLING}>"));
    assert_eq!(header(&m, "Message-ID"), mail_id);
    assert_eq!(header(&m, "In-Reply-To"), "<first@example.com>");
    assert!(header(&m, "References").contains("<first@example.com>"));
    assert!(header(&m, "Cc").contains("bob@example.org"));
    assert_eq!(m.subject().unwrap(), format!("[#{t}] Invoice question"));
    assert_eq!(header(&m, "X-Helpdesk-Loop"), "support.example.com");
    assert!(
        m.header_raw("Auto-Submitted").is_none(),
        "a reply is no automatic mail"
    );
    let text = m.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(
        text.contains("Hello Ann, <here> it is.\nSecond line & more."),
        "{text}"
    );
    let html = m.body_html(0).unwrap();
    assert!(
        !html.contains("<here>"),
        "the HTML escapes the text: {html}"
    );
    assert!(
        html.contains("<p>Hello Ann, &#60;here&#62; it is.<br>"),
        "{html}"
    );
    assert!(html.contains("<p>Kind regards</p>"), "{html}");
    let files: Vec<_> = m.attachments().collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].attachment_name(), Some("invoice 42.pdf"));
    assert_eq!(files[0].contents(), &pdf[..]);

    let (status, attempts, error, sent_at) = row_state(&db, &mail_id);
    assert_eq!((status.as_str(), attempts, error), ("sent", 1, None));
    assert!(sent_at.is_some());

    // Ann answers from her mail client: no tag in the subject, only the
    // threading headers point at our reply.
    let answer = format!(
        "From: Ann <ann@example.com>\r\nTo: {BILLING}\r\nSubject: Re: Invoice question\r\n\
         Message-ID: <answer@example.com>\r\nIn-Reply-To: {mail_id}\r\n\
         References: <first@example.com> {mail_id}\r\n\r\nThanks, got it.\r\n"
    );
    match inbound::ingest(
        &db,
        &ctx(&db, signer(), &config),
        answer.as_bytes(),
        now_ms(),
    )
    .unwrap()
    {
        Outcome::Appended { ticket_id, .. } => assert_eq!(ticket_id, t),
        o => panic!("the answer should thread into ticket {t}: {o:?}"),
    }
    let n: i64 = db.query(|c| tickets::table.count().get_result(c)).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn smtp_down_then_back_delivers_exactly_once_and_4xx_is_retried() {
    let (db, _g) = test_db();
    let mut smtp = SmtpServer::start();
    let config = config_for(SUPPORT);
    billing_mailbox(&db, BILLING, false);
    let t = ticket_from_mail(&db, &config);
    let (agent, _) = staff(&db, "agent@support.example.com", Role::Agent, &["Billing"]);
    let s = sender(&db, &smtp, &config);

    smtp.down();
    let mail_id = reply(&db, t, agent, "first try", vec![]);
    assert_eq!(block(s.drain()).unwrap(), 1);
    let (status, attempts, error, _) = row_state(&db, &mail_id);
    assert_eq!((status.as_str(), attempts), ("queued", 1));
    assert!(error.is_some());
    // Not due again before its backoff.
    assert_eq!(block(s.drain()).unwrap(), 0);

    smtp.up();
    smtp.fail_with(Some(4));
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(block(s.drain()).unwrap(), 1);
    let (status, attempts, error, _) = row_state(&db, &mail_id);
    assert_eq!((status.as_str(), attempts), ("queued", 2));
    assert!(error.unwrap_or_default().contains("451"));
    assert!(smtp.received().is_empty());

    smtp.fail_with(None);
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(block(s.drain()).unwrap(), 1);
    assert_eq!(row_state(&db, &mail_id).0, "sent");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(block(s.drain()).unwrap(), 0);
    let got = smtp.received();
    assert_eq!(got.len(), 1, "delivered exactly once");

    // A sender that died after claiming left the row `sending`: another
    // claims it again only once the claim is stale.
    let second = reply(&db, t, agent, "second", vec![]);
    let mark_sending = |claimed_at: i64| {
        db.query(|c| {
            diesel::update(outbox::table.filter(outbox::mail_message_id.eq(&second)))
                .set((
                    outbox::status.eq("sending"),
                    outbox::claimed_at.eq(claimed_at),
                ))
                .execute(c)
        })
        .unwrap()
    };
    mark_sending(now_ms());
    assert_eq!(block(s.drain()).unwrap(), 0, "a fresh claim is left alone");
    mark_sending(now_ms() - s.stale_after_ms - 1000);
    assert_eq!(block(s.drain()).unwrap(), 1);
    assert_eq!(row_state(&db, &second).0, "sent");
    assert_eq!(smtp.received().len(), 2);
}

#[test]
fn permanent_rejection_and_exhausted_retries_fail_with_the_error_on_the_row() {
    let (db, _g) = test_db();
    let mut smtp = SmtpServer::start();
    let config = config_for(SUPPORT);
    billing_mailbox(&db, BILLING, false);
    let t = ticket_from_mail(&db, &config);
    let (agent, _) = staff(&db, "agent@support.example.com", Role::Agent, &["Billing"]);
    let mut s = sender(&db, &smtp, &config);

    smtp.fail_with(Some(5));
    let rejected = reply(&db, t, agent, "no", vec![]);
    assert_eq!(block(s.drain()).unwrap(), 1);
    let (status, attempts, error, _) = row_state(&db, &rejected);
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    assert!(
        error.clone().unwrap_or_default().contains("554"),
        "{error:?}"
    );
    // The ticket page reads this state.
    let states = db.query(|c| outbox_mail::states_for_ticket(c, t)).unwrap();
    assert!(states
        .iter()
        .any(|(_, st, e)| st == "failed" && e.is_some()));

    smtp.fail_with(None);
    smtp.down();
    s.max_attempts = 3;
    s.backoff_ms = 0;
    let unreachable = reply(&db, t, agent, "down", vec![]);
    for _ in 0..5 {
        block(s.drain()).unwrap();
    }
    let (status, attempts, error, _) = row_state(&db, &unreachable);
    assert_eq!((status.as_str(), attempts), ("failed", 3));
    assert!(error.is_some());
}

/// Runs `drain` until nothing is due, on its own thread and runtime (the
/// sender's database calls block, like in `serve`).
fn drain_on_thread(s: Sender) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || block(s.drain()).unwrap())
}

#[test]
fn two_senders_on_one_database_send_each_row_exactly_once() {
    let (url, _g) = fresh_database_url();
    let db1 = Db::connect(&url).unwrap();
    let db2 = Db::connect(&url).unwrap();
    let smtp = SmtpServer::start();
    let config = config_for(SUPPORT);
    let n = 300;
    queue_links(&db1, n, "link");
    let mut a = sender(&db1, &smtp, &config);
    let mut b = sender(&db2, &smtp, &config);
    a.batch = 10;
    b.batch = 10;
    let started = Instant::now();
    let (ha, hb) = (drain_on_thread(a), drain_on_thread(b));
    let (na, nb) = (ha.join().unwrap(), hb.join().unwrap());
    let secs = started.elapsed().as_secs_f64();
    println!(
        "outbox throughput: {n} mails by two senders in {secs:.2} s = {:.0} mails/s ({na} + {nb})",
        n as f64 / secs
    );
    assert_eq!(na + nb, n);
    let got = smtp.received();
    let mut ids: Vec<String> = got
        .iter()
        .map(|raw| {
            let m = MessageParser::default().parse(raw).unwrap();
            header(&m, "Message-ID")
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (n, n), "each row sent exactly once");
    let sent: i64 = db1
        .query(|c| {
            outbox::table
                .filter(outbox::status.eq("sent"))
                .count()
                .get_result(c)
        })
        .unwrap();
    assert_eq!(sent, n as i64);
}

/// The envelope recipient of a received message.
fn recipient(raw: &[u8]) -> String {
    let m = MessageParser::default().parse(raw).unwrap();
    header(&m, "X-Envelope-To")
}

/// Removes what tells a program that a mail is automatic or ours, as a
/// careless relay or a system that ignores them would.
fn strip_automatic_markers(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut out = String::new();
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("auto-submitted:")
            || lower.starts_with("x-helpdesk-loop:")
            || lower.starts_with("in-reply-to:")
            || lower.starts_with("references:")
            || lower.starts_with("x-envelope-to:")
        {
            continue;
        }
        if let Some(subject) = line.strip_prefix("Subject: ") {
            let untagged = subject.rsplit("] ").next().unwrap_or(subject);
            out.push_str(&format!("Subject: {untagged}\r\n"));
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// Two instances whose mailboxes acknowledge new tickets; every mail one
/// sends is fed into the other's ingestion until nothing moves. Returns the
/// acknowledgements each queued.
fn ping_pong(careless_relay: bool) -> (i64, i64) {
    let smtp = SmtpServer::start();
    let (db_a, _ga) = test_db();
    let (db_b, _gb) = test_db();
    let (a, b) = ("desk@alpha.example", "desk@beta.example");
    let (cfg_a, cfg_b) = (config_for(a), config_for(b));
    billing_mailbox(&db_a, a, true);
    billing_mailbox(&db_b, b, true);
    let ctx_a = ctx(&db_a, MessageIdSigner::new(b"a", "alpha.example"), &cfg_a);
    let ctx_b = ctx(&db_b, MessageIdSigner::new(b"b", "beta.example"), &cfg_b);
    let (send_a, send_b) = (sender(&db_a, &smtp, &cfg_a), sender(&db_b, &smtp, &cfg_b));
    // Someone at B's address writes to A once (a forwarded or spoofed mail).
    let first = format!(
        "From: {b}\r\nTo: {a}\r\nSubject: Hello\r\nMessage-ID: <start@beta.example>\r\n\r\nhi\r\n"
    );
    inbound::ingest(&db_a, &ctx_a, first.as_bytes(), now_ms()).unwrap();
    for round in 0.. {
        assert!(round < 50, "the instances keep answering each other");
        block(send_a.drain()).unwrap();
        block(send_b.drain()).unwrap();
        let mails = smtp.take();
        if mails.is_empty() {
            break;
        }
        for raw in mails {
            let to = recipient(&raw);
            let raw = if careless_relay {
                strip_automatic_markers(&raw)
            } else {
                raw
            };
            if to.contains(a) {
                inbound::ingest(&db_a, &ctx_a, &raw, now_ms()).unwrap();
            } else if to.contains(b) {
                inbound::ingest(&db_b, &ctx_b, &raw, now_ms()).unwrap();
            } else {
                panic!("mail to {to}");
            }
        }
    }
    let acks = |db: &Db| -> i64 {
        db.query(|c| {
            outbox::table
                .filter(outbox::kind.eq("acknowledgement"))
                .count()
                .get_result(c)
        })
        .unwrap()
    };
    (acks(&db_a), acks(&db_b))
}

#[test]
fn two_instances_acknowledging_each_other_stop() {
    // Our acknowledgements carry Auto-Submitted: the other side answers none.
    assert_eq!(ping_pong(false), (1, 0));
    // Without it (stripped on the way), the rate limit ends the exchange.
    assert_eq!(ping_pong(true), (MAX_ACKS_PER_HOUR, MAX_ACKS_PER_HOUR));
}

#[test]
fn acknowledgements_only_for_new_mail_tickets_of_mailboxes_that_want_them() {
    let (db, _g) = test_db();
    let smtp = SmtpServer::start();
    let config = config_for(SUPPORT);
    billing_mailbox(&db, BILLING, true);
    let c = ctx(&db, signer(), &config);
    let send = |raw: String| inbound::ingest(&db, &c, raw.as_bytes(), now_ms()).unwrap();
    let person = send(format!(
        "From: ann@example.com\r\nTo: {BILLING}\r\nCc: bob@example.org\r\nSubject: Help\r\n\r\nplease\r\n"
    ));
    let t = person.ticket_id().unwrap();
    // Out-of-office, list mail and bounces get none.
    send(format!(
        "From: carl@example.com\r\nTo: {BILLING}\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\naway\r\n"
    ));
    send(format!(
        "From: list@example.com\r\nTo: {BILLING}\r\nSubject: News\r\nList-Id: <news.example.com>\r\nPrecedence: list\r\n\r\nnews\r\n"
    ));
    send(format!(
        "From: MAILER-DAEMON@example.com\r\nTo: {BILLING}\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nfailed\r\n"
    ));
    // A mailbox without acknowledgements sends none.
    send(format!(
        "From: dora@example.com\r\nTo: {SUPPORT}\r\nSubject: Other\r\n\r\nhello\r\n"
    ));
    block(sender(&db, &smtp, &config).drain()).unwrap();
    let got = smtp.received();
    assert_eq!(got.len(), 1, "one acknowledgement");
    let m = MessageParser::default().parse(&got[0]).unwrap();
    assert_eq!(
        header(&m, "X-Envelope-To"),
        "ann@example.com",
        "the sender only"
    );
    assert_eq!(header(&m, "Auto-Submitted"), "auto-replied");
    assert_eq!(m.subject().unwrap(), format!("[#{t}] Help"));
    assert!(m.body_text(0).unwrap().contains(&format!("#{t}")));
}

/// Queues `n` standalone sign-in-link mails with Message-IDs `<{prefix}{i}@…>`.
fn queue_links(db: &Db, n: usize, prefix: &str) {
    let c = &mut db.conn().unwrap();
    for i in 0..n {
        outbox_mail::queue(
            c,
            Standalone {
                kind: "portal_link",
                to: &format!("c{i}@example.com"),
                subject: "Your sign-in link",
                body_text: "Open this link to sign in.",
                mail_message_id: &format!("<{prefix}{i}@support.example.com>"),
            },
            now_ms(),
        )
        .unwrap();
    }
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn serve(dir: &Path, db_url: &str, smtp: Option<&str>) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_helpdesk"));
    c.current_dir(dir)
        .arg("serve")
        .env_remove("HELPDESK_CONFIG")
        .env_remove("HELPDESK_MAILDIRS")
        .env_remove("HELPDESK_SMTP_URL")
        .env("HELPDESK_LISTEN", "127.0.0.1:0")
        .env("HELPDESK_DATABASE_URL", db_url)
        .env("HELPDESK_SUPPORT_ADDRESS", SUPPORT)
        .env("HELPDESK_SECRET", "serve test secret")
        .env("HELPDESK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(u) = smtp {
        c.env("HELPDESK_SMTP_URL", u);
    }
    c.spawn().unwrap()
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}

#[test]
fn serve_sends_queued_mail_only_with_an_smtp_url() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _g) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    let smtp = SmtpServer::start();
    let config = config_for(SUPPORT);
    billing_mailbox(&db, BILLING, false);
    let t = ticket_from_mail(&db, &config);
    let (agent, _) = staff(&db, "agent@support.example.com", Role::Agent, &["Billing"]);
    let mail_id = reply(&db, t, agent, "via serve", vec![]);

    let without = serve(dir.path(), &url, None);
    std::thread::sleep(Duration::from_secs(2));
    stop(without);
    assert_eq!(row_state(&db, &mail_id).0, "queued");
    assert!(smtp.received().is_empty());

    let with = serve(dir.path(), &url, Some(&smtp.url()));
    wait_for("the reply to be sent", 60, || {
        row_state(&db, &mail_id).0 == "sent"
    });
    // The sender may finish before actix has installed its SIGTERM handler
    // (the same race the maildir watcher test has); give it a moment.
    std::thread::sleep(Duration::from_millis(1000));
    stop(with);
    assert_eq!(smtp.received().len(), 1);
}

/// Not a benchmark harness, a printout: one sender with its defaults
/// against the local aiosmtpd (`--nocapture` shows the figure).
#[test]
fn sender_throughput_to_the_local_smtp_server() {
    let (db, _g) = test_db();
    let smtp = SmtpServer::start();
    let config = config_for(SUPPORT);
    let n = 500;
    queue_links(&db, n, "tp");
    let s = Sender::new(
        db.clone(),
        EmailTransport::from_url(&smtp.url()).unwrap(),
        &config,
    );
    let started = Instant::now();
    assert_eq!(block(s.drain()).unwrap(), n);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "outbox throughput ({:?}): {n} mails by one sender in {secs:.2} s = {:.0} mails/s",
        db.backend(),
        n as f64 / secs
    );
    assert_eq!(smtp.received().len(), n);
}

/// The issue's literal case: two `serve` processes on one database (on
/// PostgreSQL they claim with SKIP LOCKED) deliver every row exactly once.
#[test]
fn two_serve_processes_send_each_row_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _g) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    let smtp = SmtpServer::start();
    let n = 200;
    queue_links(&db, n, "two-serve");
    let (a, b) = (
        serve(dir.path(), &url, Some(&smtp.url())),
        serve(dir.path(), &url, Some(&smtp.url())),
    );
    let sent = || -> i64 {
        db.query(|c| {
            outbox::table
                .filter(outbox::status.eq("sent"))
                .count()
                .get_result(c)
        })
        .unwrap()
    };
    wait_for("every row to be sent", 120, || sent() == n as i64);
    // As in the test above: let actix install its SIGTERM handler first.
    std::thread::sleep(Duration::from_millis(1000));
    stop(a);
    stop(b);
    let got = smtp.received();
    let mut ids: Vec<String> = got
        .iter()
        .map(|raw| header(&MessageParser::default().parse(raw).unwrap(), "Message-ID"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (n, n), "each row sent exactly once");
}
