//! REST API v1: the lifecycle over HTTP, listing, authorization and errors.

use serde_json::{json, Value};

use crate::helpers::{event_types, spawn_app, staff};
use helpdesk::tickets::Role;

#[tokio::test]
async fn a_ticket_history_shows_every_event_in_order() {
    let app = spawn_app().await;
    let id = app.create_ticket("Printer on fire", Some("Support")).await;
    let base = format!("/api/v1/tickets/{id}");
    for (action, body) in [
        ("reply", json!({"body": "Unplug it."})),
        ("escalate", json!({"reason": "Smoke in the office"})),
        ("resolve", json!({})),
        ("reopen", json!({})),
    ] {
        let (status, json) = app.post_json(&format!("{base}/{action}"), body).await;
        assert_eq!(status, 200, "{action}: {json}");
    }
    let (status, detail) = app.get_json(&base).await;
    assert_eq!(status, 200);
    assert_eq!(
        event_types(&detail),
        [
            "created",
            "agent_reply",
            "status_changed",
            "escalated",
            "status_changed",
            "reopened"
        ]
    );
    let ev = detail["events"].as_array().unwrap();
    assert_eq!(
        (ev[2]["from"].as_str(), ev[2]["to"].as_str()),
        (Some("new"), Some("open"))
    );
    assert_eq!(ev[3]["data"]["reason"], "Smoke in the office");
    assert_eq!(
        (ev[3]["from"].as_str(), ev[3]["to"].as_str()),
        (Some("0"), Some("1"))
    );
    assert_eq!(
        (ev[4]["from"].as_str(), ev[4]["to"].as_str()),
        (Some("open"), Some("resolved"))
    );
    assert_eq!(
        (ev[5]["from"].as_str(), ev[5]["to"].as_str()),
        (Some("resolved"), Some("open"))
    );
    assert_eq!(ev[1]["actor"]["email"], "admin@example.com");
    let times: Vec<&str> = ev.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let t = &detail["ticket"];
    assert_eq!(
        (t["status"].as_str(), t["escalation_level"].as_i64()),
        (Some("open"), Some(1))
    );
    let kinds: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["customer", "agent"]);
    assert!(detail["messages"][1]["mail_message_id"]
        .as_str()
        .unwrap()
        .starts_with(&format!("<hd.{id}.")));
}

#[tokio::test]
async fn notes_priority_assign_and_close() {
    let app = spawn_app().await;
    let (bob, _) = staff(&app.db, "bob@example.com", Role::Agent, &["Support"]);
    let id = app.create_ticket("Slow laptop", Some("Support")).await;
    let base = format!("/api/v1/tickets/{id}");
    let (s, j) = app
        .post_json(
            &format!("{base}/note"),
            json!({"body": "Probably the disk"}),
        )
        .await;
    assert_eq!(s, 200, "{j}");
    let (s, j) = app
        .post_json(&format!("{base}/priority"), json!({"priority": "urgent"}))
        .await;
    assert_eq!(
        (s, j["result"]["changed"].as_bool()),
        (200, Some(true)),
        "{j}"
    );
    let (s, j) = app
        .post_json(&format!("{base}/priority"), json!({"priority": "urgent"}))
        .await;
    assert_eq!(
        (s, j["result"]["changed"].as_bool()),
        (200, Some(false)),
        "{j}"
    );
    let (s, j) = app
        .post_json(
            &format!("{base}/assign"),
            json!({"agent": "bob@example.com"}),
        )
        .await;
    assert_eq!(s, 200, "{j}");
    assert_eq!(j["ticket"]["assignee"]["id"], bob);
    let (s, j) = app
        .post_json(&format!("{base}/assign"), json!({"agent": null}))
        .await;
    assert_eq!((s, j["ticket"]["assignee"].is_null()), (200, true), "{j}");
    let (s, j) = app
        .post_json(
            &format!("{base}/reply"),
            json!({"body": "Fixed", "status": "resolved"}),
        )
        .await;
    assert_eq!(
        (s, j["ticket"]["status"].as_str()),
        (200, Some("resolved")),
        "{j}"
    );
    let (s, j) = app.post_json(&format!("{base}/close"), json!({})).await;
    assert_eq!(
        (s, j["ticket"]["status"].as_str()),
        (200, Some("closed")),
        "{j}"
    );
    let (_, detail) = app.get_json(&base).await;
    assert_eq!(
        event_types(&detail),
        [
            "created",
            "note",
            "priority_changed",
            "assigned",
            "assigned",
            "agent_reply",
            "status_changed",
            "status_changed"
        ]
    );
}

async fn ids(app: &crate::helpers::TestApp, query: &str, token: &str) -> (Vec<i64>, Value) {
    let r = app.get(&format!("/api/v1/tickets{query}"), token).await;
    assert_eq!(r.status(), 200, "{query}");
    let page: Value = r.json().await.unwrap();
    let ids = page["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    (ids, page["next_cursor"].clone())
}

#[tokio::test]
async fn listing_filters_searches_and_pages() {
    let app = spawn_app().await;
    let (_, bob_token) = staff(&app.db, "bob@example.com", Role::Agent, &["Support"]);
    staff(&app.db, "eve@example.com", Role::Agent, &["Billing"]);
    let mut all = Vec::new();
    for i in 0..7 {
        all.push(
            app.create_ticket(
                &format!("Ticket {i}"),
                Some(if i % 2 == 0 { "Support" } else { "Billing" }),
            )
            .await,
        );
    }
    let searched = app.create_ticket("Invoice 100% wrong", None).await;
    let t = &app.token;
    // Updates a few milliseconds apart, so "newest first" has one answer.
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(5));
    pause().await;
    app.post_json(&format!("/api/v1/tickets/{}/resolve", all[0]), json!({}))
        .await;
    pause().await;
    app.post_json(
        &format!("/api/v1/tickets/{}/assign", all[2]),
        json!({"agent": "bob@example.com"}),
    )
    .await;

    // Newest update first, pages of 3 without overlap.
    let (p1, c1) = ids(&app, "?limit=3", t).await;
    let (p2, c2) = ids(
        &app,
        &format!("?limit=3&cursor={}", c1.as_str().unwrap()),
        t,
    )
    .await;
    let (p3, c3) = ids(
        &app,
        &format!("?limit=3&cursor={}", c2.as_str().unwrap()),
        t,
    )
    .await;
    assert!(c3.is_null());
    let mut seen: Vec<i64> = [p1.clone(), p2, p3].concat();
    assert_eq!(p1[..2], [all[2], all[0]], "most recently updated first");
    seen.sort();
    let mut expected = [all.clone(), vec![searched]].concat();
    expected.sort();
    assert_eq!(seen, expected);

    assert_eq!(ids(&app, "?status=resolved", t).await.0, [all[0]]);
    assert_eq!(ids(&app, "?assignee=bob@example.com", t).await.0, [all[2]]);
    assert_eq!(ids(&app, "?q=100%25", t).await.0, [searched]);
    assert_eq!(
        ids(&app, "?q=PLEASE%20HELP&limit=1", t).await.0.len(),
        1,
        "body text is searched"
    );
    assert_eq!(ids(&app, "?group=none", t).await.0, [searched]);
    let (support, _) = ids(&app, "?group=Support&status=new,open", t).await;
    assert_eq!(support, [all[2], all[6], all[4]]);

    // An agent of Support sees Support tickets and ungrouped ones, not Billing.
    let (mine, _) = ids(&app, "?limit=100", &bob_token).await;
    assert!(mine.contains(&searched) && mine.contains(&all[0]));
    assert!(
        !mine.contains(&all[1]),
        "Billing ticket leaked to a Support agent"
    );
    assert_eq!(ids(&app, "?assignee=me", &bob_token).await.0, [all[2]]);
}

#[tokio::test]
async fn agents_cannot_touch_other_groups_tickets() {
    let app = spawn_app().await;
    let (_, eve) = staff(&app.db, "eve@example.com", Role::Agent, &["Billing"]);
    let (_, boss) = staff(&app.db, "boss@example.com", Role::Manager, &[]);
    let id = app.create_ticket("Support only", Some("Support")).await;
    let r = app.get(&format!("/api/v1/tickets/{id}"), &eve).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert!(body.get("ticket").is_none(), "no data in a refusal");
    for (action, body) in [
        ("reply", json!({"body": "x"})),
        ("note", json!({"body": "x"})),
        ("resolve", json!({})),
        ("escalate", json!({"reason": "x"})),
        ("assign", json!({"agent": null})),
        ("priority", json!({"priority": "low"})),
        ("reopen", json!({})),
        ("close", json!({})),
    ] {
        let r = app
            .post(&format!("/api/v1/tickets/{id}/{action}"), &eve, body)
            .await;
        assert_eq!(r.status(), 403, "{action}");
    }
    let r = app.get(&format!("/api/v1/tickets/{id}"), &boss).await;
    assert_eq!(r.status(), 200, "managers see every group");
    let (_, detail) = app.get_json(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(
        event_types(&detail),
        ["created"],
        "refused actions changed nothing"
    );
}

#[tokio::test]
async fn authentication_is_required() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/v1/tickets"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    for token in ["hd_wrong", "nonsense", ""] {
        assert_eq!(
            app.get("/api/v1/tickets", token).await.status(),
            401,
            "{token:?}"
        );
    }
    let r = app
        .client
        .get(app.url("/api/v1/tickets"))
        .header("Authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_never_a_500() {
    let app = spawn_app().await;
    let id = app.create_ticket("Target", Some("Support")).await;
    let t = format!("/api/v1/tickets/{id}");
    let cases: Vec<(&str, String, Value, u16, Option<&str>)> = vec![
        (
            "create without subject",
            "/api/v1/tickets".into(),
            json!({"body": "x", "requester": {"email": "a@example.com"}}),
            422,
            Some("subject"),
        ),
        (
            "create with blank subject",
            "/api/v1/tickets".into(),
            json!({"subject": " ", "body": "x", "requester": {"email": "a@example.com"}}),
            422,
            Some("subject"),
        ),
        (
            "bad requester email",
            "/api/v1/tickets".into(),
            json!({"subject": "s", "body": "x", "requester": {"email": "nope"}}),
            422,
            Some("requester.email"),
        ),
        (
            "unknown priority",
            "/api/v1/tickets".into(),
            json!({"subject": "s", "body": "x", "requester": {"email": "a@example.com"}, "priority": "asap"}),
            422,
            Some("priority"),
        ),
        (
            "unknown group",
            "/api/v1/tickets".into(),
            json!({"subject": "s", "body": "x", "requester": {"email": "a@example.com"}, "group": "Nope"}),
            422,
            Some("group"),
        ),
        (
            "email channel via API",
            "/api/v1/tickets".into(),
            json!({"subject": "s", "body": "x", "requester": {"email": "a@example.com"}, "channel": "email"}),
            422,
            Some("channel"),
        ),
        (
            "wrong type",
            format!("{t}/reply"),
            json!({"body": 5}),
            422,
            Some("body"),
        ),
        (
            "empty reply",
            format!("{t}/reply"),
            json!({"body": "  "}),
            422,
            Some("body"),
        ),
        (
            "reply closing",
            format!("{t}/reply"),
            json!({"body": "x", "status": "closed"}),
            409,
            None,
        ),
        (
            "escalate without reason",
            format!("{t}/escalate"),
            json!({}),
            422,
            Some("reason"),
        ),
        (
            "assign nothing",
            format!("{t}/assign"),
            json!({}),
            422,
            Some("agent"),
        ),
        (
            "assign unknown agent",
            format!("{t}/assign"),
            json!({"agent": "ghost@example.com"}),
            422,
            Some("agent"),
        ),
        (
            "unknown key on resolve",
            format!("{t}/resolve"),
            json!({"force": true}),
            422,
            Some("force"),
        ),
        (
            "reopen an open ticket",
            format!("{t}/reopen"),
            json!({}),
            409,
            None,
        ),
        (
            "close an open ticket",
            format!("{t}/close"),
            json!({}),
            409,
            None,
        ),
        (
            "missing ticket",
            "/api/v1/tickets/987654/resolve".into(),
            json!({}),
            404,
            None,
        ),
        (
            "non-numeric id",
            "/api/v1/tickets/abc/resolve".into(),
            json!({}),
            404,
            None,
        ),
    ];
    for (what, path, body, status, field) in cases {
        let (got, json) = app.post_json(&path, body).await;
        assert_eq!(got, status, "{what}: {json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: {json}"
        );
        if let Some(f) = field {
            assert_eq!(json["error"]["field"], f, "{what}: {json}");
        }
    }
    // Malformed JSON, wrong content type, bad query strings.
    let r = app
        .client
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/json")
        .body("{\"subject\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app
        .client
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(&app.token)
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let huge = "x".repeat(3 << 20);
    let r = app
        .client
        .post(app.url(&format!("{t}/note")))
        .bearer_auth(&app.token)
        .json(&json!({"body": huge}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    for q in [
        "?status=solved",
        "?limit=0",
        "?limit=x",
        "?cursor=zzz",
        "?group=Nope",
        "?assignee=ghost@example.com",
    ] {
        let r = app.get(&format!("/api/v1/tickets{q}"), &app.token).await;
        assert!(
            matches!(r.status().as_u16(), 400 | 422),
            "{q}: {}",
            r.status()
        );
    }
    let (_, detail) = app.get_json(&t).await;
    assert_eq!(
        event_types(&detail),
        ["created"],
        "nothing was changed by bad requests"
    );
}
