//! Rate limits: sign-in failures, web-form requests, portal sign-in links
//! and API calls each answer 429 with a clear page (or JSON error) and a
//! `Retry-After` once over their limit, and nothing past the limit is done.

use diesel::prelude::*;
use helpdesk::db::schema::{outbox, tickets};
use helpdesk::tickets::Role;

use crate::helpers::{spawn_app, spawn_app_with, staff, Browser, TestApp};

fn retry_after(h: &reqwest::header::HeaderMap) -> u64 {
    h.get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

fn count_tickets(app: &TestApp) -> i64 {
    app.db
        .query(|c| tickets::table.count().get_result(c))
        .unwrap()
}

/// POSTs the web form (multipart) with the CSRF token, keeping the headers.
async fn post_request(b: &mut Browser, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new().text("csrf", b.csrf.clone());
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    b.client
        .post(format!("{}/new", b.base))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// POSTs a form the way `Browser::post` does, keeping the response headers.
async fn post_form(b: &mut Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut all = vec![("csrf", b.csrf.as_str())];
    all.extend_from_slice(fields);
    b.client
        .post(format!("{}{path}", b.base))
        .form(&all)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_web_form_takes_twenty_requests_per_address_then_asks_to_wait() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    b.get("/new").await;
    for i in 0..20 {
        let subject = format!("Request {i}");
        let r = post_request(
            &mut b,
            &[
                ("name", "Sam"),
                ("email", "sam@example.com"),
                ("subject", &subject),
                ("body", "Please help."),
            ],
        )
        .await;
        assert_eq!(r.status(), 200, "request {i}");
    }
    let before = count_tickets(&app);
    let r = post_request(
        &mut b,
        &[
            ("name", "Sam"),
            ("email", "sam@example.com"),
            ("subject", "One too many"),
            ("body", "Please help."),
        ],
    )
    .await;
    assert_eq!(r.status(), 429);
    let wait = retry_after(r.headers());
    assert!((1..=15 * 60).contains(&wait), "{wait}");
    let page = r.text().await.unwrap();
    assert!(page.contains("Too many requests"), "{page}");
    assert!(page.contains("Try again in"), "{page}");
    assert_eq!(count_tickets(&app), before, "no ticket past the limit");
    app.stop().await;
}

#[tokio::test]
async fn portal_links_are_limited_per_email_and_per_address() {
    let app = spawn_app().await;
    app.create_ticket("Ann's request", None).await;
    let links = |app: &TestApp| -> i64 {
        app.db
            .query(|c| {
                outbox::table
                    .filter(outbox::kind.eq("portal_link"))
                    .count()
                    .get_result(c)
            })
            .unwrap()
    };
    let mut b = Browser::new(&app);
    b.get("/portal/login").await;
    for _ in 0..8 {
        let r = post_form(&mut b, "/portal/login", &[("email", "ann@example.com")]).await;
        assert_eq!(r.status(), 200);
    }
    let sent = links(&app);
    let r = post_form(&mut b, "/portal/login", &[("email", "ann@example.com")]).await;
    assert_eq!(
        r.status(),
        429,
        "a sixth link for one address within the hour"
    );
    assert!(retry_after(r.headers()) >= 1);
    assert!(r.text().await.unwrap().contains("Too many sign-in links"));
    assert_eq!(links(&app), sent, "no mail past the limit");
    // Other addresses from the same client: ten requests in all, then wait;
    // an unknown address counts too, so the answer tells nothing.
    for i in 0..2 {
        let email = format!("someone{i}@example.com");
        let r = post_form(&mut b, "/portal/login", &[("email", &email)]).await;
        assert_eq!(r.status(), 200, "{email}");
    }
    let r = post_form(&mut b, "/portal/login", &[("email", "nobody@example.com")]).await;
    assert_eq!(r.status(), 429, "an eleventh request from one address");
    app.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_answer_429_with_retry_after() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    b.get("/login").await;
    for _ in 0..5 {
        let r = post_form(
            &mut b,
            "/login",
            &[("email", "admin@example.com"), ("password", "wrong")],
        )
        .await;
        assert_eq!(r.status(), 401);
    }
    let r = post_form(
        &mut b,
        "/login",
        &[
            ("email", "admin@example.com"),
            ("password", crate::helpers::PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), 429, "even the right password waits");
    assert!((1..=15 * 60).contains(&retry_after(r.headers())));
    assert!(r.text().await.unwrap().contains("Too many failed sign-ins"));
    app.stop().await;
}

#[tokio::test]
async fn api_calls_are_limited_per_token() {
    let app = spawn_app_with(&[("HELPDESK_API_REQUESTS_PER_MINUTE", "5")]).await;
    let (_, other) = staff(&app.db, "other@example.com", Role::Agent, &["Support"]);
    for _ in 0..5 {
        assert_eq!(app.get("/api/v1/tickets", &app.token).await.status(), 200);
    }
    let r = app.get("/api/v1/tickets", &app.token).await;
    assert_eq!(r.status(), 429);
    assert!((1..=60).contains(&retry_after(r.headers())));
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["error"]["code"], "rate_limited", "{json}");
    // Each token has its own allowance.
    assert_eq!(app.get("/api/v1/tickets", &other).await.status(), 200);
    // A POST over the limit does nothing.
    let (status, _) = app
        .post_json(
            "/api/v1/tickets",
            serde_json::json!({"subject": "x", "body": "y", "requester": {"email": "a@example.com"}}),
        )
        .await;
    assert_eq!(status, 429);
    assert_eq!(count_tickets(&app), 0);
    app.stop().await;
}
