//! The staff pages: sign-in (rate limits, cookies), the queue (filters,
//! sorts, pages, bulk actions), the ticket page and each of its actions,
//! attachment downloads, and who may see what.

use diesel::prelude::*;
use helpdesk::db::schema::{attachments, events, messages, outbox, tickets};
use helpdesk::tickets::Role;
use serde_json::json;

use crate::helpers::{serde_html_form_encode, spawn_app, spawn_app_with, staff, Browser, TestApp};

/// The first link of a page whose address contains `part`, unescaped.
fn href_with(html: &str, part: &str) -> String {
    let link = html
        .split("href=\"")
        .find(|s| s.split('"').next().unwrap().contains(part))
        .unwrap_or_else(|| panic!("no link with {part}"));
    link.split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

async fn agent_browser(app: &TestApp, email: &str, groups: &[&str]) -> Browser {
    staff(&app.db, email, Role::Agent, groups);
    let mut b = Browser::new(app);
    b.login(email).await;
    b
}

fn event_kinds(app: &TestApp, id: i64) -> Vec<String> {
    app.db
        .query(|c| {
            events::table
                .filter(events::ticket_id.eq(id))
                .order((events::at, events::id))
                .select(events::kind)
                .load::<String>(c)
        })
        .unwrap()
}

#[tokio::test]
async fn sign_in_sets_a_safe_cookie_and_sign_out_ends_the_session() {
    let app = spawn_app().await;
    staff(&app.db, "agent@example.com", Role::Agent, &["Support"]);
    let mut b = Browser::new(&app);

    let p = b.get("/tickets?status=open").await;
    assert_eq!(p.status, 303);
    assert_eq!(
        p.location.as_deref(),
        Some("/login?next=%2Ftickets%3Fstatus%3Dopen")
    );

    let login = b.get("/login?next=/tickets%3Fstatus%3Dopen").await;
    assert!(login.body.contains("<label for=\"email\">"));
    let r = b
        .client
        .post(format!("{}/login", b.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_html_form_encode(&[
            ("csrf", &b.csrf),
            ("email", "agent@example.com"),
            ("password", crate::helpers::PASSWORD),
            ("next", "/tickets?status=open"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/tickets?status=open");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("hd_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "http base URL: {cookie}");

    let p = b.get("/tickets").await;
    assert_eq!(p.status, 200);
    let p = b.post("/logout", &[]).await;
    assert_eq!(p.status, 303);
    let p = b.get("/tickets").await;
    assert_eq!(p.status, 303, "signed out: back to the sign-in page");
}

#[tokio::test]
async fn sign_in_never_redirects_off_site() {
    let app = spawn_app().await;
    staff(&app.db, "agent@example.com", Role::Agent, &[]);
    for next in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let mut b = Browser::new(&app);
        b.get("/login").await;
        let p = b
            .post(
                "/login",
                &[
                    ("email", "agent@example.com"),
                    ("password", crate::helpers::PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(p.status, 303);
        assert_eq!(p.location.as_deref(), Some("/tickets"), "{next}");
    }
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited_per_account() {
    let app = spawn_app().await;
    staff(&app.db, "agent@example.com", Role::Agent, &[]);
    let mut b = Browser::new(&app);
    b.get("/login").await;
    for _ in 0..5 {
        let p = b
            .post(
                "/login",
                &[
                    ("email", "agent@example.com"),
                    ("password", "wrong password!"),
                ],
            )
            .await;
        assert_eq!(p.status, 401);
        assert!(p.body.contains("The email or the password is wrong."));
        assert!(p.body.contains("value=\"agent@example.com\""), "email kept");
    }
    // Even the right password is refused while the account is locked.
    let p = b
        .post(
            "/login",
            &[
                ("email", "agent@example.com"),
                ("password", crate::helpers::PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, 429, "{}", p.body);
    assert!(p.body.contains("Too many failed sign-ins"));
    // A different account from the same address still works.
    staff(&app.db, "other@example.com", Role::Agent, &[]);
    let p = b
        .post(
            "/login",
            &[
                ("email", "other@example.com"),
                ("password", crate::helpers::PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
}

#[tokio::test]
async fn unknown_accounts_and_garbage_get_the_same_clear_answer() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    b.get("/login").await;
    for (email, pw) in [
        ("nobody@example.com", "whatever123"),
        ("not an email", ""),
        ("", ""),
    ] {
        let p = b
            .post("/login", &[("email", email), ("password", pw)])
            .await;
        assert_eq!(p.status, 401, "{email}");
        assert!(p.body.contains("The email or the password is wrong."));
    }
}

#[tokio::test]
async fn the_queue_filters_sorts_counts_and_pages() {
    let app = spawn_app().await;
    let mut b = agent_browser(&app, "agent@example.com", &["Support"]).await;
    let mut ids = Vec::new();
    for i in 0..55 {
        ids.push(
            app.create_ticket(&format!("Ticket number {i}"), Some("Support"))
                .await,
        );
    }
    let urgent = app
        .create_ticket("Server room flooded", Some("Support"))
        .await;
    let (s, _) = app
        .post_json(
            &format!("/api/v1/tickets/{urgent}/priority"),
            json!({"priority": "urgent"}),
        )
        .await;
    assert_eq!(s, 200);
    // Touch an older ticket so it is the newest update.
    let (s, _) = app
        .post_json(
            &format!("/api/v1/tickets/{}/note", ids[0]),
            json!({"body": "bump"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .post_json(&format!("/api/v1/tickets/{}/resolve", ids[1]), json!({}))
        .await;
    assert_eq!(s, 200);

    let p = b.get("/tickets").await;
    assert_eq!(p.status, 200);
    assert_eq!(p.body.matches("data-ticket=").count(), 50, "50 per page");
    let first_row = p.body.find("data-ticket=\"").unwrap();
    assert!(
        p.body[first_row..].starts_with(&format!("data-ticket=\"{}\"", ids[1]))
            || p.body[first_row..].starts_with(&format!("data-ticket=\"{}\"", ids[0])),
        "newest update first"
    );
    assert!(
        p.body.contains("Active <span class=\"count\">55</span>"),
        "counts"
    );
    assert!(p.body.contains("Resolved <span class=\"count\">1</span>"));
    // Page 2 through the cursor link holds the rest, no overlap.
    let p2 = b.get(&href_with(&p.body, "cursor=")).await;
    assert_eq!(p2.status, 200);
    assert_eq!(p2.body.matches("data-ticket=").count(), 5);
    assert!(p2.body.contains("First page"));

    let p = b.get("/tickets?sort=priority").await;
    let first_row = p.body.find("data-ticket=\"").unwrap();
    assert!(p.body[first_row..].starts_with(&format!("data-ticket=\"{urgent}\"")));
    let p = b.get("/tickets?priority=urgent").await;
    assert_eq!(p.body.matches("data-ticket=").count(), 1);
    let p = b.get("/tickets?q=FLOODED").await;
    assert_eq!(
        p.body.matches("data-ticket=").count(),
        1,
        "search ignores case"
    );
    let p = b.get("/tickets?status=resolved").await;
    assert_eq!(p.body.matches("data-ticket=").count(), 1);
    let p = b.get("/tickets?assignee=me").await;
    assert_eq!(p.body.matches("data-ticket=").count(), 0);
    assert!(p.body.contains("No tickets match"));
    let p = b.get("/tickets?sort=created&status=all").await;
    let first_row = p.body.find("data-ticket=\"").unwrap();
    assert!(p.body[first_row..].starts_with(&format!("data-ticket=\"{urgent}\"")));
    for sort in ["updated", "created", "priority", "due"] {
        let p = b.get(&format!("/tickets?status=all&sort={sort}")).await;
        let p2 = b.get(&href_with(&p.body, "cursor=")).await;
        let count =
            p.body.matches("data-ticket=").count() + p2.body.matches("data-ticket=").count();
        assert_eq!(count, 56, "{sort}: two pages hold every ticket once");
    }

    // Bad filter values are explained, never a 500.
    for q in [
        "status=solved",
        "sort=sideways",
        "group=x",
        "assignee=bob",
        "cursor=zzz",
        "priority=asap",
    ] {
        let p = b.get(&format!("/tickets?{q}")).await;
        assert_eq!(p.status, 200, "{q}");
        assert!(p.body.contains("class=\"error\""), "{q}");
    }
}

#[tokio::test]
async fn bulk_actions_resolve_and_assign_selected_tickets() {
    let app = spawn_app().await;
    let mut b = agent_browser(&app, "agent@example.com", &["Support"]).await;
    let a = app.create_ticket("A", Some("Support")).await;
    let c = app.create_ticket("C", Some("Support")).await;
    b.get("/tickets").await;
    let (sa, sc) = (a.to_string(), c.to_string());
    let p = b
        .post(
            "/tickets/bulk",
            &[
                ("ids", &sa),
                ("ids", &sc),
                ("action", "assign"),
                ("agent", "me"),
                ("back", "/tickets"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/tickets?done=bulk"));
    let p = b.get("/tickets?assignee=me").await;
    assert_eq!(p.body.matches("data-ticket=").count(), 2);
    let p = b
        .post(
            "/tickets/bulk",
            &[("ids", &sa), ("ids", &sc), ("action", "resolve")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert!(event_kinds(&app, a).contains(&"status_changed".to_string()));
    // Resolving them again is refused per ticket, with a clear message.
    let p = b
        .post("/tickets/bulk", &[("ids", &sa), ("action", "resolve")])
        .await;
    assert_eq!(p.status, 409, "{}", p.body);
    let p = b.post("/tickets/bulk", &[("action", "resolve")]).await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("no tickets selected"));
    let p = b
        .post("/tickets/bulk", &[("ids", "x"), ("action", "resolve")])
        .await;
    assert_eq!(p.status, 400);
}

#[tokio::test]
async fn every_ticket_action_from_the_page_records_its_event() {
    let app = spawn_app().await;
    let (agent_id, _) = staff(&app.db, "agent@example.com", Role::Agent, &["Support"]);
    let mut b = Browser::new(&app);
    b.login("agent@example.com").await;
    let id = app.create_ticket("Printer on fire", Some("Support")).await;
    let t = format!("/tickets/{id}");
    b.get(&t).await;

    let p = b
        .post_multipart(
            &format!("{t}/reply"),
            &[("body", "Unplug it."), ("then", "pending")],
            &[(
                "attachments",
                "steps.txt",
                "text/plain",
                b"1. unplug".to_vec(),
            )],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = b
        .post(&format!("{t}/note"), &[("body", "Customer sounds upset")])
        .await;
    assert_eq!(p.status, 303);
    let group_id: i64 = app
        .db
        .query(|c| {
            tickets::table
                .find(id)
                .select(tickets::group_id.assume_not_null())
                .first(c)
        })
        .unwrap();
    let (g, a) = (group_id.to_string(), agent_id.to_string());
    let p = b
        .post(&format!("{t}/assign"), &[("group", &g), ("agent", &a)])
        .await;
    assert_eq!(p.status, 303);
    let p = b
        .post(&format!("{t}/priority"), &[("priority", "high")])
        .await;
    assert_eq!(p.status, 303);
    let p = b
        .post(&format!("{t}/escalate"), &[("reason", "VIP customer")])
        .await;
    assert_eq!(p.status, 303);
    let p = b.post(&format!("{t}/resolve"), &[]).await;
    assert_eq!(p.status, 303);
    let p = b.post(&format!("{t}/close"), &[]).await;
    assert_eq!(p.status, 303);
    let p = b.post(&format!("{t}/reopen"), &[]).await;
    assert_eq!(p.status, 303);
    let p = b
        .post_multipart(
            &format!("{t}/reply"),
            &[("body", "Fixed now."), ("then", "resolved")],
            &[],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location, Some(format!("{t}?done=reply_resolved")));

    assert_eq!(
        event_kinds(&app, id),
        [
            "created",
            "agent_reply",
            "status_changed",
            "note",
            "assigned",
            "priority_changed",
            "escalated",
            "status_changed",
            "status_changed",
            "reopened",
            "agent_reply",
            "status_changed"
        ]
    );
    let queued: i64 = app
        .db
        .query(|c| {
            outbox::table
                .filter(outbox::ticket_id.eq(id))
                .count()
                .get_result(c)
        })
        .unwrap();
    assert_eq!(queued, 2, "both replies are in the outbox");

    let p = b.get(&t).await;
    assert!(p.body.contains("Internal note"), "notes are marked");
    assert!(p.body.contains("Customer sounds upset"));
    assert!(p.body.contains("no SMTP server is configured"));
    assert!(p.body.contains("escalated to level 1: VIP customer"));
    assert!(p.body.contains("steps.txt"));
}

#[tokio::test]
async fn a_form_with_errors_comes_back_with_what_was_typed() {
    let app = spawn_app().await;
    let mut b = agent_browser(&app, "agent@example.com", &["Support"]).await;
    let id = app.create_ticket("Printer on fire", Some("Support")).await;
    let t = format!("/tickets/{id}");
    b.get(&t).await;
    let p = b.post(&format!("{t}/escalate"), &[("reason", "   ")]).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("a reason is required"));
    let p = b
        .post_multipart(
            &format!("{t}/reply"),
            &[("body", "draft text"), ("then", "sideways")],
            &[],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains(">draft text</textarea>"), "typed text kept");
    let p = b
        .post_multipart(&format!("{t}/reply"), &[("body", "  ")], &[])
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("a message text is required"));
    let p = b
        .post(&format!("{t}/priority"), &[("priority", "asap")])
        .await;
    assert_eq!(p.status, 422);
    let p = b.post(&format!("{t}/assign"), &[("agent", "bob")]).await;
    assert_eq!(p.status, 422);
    // A transition the lifecycle forbids is a 409 page, not a 500.
    let p = b.post(&format!("{t}/close"), &[]).await;
    assert_eq!(p.status, 409);
    let p = b.get("/tickets/999999").await;
    assert_eq!(p.status, 404);
    let p = b.get("/tickets/abc").await;
    assert_eq!(p.status, 404);
    assert_eq!(event_kinds(&app, id), ["created"], "nothing changed");
}

#[tokio::test]
async fn attachments_download_safely() {
    let app = spawn_app().await;
    let mut b = agent_browser(&app, "agent@example.com", &["Support"]).await;
    let id = app.create_ticket("Files", Some("Support")).await;
    let t = format!("/tickets/{id}");
    b.get(&t).await;
    let p = b
        .post_multipart(
            &format!("{t}/reply"),
            &[("body", "See attached.")],
            &[
                (
                    "attachments",
                    "page.html",
                    "text/html",
                    b"<script>alert(1)</script>".to_vec(),
                ),
                (
                    "attachments",
                    "dot.png",
                    "image/png",
                    b"\x89PNG fake".to_vec(),
                ),
                (
                    "attachments",
                    "copy.html",
                    "text/html",
                    b"<script>alert(1)</script>".to_vec(),
                ),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let rows: Vec<(i64, String)> = app
        .db
        .query(|c| {
            attachments::table
                .inner_join(messages::table)
                .filter(messages::ticket_id.eq(id))
                .order(attachments::id)
                .select((attachments::id, attachments::filename))
                .load(c)
        })
        .unwrap();
    assert_eq!(rows.len(), 3);
    let blobs: i64 = app
        .db
        .query(|c| helpdesk::db::schema::blobs::table.count().get_result(c))
        .unwrap();
    assert_eq!(blobs, 2, "identical files share one blob");
    let get = |aid: i64, name: &str| {
        b.client
            .get(format!("{}/attachments/{aid}/{name}", b.base))
            .send()
    };
    let r = get(rows[0].0, "page.html").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    let r = get(rows[1].0, "dot.png").await.unwrap();
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"\x89PNG fake");

    // Anonymous and other groups' agents get nothing.
    let anon = reqwest::Client::new()
        .get(format!("{}/attachments/{}/x", app.address, rows[0].0))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 404);
    let mut other = agent_browser(&app, "billing@example.com", &["Billing"]).await;
    let p = other.get(&format!("/attachments/{}/x", rows[0].0)).await;
    assert_eq!(p.status, 404);
    assert!(!p.body.contains("alert"));
}

#[tokio::test]
async fn agents_see_only_their_groups_and_admins_everything() {
    let app = spawn_app().await;
    let support = app.create_ticket("Support ticket", Some("Support")).await;
    let (s, _) = app
        .post_json(
            "/api/v1/tickets",
            json!({
            "subject": "Billing secret", "body": "Invoice 4711 details",
            "requester": {"email": "bob@example.com"}, "group": null}),
        )
        .await;
    assert_eq!(s, 201);
    // Create the Billing group via an agent, then move a ticket there.
    let mut billing = agent_browser(&app, "billing@example.com", &["Billing"]).await;
    let secret = app.create_ticket("Billing only", None).await;
    let (s, _) = app
        .post_json(
            &format!("/api/v1/tickets/{secret}/assign"),
            json!({"group": "Billing"}),
        )
        .await;
    assert_eq!(s, 200, "group exists");
    let (s, _) = app
        .post_json(
            &format!("/api/v1/tickets/{secret}/note"),
            json!({"body": "Invoice 4711 details"}),
        )
        .await;
    assert_eq!(s, 200);

    let mut agent = agent_browser(&app, "agent@example.com", &["Support"]).await;
    let p = agent.get("/tickets?status=all").await;
    assert!(p.body.contains("Support ticket"));
    assert!(
        !p.body.contains("Billing only"),
        "other group's ticket not listed"
    );
    let p = agent.get("/tickets?status=all&q=4711").await;
    assert!(!p.body.contains("Billing only"), "nor found by search");

    let p = agent.get(&format!("/tickets/{secret}")).await;
    assert_eq!(p.status, 403);
    assert!(!p.body.contains("4711"));
    let token = agent.csrf.clone();
    for action in [
        "reply", "note", "assign", "priority", "escalate", "resolve", "reopen", "close",
    ] {
        let body = serde_html_form_encode(&[
            ("csrf", &token),
            ("body", "x"),
            ("reason", "x"),
            ("priority", "high"),
        ]);
        let p = agent
            .post_raw(&format!("/tickets/{secret}/{action}"), body)
            .await;
        assert!(
            p.status == 403 || p.status == 404 || (action == "reply" && p.status == 400),
            "{action}: {}",
            p.status
        );
    }
    let p = agent
        .post(
            "/tickets/bulk",
            &[("ids", &secret.to_string()), ("action", "resolve")],
        )
        .await;
    assert_eq!(p.status, 409);
    assert_eq!(
        event_kinds(&app, secret),
        ["created", "assigned", "note"],
        "nothing changed"
    );

    let p = billing.get(&format!("/tickets/{secret}")).await;
    assert_eq!(p.status, 200);
    let p = billing.get(&format!("/tickets/{support}")).await;
    assert_eq!(p.status, 403);

    let mut admin = Browser::new(&app);
    admin.login("admin@example.com").await;
    for id in [support, secret] {
        assert_eq!(admin.get(&format!("/tickets/{id}")).await.status, 200);
    }
    staff(&app.db, "manager@example.com", Role::Manager, &[]);
    let mut manager = Browser::new(&app);
    manager.login("manager@example.com").await;
    assert_eq!(manager.get(&format!("/tickets/{secret}")).await.status, 200);

    // Anonymous: sent to sign in, never shown the data.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anon
        .get(format!("{}/tickets/{secret}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(!r.text().await.unwrap().contains("4711"));
}

#[tokio::test]
async fn posts_without_a_valid_csrf_token_are_refused() {
    let app = spawn_app().await;
    let mut b = agent_browser(&app, "agent@example.com", &["Support"]).await;
    let id = app.create_ticket("Printer on fire", Some("Support")).await;
    let routes = [
        "/logout".to_string(),
        "/tickets/bulk".to_string(),
        format!("/tickets/{id}/note"),
        format!("/tickets/{id}/assign"),
        format!("/tickets/{id}/priority"),
        format!("/tickets/{id}/escalate"),
        format!("/tickets/{id}/resolve"),
        format!("/tickets/{id}/reopen"),
        format!("/tickets/{id}/close"),
    ];
    for path in &routes {
        for token in ["", "forged", "AAAA"] {
            let body = serde_html_form_encode(&[
                ("csrf", token),
                ("body", "x"),
                ("reason", "x"),
                ("priority", "high"),
                ("ids", &id.to_string()),
                ("action", "resolve"),
            ]);
            let p = b.post_raw(path, body).await;
            assert_eq!(p.status, 403, "{path} with token {token:?}");
        }
        let p = b.post_raw(path, "body=x".into()).await;
        assert_eq!(p.status, 403, "{path} without a token");
    }
    // The multipart reply form too.
    let form = reqwest::multipart::Form::new().text("body", "x");
    let r = b
        .client
        .post(format!("{}/tickets/{id}/reply", b.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A token from another browser's session does not work in this one.
    let mut other = agent_browser(&app, "other@example.com", &["Support"]).await;
    other.get("/tickets").await;
    let body = serde_html_form_encode(&[("csrf", &other.csrf), ("body", "x")]);
    let p = b.post_raw(&format!("/tickets/{id}/note"), body).await;
    assert_eq!(p.status, 403);
    assert_eq!(event_kinds(&app, id), ["created"], "nothing changed");
    // Still signed in (logout was refused).
    assert_eq!(b.get("/tickets").await.status, 200);
}

#[tokio::test]
async fn pages_carry_security_headers_and_assets_are_cached() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let r = b
        .client
        .get(format!("{}/login", b.base))
        .send()
        .await
        .unwrap();
    let h = r.headers();
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let css = href_with(&html, "/static/app.css");
    let r = b
        .client
        .get(format!("{}{css}", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let p = b.get("/static/nothing.css").await;
    assert_eq!(p.status, 404);
    let p = b.get("/login").await;
    assert!(p.content_type.starts_with("text/html; charset=utf-8"));
    let p = b.get("/").await;
    assert_eq!(p.location.as_deref(), Some("/login"));
}

#[tokio::test]
async fn cookies_are_secure_when_the_site_is_https() {
    let app = spawn_app_with(&[("HELPDESK_BASE_URL", "https://help.example.com")]).await;
    staff(&app.db, "agent@example.com", Role::Agent, &[]);
    let b = Browser::new(&app);
    let r = b
        .client
        .get(format!("{}/login", b.base))
        .send()
        .await
        .unwrap();
    let seed = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        seed.contains("Secure") && seed.contains("HttpOnly"),
        "{seed}"
    );
    let html = r.text().await.unwrap();
    let csrf = crate::helpers::csrf_of(&html).unwrap();
    let r = b
        .client
        .post(format!("{}/login", b.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_html_form_encode(&[
            ("csrf", &csrf),
            ("email", "agent@example.com"),
            ("password", crate::helpers::PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("hd_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited_per_address() {
    let app = spawn_app().await;
    staff(&app.db, "agent@example.com", Role::Agent, &[]);
    let mut b = Browser::new(&app);
    b.get("/login").await;
    for i in 0..20 {
        let email = format!("guess{i}@example.com");
        let p = b
            .post(
                "/login",
                &[("email", &email), ("password", "wrong password")],
            )
            .await;
        assert_eq!(p.status, 401);
    }
    let p = b
        .post(
            "/login",
            &[
                ("email", "agent@example.com"),
                ("password", crate::helpers::PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, 429, "the address is blocked for a while");
}

/// Every visible form control on a page has a label (`<label for>` or
/// `aria-label`), ids are unique, and the page declares its language: the
/// checks an accessibility audit starts with.
fn assert_accessible(path: &str, html: &str) {
    assert!(html.contains("<html lang=\"en\">"), "{path}: no lang");
    let mut ids = std::collections::HashSet::new();
    for part in html.split(" id=\"").skip(1) {
        let id = part.split('"').next().unwrap();
        assert!(ids.insert(id.to_string()), "{path}: duplicate id {id}");
    }
    for tag in ["<input", "<select", "<textarea"] {
        for part in html.split(tag).skip(1) {
            let attrs = part.split('>').next().unwrap();
            if ["type=\"hidden\"", "type=\"submit\""]
                .iter()
                .any(|t| attrs.contains(t))
            {
                continue;
            }
            if attrs.contains("aria-label=") {
                continue;
            }
            let id = attrs
                .split("id=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_else(|| panic!("{path}: {tag}{attrs}> has neither id nor aria-label"));
            assert!(
                html.contains(&format!("<label for=\"{id}\"")),
                "{path}: {tag} #{id} has no label"
            );
        }
    }
    assert!(html.contains("<h1"), "{path}: no heading");
    assert!(
        html.contains("<main id=\"main\""),
        "{path}: no main landmark"
    );
}

#[tokio::test]
async fn every_page_labels_its_controls() {
    let app = spawn_app().await;
    let id = app.create_ticket("Printer on fire", Some("Support")).await;
    let mut admin = Browser::new(&app);
    admin.login("admin@example.com").await;
    let mut pages = vec![
        "/tickets".to_string(),
        "/tickets?status=all&sort=priority".into(),
        format!("/tickets/{id}"),
        "/admin".into(),
        "/admin/users".into(),
        "/admin/groups".into(),
        "/admin/mailboxes".into(),
        "/admin/canned".into(),
    ];
    for p in &pages {
        let page = admin.get(p).await;
        assert_eq!(page.status, 200, "{p}");
        assert_accessible(p, &page.body);
    }
    let mut anon = Browser::new(&app);
    pages = vec!["/login".into(), "/new".into(), "/portal/login".into()];
    for p in &pages {
        let page = anon.get(p).await;
        assert_eq!(page.status, 200, "{p}");
        assert_accessible(p, &page.body);
    }
}

#[tokio::test]
async fn canned_responses_fill_the_reply_box() {
    let app = spawn_app().await;
    let id = app.create_ticket("Printer on fire", Some("Support")).await;
    let cid = app
        .db
        .write(|c| {
            helpdesk::canned::create(c, "Unplug", "Please unplug it & wait.", 0)
                .map_err(helpdesk::db::DbError::from)
        })
        .unwrap();
    let mut b = agent_browser(&app, "agent@example.com", &["Support"]).await;
    let p = b.get(&format!("/tickets/{id}")).await;
    assert!(p.body.contains(">Unplug</option>"));
    let p = b.get(&format!("/tickets/{id}?canned={cid}")).await;
    assert!(
        p.body.contains(">Please unplug it &#38; wait.</textarea>")
            || p.body.contains(">Please unplug it &amp; wait.</textarea>"),
        "{}",
        p.body
    );
    let p = b.get(&format!("/canned/{cid}")).await;
    assert_eq!(p.status, 200);
    assert_eq!(p.body, "Please unplug it & wait.");
    assert_eq!(b.get("/canned/99999").await.status, 404);
    let mut anon = Browser::new(&app);
    assert_eq!(anon.get(&format!("/canned/{cid}")).await.status, 303);
}

#[tokio::test]
async fn anonymous_visitors_get_no_ticket_data_on_any_route() {
    let app = spawn_app().await;
    let id = app.create_ticket("Secret printer", Some("Support")).await;
    let mut b = Browser::new(&app);
    b.get("/login").await; // a CSRF token of an anonymous browser
    let gets = [
        format!("/tickets/{id}"),
        format!("/portal/tickets/{id}"),
        "/tickets".to_string(),
        "/portal".to_string(),
        "/admin/users".to_string(),
        "/attachments/1/x".to_string(),
        "/canned/1".to_string(),
    ];
    for path in &gets {
        let p = b.get(path).await;
        assert!([303, 403, 404].contains(&p.status), "{path}: {}", p.status);
        assert!(!p.body.contains("Secret printer"), "{path}");
    }
    let posts = [
        "reply", "note", "assign", "priority", "escalate", "resolve", "reopen", "close",
    ]
    .iter()
    .map(|a| format!("/tickets/{id}/{a}"))
    .chain([
        format!("/portal/tickets/{id}/reply"),
        format!("/portal/tickets/{id}/reopen"),
        "/tickets/bulk".to_string(),
    ]);
    for path in posts {
        let p = b
            .post(
                &path,
                &[
                    ("body", "x"),
                    ("reason", "x"),
                    ("ids", &id.to_string()),
                    ("action", "resolve"),
                ],
            )
            .await;
        assert!(
            [303, 400, 403, 404].contains(&p.status),
            "{path}: {}",
            p.status
        );
        assert!(!p.body.contains("Secret printer"), "{path}");
    }
    assert_eq!(event_kinds(&app, id), ["created"], "nothing changed");
}
