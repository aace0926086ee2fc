//! What admins and agents see of mail ingestion: the quarantine page (list,
//! error, download, retry; admins only) and bounces flagged on the ticket.

use helpdesk::mail::inbound::{self, Ingest, Outcome};
use helpdesk::tickets::{ops, Body, Role};
use helpdesk::time::now_ms;

use crate::helpers::{signer, spawn_app, staff, Browser};
use crate::ingest::{ctx, mail};

#[tokio::test]
async fn the_quarantine_page_lists_downloads_and_retries() {
    let app = spawn_app().await;
    let junk = b"No headers here, just text.\nLine two.\n".to_vec();
    let q = match inbound::ingest(&app.db, &ctx(&app.db), &junk, now_ms()).unwrap() {
        Outcome::Quarantined { quarantine_id, .. } => quarantine_id,
        other => panic!("{other:?}"),
    };
    let small = Ingest {
        max_bytes: 64,
        ..ctx(&app.db)
    };
    let big = mail(
        "ann@example.com",
        "Big",
        &["Message-ID: <big@web>"],
        &"z".repeat(300),
    );
    let big_q = match inbound::ingest(&app.db, &small, &big, now_ms()).unwrap() {
        Outcome::Quarantined { quarantine_id, .. } => quarantine_id,
        other => panic!("{other:?}"),
    };

    let mut b = Browser::new(&app);
    b.login("admin@example.com").await;
    let p = b.get("/admin").await;
    assert!(
        p.body.contains("/admin/quarantine") && p.body.contains("2 mail(s)"),
        "{}",
        p.body
    );
    let p = b.get("/admin/quarantine").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.body.contains(&format!("data-quarantine=\"{q}\"")),
        "{}",
        p.body
    );
    assert!(p.body.contains("over the limit"), "{}", p.body);
    assert!(
        p.body.contains("big@web") && !p.body.contains("<big@web>"),
        "{}",
        p.body
    );

    let raw = b.get(&format!("/admin/quarantine/{q}/raw")).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.body.as_bytes(), junk.as_slice());
    assert!(
        raw.content_type.starts_with("message/rfc822"),
        "{}",
        raw.content_type
    );

    // Without the CSRF token nothing happens.
    let p = b
        .post_raw(&format!("/admin/quarantine/{q}/retry"), String::new())
        .await;
    assert_eq!(p.status, 403, "{}", p.body);
    b.get("/admin/quarantine").await;
    let p = b.post(&format!("/admin/quarantine/{q}/retry"), &[]).await;
    assert_eq!(
        p.location.as_deref(),
        Some("/admin/quarantine?done=retry_failed")
    );
    // The big one fits the default limit the server uses: processed.
    b.get("/admin/quarantine").await;
    let p = b
        .post(&format!("/admin/quarantine/{big_q}/retry"), &[])
        .await;
    assert_eq!(
        p.location.as_deref(),
        Some("/admin/quarantine?done=retried")
    );
    let p = b.get("/admin/quarantine?done=retried").await;
    assert!(p.body.contains("has left the quarantine"), "{}", p.body);
    assert!(p.body.contains("processed"), "{}", p.body);
    let p = b.get("/admin/quarantine/99999/raw").await;
    assert_eq!(p.status, 404);

    staff(&app.db, "agent@example.com", Role::Agent, &["Support"]);
    let mut agent = Browser::new(&app);
    agent.login("agent@example.com").await;
    for path in [
        "/admin/quarantine".to_string(),
        format!("/admin/quarantine/{q}/raw"),
    ] {
        assert_eq!(agent.get(&path).await.status, 403, "{path}");
    }
    agent.get("/tickets").await;
    let p = agent
        .post(&format!("/admin/quarantine/{q}/retry"), &[])
        .await;
    assert_eq!(p.status, 403);
}

#[tokio::test]
async fn a_bounce_is_flagged_on_the_ticket_page() {
    let app = spawn_app().await;
    let t = inbound::ingest(
        &app.db,
        &ctx(&app.db),
        &mail("ann@example.com", "Help", &[], "x"),
        now_ms(),
    )
    .unwrap()
    .ticket_id()
    .unwrap();
    let (agent, _) = staff(&app.db, "agent@example.com", Role::Agent, &["Support"]);
    app.db
        .write(|c| {
            ops::reply(
                c,
                &signer(),
                t,
                agent,
                Body::text("Here you go."),
                None,
                helpdesk::tickets::csat::Survey::OFF,
                now_ms(),
            )
        })
        .unwrap();
    let ours: String = app
        .db
        .query(|c| {
            use diesel::prelude::*;
            use helpdesk::db::schema::outbox;
            outbox::table
                .filter(outbox::ticket_id.eq(t))
                .select(outbox::mail_message_id)
                .first(c)
        })
        .unwrap();
    let mut b = Browser::new(&app);
    b.login("admin@example.com").await;
    let p = b.get(&format!("/tickets/{t}")).await;
    assert!(!p.body.contains("Delivery failed"), "{}", p.body);
    let dsn = format!(
        "From: MAILER-DAEMON@mx.example.net\nTo: help@support.example.com\nSubject: Undeliverable\n\
MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\n\n\
--B\nContent-Type: text/plain\n\nfailed\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; ann@example.com\nAction: failed\n\
Status: 5.2.2\nDiagnostic-Code: smtp; 552 mailbox full\n\n--B\nContent-Type: message/rfc822\n\n\
Message-ID: {ours}\nFrom: help@support.example.com\nSubject: Re: Help\n\nHere you go.\n--B--\n"
    );
    let o = inbound::ingest(&app.db, &ctx(&app.db), dsn.as_bytes(), now_ms()).unwrap();
    assert_eq!(o.ticket_id(), Some(t), "{o:?}");
    let p = b.get(&format!("/tickets/{t}")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Delivery failed"), "{}", p.body);
    assert!(
        p.body
            .contains("ann@example.com</strong>: 552 mailbox full (5.2.2)"),
        "{}",
        p.body
    );
}

#[tokio::test]
async fn an_incoming_auto_reply_shows_its_sender_on_the_ticket_page() {
    let app = spawn_app().await;
    let first = mail(
        "Ann Auto <ann@example.com>",
        "Help",
        &["Message-ID: <h1@ann>"],
        "x",
    );
    let t = inbound::ingest(&app.db, &ctx(&app.db), &first, now_ms())
        .unwrap()
        .ticket_id()
        .unwrap();
    let ooo = mail(
        "Ann Auto <ann@example.com>",
        "Automatic reply: Help",
        &["In-Reply-To: <h1@ann>", "X-Auto-Response-Suppress: All"],
        "Away until Monday.",
    );
    let o = inbound::ingest(&app.db, &ctx(&app.db), &ooo, now_ms()).unwrap();
    assert!(matches!(o, Outcome::AutoReply { .. }), "{o:?}");
    let mut b = Browser::new(&app);
    b.login("admin@example.com").await;
    let p = b.get(&format!("/tickets/{t}")).await;
    assert!(p.body.contains("Away until Monday."), "{}", p.body);
    assert!(p.body.contains("sent an automatic reply"), "{}", p.body);
    assert!(
        p.body.contains("Ann Auto &lt;ann@example.com&gt;")
            || p.body.contains("Ann Auto &#60;ann@example.com&#62;"),
        "{}",
        p.body
    );
}
