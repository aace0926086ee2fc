//! Mail ingestion throughput (messages/s) with the shared workload
//! (`../shared/bench/gen_mail.py`: 1–3 KB quoted-printable bodies, 10% with
//! a 20 KB attachment, 20% replies), with durable commits (SQLite WAL with
//! synchronous=FULL; PostgreSQL defaults):
//!
//! - pipe: one `helpdesk ingest` process per message, as an MTA runs it,
//!   sequentially and with 4 concurrent pipes;
//! - maildir: one pass over a maildir holding the whole workload (batched
//!   commits; each file moved to cur/ after the commit that holds it).
//!
//! On a fresh SQLite file and, with HELPDESK_TEST_DATABASE_URL, a fresh
//! PostgreSQL database per run.
//!
//!     cargo bench --bench ingest
//!     HELPDESK_BENCH_MAILS=5000 HELPDESK_BENCH_PIPE_MAILS=400 HELPDESK_BENCH_RUNS=3 \
//!     HELPDESK_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test cargo bench --bench ingest
//!
//! `cargo test --bench ingest` runs a quick smoke version. Prints medians.

mod common;
use common::workload;
use common::{env_usize, median};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use helpdesk::config::Config;
use helpdesk::db::Db;
use helpdesk::mail::inbound::Ingest;
use helpdesk::mail::message_id::MessageIdSigner;
use helpdesk::mail::sources::maildir;

const SECRET: &str = "bench secret";

struct Target {
    url: String,
    _drop: Option<Dropper>,
}

struct Dropper(String, String);
impl Drop for Dropper {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&self.0) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.1
            ));
        }
    }
}

fn fresh(backend: &str, admin: Option<&str>, dir: &Path, label: &str) -> Target {
    match admin {
        None => {
            let path = dir.join(format!("{label}.db"));
            let _ = std::fs::remove_file(&path);
            Target {
                url: format!("sqlite://{}", path.display()),
                _drop: None,
            }
        }
        Some(admin) => {
            let name = format!("helpdesk_bench_ingest_{}_{label}", std::process::id());
            let mut c = PgConnection::establish(admin).expect("PostgreSQL reachable");
            c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .and_then(|_| c.batch_execute(&format!("CREATE DATABASE \"{name}\"")))
                .expect("create bench database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
            let _ = backend;
            Target {
                url: format!("{base}/{name}"),
                _drop: Some(Dropper(admin.to_string(), name)),
            }
        }
    }
}

fn pipe_one(url: &str, file: &Path) {
    let raw = std::fs::read(file).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .arg("ingest")
        .env_remove("HELPDESK_CONFIG")
        .env("HELPDESK_DATABASE_URL", url)
        .env("HELPDESK_SECRET", SECRET)
        .env("HELPDESK_SUPPORT_ADDRESS", "support@bench.local")
        .env("HELPDESK_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&raw).unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "ingest of {} failed: {status:?}",
        file.display()
    );
}

/// Messages/s piping `files` through `helpdesk ingest` with `parallel` pipes.
fn pipe(url: &str, files: &[PathBuf], parallel: usize) -> f64 {
    Db::connect(url).unwrap(); // migrate first, as an installed system would be
    let start = Instant::now();
    std::thread::scope(|s| {
        for lane in 0..parallel {
            s.spawn(move || {
                for f in files.iter().skip(lane).step_by(parallel) {
                    pipe_one(url, f);
                }
            });
        }
    });
    files.len() as f64 / start.elapsed().as_secs_f64()
}

/// Messages/s of one maildir pass over `files`.
fn maildir_pass(url: &str, files: &[PathBuf], dir: &Path) -> f64 {
    let md = dir.join("Maildir");
    let _ = std::fs::remove_dir_all(&md);
    maildir::ensure(&md).unwrap();
    for (i, f) in files.iter().enumerate() {
        std::fs::copy(
            f,
            md.join("new")
                .join(format!("{:010}.M{i}.bench", 1_700_000_000 + i)),
        )
        .unwrap();
    }
    let db = Db::connect(url).unwrap();
    let config = Config::from_sources(None, |k| {
        (k == "HELPDESK_SUPPORT_ADDRESS").then(|| "support@bench.local".to_string())
    })
    .unwrap();
    let ctx = Ingest::new(
        MessageIdSigner::new(SECRET.as_bytes(), "bench.local"),
        &config,
        None,
    );
    let start = Instant::now();
    let summary = maildir::pass(&db, &ctx, &md, maildir::BATCH_MESSAGES).unwrap();
    let rate = files.len() as f64 / start.elapsed().as_secs_f64();
    assert_eq!(summary.stored, files.len(), "{summary}");
    assert_eq!(
        std::fs::read_dir(md.join("cur")).unwrap().count(),
        files.len()
    );
    rate
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let mails = if smoke {
        200
    } else {
        env_usize("HELPDESK_BENCH_MAILS", 5000)
    };
    let pipe_mails = if smoke {
        12
    } else {
        env_usize("HELPDESK_BENCH_PIPE_MAILS", 400)
    };
    let runs = if smoke {
        1
    } else {
        env_usize("HELPDESK_BENCH_RUNS", 3).max(1)
    };
    let dir = tempfile::tempdir().unwrap();
    let files = workload(&dir.path().join("gen"), mails);
    let pipe_files = &files[..pipe_mails.min(files.len())];
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    println!(
        "ingest benchmark: {} mails ({:.1} MB, gen_mail.py seed 42) for the maildir pass, {} through the pipe; {runs} run(s) each",
        files.len(),
        bytes as f64 / 1e6,
        pipe_files.len()
    );
    let mut backends: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    if let Ok(url) = std::env::var("HELPDESK_TEST_DATABASE_URL") {
        if !url.is_empty() {
            backends.push(("postgres", Some(url)));
        }
    }
    for (name, admin) in &backends {
        let mut seq = Vec::new();
        let mut par = Vec::new();
        let mut md = Vec::new();
        for run in 0..runs {
            let t = fresh(name, admin.as_deref(), dir.path(), &format!("seq{run}"));
            seq.push(pipe(&t.url, pipe_files, 1));
            let t = fresh(name, admin.as_deref(), dir.path(), &format!("par{run}"));
            par.push(pipe(&t.url, pipe_files, 4));
            let t = fresh(name, admin.as_deref(), dir.path(), &format!("md{run}"));
            md.push(maildir_pass(&t.url, &files, dir.path()));
            println!(
                "  {name} run {}: pipe {:.1}/s, 4 pipes {:.1}/s, maildir {:.0}/s",
                run + 1,
                seq[run],
                par[run],
                md[run]
            );
        }
        println!(
            "{name}: median pipe {:.1} msg/s sequential, {:.1} msg/s with 4 pipes; maildir {:.0} msg/s",
            median(seq),
            median(par),
            median(md)
        );
    }
}
