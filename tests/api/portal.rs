//! The customer side: the public web form and the portal (sign-in by
//! mailed link, own requests only, public conversation, reply, reopen).

use diesel::prelude::*;
use helpdesk::db::schema::{attachments, customers, messages, outbox, portal_links};
use helpdesk::tickets::{attachments as files, ops, query, Actor, Body, Role, Ticket};
use helpdesk::time::now_ms;

use crate::helpers::{signer, spawn_app, staff, Browser, Page, TestApp};

/// Submits the web form from a fresh page (so the CSRF token is current).
pub(crate) async fn submit(
    b: &mut Browser,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &str, Vec<u8>)],
) -> Page {
    let p = b.get("/new").await;
    assert_eq!(p.status, 200, "{}", p.body);
    b.post_multipart("/new", fields, files).await
}

/// The number in `<strong id="ticket-number">#42</strong>`.
pub(crate) fn ticket_number(html: &str) -> i64 {
    let start = r#"<strong id="ticket-number">#"#;
    let i = html.find(start).expect("ticket number on the page") + start.len();
    let end = html[i..].find("</strong>").unwrap();
    html[i..i + end].parse().unwrap()
}

fn ticket(app: &TestApp, id: i64) -> Ticket {
    app.db
        .query(|c| query::ticket(c, id))
        .unwrap()
        .expect("ticket exists")
}

fn ticket_count(app: &TestApp) -> i64 {
    use helpdesk::db::schema::tickets;
    app.db
        .query(|c| tickets::table.count().get_result(c))
        .unwrap()
}

/// (recipient, text) of every queued sign-in mail, oldest first.
fn link_mails(app: &TestApp) -> Vec<(String, String)> {
    app.db
        .query(|c| {
            outbox::table
                .filter(outbox::kind.eq("portal_link"))
                .order(outbox::id)
                .select((outbox::to_addrs, outbox::body_text))
                .load::<(String, Option<String>)>(c)
        })
        .unwrap()
        .into_iter()
        .map(|(to, text)| (to, text.unwrap_or_default()))
        .collect()
}

/// The token of the newest sign-in link mailed to `email`.
fn link_token(app: &TestApp, email: &str) -> String {
    let (_, text) = link_mails(app)
        .into_iter()
        .rev()
        .find(|(to, _)| to == email)
        .expect("a sign-in mail");
    let marker = format!("{}/portal/auth?token=", app.address);
    let i = text.find(&marker).expect("link in the mail") + marker.len();
    text[i..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_string()
}

/// Requests a link for `email`; returns its token.
async fn request_link(app: &TestApp, b: &mut Browser, email: &str) -> String {
    b.get("/portal/login").await;
    let p = b.post("/portal/login", &[("email", email)]).await;
    assert_eq!(p.status, 200, "{}", p.body);
    link_token(app, email)
}

/// Signs `email` in to the portal the way a customer does.
pub(crate) async fn portal_sign_in(app: &TestApp, b: &mut Browser, email: &str) {
    let token = request_link(app, b, email).await;
    let p = b.get(&format!("/portal/auth?token={token}")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let p = b.post("/portal/auth", &[("token", &token)]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/portal?done=signed_in"));
}

fn attachment_ids(app: &TestApp, ticket_id: i64) -> Vec<i64> {
    app.db
        .query(|c| {
            attachments::table
                .inner_join(messages::table)
                .filter(messages::ticket_id.eq(ticket_id))
                .select(attachments::id)
                .load::<i64>(c)
        })
        .unwrap()
}

fn event_kinds(app: &TestApp, ticket_id: i64) -> Vec<String> {
    app.db
        .query(|c| query::events(c, ticket_id))
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

fn agent(app: &TestApp) -> i64 {
    staff(&app.db, "agent@example.com", Role::Agent, &["Support"]).0
}

#[tokio::test]
async fn web_form_opens_a_web_ticket_with_its_attachment() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let p = b.get("/new").await;
    assert!(p.body.contains(r#"enctype="multipart/form-data""#));
    assert!(p.body.contains(r#"id="submit-request""#));
    assert!(p
        .body
        .contains(r#"name="attachments" type="file" multiple"#));

    let p = submit(
        &mut b,
        &[
            ("name", "Zoë Quinn"),
            ("email", "Zoe@Example.com"),
            ("subject", "  Cannot log in  "),
            ("body", "It says wrong password.\r\nTwice."),
        ],
        &[(
            "attachments",
            "screen.png",
            "image/png",
            b"PNG bytes".to_vec(),
        )],
    )
    .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let id = ticket_number(&p.body);
    assert!(p.body.contains("by mail"));
    assert!(p.body.contains(r#"href="/portal""#));

    let t = ticket(&app, id);
    assert_eq!(t.channel, "web");
    assert_eq!(t.subject, "Cannot log in");
    let requester: (String, String) = app
        .db
        .query(|c| {
            customers::table
                .find(t.requester_id)
                .select((customers::email, customers::name))
                .first(c)
        })
        .unwrap();
    assert_eq!(requester, ("zoe@example.com".into(), "Zoë Quinn".into()));
    // The customer opened it: they are the actor of `created`.
    let created = app.db.query(|c| query::events(c, id)).unwrap();
    assert_eq!(created[0].kind, "created");
    assert_eq!(created[0].actor_customer_id, Some(t.requester_id));
    assert_eq!(created[0].actor_user_id, None);
    let msgs = app.db.query(|c| query::messages(c, id)).unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].body_text, "It says wrong password.\nTwice.");
    let stored = app.db.query(|c| files::of_ticket(c, id)).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].filename, "screen.png");
    assert_eq!(stored[0].size, 9);
}

#[tokio::test]
async fn web_form_errors_keep_what_was_typed() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let p = submit(
        &mut b,
        &[
            ("name", "Ann <the admin>"),
            ("email", "not-an-email"),
            ("subject", "Printer <jammed>"),
            ("body", "   "),
        ],
        &[("attachments", "a.txt", "text/plain", b"hello".to_vec())],
    )
    .await;
    assert_eq!(p.status, 422, "{}", p.body);
    // Kept, and escaped (askama writes numeric entities).
    assert!(p.body.contains(r#"value="Ann &#60;the admin&#62;""#));
    assert!(p.body.contains(r#"value="not-an-email""#));
    assert!(p.body.contains(r#"value="Printer &#60;jammed&#62;""#));
    assert!(p.body.contains(r#"id="new-email-err""#));
    assert!(p.body.contains("is not an email address"));
    assert!(p.body.contains(r#"aria-describedby="new-body-err""#));
    assert!(
        p.body.contains(r#"id="new-attachments-again""#),
        "{}",
        p.body
    );
    assert!(!p.body.contains(r#"id="new-subject-err""#));
    assert_eq!(ticket_count(&app), 0);

    // A missing subject, with the message kept in the textarea.
    let p = submit(
        &mut b,
        &[
            ("email", "ann@example.com"),
            ("subject", ""),
            ("body", "The tray is stuck."),
        ],
        &[],
    )
    .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p
        .body
        .contains(r#"aria-invalid="true" aria-describedby="new-subject-err""#));
    assert!(p.body.contains(">The tray is stuck.</textarea>"));
    assert!(!p.body.contains(r#"id="new-attachments-again""#));
    assert_eq!(ticket_count(&app), 0);
}

#[tokio::test]
async fn web_form_refuses_an_attachment_over_the_limit() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let big = vec![b'x'; helpdesk::config::DEFAULT_MAX_ATTACHMENT_BYTES + 1];
    let p = submit(
        &mut b,
        &[
            ("email", "ann@example.com"),
            ("subject", "Big log"),
            ("body", "See the log."),
        ],
        &[
            ("attachments", "huge.log", "text/plain", big),
            ("attachments", "small.txt", "text/plain", b"ok".to_vec()),
        ],
    )
    .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains(r#"id="new-attachments-err""#));
    assert!(p
        .body
        .contains("huge.log is larger than the limit of 10.0 MB"));
    assert!(p.body.contains(r#"value="Big log""#));
    assert!(p.body.contains(">See the log.</textarea>"));
    assert_eq!(ticket_count(&app), 0);
}

#[tokio::test]
async fn signed_in_customer_gets_the_form_filled_in() {
    let app = spawn_app().await;
    app.create_ticket("First", None).await;
    let mut b = Browser::new(&app);
    portal_sign_in(&app, &mut b, "ann@example.com").await;
    let p = b.get("/new").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains(r#"value="ann@example.com""#));
    assert!(p.body.contains(r#"value="Ann""#));
    let p = b
        .post_multipart(
            "/new",
            &[
                ("email", "ann@example.com"),
                ("subject", "Second"),
                ("body", "More."),
            ],
            &[],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let id = ticket_number(&p.body);
    assert!(p.body.contains(&format!(r#"href="/portal/tickets/{id}""#)));
    let p = b.get("/portal").await;
    assert!(p.body.contains("Second") && p.body.contains("First"));
}

#[tokio::test]
async fn portal_login_does_not_tell_who_is_a_customer() {
    let app = spawn_app().await;
    app.create_ticket("Known customer", None).await; // ann@example.com
    let mut b = Browser::new(&app);
    let p = b.get("/portal/login").await;
    assert!(p.body.contains(r#"name="email""#) && p.body.contains(r#"id="send-link""#));

    let unknown = b
        .post("/portal/login", &[("email", "nobody@example.com")])
        .await;
    assert_eq!(unknown.status, 200, "{}", unknown.body);
    assert!(link_mails(&app).is_empty());
    let known = b
        .post("/portal/login", &[("email", "ANN@example.com")])
        .await;
    assert_eq!(known.status, 200);
    assert_eq!(unknown.body, known.body);
    assert!(known
        .body
        .contains("If we know this address, we sent a sign-in link"));

    let mails = link_mails(&app);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "ann@example.com");
    assert!(mails[0]
        .1
        .contains(&format!("{}/portal/auth?token=", app.address)));
    assert!(mails[0].1.contains("30 minutes") && mails[0].1.contains("once"));
    let (subject, mail_id): (String, String) = app
        .db
        .query(|c| {
            outbox::table
                .filter(outbox::kind.eq("portal_link"))
                .select((outbox::subject, outbox::mail_message_id))
                .first(c)
        })
        .unwrap();
    assert_eq!(subject, "Your sign-in link");
    assert!(mail_id.starts_with("<hd.0."));

    // Too many open links: the same page, and no more mail.
    for _ in 0..helpdesk::auth::portal_links::MAX_OPEN + 2 {
        let p = b
            .post("/portal/login", &[("email", "ann@example.com")])
            .await;
        assert_eq!(p.body, unknown.body);
    }
    assert_eq!(
        link_mails(&app).len() as i64,
        helpdesk::auth::portal_links::MAX_OPEN
    );

    let p = b.post("/portal/login", &[("email", "not an email")]).await;
    assert_eq!(p.status, 422);
    assert!(p
        .body
        .contains(r#"aria-invalid="true" aria-describedby="portal-email-err""#));
    assert!(p.body.contains(r#"value="not an email""#));
}

#[tokio::test]
async fn sign_in_link_is_used_only_by_the_button_and_only_once() {
    let app = spawn_app().await;
    let id = app.create_ticket("My printer", None).await;
    let mut b = Browser::new(&app);
    let token = request_link(&app, &mut b, "ann@example.com").await;

    // A mail scanner fetching the link twice changes nothing.
    for _ in 0..2 {
        let p = b.get(&format!("/portal/auth?token={token}")).await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains(r#"id="confirm-sign-in""#));
        assert!(p.body.contains(&format!(r#"name="token" value="{token}""#)));
    }
    let used: Vec<Option<i64>> = app
        .db
        .query(|c| portal_links::table.select(portal_links::used_at).load(c))
        .unwrap();
    assert_eq!(used, vec![None]);
    assert_eq!(b.get("/portal").await.status, 303);

    let p = b.post("/portal/auth", &[("token", &token)]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/portal?done=signed_in"));
    let p = b.get("/portal?done=signed_in").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("You are signed in."));
    assert!(p.body.contains(&format!(r#"href="/portal/tickets/{id}""#)));
    assert!(p.body.contains("My printer"));

    // The link is spent: in this browser and in any other.
    let p = b.post("/portal/auth", &[("token", &token)]).await;
    assert_eq!(p.status, 410);
    assert!(p.body.contains("already been used"));
    assert!(p.body.contains(r#"href="/portal/login""#));
    let mut other = Browser::new(&app);
    let p = other.get(&format!("/portal/auth?token={token}")).await;
    assert_eq!(p.status, 410);
    assert!(!p.body.contains(r#"id="confirm-sign-in""#));
    other.get("/portal/login").await; // a page with a form, for the CSRF token
    let p = other.post("/portal/auth", &[("token", &token)]).await;
    assert_eq!(p.status, 410);
    assert_eq!(other.get("/portal").await.status, 303);

    let p = other.get("/portal/auth?token=made-up").await;
    assert_eq!(p.status, 400);
    let p = other.get("/portal/auth").await;
    assert_eq!(p.status, 400);
}

#[tokio::test]
async fn an_expired_link_does_not_sign_in() {
    let app = spawn_app().await;
    app.create_ticket("Old", None).await;
    let mut b = Browser::new(&app);
    let token = request_link(&app, &mut b, "ann@example.com").await;
    app.db
        .query(|c| {
            diesel::update(portal_links::table)
                .set(portal_links::expires_at.eq(now_ms() - 1))
                .execute(c)
        })
        .unwrap();
    let p = b.get(&format!("/portal/auth?token={token}")).await;
    assert_eq!(p.status, 410);
    assert!(p.body.contains("expired"));
    assert!(p.body.contains(r#"id="request-new-link""#));
    let p = b.post("/portal/auth", &[("token", &token)]).await;
    assert_eq!(p.status, 410);
    assert!(p.body.contains("expired"));
    assert_eq!(b.get("/portal").await.status, 303);
}

#[tokio::test]
async fn customers_see_only_their_own_tickets_and_files() {
    let app = spawn_app().await;
    let ann_ticket = app.create_ticket("Ann's problem", None).await;
    let mut bob = Browser::new(&app);
    let p = submit(
        &mut bob,
        &[
            ("name", "Bob"),
            ("email", "bob@example.com"),
            ("subject", "Bob's secret"),
            ("body", "Bob's private text"),
        ],
        &[("attachments", "bob.txt", "text/plain", b"bob data".to_vec())],
    )
    .await;
    let bob_ticket = ticket_number(&p.body);
    let att = attachment_ids(&app, bob_ticket)[0];

    let mut ann = Browser::new(&app);
    portal_sign_in(&app, &mut ann, "ann@example.com").await;
    let p = ann.get("/portal").await;
    assert!(p.body.contains("Ann&#39;s problem"));
    assert!(!p.body.contains("Bob"));
    assert_eq!(
        ann.get(&format!("/portal/tickets/{ann_ticket}"))
            .await
            .status,
        200
    );
    let p = ann.get(&format!("/portal/tickets/{bob_ticket}")).await;
    assert_eq!(p.status, 404);
    assert!(!p.body.contains("Bob"));
    assert_eq!(
        ann.get(&format!("/attachments/{att}/bob.txt")).await.status,
        404
    );
    let p = ann
        .post_multipart(
            &format!("/portal/tickets/{bob_ticket}/reply"),
            &[("body", "sneaky")],
            &[],
        )
        .await;
    assert_eq!(p.status, 404);
    let p = ann
        .post(&format!("/portal/tickets/{bob_ticket}/reopen"), &[])
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(
        app.db
            .query(|c| query::messages(c, bob_ticket))
            .unwrap()
            .len(),
        1
    );

    // Bob himself gets his file.
    portal_sign_in(&app, &mut bob, "bob@example.com").await;
    let r = bob
        .client
        .get(format!("{}/attachments/{att}/bob.txt", bob.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"bob data");
}

#[tokio::test]
async fn a_cc_participant_sees_the_ticket_too() {
    let app = spawn_app().await;
    let id = app.create_ticket("Shared", None).await;
    app.db
        .write(|c| -> Result<_, helpdesk::tickets::TicketError> {
            let email = helpdesk::people::EmailAddress::parse("carol@example.com").unwrap();
            let carol = helpdesk::people::find_or_create_customer(c, &email, None, now_ms())?;
            ops::add_participant(c, id, carol.id, now_ms())
        })
        .unwrap();
    let mut b = Browser::new(&app);
    portal_sign_in(&app, &mut b, "ann@example.com").await;
    // Signing in as someone else in the same browser ends the first session.
    b.get("/portal").await; // the CSRF token now binds to Ann's session
    portal_sign_in(&app, &mut b, "carol@example.com").await;
    let sessions: i64 = app
        .db
        .query(|c| helpdesk::db::schema::sessions::table.count().get_result(c))
        .unwrap();
    assert_eq!(sessions, 1);
    let p = b.get("/portal").await;
    assert!(
        p.body.contains(r#"<span class="who">carol</span>"#),
        "{}",
        p.body
    );
    assert!(p.body.contains(&format!(r#"href="/portal/tickets/{id}""#)));
    assert_eq!(b.get(&format!("/portal/tickets/{id}")).await.status, 200);
}

#[tokio::test]
async fn the_portal_shows_the_public_conversation_never_notes() {
    let app = spawn_app().await;
    let agent = agent(&app);
    let id = app.create_ticket("Printer", None).await;
    let signer = signer();
    app.db
        .write(|c| -> Result<_, helpdesk::tickets::TicketError> {
            ops::note(c, id, agent, Body::text("SECRET NOTE about Ann"), now_ms())?;
            ops::reply(
                c,
                &signer,
                id,
                agent,
                Body::text("Public answer: unplug it."),
                None,
                helpdesk::tickets::csat::Survey::OFF,
                now_ms(),
            )
        })
        .unwrap();
    let mut b = Browser::new(&app);
    portal_sign_in(&app, &mut b, "ann@example.com").await;
    let p = b.get(&format!("/portal/tickets/{id}")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("Please help."));
    assert!(p.body.contains("Public answer: unplug it."));
    assert!(!p.body.contains("SECRET NOTE"));
    assert!(!p.body.contains("Internal note"));
    assert!(!p.body.contains("kind-note"));
    // Delivery state is for agents.
    assert!(!p.body.contains("Queued"));
    assert!(p.body.contains(r#"id="portal-reply-body""#));
    assert!(p.body.contains(r#"id="portal-send""#));
    assert!(!p.body.contains(r#"id="portal-reopen""#));
}

#[tokio::test]
async fn a_portal_reply_adds_a_message_and_reopens_a_resolved_ticket() {
    let app = spawn_app().await;
    let agent = agent(&app);
    let id = app.create_ticket("Printer", None).await;
    app.db
        .write(|c| {
            ops::resolve(
                c,
                id,
                Actor::Agent(agent),
                helpdesk::tickets::csat::Survey::OFF,
                now_ms(),
            )
        })
        .unwrap();
    let mut b = Browser::new(&app);
    portal_sign_in(&app, &mut b, "ann@example.com").await;
    let p = b.get(&format!("/portal/tickets/{id}")).await;
    assert!(p.body.contains(r#"id="portal-reopen""#));

    let p = b
        .post_multipart(
            &format!("/portal/tickets/{id}/reply"),
            &[("body", "  ")],
            &[("attachments", "x.txt", "text/plain", b"x".to_vec())],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains(r#"id="portal-reply-body-err""#));
    assert!(p.body.contains(r#"id="portal-reply-files-again""#));
    assert_eq!(ticket(&app, id).status, "resolved");

    b.get(&format!("/portal/tickets/{id}")).await;
    let p = b
        .post_multipart(
            &format!("/portal/tickets/{id}/reply"),
            &[("body", "Still broken, sorry.")],
            &[("attachments", "photo.jpg", "image/jpeg", b"jpeg".to_vec())],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("/portal/tickets/{id}?done=sent").as_str())
    );
    let t = ticket(&app, id);
    assert_eq!(t.status, "open");
    let kinds = event_kinds(&app, id);
    assert!(kinds.contains(&"customer_message".to_string()));
    assert!(kinds.contains(&"reopened".to_string()));
    let msgs = app.db.query(|c| query::messages(c, id)).unwrap();
    let last = msgs.last().unwrap();
    assert_eq!(last.kind, "customer");
    assert_eq!(last.author_customer_id, Some(t.requester_id));
    assert_eq!(attachment_ids(&app, id).len(), 1);
    let p = b.get(&format!("/portal/tickets/{id}?done=sent")).await;
    assert!(p.body.contains("Still broken, sorry."));
    assert!(p.body.contains("photo.jpg"));
    assert!(p.body.contains("Message sent."));
}

#[tokio::test]
async fn reopen_works_on_resolved_and_a_closed_ticket_gets_a_follow_up() {
    let app = spawn_app().await;
    let agent = agent(&app);
    let id = app.create_ticket("Printer", None).await;
    app.db
        .write(|c| {
            ops::resolve(
                c,
                id,
                Actor::Agent(agent),
                helpdesk::tickets::csat::Survey::OFF,
                now_ms(),
            )
        })
        .unwrap();
    let mut b = Browser::new(&app);
    portal_sign_in(&app, &mut b, "ann@example.com").await;
    b.get(&format!("/portal/tickets/{id}")).await;
    let p = b.post(&format!("/portal/tickets/{id}/reopen"), &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let t = ticket(&app, id);
    assert_eq!(t.status, "open");
    let evs = app.db.query(|c| query::events(c, id)).unwrap();
    let reopened = evs.iter().find(|e| e.kind == "reopened").unwrap();
    assert_eq!(reopened.actor_customer_id, Some(t.requester_id));
    // Reopening an open ticket is refused.
    let p = b.post(&format!("/portal/tickets/{id}/reopen"), &[]).await;
    assert_eq!(p.status, 409);

    app.db
        .write(|c| -> Result<_, helpdesk::tickets::TicketError> {
            ops::resolve(
                c,
                id,
                Actor::Agent(agent),
                helpdesk::tickets::csat::Survey::OFF,
                now_ms(),
            )?;
            ops::close(c, id, Actor::Agent(agent), now_ms())
        })
        .unwrap();
    let p = b.get(&format!("/portal/tickets/{id}")).await;
    assert!(!p.body.contains(r#"id="portal-reopen""#));
    assert!(p.body.contains(r#"id="closed-note""#));
    let p = b.post(&format!("/portal/tickets/{id}/reopen"), &[]).await;
    assert_eq!(p.status, 409);
    assert_eq!(ticket(&app, id).status, "closed");

    b.get(&format!("/portal/tickets/{id}")).await;
    let p = b
        .post_multipart(
            &format!("/portal/tickets/{id}/reply"),
            &[("body", "It broke again.")],
            &[],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let to = p.location.unwrap();
    let new_id: i64 = to
        .strip_prefix("/portal/tickets/")
        .and_then(|s| s.strip_suffix("?done=follow_up"))
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(new_id, id);
    assert_eq!(ticket(&app, new_id).parent_id, Some(id));
    assert_eq!(ticket(&app, id).status, "closed");
    let p = b.get(&to).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("It broke again."));
    assert!(p.body.contains(&format!(r#"href="/portal/tickets/{id}""#)));
    assert!(p.body.contains("opened this new request"));
}

/// A multipart POST with no csrf field at all.
async fn multipart_without_token(b: &Browser, path: &str, fields: &[(&str, &str)]) -> u16 {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    b.client
        .post(format!("{}{path}", b.base))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_customer_form_needs_the_csrf_token() {
    let app = spawn_app().await;
    let agent = agent(&app);
    let id = app.create_ticket("Printer", None).await;
    app.db
        .write(|c| {
            ops::resolve(
                c,
                id,
                Actor::Agent(agent),
                helpdesk::tickets::csat::Survey::OFF,
                now_ms(),
            )
        })
        .unwrap();
    let mut b = Browser::new(&app);
    b.get("/new").await;
    let fields = [
        ("email", "eve@example.com"),
        ("subject", "s"),
        ("body", "b"),
    ];
    assert_eq!(multipart_without_token(&b, "/new", &fields).await, 403);
    assert_eq!(ticket_count(&app), 1);

    let p = b
        .post_raw("/portal/login", "email=ann%40example.com".into())
        .await;
    assert_eq!(p.status, 403);
    assert!(link_mails(&app).is_empty());

    let token = request_link(&app, &mut b, "ann@example.com").await;
    let p = b.post_raw("/portal/auth", format!("token={token}")).await;
    assert_eq!(p.status, 403);
    // The refused POST did not use the link up: it still signs in.
    b.get(&format!("/portal/auth?token={token}")).await;
    let p = b.post("/portal/auth", &[("token", &token)]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    b.get(&format!("/portal/tickets/{id}")).await;
    let p = b
        .post_raw(&format!("/portal/tickets/{id}/reopen"), String::new())
        .await;
    assert_eq!(p.status, 403);
    assert_eq!(
        multipart_without_token(&b, &format!("/portal/tickets/{id}/reply"), &[("body", "x")]).await,
        403
    );
    // A token from another browser does not work either.
    let mut other = Browser::new(&app);
    other.get("/new").await;
    b.csrf = other.csrf.clone();
    let p = b.post(&format!("/portal/tickets/{id}/reopen"), &[]).await;
    assert_eq!(p.status, 403);
    assert_eq!(ticket(&app, id).status, "resolved");
    assert_eq!(app.db.query(|c| query::messages(c, id)).unwrap().len(), 1);
    let used: i64 = app
        .db
        .query(|c| {
            portal_links::table
                .filter(portal_links::used_at.is_not_null())
                .count()
                .get_result(c)
        })
        .unwrap();
    assert_eq!(used, 1);
}
