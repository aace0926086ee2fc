//! The server under concurrent load: imports N generated tickets (the web
//! benchmark's shapes, plus one ticket with 300 messages), starts the real
//! `helpdesk serve` binary on a free port, and measures on SQLite and, when
//! HELPDESK_TEST_DATABASE_URL is set, PostgreSQL:
//! - the time from start to the first `/healthz` answer;
//! - per page (agent's queue, the 300-message ticket page, the API list):
//!   the most requests per second 64 connections get (closed loop), then
//!   latency at a fixed arrival rate (open loop: each request has an
//!   intended start and its latency counts from then, so a slow answer
//!   delays no measurement: no coordinated omission), p50 and p99;
//! - the queue again while 50 mails/s arrive in a maildir `serve` watches:
//!   the most it serves so (closed loop), then p99 at the queue's open-loop
//!   rate or 80 % of that most if lower, against the p99 without mail at
//!   the same rate;
//! - the peak resident memory of `serve` (VmHWM).
//!
//! Run it with:
//!
//!     cargo bench --bench load
//!     HELPDESK_BENCH_TICKETS=1000000 \
//!     HELPDESK_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test cargo bench --bench load
//!
//! HELPDESK_BENCH_SECONDS (each phase, default 10), HELPDESK_BENCH_CONNS
//! (64), HELPDESK_BENCH_RATE (the open-loop rate, requests/s, default
//! 2000; lowered to 80 % of a page's closed-loop rate when that is less,
//! unless HELPDESK_BENCH_HOLD_RATE=1),
//! HELPDESK_BENCH_MAIL_RATE (50), HELPDESK_BENCH_BACKENDS (`sqlite` or
//! `postgres` for one of them), HELPDESK_BENCH_PAGES (the pages besides the
//! queue, comma-separated: `ticket,API` by default; empty for the queue
//! and the mixed phase alone), HELPDESK_BENCH_REPEAT (open-loop runs per
//! page, 3: the figure is their p99s' median), HELPDESK_BENCH_REUSE=DIR (keep the data:
//! SQLite file in DIR, PostgreSQL database `helpdesk_bench_load_kept`).
//! HELPDESK_BENCH_COMPARE=PATH (another build of `helpdesk`, say
//! `target/release/helpdesk` copied aside before a change) measures only
//! the closed loops of the queue and the pages asked for, on this build
//! and that one in turn, HELPDESK_BENCH_REPEAT rounds: the medians and
//! the median of each round's ratio, so a change is judged against runs
//! minutes apart rather than against another hour's machine.
//! The load client runs on the same machine as the server, at a higher
//! priority (HELPDESK_BENCH_CLIENT_NICE, default -10, 0 for none: see
//! `ClientPriority`).

mod common;
use common::{
    add_staff, env_usize, existing_postgres, fresh_postgres, generate, median, signed_in,
};

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use helpdesk::background;
use helpdesk::db::schema::{tickets, users};
use helpdesk::db::Db;
use helpdesk::import::{import_file, Options};
use helpdesk::tickets::Role;

const BIG_MESSAGES: usize = 300;
const AGENT: &str = "loadagent@example.com";

/// One more ticket with `BIG_MESSAGES` public messages, in Support.
fn big_ticket(path: &Path) -> std::io::Result<()> {
    let base = 1_767_225_600_i64;
    let events: Vec<serde_json::Value> = (0..BIG_MESSAGES - 1)
        .map(|i| {
            let at = helpdesk::time::format_ms((base + 60 * (i as i64 + 1)) * 1000);
            if i % 2 == 0 {
                serde_json::json!({"at": at, "type": "agent_reply", "agent": "agent0@example.com",
                    "body": "Could you try it once more and tell us what the display says?"})
            } else {
                serde_json::json!({"at": at, "type": "customer_message",
                    "body": "It says E-42 again, and then it restarts by itself."})
            }
        })
        .collect();
    let line = serde_json::json!({
        "external_id": "LOAD-BIG", "subject": "A long conversation", "channel": "email",
        "priority": "normal", "group": "Support",
        "requester": {"email": "long@example.com", "name": "Long Talker"},
        "created_at": helpdesk::time::format_ms(base * 1000),
        "body": "The device shows E-42.", "events": events,
    });
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    writeln!(f, "{line}")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Server {
    child: Child,
    base: String,
    started_in: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Peak resident memory so far, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

/// Starts `program serve` and waits for its first `/healthz` answer.
fn serve(program: &Path, url: &str, maildir: &Path, log: &Path) -> Server {
    let port = free_port();
    let log = std::fs::File::create(log).expect("server log");
    let started = Instant::now();
    let child = Command::new(program)
        .arg("serve")
        .env("HELPDESK_DATABASE_URL", url)
        .env("HELPDESK_LISTEN", format!("127.0.0.1:{port}"))
        .env("HELPDESK_MAILDIRS", maildir)
        .env("HELPDESK_SUPPORT_ADDRESS", "support@example.com")
        // One token makes thousands of API calls a second here.
        .env("HELPDESK_API_REQUESTS_PER_MINUTE", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start helpdesk serve");
    let base = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    let mut server = Server {
        child,
        base,
        started_in: Duration::ZERO,
    };
    loop {
        if let Some(status) = server.child.try_wait().expect("serve status") {
            panic!("serve exited with {status} before answering");
        }
        if healthz(&addr) {
            server.started_in = started.elapsed();
            return server;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "serve did not answer /healthz"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The load client's priority, raised for the client's threads while it
/// drives the server (`HELPDESK_BENCH_CLIENT_NICE`, default -10; 0 leaves
/// it alone). The client shares the two cores with `serve`: at equal
/// priority its one thread waits behind a dozen busy server threads, and
/// that wait, not the server's, lands in the measured latency (a client
/// on another machine would not have it). Raising a priority needs root
/// (CI and the bench machines run as root); without it the client runs at
/// the server's priority and the bench says so.
struct ClientPriority(Option<i32>);

impl ClientPriority {
    fn raise(nice: i32) -> ClientPriority {
        if nice == 0 {
            return ClientPriority(None);
        }
        let before = background::current_nice().unwrap_or(0);
        match background::set_current_nice(nice) {
            Ok(()) => {
                println!("  load client at nice {nice}, serve at {before}");
                ClientPriority(Some(before))
            }
            Err(e) => {
                println!("  load client at serve's priority (nice {nice} refused: {e})");
                ClientPriority(None)
            }
        }
    }
}

impl Drop for ClientPriority {
    /// Back to where it was, so the next backend's `serve` (started from
    /// this thread) does not inherit it.
    fn drop(&mut self) {
        if let Some(before) = self.0 {
            let _ = background::set_current_nice(before);
        }
    }
}

/// CPU time (user + system) a process has used so far, in seconds: from
/// /proc/PID/stat, fields 14 and 15, in clock ticks (100 per second on Linux).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces: count from its closing ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// CPU seconds used so far by this machine's PostgreSQL: every process
/// named `postgres` (the postmaster and its backends), and the children the
/// postmaster has already reaped (fields 16-17 of its stat). It runs on
/// the same two cores, so a page's cost on PostgreSQL is `serve`'s and
/// this together.
fn postgres_cpu_seconds() -> f64 {
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if !head.ends_with("(postgres") {
            continue;
        }
        let fields: Vec<f64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0.0))
            .collect();
        // After the name: state is 0, ppid 1; utime 11, stime 12, cutime
        // 13, cstime 14. Only the postmaster (whose parent is not
        // postgres) counts its reaped children, once.
        let own = fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0);
        let ppid = fields.get(1).map(|p| *p as u64).unwrap_or(0);
        let parent = std::fs::read_to_string(format!("/proc/{ppid}/comm")).unwrap_or_default();
        let reaped = if parent.trim() == "postgres" {
            0.0
        } else {
            fields.get(13).unwrap_or(&0.0) + fields.get(14).unwrap_or(&0.0)
        };
        total += own + reaped;
    }
    total / 100.0
}

/// The machine's CPU time so far, in clock ticks: (stolen by the
/// hypervisor, all), from the first line of /proc/stat. Stolen time is the
/// other tenants' share of a shared machine: a phase that lost much of it
/// measured the neighbours as much as us.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is
    // already inside user).
    let all = fields.iter().take(8).sum();
    (fields.get(7).copied().unwrap_or(0), all)
}

/// One blocking `GET /healthz`: true on a 200.
fn healthz(addr: &str) -> bool {
    use std::io::Read;
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let req = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// What one phase measured.
struct Run {
    sent: u64,
    errors: u64,
    seconds: f64,
    /// Sorted latencies in microseconds.
    micros: Vec<u64>,
    /// CPU seconds `serve` and this load client used during the phase.
    server_cpu: f64,
    client_cpu: f64,
    /// CPU seconds of PostgreSQL's processes, when the target uses it.
    postgres_cpu: Option<f64>,
    /// The share of the machine's CPU time stolen during the phase.
    stolen: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.sent as f64 / self.seconds
    }
    fn quantile_ms(&self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.micros.len() as f64).ceil() as usize).clamp(1, self.micros.len());
        self.micros[rank - 1] as f64 / 1000.0
    }
    fn line(&self) -> String {
        let per_request = |cpu: f64| cpu * 1000.0 / self.sent.max(1) as f64;
        let postgres = self
            .postgres_cpu
            .map(|c| format!(", postgres {:.2} ms", per_request(c)))
            .unwrap_or_default();
        format!(
            "{:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, {} errors of {}; CPU per request: serve {:.2} ms{postgres}, load client {:.2} ms; {:.1} % stolen",
            self.rate(),
            self.quantile_ms(0.5),
            self.quantile_ms(0.99),
            self.errors,
            self.sent,
            per_request(self.server_cpu),
            per_request(self.client_cpu),
            self.stolen * 100.0,
        )
    }
}

#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    url: String,
    bearer: Option<String>,
    must_contain: &'static str,
    /// `serve`'s process id, to read its CPU time.
    server_pid: String,
    /// Whether `serve` runs on this machine's PostgreSQL (its CPU counts).
    postgres: bool,
}

impl Target {
    /// One request: Err says why it failed (status, transport error, or
    /// a page without its marker).
    async fn hit(&self) -> Result<(), String> {
        let mut r = self.client.get(&self.url);
        if let Some(t) = &self.bearer {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.map_err(|e| {
            // reqwest's own text hides the cause (reset, refused, timeout).
            let mut why = format!("request: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                why.push_str(&format!(": {c}"));
                cause = c.source();
            }
            why
        })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| format!("body: {e}"))?;
        if status != 200 {
            let start: String = body.chars().take(120).collect();
            return Err(format!("status {status}: {start}"));
        }
        if !body.contains(self.must_contain) {
            return Err(format!("no {:?} in the page", self.must_contain));
        }
        Ok(())
    }
}

/// `conns` connections; with `rate`, request i is due at start + i/rate and
/// its latency counts from then (open loop); without, each connection sends
/// its next request as soon as the last one is answered (closed loop).
async fn drive(target: &Target, conns: usize, rate: Option<f64>, seconds: f64) -> Run {
    let (server_cpu, client_cpu) = (cpu_seconds(&target.server_pid), cpu_seconds("self"));
    let postgres_cpu = target.postgres.then(postgres_cpu_seconds);
    let (stolen, all) = machine_ticks();
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let micros = Arc::new(Mutex::new(Vec::new()));
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let end = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (target, next, errors, micros) =
            (target.clone(), next.clone(), errors.clone(), micros.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let due = match rate {
                    Some(r) => start + Duration::from_secs_f64(i as f64 / r),
                    None => tokio::time::Instant::now().max(start),
                };
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due).await;
                let outcome = target.hit().await;
                mine.push(due.elapsed().as_micros() as u64);
                if let Err(why) = outcome {
                    if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                        println!("  failed request: {why}");
                    }
                }
            }
            micros.lock().unwrap().extend(mine);
        }));
    }
    for t in tasks {
        t.await.expect("load task");
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut micros = std::mem::take(&mut *micros.lock().unwrap());
    micros.sort_unstable();
    Run {
        sent: micros.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        seconds,
        micros,
        server_cpu: cpu_seconds(&target.server_pid) - server_cpu,
        client_cpu: cpu_seconds("self") - client_cpu,
        postgres_cpu: postgres_cpu.map(|before| postgres_cpu_seconds() - before),
        stolen: {
            let (stolen_now, all_now) = machine_ticks();
            (stolen_now - stolen) as f64 / (all_now - all).max(1) as f64
        },
    }
}

/// Drops `rate` mails per second into `maildir`'s new/ (written in tmp/,
/// then renamed, as an MTA does) until `stop`; how many it dropped.
fn feed_mail(files: Vec<PathBuf>, maildir: PathBuf, rate: f64, stop: Arc<AtomicBool>) -> usize {
    let started = Instant::now();
    let mut n = 0;
    for f in files {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let due = started + Duration::from_secs_f64(n as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let name = format!("{}.{n}.load", started.elapsed().as_nanos());
        let tmp = maildir.join("tmp").join(&name);
        std::fs::copy(&f, &tmp).expect("copy mail");
        std::fs::rename(&tmp, maildir.join("new").join(&name)).expect("deliver mail");
        n += 1;
    }
    n
}

/// `s.repeat` open-loop runs of `target` at `rate`, each printed under
/// `heading`: the median of their p99s.
async fn open_loops(heading: &str, target: &Target, s: &Settings, rate: f64) -> f64 {
    let mut p99s = Vec::new();
    for run in 1..=s.repeat {
        let open = drive(target, s.conns, Some(rate), s.seconds).await;
        println!("{heading}, run {run}: {}", open.line());
        p99s.push(open.quantile_ms(0.99));
    }
    let p99 = median(p99s);
    println!("{heading}: median p99 {p99:.1} ms of {} runs", s.repeat);
    p99
}

/// `drive` while `files` arrive in `maildir` at the mail rate: the run and
/// how many mails were delivered.
async fn with_mail(
    target: &Target,
    s: &Settings,
    rate: Option<f64>,
    maildir: &Path,
    files: Vec<PathBuf>,
) -> (Run, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (stop, maildir, mail_rate) = (stop.clone(), maildir.to_path_buf(), s.mail_rate);
        std::thread::spawn(move || feed_mail(files, maildir, mail_rate, stop))
    };
    let run = drive(target, s.conns, rate, s.seconds).await;
    stop.store(true, Ordering::Relaxed);
    (run, feeder.join().expect("mail feeder"))
}

struct Settings {
    seconds: f64,
    conns: usize,
    rate: f64,
    /// Measure at `rate` even when it is above 80 % of the closed loop's
    /// most (HELPDESK_BENCH_HOLD_RATE=1): a target stated at a rate is
    /// judged at that rate, however close to capacity it is.
    hold_rate: bool,
    mail_rate: f64,
    /// Open-loop runs per page (their p99's median is the figure).
    repeat: usize,
    /// See `ClientPriority`.
    client_nice: i32,
    /// Label prefixes of the pages measured besides the queue.
    pages: Vec<String>,
    /// Another build to compare this one with (`compare`).
    compare: Option<PathBuf>,
}

/// A nice value from the environment, -20 to 19 (the default when unset).
fn env_i32(key: &str, default: i32) -> i32 {
    match std::env::var(key) {
        Ok(v) => v
            .trim()
            .parse::<i32>()
            .unwrap_or_else(|_| panic!("{key}={v:?} is not a nice value"))
            .clamp(-20, 19),
        Err(_) => default,
    }
}

fn bench_backend(name: &str, url: &str, tickets: usize, file: &Path, dir: &Path, s: &Settings) {
    let db = Db::connect(url).expect("bench database");
    let stored: i64 = db.query(|c| tickets::table.count().get_result(c)).unwrap();
    let token = if stored == 0 {
        let opts = Options {
            batch_size: 1000,
            progress: false,
            writers: None,
        };
        let summary = import_file(&db, file, &opts, |n, m| panic!("line {n}: {m}")).unwrap();
        assert_eq!(summary.imported, tickets + 1);
        println!("  {name}: {summary}");
        common::settle(&db, name);
        add_staff(&db, AGENT, Role::Agent, &["Support"])
    } else {
        println!("  {name}: reusing {stored} tickets");
        db.write(|c| -> Result<String, helpdesk::db::DbError> {
            let id: i64 = users::table
                .filter(users::email.eq(AGENT))
                .select(users::id)
                .first(c)
                .map_err(helpdesk::db::DbError::from)?;
            helpdesk::auth::tokens::create(c, id, "bench", helpdesk::time::now_ms())
                .map_err(helpdesk::db::DbError::from)
        })
        .expect("token for the bench agent")
    };
    let big: i64 = db
        .query(|c| {
            tickets::table
                .filter(tickets::external_id.eq("LOAD-BIG"))
                .select(tickets::id)
                .first(c)
        })
        .unwrap();
    drop(db);

    let maildir = dir.join(format!("maildir-{name}"));
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let this_build = Path::new(env!("CARGO_BIN_EXE_helpdesk"));
    let server = serve(
        this_build,
        url,
        &maildir,
        &dir.join(format!("serve-{name}.log")),
    );
    println!(
        "{name} start: first /healthz answer after {:.0} ms",
        server.started_in.as_secs_f64() * 1000.0
    );
    if let Some(other) = &s.compare {
        let log = dir.join(format!("serve-{name}-other.log"));
        let other = serve(other, url, &maildir, &log);
        compare(name, [&server, &other], big, s);
        return;
    }
    let mails = common::workload(
        &dir.join(format!("mail-{name}")),
        ((s.mail_rate * s.seconds * 1.2) as usize + 10) * (s.repeat + 1),
    );

    // The client's threads start from here: they inherit its priority.
    let client_nice = ClientPriority::raise(s.client_nice);
    let rt = client_runtime();
    rt.block_on(async {
        let browser = signed_in(&server.base, AGENT).await;
        let api = reqwest::Client::builder()
            .pool_idle_timeout(common::IDLE_CONNECTION)
            .build()
            .expect("client");
        let pid = server.child.id().to_string();
        let pages = [
            (
                "queue",
                Target {
                    client: browser.clone(),
                    url: format!("{}/tickets", server.base),
                    bearer: None,
                    must_contain: "</table>",
                    server_pid: pid.clone(),
                    postgres: name == "postgres",
                },
            ),
            (
                "ticket page (300 messages)",
                Target {
                    client: browser.clone(),
                    url: format!("{}/tickets/{big}", server.base),
                    bearer: None,
                    must_contain: "A long conversation",
                    server_pid: pid.clone(),
                    postgres: name == "postgres",
                },
            ),
            (
                "API list",
                Target {
                    client: api,
                    url: format!("{}/api/v1/tickets", server.base),
                    bearer: Some(token.clone()),
                    must_contain: "\"tickets\"",
                    server_pid: pid.clone(),
                    postgres: name == "postgres",
                },
            ),
        ];
        let mut queue_rate = s.rate;
        let mut queue_idle_p99 = f64::NAN;
        for (label, target) in &pages {
            // The queue always runs: the mixed phase compares with it.
            if *label != "queue" && !s.pages.iter().any(|p| label.starts_with(p.as_str())) {
                continue;
            }
            if let Err(why) = target.hit().await {
                panic!("{label} answers 200 with its content: {why}");
            }
            let most = drive(target, s.conns, None, s.seconds).await;
            println!(
                "{name} {label}, closed loop, {} connections: {}",
                s.conns,
                most.line()
            );
            let rate = if s.hold_rate {
                s.rate
            } else {
                s.rate.min(most.rate() * 0.8).max(1.0)
            };
            let p99 = open_loops(&format!("{name} {label}, open loop at {rate:.0} req/s"), target, s, rate).await;
            if *label == "queue" {
                queue_rate = rate;
                queue_idle_p99 = p99;
            }
        }
        // The queue while mail arrives, at a rate the machine can serve
        // with the mail's own work added: 80 % of the most it serves while
        // mail arrives (a closed loop), or the idle phase's rate if that
        // is lower. Past capacity an open loop measures only its backlog
        // (on PostgreSQL the mail took a sixth of the queue's most).
        let queue = &pages[0].1;
        let mut mails = mails.into_iter();
        let per_run = mails.len() / (s.repeat + 1);
        let mut take = || -> Vec<PathBuf> { mails.by_ref().take(per_run).collect() };
        let (most, fed) = with_mail(queue, s, None, &maildir, take()).await;
        println!(
            "{name} queue, closed loop with {} mails/s arriving ({fed} mails): {}",
            s.mail_rate,
            most.line()
        );
        let mixed_rate = queue_rate.min(most.rate() * 0.8).max(1.0);
        let idle_p99 = if mixed_rate < queue_rate * 0.98 {
            // The idle figure at the same rate.
            let heading = format!("{name} queue, open loop at {mixed_rate:.0} req/s, no mail");
            open_loops(&heading, queue, s, mixed_rate).await
        } else {
            queue_idle_p99
        };
        let mut p99s = Vec::new();
        for run in 1..=s.repeat {
            let (mixed, fed) = with_mail(queue, s, Some(mixed_rate), &maildir, take()).await;
            println!(
                "{name} queue at {mixed_rate:.0} req/s with {} mails/s arriving ({fed} mails), run {run}: {}",
                s.mail_rate,
                mixed.line(),
            );
            p99s.push(mixed.quantile_ms(0.99));
        }
        let p99 = median(p99s);
        println!(
            "{name} queue with mail arriving: median p99 {p99:.1} ms of {} runs, {:.2}x the idle figure at {mixed_rate:.0} req/s",
            s.repeat,
            p99 / idle_p99
        );
    });
    drop(rt);
    drop(client_nice);
    // Give the watcher a moment to finish its batch, then check nothing
    // was left behind.
    std::thread::sleep(Duration::from_secs(2));
    let left = std::fs::read_dir(maildir.join("new"))
        .map(|d| d.count())
        .unwrap_or(0);
    println!(
        "{name} serve peak RSS {:.0} MiB; {left} mails still in new/",
        server.peak_rss_mib()
    );
    // A failed request counts as an error above; the server says why.
    let log = std::fs::read_to_string(dir.join(format!("serve-{name}.log"))).unwrap_or_default();
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        // Start-up advice (no admin yet, no base URL) is not a failure.
        .filter(|l| !l.contains("cli::commands"))
        .collect();
    if !complaints.is_empty() {
        println!(
            "{name} serve logged {} warnings or errors, the first:",
            complaints.len()
        );
        for l in complaints.iter().take(5) {
            println!("  {l}");
        }
    }
}

/// The load client's runtime: one worker thread (the cores are the server's).
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// This build (`servers[0]`) against another (`servers[1]`): the closed
/// loop of each page on one, then the other, in alternating order, for
/// `s.repeat` rounds; then the medians of each and the median of each
/// round's ratio of req/s.
fn compare(name: &str, servers: [&Server; 2], big: i64, s: &Settings) {
    let _client_nice = ClientPriority::raise(s.client_nice);
    let rt = client_runtime();
    rt.block_on(async {
        let mut pages = vec![("queue", "/tickets".to_string(), "</table>")];
        if s.pages.iter().any(|p| "ticket page".starts_with(p.as_str())) {
            pages.push(("ticket page", format!("/tickets/{big}"), "A long conversation"));
        }
        let mut targets = Vec::new();
        for server in servers {
            let client = signed_in(&server.base, AGENT).await;
            targets.push(
                pages
                    .iter()
                    .map(|(_, path, marker)| Target {
                        client: client.clone(),
                        url: format!("{}{path}", server.base),
                        bearer: None,
                        must_contain: marker,
                        server_pid: server.child.id().to_string(),
                        postgres: name == "postgres",
                    })
                    .collect::<Vec<_>>(),
            );
        }
        let builds = ["this build", "the other build"];
        for (i, (label, _, _)) in pages.iter().enumerate() {
            // Per build: req/s, serve's and PostgreSQL's CPU ms per request.
            let mut figures: [Vec<(f64, f64, f64)>; 2] = [Vec::new(), Vec::new()];
            for round in 0..s.repeat {
                for b in [round % 2, 1 - round % 2] {
                    let t = &targets[b][i];
                    if let Err(why) = t.hit().await {
                        panic!("{label} on {}: {why}", builds[b]);
                    }
                    let run = drive(t, s.conns, None, s.seconds).await;
                    println!(
                        "{name} {label}, closed loop, {}, round {}: {}",
                        builds[b],
                        round + 1,
                        run.line()
                    );
                    let per = |cpu: f64| cpu * 1000.0 / run.sent.max(1) as f64;
                    figures[b].push((
                        run.rate(),
                        per(run.server_cpu),
                        run.postgres_cpu.map_or(0.0, per),
                    ));
                }
            }
            let medians = |b: usize| {
                let of = |f: fn(&(f64, f64, f64)) -> f64| median(figures[b].iter().map(f).collect());
                (of(|f| f.0), of(|f| f.1), of(|f| f.2))
            };
            let (this, other) = (medians(0), medians(1));
            // Each round's two runs are minutes apart at most: their ratio
            // is steadier than the ratio of medians when the machine drifts.
            let ratios = figures[0].iter().zip(&figures[1]).map(|(a, b)| a.0 / b.0).collect();
            let cpu = |f: (f64, f64, f64)| match name {
                "postgres" => format!("serve {:.2} ms + postgres {:.2} ms per request", f.1, f.2),
                _ => format!("serve {:.2} ms per request", f.1),
            };
            println!(
                "{name} {label}, medians of {} rounds: this build {:.0} req/s ({}), the other {:.0} req/s ({}); \
                 each round's ratio of req/s, median: {:.2}x",
                s.repeat, this.0, cpu(this), other.0, cpu(other), median(ratios)
            );
        }
    });
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --bench load` does not:
    // a tiny smoke version unless asked for a real one.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let tickets = if smoke {
        300
    } else {
        env_usize("HELPDESK_BENCH_TICKETS", 1_000_000)
    };
    let settings = Settings {
        seconds: if smoke {
            0.5
        } else {
            env_usize("HELPDESK_BENCH_SECONDS", 10) as f64
        },
        conns: if smoke {
            4
        } else {
            env_usize("HELPDESK_BENCH_CONNS", 64)
        },
        rate: if smoke {
            50.0
        } else {
            env_usize("HELPDESK_BENCH_RATE", 2000) as f64
        },
        hold_rate: !smoke && std::env::var("HELPDESK_BENCH_HOLD_RATE").is_ok_and(|v| v == "1"),
        mail_rate: if smoke {
            10.0
        } else {
            env_usize("HELPDESK_BENCH_MAIL_RATE", 50) as f64
        },
        client_nice: env_i32("HELPDESK_BENCH_CLIENT_NICE", -10),
        pages: std::env::var("HELPDESK_BENCH_PAGES")
            .unwrap_or_else(|_| "ticket,API".into())
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        repeat: if smoke {
            1
        } else {
            env_usize("HELPDESK_BENCH_REPEAT", 3).max(1)
        },
        compare: std::env::var_os("HELPDESK_BENCH_COMPARE")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
    };
    if let Some(p) = &settings.compare {
        assert!(
            p.is_file(),
            "HELPDESK_BENCH_COMPARE={}: no such file",
            p.display()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tickets.jsonl");
    generate(&file, tickets).unwrap();
    big_ticket(&file).unwrap();
    println!(
        "load benchmark: {tickets} tickets + one of {BIG_MESSAGES} messages; {} s per phase, {} connections",
        settings.seconds, settings.conns
    );
    let reuse = std::env::var_os("HELPDESK_BENCH_REUSE").map(PathBuf::from);
    let sqlite = match &reuse {
        Some(d) => format!("sqlite://{}", d.join("load.db").display()),
        None => format!("sqlite://{}", dir.path().join("load.db").display()),
    };
    // HELPDESK_BENCH_BACKENDS=postgres (or sqlite) measures one of them.
    let backends = std::env::var("HELPDESK_BENCH_BACKENDS").unwrap_or_default();
    let wanted = |b: &str| backends.is_empty() || backends.split(',').any(|x| x.trim() == b);
    if wanted("sqlite") {
        bench_backend("sqlite", &sqlite, tickets, &file, dir.path(), &settings);
    }
    if let Some(admin) = std::env::var("HELPDESK_TEST_DATABASE_URL")
        .ok()
        .filter(|_| wanted("postgres"))
    {
        let (url, _drop) = match &reuse {
            Some(_) => (existing_postgres(&admin, "helpdesk_bench_load_kept"), None),
            None => {
                let (u, d) = fresh_postgres(&admin, "helpdesk_bench_load");
                (u, Some(d))
            }
        };
        bench_backend("postgres", &url, tickets, &file, dir.path(), &settings);
    }
}
