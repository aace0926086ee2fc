//! Hostile mail: each message below is processed or quarantined, never
//! lost, within a bound, while the server keeps answering; the ticket it
//! became (or the quarantine entry) then renders for an agent.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use helpdesk::db::schema::raw_mails;
use helpdesk::mail::inbound::{self, Outcome};
use helpdesk::time::now_ms;

use crate::helpers::{spawn_app, Browser, TestApp};
use crate::ingest::{ctx, SUPPORT};

/// The bound for one hostile message. Tests run unoptimized builds
/// of our crate on a shared machine, so this is a ceiling against hangs and
/// quadratic blow-ups, not a performance figure (see `benches/`).
const BOUND: Duration = Duration::from_secs(2);

fn headers(subject: &str, id: &str, content_type: &str, extra: &str) -> String {
    format!(
        "From: Mallory <mallory@example.com>\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n\
         Message-ID: <{id}@hostile.example>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n{extra}Content-Type: {content_type}\r\n\r\n"
    )
}

enum Became {
    Ticket(i64),
    Quarantine(String),
}

/// Ingests `raw` on a blocking thread while another task asks `/healthz`
/// every 20 ms; returns what the mail became. Fails when ingestion errs,
/// takes longer than the bound, or the server stops answering meanwhile.
async fn ingest_while_serving(app: &TestApp, raw: Vec<u8>) -> Became {
    ingest_with_limit(app, raw, None).await
}

/// `ingest_while_serving` with `max_mail_bytes` set to `limit`.
async fn ingest_with_limit(app: &TestApp, raw: Vec<u8>, limit: Option<usize>) -> Became {
    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let prober = {
        let (done, answered) = (done.clone(), answered.clone());
        let (client, url) = (app.client.clone(), app.url("/healthz"));
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let r = client
                    .get(&url)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(200), "/healthz");
                answered.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let db = app.db.clone();
    let size = raw.len();
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut ingest = ctx(&db);
        ingest.max_bytes = limit.unwrap_or(ingest.max_bytes);
        inbound::ingest(&db, &ingest, &raw, now_ms())
    })
    .await
    .unwrap()
    .expect("ingestion commits (processed or quarantined)");
    let took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    prober
        .await
        .expect("the server answered /healthz throughout");
    assert!(answered.load(Ordering::SeqCst) >= 1);
    eprintln!("{size} bytes ingested in {took:?}");
    assert!(took <= BOUND, "{size} bytes took {took:?}");
    // Nothing is lost: the raw bytes are kept whatever became of them.
    let kept: i64 = app
        .db
        .query(|c| raw_mails::table.count().get_result(c))
        .unwrap();
    assert_eq!(kept, 1);
    match outcome {
        Outcome::NewTicket { ticket_id, .. } => Became::Ticket(ticket_id),
        Outcome::Quarantined { reason, .. } => Became::Quarantine(reason.to_string()),
        other => panic!("expected a ticket or the quarantine, got {other:?}"),
    }
}

/// The agent's view of what the mail became answers 200 within the bound.
async fn renders(app: &TestApp, became: &Became) -> String {
    let mut b = Browser::new(app);
    b.login("admin@example.com").await;
    let path = match became {
        Became::Ticket(id) => format!("/tickets/{id}"),
        Became::Quarantine(_) => "/admin/quarantine".to_string(),
    };
    let started = Instant::now();
    let page = b.get(&path).await;
    assert_eq!(
        page.status,
        200,
        "{path}: {}",
        &page.body[..page.body.len().min(2000)]
    );
    assert!(
        started.elapsed() <= BOUND,
        "{path} took {:?}",
        started.elapsed()
    );
    let queue = b.get("/tickets").await;
    assert_eq!(queue.status, 200);
    page.body
}

fn ticket(b: &Became) -> i64 {
    match b {
        Became::Ticket(id) => *id,
        Became::Quarantine(why) => panic!("expected a ticket, the mail was quarantined: {why}"),
    }
}

#[tokio::test]
async fn two_thousand_links() {
    let app = spawn_app().await;
    let mut html = String::from("<html><body><p>Look:</p>");
    for i in 0..2000 {
        html.push_str(&format!(
            "<a href=\"https://tracker{i}.example/x?id={i}\" onclick=\"steal()\">link {i}</a><br>\r\n"
        ));
    }
    html.push_str("</body></html>\r\n");
    let mut raw = headers("Links", "links", "text/html; charset=utf-8", "");
    raw.push_str(&html);
    let became = ingest_while_serving(&app, raw.into_bytes()).await;
    ticket(&became);
    let page = renders(&app, &became).await;
    assert!(page.contains("link 1999"));
    assert!(!page.contains("onclick"), "event handlers are dropped");
    app.stop().await;
}

#[tokio::test]
async fn ten_megabytes_of_whitespace() {
    let app = spawn_app().await;
    // One line of spaces and tabs, then runs of blank lines, in the text
    // part and the HTML part.
    let mut blank = " \t".repeat(5 << 19);
    blank.push_str(&"\r\n".repeat(1 << 18));
    let raw = format!(
        "{}--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nstart{blank}end\r\n\
         --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>start</p>{blank}<p>end</p>\r\n--b--\r\n",
        headers("Whitespace", "blank", "multipart/alternative; boundary=\"b\"", "")
    );
    assert!(raw.len() > 10 << 20);
    let became = ingest_while_serving(&app, raw.into_bytes()).await;
    let page = renders(&app, &became).await;
    if let Became::Ticket(_) = became {
        assert!(page.contains("start") && page.contains("end"));
        assert!(
            page.len() < 4 << 20,
            "the page does not carry megabytes of blanks"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn mime_nested_a_hundred_deep() {
    let app = spawn_app().await;
    let mut raw = headers("Nested", "nested", "multipart/mixed; boundary=\"n0\"", "");
    for depth in 1..100 {
        raw.push_str(&format!(
            "--n{}\r\nContent-Type: multipart/mixed; boundary=\"n{depth}\"\r\n\r\n",
            depth - 1
        ));
    }
    raw.push_str("--n99\r\nContent-Type: text/plain\r\n\r\nAt the bottom.\r\n");
    for depth in (0..100).rev() {
        raw.push_str(&format!("--n{depth}--\r\n"));
    }
    let became = ingest_while_serving(&app, raw.into_bytes()).await;
    renders(&app, &became).await;
    app.stop().await;
}

fn with_attachment(id: &str, size: usize) -> Vec<u8> {
    use std::fmt::Write;
    let mut raw = headers("A big file", id, "multipart/mixed; boundary=\"a\"", "");
    raw.push_str("--a\r\nContent-Type: text/plain\r\n\r\nThe log is attached.\r\n--a\r\n");
    raw.push_str(
        "Content-Type: application/octet-stream; name=\"big.log\"\r\n\
         Content-Disposition: attachment; filename=\"big.log\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
    );
    // 57 bytes of 0x5a are 76 base64 characters: "Wlpa…".
    let line = "Wlpa".repeat(19);
    for _ in 0..size / 57 {
        let _ = write!(raw, "{line}\r\n");
    }
    raw.push_str("--a--\r\n");
    raw.into_bytes()
}

#[tokio::test]
async fn a_25_megabyte_attachment_over_the_default_limit_is_quarantined() {
    let app = spawn_app().await;
    let became = ingest_while_serving(&app, with_attachment("att-default", 25 << 20)).await;
    assert!(
        matches!(became, Became::Quarantine(_)),
        "over 25 MiB of mail"
    );
    let page = renders(&app, &became).await;
    assert!(page.contains("over the limit"), "the reason is shown");
    app.stop().await;
}

#[tokio::test]
async fn a_25_megabyte_attachment_under_a_raised_limit_becomes_a_ticket() {
    let app = spawn_app().await;
    let raw = with_attachment("att-raised", 25 << 20);
    let became = ingest_with_limit(&app, raw, Some(64 << 20)).await;
    let id = ticket(&became);
    let page = renders(&app, &became).await;
    assert!(
        page.contains("big.log"),
        "the file is listed on ticket {id}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_one_megabyte_header() {
    let app = spawn_app().await;
    // A folded header of 1 MiB, and a subject of 256 KiB on one line.
    let mut junk = String::from("X-Junk: start");
    while junk.len() < 1 << 20 {
        junk.push_str("\r\n\tmore junk in a very long folded header line of no use at all");
    }
    junk.push_str("\r\n");
    let subject = format!("Help {}", "s".repeat(256 << 10));
    let mut raw = headers(&subject, "header", "text/plain; charset=utf-8", &junk);
    raw.push_str("Body after a huge header.\r\n");
    let became = ingest_while_serving(&app, raw.into_bytes()).await;
    let page = renders(&app, &became).await;
    if let Became::Ticket(_) = became {
        assert!(page.contains("Body after a huge header."));
    }
    app.stop().await;
}

#[tokio::test]
async fn broken_base64() {
    let app = spawn_app().await;
    let raw = format!(
        "{}--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         SGVsbG8gdGhlcmU!!!@@@###\r\n====\r\nnot*base64*at*all\r\nSGk=SGk=\r\n--b\r\n\
         Content-Type: image/png; name=\"x.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         iVBORw0KGgo%%%%\r\n--b--\r\n",
        headers("Broken base64", "b64", "multipart/mixed; boundary=\"b\"", "")
    );
    let became = ingest_while_serving(&app, raw.into_bytes()).await;
    renders(&app, &became).await;
    app.stop().await;
}

#[tokio::test]
async fn lying_charsets() {
    let app = spawn_app().await;
    let mut raw = headers(
        "=?utf-7?B?K0FHRUFkd0JrQUE=?= =?iso-2022-jp?B?GyRCJUYlOSVIGyhC?= =?x-unknown?Q?caf=E9?=",
        "charsets",
        "multipart/mixed; boundary=\"c\"",
        "",
    )
    .into_bytes();
    let parts: [(&str, &[u8]); 4] = [
        // Latin-1 bytes that claim to be UTF-8.
        ("utf-8", b"caf\xe9 cr\xe8me \xff\xfe\r\n"),
        // An odd number of bytes that claim to be UTF-16.
        ("utf-16", b"odd length\r\n"),
        // A charset no one has heard of.
        ("x-no-such-charset", b"plain words\r\n"),
        // Stray escape sequences in ISO-2022-JP.
        ("iso-2022-jp", b"\x1b$B\x1b(\x1b$\xff\xfe mixed\r\n"),
    ];
    for (charset, body) in parts {
        raw.extend_from_slice(
            format!("--c\r\nContent-Type: text/plain; charset={charset}\r\n\r\n").as_bytes(),
        );
        raw.extend_from_slice(body);
    }
    raw.extend_from_slice(b"--c--\r\n");
    let became = ingest_while_serving(&app, raw).await;
    renders(&app, &became).await;
    app.stop().await;
}
