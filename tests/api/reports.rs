//! Reports: a hand-made fixture of 35 tickets whose every figure is worked
//! out by hand below, imported, then compared field by field with the API
//! and the CLI (on PostgreSQL too when HELPDESK_TEST_DATABASE_URL is set).
//!
//! Period [2026-01-05, 2026-01-08): Monday 5 to Wednesday 7, UTC unless
//! said. "Mon 09:00" is 2026-01-05T09:00Z. Groups: Support (S) has an SLA
//! policy with the calendar Mon-Fri 09:00-17:00 UTC and targets normal FR
//! 1 h / resolution 8 h, high 30 min / 4 h, none for low and urgent; Sales
//! (X) has no policy, so its business seconds are calendar seconds.
//! Day ends: E1 = Tue 00:00, E2 = Wed 00:00, E3 = Thu 00:00 (= `to`).

use std::process::Command;

use helpdesk::db::{Db, DbError};
use helpdesk::people;
use helpdesk::reports::{RawParams, ReportParams};
use helpdesk::sla::policy::{self, CalendarInput, PolicyInput};
use helpdesk::tickets::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, staff};

fn day(d: &str) -> String {
    // "Mon 09:00" → 2026-01-05T09:00:00Z; a full timestamp passes through.
    let (name, time) = d.split_once(' ').unwrap_or((d, "00:00"));
    let date = match name {
        "Mon" => "2026-01-05",
        "Tue" => "2026-01-06",
        "Wed" => "2026-01-07",
        "Thu" => "2026-01-08",
        other => return other.to_string(),
    };
    format!("{date}T{time}:00Z")
}

fn ev(at: &str, kind: &str) -> Value {
    json!({"at": day(at), "type": kind})
}
fn reply(at: &str) -> Value {
    json!({"at": day(at), "type": "agent_reply", "agent": "bob@example.com", "body": "Answer."})
}
fn customer(at: &str) -> Value {
    json!({"at": day(at), "type": "customer_message", "body": "More."})
}
fn status(at: &str, to: &str) -> Value {
    json!({"at": day(at), "type": "status_changed", "to": to})
}
fn rating(at: &str, r: i64) -> Value {
    json!({"at": day(at), "type": "csat_received", "rating": r})
}

/// (external id, channel, priority, group, assignee, created, events)
fn t(
    id: &str,
    channel: &str,
    priority: &str,
    group: &str,
    created: &str,
    events: Vec<Value>,
) -> Value {
    json!({
        "external_id": id, "subject": format!("Ticket {id}"), "channel": channel,
        "priority": priority, "group": group,
        "requester": {"email": format!("{}@example.com", id.to_lowercase()), "name": id},
        "created_at": day(created), "body": "Help.", "events": events,
    })
}

fn fixture() -> String {
    let (s, x) = ("Support", "Sales");
    let mut lines = vec![
        // T1: FR 30 min (1800 s, business 1800), resolved after 1 h (3600,
        // 3600). FCR (one reply). 2 interactions. SLA FR met, res met.
        // Survey sent and rated 5 in the period.
        t(
            "T1",
            "email",
            "normal",
            s,
            "Mon 09:00",
            vec![
                reply("Mon 09:30"),
                status("Mon 10:00", "resolved"),
                ev("Mon 11:00", "csat_sent"),
                rating("Mon 12:00", 5),
            ],
        ),
        // T2: created Mon 16:30, replied Tue 09:30: FR 17 h = 61200 s;
        // business 30 min Mon + 30 min Tue = 3600 s. FR due is exactly Tue
        // 09:30 (60 business min): a reply at the due instant is met.
        // Resolved Tue 11:00: 18.5 h = 66600 s, business 30 min + 2 h = 9000.
        // Two replies: FCR-eligible, not FCR. 1+1+2 = 4 interactions.
        // In the backlog at E1 (new).
        t(
            "T2",
            "email",
            "normal",
            s,
            "Mon 16:30",
            vec![
                reply("Tue 09:30"),
                customer("Tue 10:00"),
                reply("Tue 10:30"),
                status("Tue 11:00", "resolved"),
            ],
        ),
        // T3: the automatic message and the note do not count: FR 2 h =
        // 7200 s (business 7200): SLA FR missed (due Mon 11:00). Pending Mon
        // 12:05 to Tue 09:00, resolved Tue 10:30: 24.5 h = 88200 s,
        // business 7 h + 1.5 h = 30600 s (the metric does not pause). The
        // resolution clock runs 125 + 90 = 215 min < 480: met. 1+1+2 = 4
        // interactions. Pending at E1.
        t(
            "T3",
            "web",
            "normal",
            s,
            "Mon 10:00",
            vec![
                ev("Mon 10:01", "auto_message"),
                ev("Mon 10:05", "note"),
                reply("Mon 12:00"),
                status("Mon 12:05", "pending"),
                customer("Tue 09:00"),
                status("Tue 09:00", "open"),
                reply("Tue 10:00"),
                status("Tue 10:30", "resolved"),
            ],
        ),
        // T4: the breach with no reply: FR pending; FR due Mon 10:00 and
        // resolution due Mon 17:00 passed before `to`: both missed.
        // Escalated. Open at E1, E2, E3; age at E3 63 h: d1_3.
        t(
            "T4",
            "email",
            "normal",
            s,
            "Mon 09:00",
            vec![
                status("Mon 09:10", "open"),
                json!({"at": day("Mon 10:00"), "type": "escalated", "reason": "sla_breach"}),
                json!({"at": day("Mon 10:00"), "type": "sla_breached", "target": "first_response"}),
                ev("Mon 11:00", "note"),
            ],
        ),
        // T5: created Wed 16:30, no reply: FR pending; FR due Thu 09:30 and
        // resolution due Thu 16:30 are after `to`: not counted. E3 (7.5 h: lt_1d).
        t(
            "T5",
            "email",
            "normal",
            s,
            "Wed 16:30",
            vec![ev("Wed 16:31", "auto_message")],
        ),
        // T6: opened by an agent: no FR figure, no FR target, no opening
        // message. Resolved after 30 min (1800, 1800): res met. One reply:
        // FCR. 0+0+1 = 1 interaction.
        t(
            "T6",
            "agent",
            "normal",
            s,
            "Tue 09:00",
            vec![reply("Tue 09:15"), status("Tue 09:30", "resolved")],
        ),
        // T7 (high: 30 min / 4 h): FR 20 min (1200, 1200) met; resolved
        // after 1 h (3600, 3600) met; reopened: counts for the reopen rate,
        // not FCR. Closed. 1+1+2 = 4 interactions. Survey sent Tue 17:00.
        t(
            "T7",
            "email",
            "high",
            s,
            "Tue 13:00",
            vec![
                reply("Tue 13:20"),
                status("Tue 14:00", "resolved"),
                customer("Tue 15:00"),
                ev("Tue 15:00", "reopened"),
                reply("Tue 15:30"),
                status("Tue 16:00", "closed"),
                ev("Tue 17:00", "csat_sent"),
            ],
        ),
        // T8 (Sales, no policy): FR 4 h = 14400 s (business the same),
        // resolved after 5 h = 18000 s, closed Wed: FCR. 2 interactions.
        // New at E1. Survey sent Wed 03:00, rated 4.
        t(
            "T8",
            "email",
            "normal",
            x,
            "Mon 22:00",
            vec![
                reply("Tue 02:00"),
                status("Tue 03:00", "resolved"),
                status("Wed 03:00", "closed"),
                ev("Wed 03:00", "csat_sent"),
                rating("Wed 04:00", 4),
            ],
        ),
        // T9: created Mon 23:30 UTC (Tue 00:30 in Berlin). No reply: FR
        // pending. Active at E1, E2, E3; age at E3 48.5 h: d1_3.
        t(
            "T9",
            "web",
            "low",
            x,
            "Mon 23:30",
            vec![status("Tue 08:00", "open")],
        ),
        // T10: closed without a reply: FR pending, no resolution time (never
        // `resolved`), not FCR-eligible (no reply), 1 interaction.
        t(
            "T10",
            "email",
            "normal",
            x,
            "Tue 10:00",
            vec![ev("Tue 10:30", "note"), status("Tue 11:00", "closed")],
        ),
        // T11 (urgent: no targets): FR 600 s (business 600). Pending at E3
        // (15 h: lt_1d).
        t(
            "T11",
            "api",
            "urgent",
            s,
            "Wed 09:00",
            vec![reply("Wed 09:10"), status("Wed 09:20", "pending")],
        ),
        // T12: FR 45 min (2700, 2700) met. Pending at `to` after 90 running
        // minutes: the resolution clock is paused, not counted. Resolved
        // only after `to`: no resolution time, not finished. E3 (14 h: lt_1d).
        t(
            "T12",
            "email",
            "normal",
            s,
            "Wed 10:00",
            vec![
                reply("Wed 10:45"),
                customer("Wed 11:00"),
                status("Wed 11:30", "pending"),
                status("Thu 10:00", "resolved"),
            ],
        ),
        // T13: FR 20 min (1200), escalated, resolved after 40 min (2400):
        // FCR, SLA both met. 2 interactions. Survey sent, rated 3.
        t(
            "T13",
            "email",
            "normal",
            s,
            "Mon 09:00",
            vec![
                reply("Mon 09:20"),
                ev("Mon 09:30", "escalated"),
                status("Mon 09:40", "resolved"),
                ev("Mon 10:00", "csat_sent"),
                rating("Mon 11:00", 3),
            ],
        ),
        // T14: one reply (1800 s) but the customer wrote after it: not FCR.
        // Resolved after 1 h (3600). 1+1+1 = 3 interactions.
        t(
            "T14",
            "email",
            "normal",
            x,
            "Tue 12:00",
            vec![
                reply("Tue 12:30"),
                customer("Tue 12:40"),
                status("Tue 13:00", "resolved"),
            ],
        ),
        // T15: created Wed 23:30 UTC = Thu 00:30 in Berlin: in the UTC
        // cohort, not in the Berlin one. New: FR pending, E3 (0.5 h: lt_1d).
        t("T15", "email", "normal", x, "Wed 23:30", vec![]),
        // O1 (older, Support): open at E1, resolved Tue 12:00 (volume).
        // Survey sent in the period, rated after it.
        t(
            "O1",
            "email",
            "normal",
            s,
            "2025-12-29T09:00:00Z",
            vec![
                reply("2025-12-29T09:30:00Z"),
                status("2025-12-29T10:00:00Z", "open"),
                status("Tue 12:00", "resolved"),
                ev("Tue 13:00", "csat_sent"),
                rating("Thu 10:00", 5),
            ],
        ),
        // O2: pending since December: E1, E2, E3, gt_7d.
        t(
            "O2",
            "email",
            "normal",
            x,
            "2025-12-20T10:00:00Z",
            vec![status("2025-12-21T10:00:00Z", "pending")],
        ),
        // O3: resolved in December, never in the backlog; its rating (2)
        // arrives in the period for a survey sent before it.
        t(
            "O3",
            "email",
            "low",
            x,
            "2025-12-15T10:00:00Z",
            vec![
                status("2025-12-16T10:00:00Z", "resolved"),
                ev("2025-12-16T11:00:00Z", "csat_sent"),
                rating("Mon 10:00", 2),
            ],
        ),
        // O4 (Support): resolved in December, reopened Tue 08:00, resolved
        // Wed 12:00: only in E2; counts in volume.resolved.
        t(
            "O4",
            "email",
            "normal",
            s,
            "2025-12-22T10:00:00Z",
            vec![
                status("2025-12-23T10:00:00Z", "resolved"),
                customer("Tue 08:00"),
                ev("Tue 08:00", "reopened"),
                status("Wed 12:00", "resolved"),
            ],
        ),
        // O5: closed before the period: nowhere.
        t(
            "O5",
            "email",
            "normal",
            x,
            "2025-12-31T23:00:00Z",
            vec![status("2026-01-04T10:00:00Z", "closed")],
        ),
        // O6: open since Fri 2 12:00: E1, E2, E3; age 132 h: d3_7.
        t(
            "O6",
            "email",
            "normal",
            x,
            "2026-01-02T12:00:00Z",
            vec![status("2026-01-02T13:00:00Z", "open")],
        ),
        // N1: created exactly at `to`: not in the cohort, but in the backlog
        // at `to` ("created at or before T"), age 0: lt_1d.
        t("N1", "email", "normal", x, "Thu 00:00", vec![]),
        // N2: after the period: nowhere (its survey too).
        t(
            "N2",
            "email",
            "normal",
            x,
            "Thu 10:00",
            vec![ev("Thu 11:00", "csat_sent")],
        ),
    ];
    // T1-T3 are assigned to bob (the agent filter).
    for l in lines.iter_mut().take(3) {
        l["assignee"] = json!("bob@example.com");
    }
    // B1..B12 (Sales): created Wed 12:00, replied after 5k min (300k s),
    // resolved 10 min later ((5k+10)×60 s): FCR, 2 interactions each.
    for k in 1..=12 {
        let r = format!("Wed {}", hm(12 * 60 + 5 * k));
        let done = format!("Wed {}", hm(12 * 60 + 5 * k + 10));
        lines.push(t(
            &format!("B{k}"),
            "email",
            "normal",
            x,
            "Wed 12:00",
            vec![reply(&r), status(&done, "resolved")],
        ));
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn hm(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The policy for Support with its office-hours calendar, before import
/// (the reports page tests use it too).
pub(crate) fn support_policy(db: &Db) {
    let support = db
        .write(|c| {
            people::find_or_create_group(c, "Support", 0)
                .map_err(|e| DbError::Migration(e.to_string()))
        })
        .unwrap()
        .0
        .id;
    let cal = CalendarInput::weekdays("Office", "UTC", "09:00-17:00", "");
    let cal = db
        .write(|c| policy::save_calendar(c, None, &cal, 0).map_err(DbError::from))
        .unwrap()
        .unwrap();
    let input = PolicyInput {
        name: "Support hours".into(),
        group_id: Some(support),
        calendar_id: Some(cal),
        first_response: ["".into(), "1h".into(), "30m".into(), "".into()],
        resolution: ["".into(), "8h".into(), "4h".into(), "".into()],
        ..Default::default()
    };
    db.write(|c| policy::save_policy(c, None, &input, 0).map_err(DbError::from))
        .unwrap()
        .unwrap();
}

fn import(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.jsonl");
    std::fs::write(&path, fixture()).unwrap();
    let opts = helpdesk::import::Options {
        progress: false,
        ..Default::default()
    };
    let s =
        helpdesk::import::import_file(db, &path, &opts, |n, m| panic!("line {n}: {m}")).unwrap();
    assert_eq!(s.imported, 35);
}

/// The report for the period in UTC, by hand.
fn expected_utc() -> Value {
    json!({
        "from": "2026-01-05", "to": "2026-01-08", "tz": "UTC",
        // 27 = T1-T15 + B1-B12. email: T1 T2 T4 T5 T7 T8 T10 T12 T13 T14 T15
        // + 12 B = 23; web T3 T9; agent T6; api T11. Resolved in the period:
        // T1 T2 T3 T6 T7 T8 T13 T14, 12 B, O1, O4 = 22.
        "volume": {"created": 27, "resolved": 22,
            "by_channel": {"email": 23, "web": 2, "agent": 1, "api": 1, "import": 0}},
        // 21 values: B 300..3600 step 300, T11 600, T7 1200, T13 1200, T1
        // 1800, T14 1800, T12 2700, T3 7200, T8 14400, T2 61200. Sorted, rank
        // 11 (ceil 10.5) = 1800, rank 19 (ceil 18.9) = 7200. Sum 23400 +
        // 92100 = 115500 / 21 = 5500. Business: T2 3600 instead: rank 11 =
        // 1800, rank 19 = 3600, sum 57900 / 21. Pending: T4 T5 T9 T10 T15.
        "first_response": {"count": 21, "pending": 5,
            "median_s": 1800, "mean_s": 5500.0, "p90_s": 7200,
            "business_median_s": 1800, "business_mean_s": 57900.0 / 21.0, "business_p90_s": 3600},
        // 20 values: B 900..4200 step 300, T6 1800, T13 2400, T1 3600, T7
        // 3600, T14 3600, T8 18000, T2 66600, T3 88200. Even count: rank 10
        // (the lower middle) = 3000 (rank 11 is 3300); rank 18 = 18000. Sum
        // 30600 + 187800 = 218400 / 20 = 10920. Business: T2 9000, T3 30600:
        // rank 10 = 3000, rank 18 = 9000, sum 103200 / 20 = 5160.
        "resolution": {"count": 20,
            "median_s": 3000, "mean_s": 10920.0, "p90_s": 18000,
            "business_median_s": 3000, "business_mean_s": 5160.0, "business_p90_s": 9000},
        // Eligible (resolved/closed at `to`, >= 1 reply): T1 T2 T3 T6 T7 T8
        // T13 T14 + 12 B = 20; FCR: T1 T6 T8 T13 + 12 B = 16.
        "fcr": {"eligible": 20, "count": 16, "rate": 0.8},
        // E1: T2 T3 T4 T8 T9 O1 O2 O6; E2: T4 T9 O2 O4 O6; E3: T4 T5 T9 T11
        // T12 T15 O2 O6 N1. Ages at E3: lt_1d T5 T11 T12 T15 N1, d1_3 T4 T9,
        // d3_7 O6, gt_7d O2.
        "backlog": {"at": "2026-01-08T00:00:00Z", "open": 9,
            "by_age": {"lt_1d": 5, "d1_3": 2, "d3_7": 1, "gt_7d": 1},
            "daily": [{"date": "2026-01-05", "open": 8}, {"date": "2026-01-06", "open": 5},
                      {"date": "2026-01-07", "open": 9}]},
        // Resolved at least once: T1 T2 T3 T6 T7 T8 T13 T14 + 12 B = 20; reopened: T7.
        "reopen": {"eligible": 20, "count": 1, "rate": 0.05},
        // T4 and T13 of 27.
        "escalation": {"eligible": 27, "count": 2, "rate": 2.0 / 27.0},
        // Resolved or closed: T1 2, T2 4, T3 4, T6 1, T7 4, T8 2, T10 1, T13
        // 2, T14 3, B 12 × 2 = 47 over 21 tickets.
        "interactions_per_ticket": 47.0 / 21.0,
        // FR met T1 T2 T7 T12 T13, missed T3 T4 (T5 still inside, T6 agent,
        // T11 urgent). Resolution met T1 T2 T3 T6 T7 T13, missed T4 (T5
        // inside, T12 paused).
        "sla": {"first_response": {"met": 5, "missed": 2, "rate": 5.0 / 7.0},
                "resolution": {"met": 6, "missed": 1, "rate": 6.0 / 7.0}},
        // Sent: T13 Mon 10:00, T1 Mon 11:00, O1 Tue 13:00, T7 Tue 17:00, T8
        // Wed 03:00 = 5. Received: O3 2, T13 3, T1 5, T8 4 = 4 (O1's comes
        // Thu). 4-5: T1 T8 = 2/4; average 14/4; 4/5.
        "csat": {"sent": 5, "responses": 4, "score": 0.5, "average": 3.5, "response_rate": 0.8},
    })
}

/// Compares field by field, floats within 1e-9; names the first difference.
fn same(path: &str, actual: &Value, expected: &Value) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let ak: Vec<&String> = a.keys().collect();
            let ek: Vec<&String> = e.keys().collect();
            assert_eq!(ak, ek, "keys of {path}");
            for (k, v) in e {
                same(&format!("{path}.{k}"), &a[k], v);
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "length of {path}");
            for (i, (x, y)) in a.iter().zip(e).enumerate() {
                same(&format!("{path}[{i}]"), x, y);
            }
        }
        (Value::Number(a), Value::Number(e)) if e.is_f64() => {
            let (a, e) = (a.as_f64().unwrap(), e.as_f64().unwrap());
            assert!((a - e).abs() < 1e-9, "{path}: {a} != {e}");
        }
        (Value::Number(a), Value::Number(e)) => {
            assert!(a.is_i64() || a.is_u64(), "{path}: {a} should be an integer");
            assert_eq!(a, e, "{path}");
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

const QUERY: &str = "/api/v1/reports?from=2026-01-05&to=2026-01-08";

#[tokio::test]
async fn the_hand_computed_fixture_matches_field_by_field() {
    let app = spawn_app().await;
    support_policy(&app.db);
    import(&app.db);
    let r = app.get(QUERY, &app.token).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    same("report", &body, &expected_utc());
    // The order of METRICS.md.
    let order = [
        "\"from\"",
        "\"to\"",
        "\"tz\"",
        "\"volume\"",
        "\"first_response\"",
        "\"resolution\"",
        "\"fcr\"",
        "\"backlog\"",
        "\"reopen\"",
        "\"escalation\"",
        "\"interactions_per_ticket\"",
        "\"sla\"",
        "\"csat\"",
    ];
    let at: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.find("\"median_s\"").unwrap() < text.find("\"business_p90_s\"").unwrap());

    // Berlin: the period is [Jan 4 23:00Z, Jan 7 23:00Z). T15 (Wed 23:30Z)
    // falls on Thursday: 26 created, 22 by email, pending T4 T5 T9 T10. Day
    // ends Mon 23:00Z: T2 T3 T4 T8 (22:00Z) O1 O2 O6 = 7 (T9 at 23:30Z is
    // Tuesday's); Tue 23:00Z: T4 T9 O2 O4 O6 = 5; Wed 23:00Z: T4 T5 T9 T11
    // T12 O2 O6 = 7.
    let (status, b) = app.get_json(&format!("{QUERY}&tz=Europe/Berlin")).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["tz"], "Europe/Berlin");
    assert_eq!(b["volume"]["created"], 26);
    assert_eq!(b["volume"]["by_channel"]["email"], 22);
    assert_eq!(b["first_response"]["pending"], 4);
    assert_eq!(b["backlog"]["at"], "2026-01-07T23:00:00Z");
    assert_eq!(b["backlog"]["open"], 7);
    let daily: Vec<i64> = b["backlog"]["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["open"].as_i64().unwrap())
        .collect();
    assert_eq!(daily, vec![7, 5, 7]);

    // group=Support: cohort T1-T7 T11-T13 = 10. FR: 600, 1200 (T7), 1200
    // (T13), 1800, 2700, 7200, 61200: odd n = 7, median rank 4 = 1800, p90
    // rank ceil(6.3) = 7 = 61200, mean 75900 / 7. Business: T2 3600: sorted
    // 600 1200 1200 1800 2700 3600 7200: rank 4 = 1800, rank 7 = 7200, mean
    // 18300 / 7. Pending T4 T5. Backlog E1 T2 T3 T4 O1; E2 T4 O4; E3 T4 T5
    // T11 T12. Resolved: T1 T2 T3 T6 T7 T13 O1 O4 = 8. CSAT sent T1 T7 T13
    // O1 = 4, ratings 5 (T1), 3 (T13). Email: T1 T2 T4 T5 T7 T12 T13.
    let (status, g) = app.get_json(&format!("{QUERY}&group=Support")).await;
    assert_eq!(status, 200, "{g}");
    same(
        "group",
        &g["volume"],
        &json!({"created": 10, "resolved": 8,
        "by_channel": {"email": 7, "web": 1, "agent": 1, "api": 1, "import": 0}}),
    );
    same(
        "group",
        &g["first_response"],
        &json!({"count": 7, "pending": 2,
        "median_s": 1800, "mean_s": 75900.0 / 7.0, "p90_s": 61200,
        "business_median_s": 1800, "business_mean_s": 18300.0 / 7.0, "business_p90_s": 7200}),
    );
    let daily: Vec<i64> = g["backlog"]["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["open"].as_i64().unwrap())
        .collect();
    assert_eq!(daily, vec![4, 2, 4]);
    same("group", &g["sla"], &expected_utc()["sla"]);
    same(
        "group",
        &g["csat"],
        &json!({"sent": 4, "responses": 2, "score": 0.5, "average": 4.0, "response_rate": 0.5}),
    );
    // The group by id gives the same.
    let id = app
        .db
        .query(|c| people::find_group_by_name(c, "Support"))
        .unwrap()
        .unwrap()
        .id;
    let (_, by_id) = app.get_json(&format!("{QUERY}&group={id}")).await;
    assert_eq!(by_id, g);

    // agent (assignee) bob: T1-T3. priority high: T7. channel web: T3 T9.
    for (filter, created) in [
        ("agent=bob@example.com", 3),
        ("priority=high", 1),
        ("channel=web", 2),
    ] {
        let (status, f) = app.get_json(&format!("{QUERY}&{filter}")).await;
        assert_eq!(status, 200, "{f}");
        assert_eq!(f["volume"]["created"], created, "{filter}");
    }

    // A period with no data: every statistic is null, never 0.
    let (_, empty) = app
        .get_json("/api/v1/reports?from=2025-06-01&to=2025-06-02")
        .await;
    assert_eq!(empty["first_response"]["median_s"], Value::Null);
    assert_eq!(empty["fcr"]["rate"], Value::Null);
    assert_eq!(empty["interactions_per_ticket"], Value::Null);
    assert_eq!(empty["csat"]["response_rate"], Value::Null);
    assert_eq!(
        empty["backlog"]["daily"],
        json!([{"date": "2025-06-01", "open": 0}])
    );

    // CSV: one metric,value row per figure, empty for null.
    let r = app.get(&format!("{QUERY}&format=csv"), &app.token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"report-2026-01-05-2026-01-08.csv\""
    );
    let csv = r.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "metric,value");
    for want in [
        "first_response.median_s,1800",
        "first_response.mean_s,5500",
        "resolution.p90_s,18000",
        "volume.by_channel.email,23",
        "backlog.by_age.lt_1d,5",
        "backlog.daily.2026-01-06,5",
        "fcr.rate,0.8",
        "sla.first_response.missed,2",
        "csat.average,3.5",
        "tz,UTC",
    ] {
        assert!(rows.contains(&want), "{want} not in {csv}");
    }
    let csv = app
        .get(
            "/api/v1/reports?from=2025-06-01&to=2025-06-02&format=csv",
            &app.token,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.lines().any(|l| l == "first_response.median_s,"),
        "{csv}"
    );

    // The CLI prints the same JSON and CSV.
    let url = db_url(&app);
    let out = cli(
        &url,
        &["report", "--from", "2026-01-05", "--to", "2026-01-08"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, body);
    let out = cli(
        &url,
        &[
            "report",
            "--from",
            "2026-01-05",
            "--to",
            "2026-01-08",
            "--format",
            "csv",
            "--group",
            "Support",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l == "volume.created,10"));
    app.stop().await;
}

fn db_url(app: &crate::helpers::TestApp) -> String {
    app.db_url.clone()
}

fn cli(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .args(args)
        .env_remove("HELPDESK_CONFIG")
        .env("HELPDESK_DATABASE_URL", url)
        .env("HELPDESK_LOG", "error")
        .output()
        .unwrap()
}

#[tokio::test]
async fn bad_requests_and_roles() {
    let app = spawn_app().await;
    let cases = [
        ("from=2026-13-01&to=2026-02-01", 422, "from"),
        ("from=2026-01-01&to=yesterday", 422, "to"),
        ("from=2026-01-05&to=2026-01-05", 422, "to"),
        ("from=2026-01-05&to=2026-01-01", 422, "to"),
        ("from=2025-01-01&to=2026-03-01", 422, "to"),
        ("from=2026-01-01&to=2026-02-01&tz=Mars/Olympus", 422, "tz"),
        ("from=2026-01-01&to=2026-02-01&group=Nobody", 422, "group"),
        (
            "from=2026-01-01&to=2026-02-01&agent=nobody@example.com",
            422,
            "agent",
        ),
        (
            "from=2026-01-01&to=2026-02-01&agent=not-an-email",
            422,
            "agent",
        ),
        (
            "from=2026-01-01&to=2026-02-01&priority=asap",
            422,
            "priority",
        ),
        ("from=2026-01-01&to=2026-02-01&channel=fax", 422, "channel"),
        ("from=2026-01-01&to=2026-02-01&format=xml", 422, "format"),
        ("to=2026-02-01", 400, "from"),
    ];
    for (q, code, field) in cases {
        let (status, body) = app.get_json(&format!("/api/v1/reports?{q}")).await;
        assert_eq!(status, code, "{q}: {body}");
        assert_eq!(body["error"]["field"], field, "{q}: {body}");
    }
    // Agents may not read reports; managers may.
    let (_, agent) = staff(&app.db, "agent@example.com", Role::Agent, &["Support"]);
    let r = app
        .get("/api/v1/reports?from=2026-01-01&to=2026-01-02", &agent)
        .await;
    assert_eq!(r.status(), 403);
    let (_, manager) = staff(&app.db, "boss@example.com", Role::Manager, &[]);
    let r = app
        .get("/api/v1/reports?from=2026-01-01&to=2026-01-02", &manager)
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .get("/api/v1/reports?from=2026-01-01&to=2026-01-02", "wrong")
        .await;
    assert_eq!(r.status(), 401);

    // The CLI: bad arguments exit 64, an unreachable store 75.
    let url = db_url(&app);
    for args in [
        &["report", "--from", "2026-01-32", "--to", "2026-02-01"][..],
        &["report", "--from", "2026-02-01", "--to", "2026-01-01"],
        &[
            "report",
            "--from",
            "2026-01-01",
            "--to",
            "2026-02-01",
            "--tz",
            "Nowhere",
        ],
        &[
            "report",
            "--from",
            "2026-01-01",
            "--to",
            "2026-02-01",
            "--format",
            "xml",
        ],
    ] {
        let out = cli(&url, args);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = cli(
        "postgres://nobody@127.0.0.1:9/nothing",
        &["report", "--from", "2026-01-01", "--to", "2026-02-01"],
    );
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.stop().await;
}

/// Every figure of the report and of the page's series for `queries`, as
/// text to compare. Each is computed on one connection and again with the
/// period's tickets split over two (as the pages and the API do), which
/// must agree to the last figure.
fn figures(db: &Db, queries: &[RawParams], now: i64) -> Vec<String> {
    use helpdesk::reports::load::{run_full, run_full_with};
    let text =
        |(report, series): (helpdesk::reports::Report, helpdesk::reports::series::Series)| {
            format!("{}\n{series:?}", serde_json::to_string(&report).unwrap())
        };
    queries
        .iter()
        .map(|raw| {
            db.query(|c| {
                let p = ReportParams::parse(c, raw).expect("valid parameters");
                let one = text(run_full(c, &p, now)?);
                let mut spare = db.spare_conn().expect("a second connection");
                let two = text(run_full_with(c, Some(&mut spare), &p, now)?);
                assert_eq!(one, two, "one connection and two disagree for {raw:?}");
                Ok(one)
            })
            .unwrap()
        })
        .collect()
}

fn raw(from: &str, to: &str, extra: &[(&str, &str)]) -> RawParams {
    let mut r = RawParams {
        from: Some(from.into()),
        to: Some(to.into()),
        ..Default::default()
    };
    for &(k, v) in extra {
        let v = Some(v.to_string());
        match k {
            "tz" => r.tz = v,
            "group" => r.group = v,
            "agent" => r.agent = v,
            "priority" => r.priority = v,
            "channel" => r.channel = v,
            _ => unreachable!("{k}"),
        }
    }
    r
}

fn dirty_rows(db: &Db) -> i64 {
    use diesel::prelude::*;
    use helpdesk::db::schema::ticket_facts;
    db.query(|c| {
        ticket_facts::table
            .filter(ticket_facts::dirty)
            .count()
            .get_result(c)
    })
    .unwrap()
}

/// The stored per-ticket facts give exactly the figures the events give:
/// after import (clean rows), with every row dirty (events replayed), after
/// the job recomputed them, after an SLA calendar change (rows of the old
/// book are replayed until recomputed), and for tickets changed live.
#[tokio::test]
async fn stored_facts_and_replayed_events_agree() {
    use diesel::prelude::*;
    use helpdesk::db::schema::ticket_facts;
    use helpdesk::reports::facts;

    let app = spawn_app().await;
    support_policy(&app.db);
    import(&app.db);
    assert_eq!(dirty_rows(&app.db), 0, "import writes clean rows");
    let now = helpdesk::time::parse_rfc3339("2026-01-07T12:00:00Z").unwrap();
    let queries = [
        raw("2026-01-05", "2026-01-08", &[]),
        raw("2026-01-05", "2026-01-08", &[("tz", "Europe/Berlin")]),
        raw("2026-01-05", "2026-01-08", &[("group", "Support")]),
        raw("2026-01-05", "2026-01-08", &[("agent", "bob@example.com")]),
        raw("2026-01-05", "2026-01-08", &[("priority", "high")]),
        raw("2026-01-05", "2026-01-08", &[("channel", "web")]),
        // Periods that cut histories short, and one after every event.
        raw("2026-01-06", "2026-01-07", &[]),
        raw("2026-01-04", "2026-01-06", &[("group", "Support")]),
        raw("2025-12-01", "2026-03-01", &[]),
    ];
    let from_events = |db: &Db| {
        db.write(|c| {
            diesel::update(ticket_facts::table)
                .set(ticket_facts::dirty.eq(true))
                .execute(c)
                .map_err(DbError::from)
        })
        .unwrap();
        figures(db, &queries, now)
    };
    let stored = figures(&app.db, &queries, now);
    assert_eq!(from_events(&app.db), stored);
    assert!(facts::refresh_all(&app.db).unwrap() >= 35);
    assert_eq!(dirty_rows(&app.db), 0);
    assert_eq!(figures(&app.db, &queries, now), stored);
    // The expected figures still hold (the facts path, not only agreement).
    let first: Value = serde_json::from_str(stored[0].lines().next().unwrap()).unwrap();
    same("report", &first, &expected_utc());

    // Another calendar for Support: rows of the old book are replayed with
    // the new one until the job has caught up, then read again.
    let cal_id: i64 = app
        .db
        .query(|c| {
            helpdesk::db::schema::calendars::table
                .select(helpdesk::db::schema::calendars::id)
                .first(c)
        })
        .unwrap();
    let cal = CalendarInput::weekdays("Office", "UTC", "08:00-12:00", "");
    app.db
        .write(|c| policy::save_calendar(c, Some(cal_id), &cal, 1).map_err(DbError::from))
        .unwrap()
        .unwrap();
    let replayed = figures(&app.db, &queries, now);
    assert_ne!(replayed, stored, "business times depend on the calendar");
    assert!(facts::refresh_all(&app.db).unwrap() >= 35);
    assert_eq!(figures(&app.db, &queries, now), replayed);
    assert_eq!(from_events(&app.db), replayed);

    // Live changes mark their ticket dirty; the report sees them at once.
    facts::refresh_all(&app.db).unwrap();
    let id = app.create_ticket("Live one", Some("Sales")).await;
    let (status, j) = app
        .post_json(&format!("/api/v1/tickets/{id}/resolve"), json!({}))
        .await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(dirty_rows(&app.db), 1);
    let today = chrono::Utc::now().date_naive();
    let live = [raw(
        &(today - chrono::Days::new(1)).to_string(),
        &(today + chrono::Days::new(1)).to_string(),
        &[],
    )];
    let real_now = helpdesk::time::now_ms();
    let before = figures(&app.db, &live, real_now);
    assert!(
        before[0].contains("\"created\":1,\"resolved\":1"),
        "{}",
        before[0]
    );
    facts::refresh_all(&app.db).unwrap();
    assert_eq!(dirty_rows(&app.db), 0);
    assert_eq!(figures(&app.db, &live, real_now), before);

    // The job `serve` runs catches up by itself.
    app.create_ticket("Live two", None).await;
    assert_eq!(dirty_rows(&app.db), 1);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let job = facts::spawn(app.db.clone(), stop.clone()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while dirty_rows(&app.db) > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    job.join().unwrap();
    assert_eq!(dirty_rows(&app.db), 0, "the job refreshed the new ticket");
    app.stop().await;
}

/// On PostgreSQL the facts job skips a row a change holds instead of
/// waiting for it while holding others (it once deadlocked with a maildir
/// batch marking several tickets dirty in arrival order); the skipped row
/// stays dirty and is refreshed once the change commits.
#[tokio::test]
async fn facts_refresh_skips_rows_a_change_holds() {
    use diesel::prelude::*;
    use helpdesk::db::schema::ticket_facts;
    use helpdesk::reports::facts;
    use std::sync::mpsc;
    use std::time::Duration;

    let app = spawn_app().await;
    if app.db.backend() != helpdesk::db::Backend::Postgres {
        // SQLite's one writer: a held change blocks every other writer.
        app.stop().await;
        return;
    }
    let held = app.create_ticket("Held by a change", None).await;
    let free = app.create_ticket("Free to refresh", None).await;
    let dirty = |db: &Db, id: i64| -> bool {
        db.query(|c| {
            ticket_facts::table
                .find(id)
                .select(ticket_facts::dirty)
                .first(c)
        })
        .unwrap()
    };
    assert!(dirty(&app.db, held) && dirty(&app.db, free));

    let (locked_tx, locked_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let db = app.db.clone();
    let holder = std::thread::spawn(move || {
        db.write(|c| {
            facts::mark_dirty(c, held)?;
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            Ok::<_, DbError>(())
        })
    });
    locked_rx.recv().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    let db = app.db.clone();
    std::thread::spawn(move || {
        let _ = done_tx.send(db.write(|c| facts::refresh(c, &mut None).map_err(DbError::from)));
    });
    let wrote = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the refresh waited for a row a change holds")
        .unwrap();
    assert!(wrote >= 1, "the free row was refreshed");
    assert!(!dirty(&app.db, free));
    assert!(dirty(&app.db, held), "the held row was skipped");

    release_tx.send(()).unwrap();
    holder.join().unwrap().unwrap();
    facts::refresh_all(&app.db).unwrap();
    assert!(!dirty(&app.db, held));
    app.stop().await;
}
