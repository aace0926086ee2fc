//! Page latency of the agents' queue and ticket page over a large store:
//! imports N generated tickets (5 history events each, spread over groups
//! and statuses) like benches/import.rs, starts the app on a free port,
//! signs in an agent (group Support) and an admin through the login form,
//! and times sequential GETs of each page. SQLite always; PostgreSQL too
//! when HELPDESK_TEST_DATABASE_URL is set.
//!
//!     cargo bench --bench web
//!     HELPDESK_BENCH_TICKETS=100000 HELPDESK_BENCH_RUNS=200 \
//!     HELPDESK_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test cargo bench --bench web
//!
//! Prints, per backend, user and page: median and p90 in ms, and the SQL
//! statements one page load runs with the time spent in them (counted by a
//! diesel instrumentation hook). Diagnostics: HELPDESK_BENCH_SQL=1 prints
//! each page's slowest statements; HELPDESK_BENCH_KEEP_DB=DIR keeps the
//! SQLite file in DIR and the PostgreSQL database (for EXPLAIN);
//! HELPDESK_BENCH_SETUP_SQL runs SQL after the import (to try `ANALYZE` or
//! an index before writing a migration).

mod common;
use common::{add_staff, env_usize, fresh_postgres, generate, quantile, signed_in, SEARCH_WORD};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use helpdesk::config::Config;
use helpdesk::db::schema::tickets;
use helpdesk::db::Db;
use helpdesk::import::{import_file, Options};
use helpdesk::tickets::Role;
use helpdesk::web::Application;

// Statement count and time, summed over every connection of the process.
static QUERIES: AtomicU64 = AtomicU64::new(0);
static DB_NANOS: AtomicU64 = AtomicU64::new(0);
static CAPTURE_SQL: AtomicBool = AtomicBool::new(false);
static SLOWEST: Mutex<Vec<(Duration, String)>> = Mutex::new(Vec::new());

#[derive(Default)]
struct Counter {
    started: Option<(Instant, Option<String>)>,
}

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                QUERIES.fetch_add(1, Ordering::Relaxed);
                // Rendering the SQL costs time: only when asked for.
                let sql = CAPTURE_SQL
                    .load(Ordering::Relaxed)
                    .then(|| query.to_string());
                self.started = Some((Instant::now(), sql));
            }
            InstrumentationEvent::FinishQuery { .. } => {
                if let Some((at, sql)) = self.started.take() {
                    let took = at.elapsed();
                    DB_NANOS.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
                    if let Some(sql) = sql {
                        if let Ok(mut s) = SLOWEST.lock() {
                            s.push((took, sql));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn counter() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(Counter::default()))
}

/// The href of the queue's "Next page" link, unescaped.
fn next_link(html: &str) -> Option<String> {
    let end = html.find("\" rel=\"next\"")?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

struct Sample {
    ms: Vec<f64>,
    queries: u64,
    db_ms: f64,
}

async fn get(client: &reqwest::Client, url: &str, must_contain: &str) -> String {
    let r = client.get(url).send().await.expect("request");
    let status = r.status().as_u16();
    let body = r.text().await.expect("body");
    assert_eq!(status, 200, "GET {url}: {body}");
    assert!(
        body.contains(must_contain),
        "GET {url} lacks {must_contain:?}"
    );
    body
}

async fn bench_user(
    base: &str,
    email: &str,
    ticket_id: i64,
    ticket_subject: &str,
    runs: usize,
) -> Vec<(String, Sample)> {
    let client = signed_in(base, email).await;
    let first = get(
        &client,
        &format!("{base}/tickets"),
        "<table class=\"queue\"",
    )
    .await;
    let page2 = next_link(&first).expect("the default queue has a next page");
    let pages: Vec<(String, String, &str)> = vec![
        (
            "/tickets".into(),
            "/tickets".into(),
            "<table class=\"queue\"",
        ),
        (
            "/tickets?status=all&sort=priority".into(),
            "/tickets?status=all&sort=priority".into(),
            "<table class=\"queue\"",
        ),
        (
            format!("/tickets?q={SEARCH_WORD}"),
            format!("/tickets?q={SEARCH_WORD}"),
            "<table class=\"queue\"",
        ),
        (
            "page 2 (next cursor)".into(),
            page2,
            "<table class=\"queue\"",
        ),
        (
            "/tickets/{id} (6 events)".to_string(),
            format!("/tickets/{ticket_id}"),
            ticket_subject,
        ),
        // Not asked for, but the worst case of search: nothing matches.
        (
            "/tickets?q=<no match>".into(),
            "/tickets?q=zzyzx".into(),
            "No tickets match",
        ),
    ];
    // One untimed pass: caches and prepared statements, as on a live server.
    for (_, path, must) in &pages {
        get(&client, &format!("{base}{path}"), must).await;
    }
    let mut samples: Vec<Sample> = pages
        .iter()
        .map(|_| Sample {
            ms: Vec::with_capacity(runs),
            queries: 0,
            db_ms: 0.0,
        })
        .collect();
    // Pages interleaved, so drift on a shared machine hits them alike.
    for _ in 0..runs {
        for (i, (_, path, must)) in pages.iter().enumerate() {
            let q0 = QUERIES.load(Ordering::Relaxed);
            let d0 = DB_NANOS.load(Ordering::Relaxed);
            let t = Instant::now();
            get(&client, &format!("{base}{path}"), must).await;
            samples[i].ms.push(t.elapsed().as_secs_f64() * 1000.0);
            samples[i].queries += QUERIES.load(Ordering::Relaxed) - q0;
            samples[i].db_ms += (DB_NANOS.load(Ordering::Relaxed) - d0) as f64 / 1e6;
        }
    }
    if std::env::var_os("HELPDESK_BENCH_SQL").is_some() {
        for (label, path, must) in &pages {
            SLOWEST.lock().expect("lock").clear();
            CAPTURE_SQL.store(true, Ordering::Relaxed);
            get(&client, &format!("{base}{path}"), must).await;
            CAPTURE_SQL.store(false, Ordering::Relaxed);
            let mut s = std::mem::take(&mut *SLOWEST.lock().expect("lock"));
            s.sort_by_key(|x| std::cmp::Reverse(x.0));
            println!("    slowest statements of {label} ({email}):");
            for (took, sql) in s.iter().take(3) {
                let sql: String = sql.chars().take(600).collect();
                println!("      {:.2} ms  {sql}", took.as_secs_f64() * 1000.0);
            }
        }
    }
    pages
        .into_iter()
        .map(|(label, _, _)| label)
        .zip(samples)
        .collect()
}

async fn bench_backend(name: &str, url: String, db: Db, tickets: usize, runs: usize) {
    add_staff(&db, "bench.agent@example.com", Role::Agent, &["Support"]);
    add_staff(&db, "bench.admin@example.com", Role::Admin, &[]);
    // An open Support ticket from the middle of the store: 4 messages and 6
    // events (i % 4 == 0 is Support, i % 5 == 2 ends open).
    let i = (tickets / 2) / 20 * 20 + 12;
    let (ticket_id, subject): (i64, String) = db
        .query(|c| {
            tickets::table
                .filter(tickets::external_id.eq(format!("W-{i}")))
                .select((tickets::id, tickets::subject))
                .first(c)
        })
        .expect("the generated ticket");
    let config = Config::from_sources(None, |k| match k {
        "HELPDESK_DATABASE_URL" => Some(url.clone()),
        "HELPDESK_LISTEN" => Some("127.0.0.1:0".into()),
        "HELPDESK_SUPPORT_ADDRESS" => Some("help@support.example.com".into()),
        _ => None,
    })
    .expect("config");
    let app = Application::build(config, db, b"bench secret").expect("build app");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    for (who, email) in [
        ("agent", "bench.agent@example.com"),
        ("admin", "bench.admin@example.com"),
    ] {
        let results = bench_user(&base, email, ticket_id, &subject, runs).await;
        for (label, mut s) in results {
            s.ms.sort_by(|a, b| a.total_cmp(b));
            let n = s.ms.len() as f64;
            println!(
                "  {name} {who:5} {label:36} median {:6.2} ms  p90 {:6.2} ms  \
                 ({:.0} SQL statements, {:.2} ms in the DB per page)",
                quantile(&s.ms, 0.5),
                quantile(&s.ms, 0.9),
                s.queries as f64 / n,
                s.db_ms / n,
            );
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then a
    // tiny smoke version runs (as in benches/import.rs).
    let smoke = !std::env::args().any(|a| a == "--bench");
    // Enough that the agent's default queue (a sixth of it) has a page 2.
    let tickets = if smoke {
        1000
    } else {
        env_usize("HELPDESK_BENCH_TICKETS", 100_000)
    };
    let runs = if smoke {
        3
    } else {
        env_usize("HELPDESK_BENCH_RUNS", 200).max(1)
    };
    set_default_instrumentation(counter).expect("instrumentation hook");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tickets.jsonl");
    generate(&file, tickets).expect("generate tickets");
    println!(
        "web page benchmark: {tickets} tickets x 5 events, {runs} sequential GETs per page, \
         user and backend"
    );

    let mut backends: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    if let Ok(url) = std::env::var("HELPDESK_TEST_DATABASE_URL") {
        backends.push(("postgres", Some(url)));
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for (name, admin_url) in backends {
        let (url, _keep_pg) = match &admin_url {
            Some(a) => {
                let (u, d) = fresh_postgres(a, "helpdesk_webbench");
                if std::env::var_os("HELPDESK_BENCH_KEEP_DB").is_some() {
                    // Kept for EXPLAIN ANALYZE; dropping it is up to the caller.
                    std::mem::forget(d);
                    println!("  postgres: keeping the database {u}");
                    (u, None)
                } else {
                    (u, Some(d))
                }
            }
            None => {
                // HELPDESK_BENCH_KEEP_DB=DIR keeps the SQLite file there, to
                // look at query plans afterwards.
                let keep = std::env::var_os("HELPDESK_BENCH_KEEP_DB").map(std::path::PathBuf::from);
                let path = keep.as_deref().unwrap_or(dir.path()).join("web.db");
                let _ = std::fs::remove_file(&path);
                (format!("sqlite://{}", path.display()), None)
            }
        };
        let db = Db::connect(&url).expect("bench database");
        let opts = Options {
            batch_size: 1000,
            progress: false,
            writers: None,
        };
        let summary =
            import_file(&db, &file, &opts, |n, m| panic!("line {n}: {m}")).expect("import");
        assert_eq!(summary.imported, tickets);
        println!("  {name}: {summary}");
        if let Ok(sql) = std::env::var("HELPDESK_BENCH_SETUP_SQL") {
            let mut c = db.conn().expect("connection");
            c.batch_execute(&sql).expect("HELPDESK_BENCH_SETUP_SQL");
            println!("  {name}: ran {sql}");
        }
        rt.block_on(bench_backend(name, url, db, tickets, runs));
    }
}
