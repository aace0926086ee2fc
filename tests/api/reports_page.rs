//! The reports page: a small fixture over two weeks whose figures are worked
//! out by hand below, shown to a manager with the previous period beside
//! them; downloads; who may see it; bad parameters.
//!
//! Group Support has a policy (Mon-Fri 09:00-17:00 UTC, normal: first
//! response 1 h, resolution 8 h); every Support time below is inside open
//! hours, so business time equals calendar time. Sales has no policy.
//!
//! Period [2026-01-12, 2026-01-19), previous [2026-01-05, 2026-01-12).
//! Current cohort:
//! - C1 Support, bob: created Mon 12 09:00, reply 09:30 (FR 1800 s, met),
//!   resolved 10:00 (3600 s, met), FCR. Survey sent 11:00, rated 5 Tue 13.
//! - C2 Support, bob: created Tue 13 10:00, escalated 11:00, reply 12:00
//!   (FR 7200 s, missed), customer 13:00, reply 14:00, resolved 15:00
//!   (18000 s, met). Not FCR. Survey sent 15:30, rated 2 Wed 14 09:00.
//! - C3 Sales, nobody: web, created Wed 14 09:00, never answered.
//!
//! Previous cohort:
//! - P1 Support, bob: created Mon 5 09:00, reply 09:10 (600 s), resolved
//!   09:20 (1200 s), FCR, both targets met.
//! - P2 Support, carol: created Thu 8 09:00, never answered: both targets
//!   missed; still open at the end of both periods.
//!
//! Current: created 3, resolved 2; FR [1800, 7200]: median 30 min, p90 2 h;
//! resolution [3600, 18000]: median 1 h; FCR 1/2 = 50 %; backlog at the end
//! C3 + P2 = 2; reopen 0/2 = 0 %; escalation 1/3 = 33.3 %; SLA FR 1 met 1
//! missed = 50 %, resolution 2/2 = 100 %; CSAT [5, 2]: score 50 %, average
//! 3.50, response rate 2/2 = 100 %; interactions (2 + 4) / 2 = 3.00.
//! Previous: created 2, resolved 1; FR median and p90 10 min; resolution 20
//! min; FCR 100 %; backlog 1 (P2); reopen 0 %; escalation 0 %; SLA FR 50 %,
//! resolution 50 %; no CSAT ("—"); interactions 2.00.

use chrono::{Datelike, Days, Utc};
use helpdesk::tickets::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, staff, Browser, TestApp};
use crate::reports::support_policy;

const PERIOD: &str = "period=custom&from=2026-01-12&to=2026-01-19";

fn ev(at: &str, kind: &str) -> Value {
    json!({"at": at, "type": kind})
}
fn reply(at: &str, agent: &str) -> Value {
    json!({"at": at, "type": "agent_reply", "agent": agent, "body": "Answer."})
}
fn status(at: &str, to: &str) -> Value {
    json!({"at": at, "type": "status_changed", "to": to})
}
fn rating(at: &str, r: i64) -> Value {
    json!({"at": at, "type": "csat_received", "rating": r})
}

fn t(
    id: &str,
    channel: &str,
    group: &str,
    assignee: Option<&str>,
    created: &str,
    events: Vec<Value>,
) -> String {
    let mut v = json!({
        "external_id": id, "subject": format!("Ticket {id}"), "channel": channel,
        "priority": "normal", "group": group,
        "requester": {"email": format!("{}@example.com", id.to_lowercase()), "name": id},
        "created_at": created, "body": "Help.", "events": events,
    });
    if let Some(a) = assignee {
        v["assignee"] = json!(a);
    }
    v.to_string()
}

fn fixture() -> String {
    let bob = "bob@example.com";
    [
        t(
            "C1",
            "email",
            "Support",
            Some(bob),
            "2026-01-12T09:00:00Z",
            vec![
                reply("2026-01-12T09:30:00Z", bob),
                status("2026-01-12T10:00:00Z", "resolved"),
                ev("2026-01-12T11:00:00Z", "csat_sent"),
                rating("2026-01-13T09:00:00Z", 5),
            ],
        ),
        t(
            "C2",
            "email",
            "Support",
            Some(bob),
            "2026-01-13T10:00:00Z",
            vec![
                ev("2026-01-13T11:00:00Z", "escalated"),
                reply("2026-01-13T12:00:00Z", bob),
                json!({"at": "2026-01-13T13:00:00Z", "type": "customer_message", "body": "More."}),
                reply("2026-01-13T14:00:00Z", bob),
                status("2026-01-13T15:00:00Z", "resolved"),
                ev("2026-01-13T15:30:00Z", "csat_sent"),
                rating("2026-01-14T09:00:00Z", 2),
            ],
        ),
        t("C3", "web", "Sales", None, "2026-01-14T09:00:00Z", vec![]),
        t(
            "P1",
            "email",
            "Support",
            Some(bob),
            "2026-01-05T09:00:00Z",
            vec![
                reply("2026-01-05T09:10:00Z", bob),
                status("2026-01-05T09:20:00Z", "resolved"),
            ],
        ),
        t(
            "P2",
            "email",
            "Support",
            Some("carol@example.com"),
            "2026-01-08T09:00:00Z",
            vec![],
        ),
    ]
    .join("\n")
}

async fn setup() -> TestApp {
    let app = spawn_app().await;
    support_policy(&app.db);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.jsonl");
    std::fs::write(&path, fixture()).unwrap();
    let opts = helpdesk::import::Options {
        progress: false,
        ..Default::default()
    };
    let s = helpdesk::import::import_file(&app.db, &path, &opts, |n, m| panic!("line {n}: {m}"))
        .unwrap();
    assert_eq!(s.imported, 5);
    staff(&app.db, "manager@example.com", Role::Manager, &[]);
    staff(&app.db, "agent@example.com", Role::Agent, &["Support"]);
    app
}

/// The row `label` of the headline table: this period, the previous one.
fn headline(html: &str, label: &str) -> (String, String) {
    let head = format!("<tr><th scope=\"row\">{label}</th><td>");
    let i = html
        .find(&head)
        .unwrap_or_else(|| panic!("no headline {label:?}"))
        + head.len();
    let rest = &html[i..];
    let now_end = rest.find("</td>").unwrap();
    let now = rest[..now_end].to_string();
    let rest = &rest[now_end + "</td><td>".len()..];
    let before = rest[..rest.find("</td>").unwrap()].to_string();
    (now, before)
}

fn id_text<'a>(html: &'a str, id: &str) -> &'a str {
    let head = format!("id=\"{id}\">");
    let i = html.find(&head).unwrap() + head.len();
    &html[i..i + html[i..].find('<').unwrap()]
}

#[actix_web::test]
async fn manager_sees_figures_beside_the_previous_period() {
    let app = setup().await;
    let mut b = Browser::new(&app);
    b.login("manager@example.com").await;
    let p = b.get(&format!("/reports?{PERIOD}")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let h = &p.body;
    assert!(h.contains("href=\"/reports\""), "nav link");
    assert_eq!(
        (id_text(h, "period-from"), id_text(h, "period-to")),
        ("2026-01-12", "2026-01-19")
    );
    let expect = [
        ("Tickets created", "3", "2"),
        ("Tickets resolved", "2", "1"),
        ("First response, median", "30 min", "10 min"),
        ("First response, p90", "2 h", "10 min"),
        (
            "First response, median (business hours)",
            "30 min",
            "10 min",
        ),
        ("First response, p90 (business hours)", "2 h", "10 min"),
        ("Resolution, median", "1 h", "20 min"),
        ("Resolution, median (business hours)", "1 h", "20 min"),
        ("First contact resolution", "50.0 %", "100.0 %"),
        ("Backlog at the period&#39;s end", "2", "1"),
        ("Reopen rate", "0.0 %", "0.0 %"),
        ("Escalation rate", "33.3 %", "0.0 %"),
        ("SLA first response met", "50.0 %", "50.0 %"),
        ("SLA resolution met", "100.0 %", "50.0 %"),
        ("CSAT ratings received", "2", "0"),
        ("CSAT score (ratings 4–5)", "50.0 %", "—"),
        ("CSAT average rating", "3.50", "—"),
        ("CSAT response rate", "100.0 %", "—"),
        ("Interactions per resolved ticket", "3.00", "2.00"),
    ];
    for (label, now, before) in expect {
        assert_eq!(
            headline(h, label),
            (now.to_string(), before.to_string()),
            "{label}"
        );
    }
    assert_eq!(h.matches("<svg role=\"img\"").count(), 5);
    // Agent rows: the unassigned C3, then bob; carol has nothing in the period.
    assert!(h.contains(
        "<tr><th scope=\"row\">Unassigned</th><td>1</td><td>0</td><td>—</td><td>—</td><td>—</td><td>—</td><td>0</td><td>—</td></tr>"
    ), "{h}");
    assert!(h.contains(
        "<tr><th scope=\"row\">bob &#60;bob@example.com&#62;</th><td>2</td><td>2</td><td>30 min</td><td>1 h</td><td>50.0 %</td><td>50.0 %</td><td>2</td><td>50.0 %</td></tr>"
    ), "{}", &h[h.find("id=\"agents\"").unwrap()..]);
    let agents = &h[h.find("id=\"agents\"").unwrap()..h.find("id=\"groups\"").unwrap()];
    assert_eq!(agents.matches("<th scope=\"row\">").count(), 2, "{agents}");
    assert!(h.contains(
        "<tr><th scope=\"row\">Support</th><td>2</td><td>2</td><td>30 min</td><td>1 h</td><td>50.0 %</td><td>50.0 %</td><td>2</td><td>50.0 %</td></tr>"
    ));
    assert!(h.contains("<tr><th scope=\"row\">Sales</th><td>1</td><td>0</td>"));
    // The charts' figures in tables: Wed 14 created C3; the backlog is P2
    // (6 d 15 h old) and C3 (15 h).
    assert!(h.contains(
        "<tr><th scope=\"row\">2026-01-14</th><td>1</td><td>0</td><td>2</td><td>1</td><td>0</td><td>1</td><td>0</td></tr>"
    ));
    assert!(h.contains("<tr><th scope=\"row\">&#60; 1 h</th><td>1</td></tr>"));
    assert!(h.contains("<tr><th scope=\"row\">1–4 h</th><td>1</td></tr>"));
    assert!(h.contains(
        "<tr><th scope=\"row\">2026-01-12</th><td>1</td><td>1</td><td>50.0 %</td><td>2</td><td>0</td><td>100.0 %</td><td>2</td><td>50.0 %</td></tr>"
    ));
    assert!(h.contains("<caption>"));
    // A filter narrows the figures.
    let p = b.get(&format!("/reports?{PERIOD}&channel=web")).await;
    assert_eq!(
        headline(&p.body, "Tickets created"),
        ("1".into(), "0".into())
    );
    app.stop().await;
}

#[actix_web::test]
async fn downloads_need_a_manager_session() {
    let app = setup().await;
    let mut anon = Browser::new(&app);
    for path in ["agents.csv", "groups.csv", "report.csv", "report.json"] {
        let p = anon.get(&format!("/reports/{path}?{PERIOD}")).await;
        assert_eq!(p.status, 303, "{path}");
        assert!(p.location.unwrap().starts_with("/login"));
    }
    let mut b = Browser::new(&app);
    b.login("manager@example.com").await;
    let head = "name,tickets,resolved,frt_median_s,resolution_median_s,fcr_rate,\
                sla_first_response_rate,csat_count,csat_score\r\n";
    let r = b
        .client
        .get(format!("{}/reports/agents.csv?{PERIOD}", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"agents-2026-01-12-2026-01-19.csv\""
    );
    assert_eq!(
        r.text().await.unwrap(),
        format!(
            "{head}Unassigned,1,0,,,,,0,\r\nbob <bob@example.com>,2,2,1800,3600,0.5,0.5,2,0.5\r\n"
        )
    );
    let p = b.get(&format!("/reports/groups.csv?{PERIOD}")).await;
    assert_eq!(
        p.body,
        format!("{head}Support,2,2,1800,3600,0.5,0.5,2,0.5\r\nSales,1,0,,,,,0,\r\n")
    );
    let p = b.get(&format!("/reports/report.csv?{PERIOD}")).await;
    assert!(p.content_type.starts_with("text/csv"));
    assert!(p.body.starts_with("metric,value\r\n"));
    assert!(p.body.contains("\r\nvolume.created,3\r\n"));
    let p = b.get(&format!("/reports/report.json?{PERIOD}")).await;
    assert!(p.content_type.starts_with("application/json"));
    let j: Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(j["volume"]["created"], 3);
    assert_eq!(
        j["sla"]["first_response"],
        json!({"met": 1, "missed": 1, "rate": 0.5})
    );
    // The same figures as the API.
    let (_, token) = staff(&app.db, "m2@example.com", Role::Manager, &[]);
    let api: Value = app
        .get("/api/v1/reports?from=2026-01-12&to=2026-01-19", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(j, api);
    // Bad parameters: a message, not a 500.
    let p = b
        .get("/reports/agents.csv?period=custom&from=x&to=2026-01-19")
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("from:"), "{}", p.body);
    app.stop().await;
}

#[actix_web::test]
async fn agents_are_refused_and_bad_parameters_are_explained() {
    let app = setup().await;
    let mut agent = Browser::new(&app);
    agent.login("agent@example.com").await;
    let p = agent.get("/reports").await;
    assert_eq!(p.status, 403);
    let p = agent.get(&format!("/reports/agents.csv?{PERIOD}")).await;
    assert_eq!(p.status, 403);
    let p = agent.get("/tickets").await;
    assert!(
        !p.body.contains("href=\"/reports\""),
        "no nav link for agents"
    );
    let mut anon = Browser::new(&app);
    let p = anon.get("/reports").await;
    assert_eq!(p.status, 303);

    let mut b = Browser::new(&app);
    b.login("manager@example.com").await;
    let p = b
        .get("/reports?period=custom&from=2026-13-01&to=2026-01-19")
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("id=\"r-from-err\""), "{}", p.body);
    assert!(p.body.contains("is not a date"));
    assert!(
        p.body.contains("value=\"2026-13-01\""),
        "what was typed stays"
    );
    let p = b.get("/reports?period=custom&to=2026-01-19").await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("id=\"r-from-err\""));
    for (q, field) in [
        ("period=fortnight", "period"),
        ("tz=Mars/Olympus", "tz"),
        ("group=Nobody", "group"),
        ("agent=not-an-email", "agent"),
        ("priority=meh", "priority"),
        ("channel=fax", "channel"),
        ("period=custom&from=2026-01-19&to=2026-01-12", "to"),
    ] {
        let p = b.get(&format!("/reports?{q}")).await;
        assert_eq!(p.status, 422, "{q}");
        assert!(
            p.body.contains(&format!("id=\"r-{field}-err\"")),
            "{q}: {}",
            p.body
        );
    }
    app.stop().await;
}

#[actix_web::test]
async fn preset_periods_end_today() {
    let app = setup().await;
    let mut b = Browser::new(&app);
    b.login("manager@example.com").await;
    let today = Utc::now().date_naive();
    let tomorrow = today + Days::new(1);
    let fmt = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    for (q, from) in [
        ("", today - Days::new(29)),
        ("?period=30d", today - Days::new(29)),
        ("?period=7d", today - Days::new(6)),
        ("?period=month", today.with_day(1).unwrap()),
    ] {
        let p = b.get(&format!("/reports{q}")).await;
        assert_eq!(p.status, 200, "{q}: {}", p.body);
        assert_eq!(id_text(&p.body, "period-from"), fmt(from), "{q}");
        assert_eq!(id_text(&p.body, "period-to"), fmt(tomorrow), "{q}");
        assert_eq!(p.body.matches("<svg role=\"img\"").count(), 5);
    }
    app.stop().await;
}
