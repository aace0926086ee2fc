//! The SLA breach job's cost over many open tickets: imports N open tickets
//! (a third pending, none answered) through the import path, saves a
//! business-hours policy (which recomputes every open ticket's clocks),
//! then times the job's tick when nothing is due (its steady state, run
//! every few seconds by `serve`), the "what is due next" query it sleeps
//! on, and one tick in which every ticket breaches and is escalated.
//! SQLite always; PostgreSQL too when HELPDESK_TEST_DATABASE_URL is set.
//!
//!     cargo bench --bench sla
//!     HELPDESK_BENCH_TICKETS=100000 HELPDESK_BENCH_RUNS=20 \
//!     HELPDESK_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test cargo bench --bench sla
//!
//! Prints medians (the machines are shared and noisy).
//! HELPDESK_BENCH_SKIP_BURST=1 leaves out the (long) burst.

mod common;
use common::{env_usize, fresh_postgres, median};

use std::io::{BufWriter, Write};
use std::time::Instant;

use helpdesk::db::{Db, DbError};
use helpdesk::import::{import_file, Options};
use helpdesk::sla::job;
use helpdesk::sla::policy::{self, CalendarInput, PolicyInput};

/// 2026-01-05T00:00:00Z, a Monday.
const BASE_S: i64 = 1_767_571_200;

fn generate(path: &std::path::Path, tickets: usize) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let groups = ["Support", "Billing", "Sales", "Tier 2"];
    let priorities = ["low", "normal", "normal", "high", "urgent"];
    // Spread over one week of creation times.
    let step = (7 * 86_400 / tickets.max(1) as i64).max(1);
    for i in 0..tickets as i64 {
        let created = BASE_S + i * step;
        let at = |s: i64| helpdesk::time::format_ms((created + s) * 1000);
        let events = if i % 3 == 0 {
            serde_json::json!([
                {"at": at(600), "type": "status_changed", "to": "pending"},
            ])
        } else {
            serde_json::json!([
                {"at": at(600), "type": "note", "agent": "agent@example.com", "body": "Looking."},
            ])
        };
        let line = serde_json::json!({
            "external_id": format!("S-{i}"),
            "subject": format!("Open problem {i}"),
            "channel": "email",
            "priority": priorities[(i % 5) as usize],
            "group": groups[(i % 4) as usize],
            "requester": {"email": format!("customer{}@example.com", i % 5000)},
            "created_at": at(0),
            "body": "Nothing works.",
            "events": events,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn save_policy(db: &Db) {
    let cal = CalendarInput::weekdays(
        "Office",
        "Europe/Berlin",
        "08:00-12:00, 13:00-18:00",
        "2026-01-06 Epiphany
2026-04-03 Good Friday",
    );
    let cal = db
        .write(|c| policy::save_calendar(c, None, &cal, 0).map_err(DbError::from))
        .unwrap()
        .unwrap();
    let input = PolicyInput {
        name: "Standard".into(),
        group_id: None,
        calendar_id: Some(cal),
        first_response: ["8h", "4h", "1h", "30m"].map(String::from),
        resolution: ["40h", "24h", "8h", "4h"].map(String::from),
        breach_raise_level: true,
        breach_group_id: None,
        breach_raise_priority: true,
        breach_notify: true,
    };
    db.write(|c| policy::save_policy(c, None, &input, 0).map_err(DbError::from))
        .unwrap()
        .unwrap();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: a tiny
    // smoke run then.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let tickets = if smoke {
        300
    } else {
        env_usize("HELPDESK_BENCH_TICKETS", 100_000)
    };
    let runs = if smoke {
        3
    } else {
        env_usize("HELPDESK_BENCH_RUNS", 20).max(1)
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("open.jsonl");
    generate(&file, tickets).unwrap();
    println!(
        "SLA job benchmark: {tickets} open tickets (1/3 pending), {runs} idle ticks per backend"
    );

    let mut backends: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    if let Ok(url) = std::env::var("HELPDESK_TEST_DATABASE_URL") {
        backends.push(("postgres", Some(url)));
    }
    for (name, admin_url) in backends {
        let (url, _keep) = match &admin_url {
            Some(a) => {
                let (u, d) = fresh_postgres(a, "helpdesk_bench_sla");
                (u, Some(d))
            }
            None => (
                format!("sqlite://{}", dir.path().join("sla.db").display()),
                None,
            ),
        };
        let db = Db::connect(&url).unwrap();
        let opts = Options {
            progress: false,
            ..Options::default()
        };
        import_file(&db, &file, &opts, |n, m| panic!("line {n}: {m}")).unwrap();

        // Saving the policy recomputes every open ticket (the admin pages do
        // the same after each change).
        save_policy(&db);
        let started = Instant::now();
        let seen = helpdesk::tickets::sla::refresh_open(&db).unwrap();
        let refresh_ms = ms_since(started);
        assert_eq!(seen, tickets);

        // Steady state: nothing due yet (the first due time is hours after BASE).
        let before = BASE_S * 1000;
        let mut idle = Vec::new();
        let mut next = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let done = job::tick(&db, before).unwrap();
            idle.push(ms_since(t));
            assert_eq!(done.breaches, 0);
            let t = Instant::now();
            job::next_at(&db).unwrap();
            next.push(ms_since(t));
        }

        if std::env::var("HELPDESK_BENCH_SKIP_BURST").is_ok() {
            println!(
                "{name}: apply a policy change to {tickets} open tickets {:.0} ms ({:.0} tickets/s); \
                 idle tick median {:.2} ms, next-due query median {:.2} ms",
                refresh_ms,
                tickets as f64 / (refresh_ms / 1000.0),
                median(idle),
                median(next),
            );
            continue;
        }
        // Burst: every running clock breaches at once (a year later).
        let t = Instant::now();
        let burst = job::tick(&db, before + 365 * 86_400_000).unwrap();
        let burst_s = t.elapsed().as_secs_f64();
        assert!(burst.breaches >= tickets * 2 / 3, "{burst:?}");
        println!(
            "{name}: apply a policy change to {tickets} open tickets {:.0} ms ({:.0} tickets/s); \
             idle tick median {:.2} ms, next-due query median {:.2} ms; \
             burst: {} breaches on {} tickets ({} escalated) in {:.1} s = {:.0} breaches/s",
            refresh_ms,
            tickets as f64 / (refresh_ms / 1000.0),
            median(idle),
            median(next),
            burst.breaches,
            burst.looked_at,
            burst.escalated,
            burst_s,
            burst.breaches as f64 / burst_s
        );
    }
}
