//! Import throughput: generates N tickets with 5 history events each (plus
//! the implicit `created`) as JSON Lines and imports them through the same
//! code as `helpdesk import`, into a fresh SQLite file and, when
//! HELPDESK_TEST_DATABASE_URL is set, a fresh PostgreSQL database.
//!
//!     cargo bench --bench import
//!     HELPDESK_BENCH_TICKETS=100000 HELPDESK_BENCH_RUNS=3 \
//!     HELPDESK_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test cargo bench --bench import
//!
//! Prints the median of the runs (the machines are shared and noisy).

mod common;
use common::{env_usize, fresh_postgres, median};

use std::io::{BufWriter, Write};

use helpdesk::db::Db;
use helpdesk::import::{import_file, Options};

fn iso(base: i64, offset_s: i64) -> String {
    helpdesk::time::format_ms((base + offset_s) * 1000)
}

fn generate(path: &std::path::Path, tickets: usize) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let base = 1_767_225_600; // 2026-01-01T00:00:00Z
    let groups = ["Support", "Billing", "Sales", "Tier 2"];
    let priorities = ["low", "normal", "normal", "high", "urgent"];
    for i in 0..tickets as i64 {
        let created = base + i * 37;
        let agent = format!("agent{}@example.com", i % 20);
        let line = serde_json::json!({
            "external_id": format!("B-{i}"),
            "subject": format!("Problem number {i} with the printer"),
            "channel": if i % 3 == 0 { "web" } else { "email" },
            "priority": priorities[(i % 5) as usize],
            "group": groups[(i % 4) as usize],
            "requester": {"email": format!("customer{}@example.com", i % 5000), "name": format!("Customer {}", i % 5000)},
            "created_at": iso(created, 0),
            "body": "The printer on the third floor prints every page twice and then jams. We tried turning it off and on again.",
            "events": [
                {"at": iso(created, 1800), "type": "agent_reply", "agent": agent, "body": "Could you send the model number?"},
                {"at": iso(created, 3600), "type": "customer_message", "body": "It is an LX-200."},
                {"at": iso(created, 5400), "type": "agent_reply", "agent": agent, "body": "A firmware update fixes this; done remotely."},
                {"at": iso(created, 5460), "type": "status_changed", "to": "resolved"},
                {"at": iso(created, 90000), "type": "csat_sent"},
            ]
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing
    // useful either: run a tiny smoke version unless asked for a real one.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let tickets = if smoke {
        200
    } else {
        env_usize("HELPDESK_BENCH_TICKETS", 100_000)
    };
    let runs = if smoke {
        1
    } else {
        env_usize("HELPDESK_BENCH_RUNS", 3).max(1)
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tickets.jsonl");
    generate(&file, tickets).unwrap();
    let size_mb = std::fs::metadata(&file).unwrap().len() as f64 / 1e6;
    println!("import benchmark: {tickets} tickets x 5 events ({size_mb:.1} MB JSONL), {runs} run(s) per backend");

    let mut backends: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    if let Ok(url) = std::env::var("HELPDESK_TEST_DATABASE_URL") {
        backends.push(("postgres", Some(url)));
    }
    let mut medians = Vec::new();
    for (name, admin_url) in backends {
        let mut rates = Vec::new();
        for run in 0..runs {
            let (url, _keep_pg) = match &admin_url {
                Some(a) => {
                    let (u, d) = fresh_postgres(a, "helpdesk_bench");
                    (u, Some(d))
                }
                None => (
                    format!(
                        "sqlite://{}",
                        dir.path().join(format!("bench{run}.db")).display()
                    ),
                    None,
                ),
            };
            let db = Db::connect(&url).expect("bench database");
            let opts = Options {
                batch_size: 1000,
                progress: false,
                writers: None,
            };
            let summary = import_file(&db, &file, &opts, |n, m| panic!("line {n}: {m}")).unwrap();
            assert_eq!(summary.imported, tickets);
            println!("  {name} run {}: {summary}", run + 1);
            rates.push(summary.rate());
        }
        let m = median(rates);
        println!(
            "{name}: median {m:.0} tickets/s ({:.0} events/s incl. created)",
            m * 6.0
        );
        medians.push((name, m));
    }
    if let [(_, sqlite), (_, pg)] = medians[..] {
        println!("postgres/sqlite ratio: {:.2}", pg / sqlite);
    }
}
