//! Report latency: generates N tickets spread over 2026 (about five events
//! each, statuses varied: resolved, closed, reopened, pending, open,
//! agent-opened, escalated; two in a hundred stay open; two groups on an
//! office-hours SLA policy), imports them, then times the full report for
//! the last 30 days and for the whole year, on a fresh SQLite file and,
//! when HELPDESK_TEST_DATABASE_URL is set, a fresh PostgreSQL database
//! (HELPDESK_BENCH_REUSE=DIR keeps both and skips the import next time).
//!
//!     cargo bench --bench report
//!     HELPDESK_BENCH_TICKETS=100000 HELPDESK_BENCH_RUNS=5 \
//!     HELPDESK_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test cargo bench --bench report
//!
//! Prints the median of the runs (the machines are shared and noisy).

mod common;
use common::{env_usize, existing_postgres, fresh_postgres, median};

use std::io::{BufWriter, Write};
use std::time::Instant;

use chrono::NaiveDate;
use helpdesk::db::Db;
use helpdesk::import::{import_file, Options};
use helpdesk::reports::{report_pooled, ReportParams};

fn iso(base: i64, offset_s: i64) -> String {
    helpdesk::time::format_ms((base + offset_s) * 1000)
}

const YEAR_S: i64 = 365 * 86_400;

fn generate(path: &std::path::Path, tickets: usize) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let base = 1_767_225_600; // 2026-01-01T00:00:00Z
    let step = (YEAR_S / tickets.max(1) as i64).max(1);
    let groups = ["Support", "Billing", "Sales", "Tier 2"];
    let priorities = ["low", "normal", "normal", "high", "urgent"];
    for i in 0..tickets as i64 {
        let created = base + (i * step) % YEAR_S;
        let agent = format!("agent{}@example.com", i % 20);
        let reply = |s: i64| serde_json::json!({"at": iso(created, s), "type": "agent_reply", "agent": agent, "body": "Could you send the model number?"});
        let customer = |s: i64| serde_json::json!({"at": iso(created, s), "type": "customer_message", "body": "It is an LX-200."});
        let status = |s: i64, to: &str| serde_json::json!({"at": iso(created, s), "type": "status_changed", "to": to});
        let other = |s: i64, t: &str| serde_json::json!({"at": iso(created, s), "type": t});
        let events = match i % 10 {
            0..=4 => vec![
                reply(1800),
                customer(3600),
                reply(5400),
                status(5460, "resolved"),
                other(90_000, "csat_sent"),
            ],
            5 => vec![
                reply(7200),
                status(7300, "pending"),
                customer(86_400),
                status(90_000, "resolved"),
                status(400_000, "closed"),
            ],
            6 => vec![
                reply(600),
                status(700, "resolved"),
                other(800, "reopened"),
                reply(20_000),
                status(30_000, "closed"),
            ],
            7 => vec![
                reply(40_000),
                status(40_100, "pending"),
                customer(60_000),
                status(70_000, "resolved"),
                serde_json::json!({"at": iso(created, 80_000), "type": "csat_received", "rating": 1 + i % 5}),
            ],
            // Two tickets in a hundred stay open: the backlog.
            8 => vec![
                other(60, "auto_message"),
                other(7200, "escalated"),
                status(7300, "open"),
                customer(8000),
                if i % 100 == 8 {
                    other(9000, "note")
                } else {
                    status(9000, "resolved")
                },
            ],
            _ => vec![
                reply(300),
                status(400, "pending"),
                customer(5000),
                status(5100, "open"),
                if i % 100 == 9 {
                    reply(6000)
                } else {
                    status(6000, "closed")
                },
            ],
        };
        let channel = ["web", "email", "email", "api", "agent"][(i % 5) as usize];
        let line = serde_json::json!({
            "external_id": format!("R-{i}"),
            "subject": format!("Problem number {i} with the printer"),
            "channel": channel,
            "priority": priorities[(i % 5) as usize],
            "group": groups[(i % 4) as usize],
            "assignee": agent,
            "requester": {"email": format!("customer{}@example.com", i % 5000), "name": format!("Customer {}", i % 5000)},
            "created_at": iso(created, 0),
            "body": "The printer prints every page twice and then jams.",
            "events": events,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// Support and Billing answer in office hours (Berlin, Mon-Fri 09-17), so
/// business times and SLA clocks cost what they do in real use; Sales and
/// Tier 2 have no policy.
fn office_hours(db: &Db) {
    use helpdesk::db::DbError;
    use helpdesk::sla::policy::{self, CalendarInput, PolicyInput};
    let cal = CalendarInput::weekdays(
        "Office",
        "Europe/Berlin",
        "09:00-17:00",
        "2026-12-24 Christmas Eve
2026-12-25 Christmas",
    );
    let cal = db
        .write(|c| policy::save_calendar(c, None, &cal, 0).map_err(DbError::from))
        .unwrap()
        .unwrap();
    for group in ["Support", "Billing"] {
        let id = db
            .write(|c| {
                helpdesk::people::find_or_create_group(c, group, 0)
                    .map_err(|e| DbError::Migration(e.to_string()))
            })
            .unwrap()
            .0
            .id;
        let input = PolicyInput {
            name: format!("{group} hours"),
            group_id: Some(id),
            calendar_id: Some(cal),
            first_response: ["8h".into(), "1h".into(), "30m".into(), "15m".into()],
            resolution: ["40h".into(), "8h".into(), "4h".into(), "2h".into()],
            ..Default::default()
        };
        db.write(|c| policy::save_policy(c, None, &input, 0).map_err(DbError::from))
            .unwrap()
            .unwrap();
    }
}

fn params(from: NaiveDate, to: NaiveDate) -> ReportParams {
    ReportParams {
        from,
        to,
        tz: chrono_tz::Tz::UTC,
        group: None,
        agent: None,
        priority: None,
        channel: None,
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --bench report` does not:
    // run a tiny smoke version unless asked for a real one.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let tickets = if smoke {
        300
    } else {
        env_usize("HELPDESK_BENCH_TICKETS", 1_000_000)
    };
    let runs = if smoke {
        1
    } else {
        env_usize("HELPDESK_BENCH_RUNS", 3).max(1)
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tickets.jsonl");
    generate(&file, tickets).unwrap();
    println!("report benchmark: {tickets} tickets over 2026, ~5 events each, {runs} run(s)");
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    let periods = [
        ("30 days", params(day(12, 1), day(12, 31))),
        ("365 days", params(day(1, 1), day(12, 31))),
    ];
    let mut backends: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    if let Ok(url) = std::env::var("HELPDESK_TEST_DATABASE_URL") {
        backends.push(("postgres", Some(url)));
    }
    // HELPDESK_BENCH_REUSE=DIR keeps the SQLite file in DIR and the
    // PostgreSQL database, and imports only into empty ones: for profiling
    // the same data again and again.
    let reuse = std::env::var_os("HELPDESK_BENCH_REUSE").map(std::path::PathBuf::from);
    for (name, admin_url) in backends {
        let (url, _keep_pg) = match (&admin_url, &reuse) {
            (Some(a), None) => {
                let (u, d) = fresh_postgres(a, "helpdesk_bench_report");
                (u, Some(d))
            }
            (Some(a), Some(_)) => (existing_postgres(a, "helpdesk_bench_report_kept"), None),
            (None, Some(d)) => (format!("sqlite://{}", d.join("bench.db").display()), None),
            (None, None) => (
                format!("sqlite://{}", dir.path().join("bench.db").display()),
                None,
            ),
        };
        let db = Db::connect(&url).expect("bench database");
        let stored: i64 = db
            .query(|c| {
                use diesel::prelude::*;
                helpdesk::db::schema::tickets::table.count().get_result(c)
            })
            .unwrap();
        if stored == 0 {
            office_hours(&db);
            let opts = Options {
                batch_size: 1000,
                progress: false,
                writers: None,
            };
            let summary = import_file(&db, &file, &opts, |n, m| panic!("line {n}: {m}")).unwrap();
            assert_eq!(summary.imported, tickets);
            println!("  {name}: {summary}");
            common::settle(&db, name);
        } else {
            println!("  {name}: reusing {stored} tickets");
        }
        let now = helpdesk::time::now_ms();
        for (label, p) in &periods {
            let mut times = Vec::new();
            let mut created = 0;
            for _ in 0..runs {
                let started = Instant::now();
                let r = db.query(|c| report_pooled(&db, c, p, now)).unwrap();
                times.push(started.elapsed().as_secs_f64());
                created = r.volume.created;
            }
            println!(
                "{name} {label}: median {:.3} s over {runs} run(s) ({created} tickets in the cohort)",
                median(times)
            );
            // What the reports page computes: the period with its series and
            // the previous period of the same length (rendering not included).
            let len = p.to - p.from;
            let prev = ReportParams {
                from: p.from - len,
                to: p.from,
                ..p.clone()
            };
            let mut page = Vec::new();
            for _ in 0..runs {
                let started = Instant::now();
                db.query(|c| {
                    let mut spare = db.spare_conn();
                    helpdesk::reports::load::run_full_with(c, spare.as_deref_mut(), p, now)
                })
                .unwrap();
                db.query(|c| report_pooled(&db, c, &prev, now)).unwrap();
                page.push(started.elapsed().as_secs_f64());
            }
            println!(
                "{name} {label} as the reports page computes it (series + previous period): median {:.3} s",
                median(page)
            );
        }
    }
}
