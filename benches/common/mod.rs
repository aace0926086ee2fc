//! Helpers the benchmarks share (`mod common;` in each; a directory, so
//! cargo does not take it for a benchmark of its own).

#![allow(dead_code)] // each benchmark uses a different subset

use std::io::{BufWriter, Write};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use helpdesk::auth::{password, tokens};
use helpdesk::db::Db;
use helpdesk::people::{self, EmailAddress, NewStaff};
use helpdesk::tickets::Role;
use helpdesk::time::now_ms;

pub fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median of the samples (the lower middle one for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[(v.len() - 1) / 2]
}

/// Drops its PostgreSQL database when dropped, unless HELPDESK_BENCH_KEEP
/// is set (to look at it with EXPLAIN afterwards).
pub struct PgDropper(String, String);

impl Drop for PgDropper {
    fn drop(&mut self) {
        if std::env::var_os("HELPDESK_BENCH_KEEP").is_some() {
            return;
        }
        if let Ok(mut c) = PgConnection::establish(&self.0) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.1
            ));
        }
    }
}

/// A new, empty PostgreSQL database named `{prefix}_{pid}` beside the one
/// `admin_url` names: its URL, and the guard that drops it.
pub fn fresh_postgres(admin_url: &str, prefix: &str) -> (String, PgDropper) {
    let name = format!("{prefix}_{}", std::process::id());
    let mut c = PgConnection::establish(admin_url).expect("PostgreSQL reachable");
    c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .and_then(|_| c.batch_execute(&format!("CREATE DATABASE \"{name}\"")))
        .expect("create bench database");
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    (
        format!("{base}/{name}"),
        PgDropper(admin_url.to_string(), name),
    )
}

/// The PostgreSQL database `name` beside the one `admin_url` names,
/// created if missing and kept: its URL.
pub fn existing_postgres(admin_url: &str, name: &str) -> String {
    let mut c = PgConnection::establish(admin_url).expect("PostgreSQL reachable");
    let _ = c.batch_execute(&format!("CREATE DATABASE \"{name}\""));
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    format!("{base}/{name}")
}

// The web benchmarks' data and sign-in (web.rs, load.rs).

pub const PASSWORD: &str = "a long bench password";
/// A word in one subject out of ten (and in no message body).
pub const SEARCH_WORD: &str = "scanner";
pub const DEVICES: [&str; 10] = [
    "printer", "laptop", "monitor", "VPN", "keyboard", "scanner", "phone", "badge", "mailbox",
    "Wi-Fi",
];

pub fn iso(base: i64, offset_s: i64) -> String {
    helpdesk::time::format_ms((base + offset_s) * 1000)
}

/// Five history events per ticket; the variant sets the final status
/// (resolved, pending, open, closed, or still new and escalated).
pub fn history(i: i64, created: i64, agent: &str) -> serde_json::Value {
    let at = |s| iso(created, s);
    let reply = |s, body: &str| serde_json::json!({"at": at(s), "type": "agent_reply", "agent": agent, "body": body});
    let customer =
        |s, body: &str| serde_json::json!({"at": at(s), "type": "customer_message", "body": body});
    let status = |s, to: &str| serde_json::json!({"at": at(s), "type": "status_changed", "to": to});
    let events = match i % 5 {
        0 => vec![
            reply(1800, "Could you send the model number?"),
            customer(3600, "It is an LX-200."),
            reply(5400, "A firmware update fixes this; done remotely."),
            status(5460, "resolved"),
            serde_json::json!({"at": at(90000), "type": "csat_sent"}),
        ],
        1 => vec![
            reply(1800, "Could you send the model number?"),
            customer(3600, "It is an LX-200."),
            serde_json::json!({"at": at(4000), "type": "note", "body": "Vendor ticket opened."}),
            reply(5400, "We asked the vendor; we will write again."),
            status(5460, "pending"),
        ],
        2 => vec![
            reply(1800, "Could you send the model number?"),
            customer(3600, "It is an LX-200."),
            reply(5400, "Please try the new driver."),
            customer(7200, "Still the same."),
            status(7260, "open"),
        ],
        3 => vec![
            reply(1800, "Fixed remotely."),
            status(1860, "resolved"),
            serde_json::json!({"at": at(90000), "type": "csat_sent"}),
            serde_json::json!({"at": at(91000), "type": "csat_received", "rating": 5}),
            status(700000, "closed"),
        ],
        _ => vec![
            serde_json::json!({"at": at(600), "type": "note", "body": "Looks like the known outage."}),
            serde_json::json!({"at": at(700), "type": "priority_changed", "to": "high"}),
            serde_json::json!({"at": at(800), "type": "escalated", "reason": "outage"}),
            serde_json::json!({"at": at(900), "type": "assigned", "agent": agent}),
            customer(3600, "Any news?"),
        ],
    };
    serde_json::Value::Array(events)
}

pub fn generate(path: &std::path::Path, tickets: usize) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let base = 1_767_225_600; // 2026-01-01T00:00:00Z
    let groups = ["Support", "Billing", "Sales", "Tier 2"];
    let priorities = ["low", "normal", "normal", "high", "urgent"];
    for i in 0..tickets as i64 {
        let created = base + i * 37;
        let agent = format!("agent{}@example.com", i % 20);
        let device = DEVICES[((i / 7) % 10) as usize];
        let line = serde_json::json!({
            "external_id": format!("W-{i}"),
            "subject": format!("Problem number {i} with the {device}"),
            "channel": if i % 3 == 0 { "web" } else { "email" },
            "priority": priorities[(i % 7 % 5) as usize],
            "group": groups[(i % 4) as usize],
            "requester": {"email": format!("customer{}@example.com", i % 5000), "name": format!("Customer {}", i % 5000)},
            "created_at": iso(created, 0),
            "body": "The device on the third floor fails every morning and then works again after lunch.",
            "events": history(i, created, &agent),
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// The value at quantile `q` (nearest rank) of sorted samples.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A staff user with a login (PASSWORD) in `groups`; an API token for them.
pub fn add_staff(db: &Db, email: &str, role: Role, groups: &[&str]) -> String {
    let hash = password::hash(PASSWORD).expect("hash");
    db.write(|c| -> Result<String, people::PeopleError> {
        let email = EmailAddress::parse(email).expect("email");
        let user = people::create_user(
            c,
            NewStaff {
                email: &email,
                name: email.local_part(),
                role,
                password_hash: Some(hash),
            },
            now_ms(),
        )?;
        for g in groups {
            let (group, _) = people::find_or_create_group(c, g, now_ms())?;
            people::add_member(c, group.id, user.id)?;
        }
        Ok(tokens::create(c, user.id, "bench", now_ms())?)
    })
    .expect("create staff user")
}

pub fn csrf_of(html: &str) -> Option<String> {
    let key = "name=\"csrf\" value=\"";
    let i = html.find(key)? + key.len();
    let end = html[i..].find('"')?;
    Some(html[i..i + end].to_string())
}

/// How long a load client keeps an idle connection: under `serve`'s
/// keep-alive (actix's 5 s), or a request sent on a connection the server
/// is closing that moment fails ("connection closed before message
/// completed", seen between load phases), which says nothing of the server.
pub const IDLE_CONNECTION: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn signed_in(base: &str, email: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(IDLE_CONNECTION)
        .build()
        .expect("client");
    let login = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login")
        .text()
        .await
        .expect("login page");
    let csrf = csrf_of(&login).expect("the login page has a CSRF token");
    let r = client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
            ("next", "/tickets"),
        ])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(r.status().as_u16(), 303, "sign-in as {email} failed");
    client
}

/// The workload, generated once: the .eml files of one sequential batch.
pub fn workload(dir: &std::path::Path, n: usize) -> Vec<std::path::PathBuf> {
    let script =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen_mail.py");
    assert!(
        script.is_file(),
        "{} is missing: the benchmark uses the shared workload",
        script.display()
    );
    let status = std::process::Command::new("python3")
        .arg(&script)
        .args(["--out", dir.to_str().unwrap(), "--first-id", "1"])
        .args([
            "--plan",
            &format!("seq:{n}"),
            "--seed",
            "42",
            "--tag",
            "bench",
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs gen_mail.py");
    assert!(status.success());
    let b1 = dir.join("b1");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&b1)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

/// After a bulk import into PostgreSQL: `VACUUM ANALYZE`, what autovacuum
/// does on a live system in its own time. Without it the first phases run
/// beside autovacuum working through a million fresh rows, and index-only
/// scans lack the visibility map (the 12-06 evening run: the mixed phase
/// at 32.9× idle before, 0.82× after). Nothing to do on SQLite.
pub fn settle(db: &Db, name: &str) {
    if db.backend() != helpdesk::db::Backend::Postgres {
        return;
    }
    let started = std::time::Instant::now();
    db.query(|c| c.batch_execute("VACUUM ANALYZE"))
        .expect("VACUUM ANALYZE after the import");
    println!(
        "  {name}: VACUUM ANALYZE in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
