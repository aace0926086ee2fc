//! Faults under a running `serve`: its PostgreSQL stopped in the middle of
//! the run (a private server of our own, so the suite's shared one is
//! untouched), and a full disk under SQLite (a small tmpfs). Meanwhile
//! pages and the API answer 503 with a clear message, `helpdesk ingest`
//! exits 75 (the MTA keeps the mail), the maildir and IMAP mail stays where
//! it is; once the store is back everything recovers and every mail is
//! stored exactly once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use helpdesk::db::schema::{raw_mails, tickets};
use helpdesk::db::Db;
use helpdesk::tickets::Role;

use crate::dovecot::{free_port, passwd_ids, Dovecot};
use crate::helpers::staff;
use crate::ingest::{mail, SUPPORT};

/// Waits for `ok`; on a timeout fails with serve's log, if there is one.
fn wait_until(what: &str, limit: Duration, log: Option<&Path>, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > limit {
            let log = log.and_then(|p| std::fs::read_to_string(p).ok());
            panic!("{what}: not within {limit:?}\n{}", log.unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("{what}: {:?}", start.elapsed());
}

/// A PostgreSQL server of this test's own, on a free port, run by the
/// `postgres` user (it refuses to run as root) from Debian's binaries.
struct PrivatePg {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePg {
    fn start() -> PrivatePg {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries in /usr/lib/postgresql (Debian's postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("pg_ctl").is_file())
            .max()
            .expect("pg_ctl in /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().unwrap();
        let (uid, gid) = passwd_ids("postgres").expect("a postgres user (Debian's postgresql)");
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        let pg = PrivatePg {
            bin,
            dir,
            port: free_port(),
        };
        pg.as_postgres(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-A",
                "trust",
                "-U",
                "root",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        pg.up();
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn as_postgres(&self, program: &str, args: &[&str]) {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("runuser");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn up(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.as_postgres(
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    /// Stops it the hard way: every connection is cut at once.
    fn down(&self) {
        self.as_postgres(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://root@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

/// `helpdesk serve` against `url`, watching `maildir` (and `imap`).
struct Serve {
    child: Child,
    port: u16,
    http: reqwest::blocking::Client,
}

impl Serve {
    fn start(dir: &Path, url: &str, maildir: &Path, imap: Option<&str>) -> Serve {
        Serve::start_on(free_port(), dir, url, maildir, imap, None)
    }

    fn start_on(
        port: u16,
        dir: &Path,
        url: &str,
        maildir: &Path,
        imap: Option<&str>,
        smtp: Option<&str>,
    ) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_helpdesk"));
        cmd.arg("serve")
            .current_dir(dir)
            .env_remove("HELPDESK_CONFIG")
            .env("HELPDESK_DATABASE_URL", url)
            .env("HELPDESK_LISTEN", format!("127.0.0.1:{port}"))
            .env("HELPDESK_SUPPORT_ADDRESS", SUPPORT)
            .env("HELPDESK_SECRET", "faults test secret")
            .env("HELPDESK_MAILDIRS", maildir)
            .env("HELPDESK_IMAP_POLL_SECONDS", "1")
            .env("HELPDESK_OUTBOX_RECLAIM_SECONDS", "35")
            .env("HELPDESK_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("serve.log"))
                    .unwrap(),
            );
        match imap {
            Some(u) => cmd.env("HELPDESK_IMAP_URLS", u),
            None => cmd.env_remove("HELPDESK_IMAP_URLS"),
        };
        match smtp {
            Some(u) => cmd.env("HELPDESK_SMTP_URL", u),
            None => cmd.env_remove("HELPDESK_SMTP_URL"),
        };
        let s = Serve {
            child: cmd.spawn().unwrap(),
            port,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        };
        wait_until(
            "serve answers /healthz",
            Duration::from_secs(30),
            Some(&dir.join("serve.log")),
            || s.get("/healthz", None).0 == 200,
        );
        s
    }

    fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut r = self
            .http
            .get(format!("http://127.0.0.1:{}{path}", self.port));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        match r.send() {
            Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn maildir(root: &Path) -> PathBuf {
    let md = root.join("Maildir");
    for d in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(md.join(d)).unwrap();
    }
    md
}

fn deliver(md: &Path, n: usize, raw: &[u8]) {
    let name = format!("{n}.M{n}P{}.faults", std::process::id());
    std::fs::write(md.join("tmp").join(&name), raw).unwrap();
    std::fs::rename(md.join("tmp").join(&name), md.join("new").join(&name)).unwrap();
}

fn in_new(md: &Path) -> usize {
    std::fs::read_dir(md.join("new")).unwrap().count()
}

fn customer_mail(n: usize) -> Vec<u8> {
    mail(
        &format!("customer{n}@example.com"),
        &format!("Fault test request {n}"),
        &[&format!("Message-ID: <fault-{n}@example.com>")],
        "Please help.",
    )
}

fn ingest(dir: &Path, url: &str, raw: &[u8]) -> (i32, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .arg("ingest")
        .current_dir(dir)
        .env_remove("HELPDESK_CONFIG")
        .env_remove("HELPDESK_MAILDIRS")
        .env("HELPDESK_DATABASE_URL", url)
        .env("HELPDESK_SUPPORT_ADDRESS", SUPPORT)
        .env("HELPDESK_SECRET", "faults test secret")
        .env("HELPDESK_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(raw);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (raw mails, tickets); (-1, -1) while the store does not answer (a
/// pooled connection the server dropped fails once, then is replaced).
fn counts(db: &Db) -> (i64, i64) {
    db.query(|c| {
        Ok((
            raw_mails::table.count().get_result(c)?,
            tickets::table.count().get_result(c)?,
        ))
    })
    .unwrap_or((-1, -1))
}

#[test]
fn postgresql_stopped_mid_run_then_back_loses_and_duplicates_nothing() {
    if crate::helpers::postgres_url().is_some() {
        return; // its own servers, whatever the pass: run once, in the SQLite pass
    }
    let pg = PrivatePg::start();
    let url = pg.url();
    let root = tempfile::tempdir().unwrap();
    let md = maildir(root.path());
    let imap = Dovecot::start();
    let imap_url = imap.url("support", "INBOX", "");
    let db = Db::connect(&url).unwrap();
    let (_, token) = staff(&db, "agent@example.com", Role::Agent, &["Support"]);
    let mut serve = Serve::start(root.path(), &url, &md, Some(&imap_url));

    // A normal start: mail from both sources is stored.
    for n in 0..3 {
        deliver(&md, n, &customer_mail(n));
    }
    imap.deliver("support", &customer_mail(100), false);
    wait_until(
        "the first mails are stored",
        Duration::from_secs(30),
        Some(&root.path().join("serve.log")),
        || counts(&db) == (4, 4) && in_new(&md) == 0,
    );
    assert_eq!(serve.get("/api/v1/tickets", Some(&token)).0, 200);

    pg.down();
    // Pages, the API and the health check say the store is unavailable.
    let (status, body) = serve.get("/healthz", None);
    assert_eq!(status, 503, "{body}");
    wait_until(
        "the API answers 503",
        Duration::from_secs(15),
        Some(&root.path().join("serve.log")),
        || serve.get("/api/v1/tickets", Some(&token)).0 == 503,
    );
    let (_, body) = serve.get("/api/v1/tickets", Some(&token));
    assert!(body.contains("unavailable"), "{body}");
    // A page for a signed-in browser (its session is looked up).
    let r = serve
        .http
        .get(format!("http://127.0.0.1:{}/tickets", serve.port))
        .header("cookie", "hd_session=some-session")
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let page = r.text().unwrap();
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("database is unavailable"), "{page}");
    // New mail waits where it is; the MTA's pipe is told to retry.
    for n in 3..6 {
        deliver(&md, n, &customer_mail(n));
    }
    imap.deliver("support", &customer_mail(101), false);
    let (code, err) = ingest(root.path(), &url, &customer_mail(200));
    assert_eq!(code, 75, "{err}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        in_new(&md),
        3,
        "maildir mail stays in new/ while the store is down"
    );
    assert!(serve.alive(), "serve keeps running without its database");

    pg.up();
    let (code, err) = ingest(root.path(), &url, &customer_mail(200));
    assert_eq!(code, 0, "the MTA's retry: {err}");
    wait_until(
        "everything is stored once the store is back",
        Duration::from_secs(60),
        Some(&root.path().join("serve.log")),
        || counts(&db) == (9, 9) && in_new(&md) == 0,
    );
    assert_eq!(serve.get("/healthz", None).0, 200);
    assert_eq!(serve.get("/api/v1/tickets", Some(&token)).0, 200);
    // Nothing twice: another pass over both sources stores nothing more.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(counts(&db), (9, 9));
    assert!(serve.alive());
}

/// Mounts a tmpfs of `size` at `dir` (the test runs as root, as CI does).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs (the full-disk test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system under `dir` with one file; returns it.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

#[test]
fn a_full_disk_under_sqlite_then_space_again_loses_and_duplicates_nothing() {
    if crate::helpers::postgres_url().is_some() {
        return; // its own servers, whatever the pass: run once, in the SQLite pass
    }
    let root = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&root.path().join("disk"), "16m");
    let url = format!("sqlite://{}", disk.0.join("helpdesk.db").display());
    let md = maildir(root.path());
    let db = Db::connect(&url).unwrap();
    let (_, token) = staff(&db, "agent@example.com", Role::Agent, &["Support"]);
    let mut serve = Serve::start(root.path(), &url, &md, None);
    for n in 0..3 {
        deliver(&md, n, &customer_mail(n));
    }
    wait_until(
        "the first mails are stored",
        Duration::from_secs(30),
        Some(&root.path().join("serve.log")),
        || counts(&db) == (3, 3) && in_new(&md) == 0,
    );

    let filler = fill(&disk.0);
    // Mail waits, the pipe is told to retry, a change answers 503.
    for n in 3..6 {
        deliver(&md, n, &customer_mail(n));
    }
    let (code, err) = ingest(root.path(), &url, &customer_mail(200));
    assert_eq!(code, 75, "{err}");
    let r = serve
        .http
        .post(format!("http://127.0.0.1:{}/api/v1/tickets", serve.port))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "subject": "Written to a full disk", "body": "x",
            "requester": {"email": "full@example.com"},
        }))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("unavailable"), "{body}");
    // Reading still works.
    assert_eq!(serve.get("/api/v1/tickets", Some(&token)).0, 200);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        in_new(&md),
        3,
        "maildir mail stays in new/ while the disk is full"
    );
    assert!(serve.alive());

    std::fs::remove_file(filler).unwrap();
    let (code, err) = ingest(root.path(), &url, &customer_mail(200));
    assert_eq!(code, 0, "the MTA's retry: {err}");
    wait_until(
        "everything is stored once there is space",
        Duration::from_secs(60),
        Some(&root.path().join("serve.log")),
        || counts(&db) == (7, 7) && in_new(&md) == 0,
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(counts(&db), (7, 7));
    drop(serve);
    drop(db);
}

/// Whether every ticket change was applied whole: the status counters
/// match the tickets, each agent reply and note has its event, each reply
/// its outbox row, and each ticket's status is its last status event's.
fn check_consistency(db: &Db) {
    use helpdesk::db::schema::{events, messages, outbox, ticket_counts};
    db.query(|c| {
        let rows: Vec<(String, Option<i64>, Option<i64>)> = tickets::table
            .select((tickets::status, tickets::group_id, tickets::assignee_id))
            .load(c)?;
        let mut want = std::collections::BTreeMap::new();
        for (status, g, a) in rows {
            *want
                .entry((g.unwrap_or(0), a.unwrap_or(0), status))
                .or_insert(0i64) += 1;
        }
        let kept: Vec<(i64, i64, String, i64)> = ticket_counts::table
            .select((
                ticket_counts::group_id,
                ticket_counts::assignee_id,
                ticket_counts::status,
                ticket_counts::n,
            ))
            .load(c)?;
        let kept: std::collections::BTreeMap<_, _> = kept
            .into_iter()
            .filter(|r| r.3 != 0)
            .map(|(g, a, s, n)| ((g, a, s), n))
            .collect();
        assert_eq!(kept, want, "status counters against the tickets");
        for (kind, event) in [("agent", "agent_reply"), ("note", "note")] {
            let m: i64 = messages::table
                .filter(messages::kind.eq(kind))
                .count()
                .get_result(c)?;
            let e: i64 = events::table
                .filter(events::kind.eq(event))
                .count()
                .get_result(c)?;
            assert_eq!(m, e, "{kind} messages against {event} events");
        }
        let replies: Vec<i64> = messages::table
            .filter(messages::kind.eq("agent"))
            .select(messages::id)
            .load(c)?;
        for id in replies {
            let n: i64 = outbox::table
                .filter(outbox::message_id.eq(id))
                .count()
                .get_result(c)?;
            assert_eq!(n, 1, "reply {id} has one outbox row");
        }
        let tickets: Vec<(i64, String)> = tickets::table
            .select((tickets::id, tickets::status))
            .load(c)?;
        for (id, status) in tickets {
            let last: Option<Option<String>> = events::table
                .filter(events::ticket_id.eq(id))
                .filter(events::kind.eq_any(["status_changed", "reopened"]))
                .order((events::at.desc(), events::id.desc()))
                .select(events::to_value)
                .first(c)
                .optional()?;
            if let Some(Some(to)) = last {
                assert_eq!(
                    to, status,
                    "ticket {id}'s status against its last status event"
                );
            }
        }
        Ok(())
    })
    .unwrap();
}

/// The Message-ID header of a raw mail.
fn message_id(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .map(|l| l[11..].trim().to_string())
        .unwrap_or_default()
}

#[test]
fn kill_9_of_serve_under_mixed_load_twenty_times_loses_and_repeats_nothing() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    const CYCLES: usize = 20;
    const TICKETS: usize = 5;
    // The suite's backend: SQLite, or PostgreSQL in the PostgreSQL pass.
    let (url, _guard) = crate::helpers::fresh_database_url();
    let root = tempfile::tempdir().unwrap();
    let md = maildir(root.path());
    let smtp = crate::outbound::SmtpServer::start();
    let db = Db::connect(&url).unwrap();
    let (_, token) = staff(&db, "agent@example.com", Role::Agent, &["Support"]);
    let port = free_port();
    let start = || Serve::start_on(port, root.path(), &url, &md, None, Some(&smtp.url()));

    // Tickets for the replies, notes and status changes.
    let serve = start();
    for n in 0..TICKETS {
        deliver(&md, n, &customer_mail(n));
    }
    wait_until("the first tickets", Duration::from_secs(30), None, || {
        counts(&db) == (TICKETS as i64, TICKETS as i64)
    });
    drop(serve);

    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicUsize::new(TICKETS));
    // 50 mails a second into the maildir, whatever state serve is in.
    let mailer = {
        let (stop, delivered, md) = (stop.clone(), delivered.clone(), md.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let n = delivered.fetch_add(1, Ordering::SeqCst);
                deliver(&md, n, &customer_mail(n));
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    // Replies, notes and status changes through the API; the acknowledged
    // (2xx) replies and notes are remembered.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (stop, acked, sent, token) = (stop.clone(), acked.clone(), sent.clone(), token.clone());
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut k = 0usize;
            while !stop.load(Ordering::SeqCst) {
                k += 1;
                let ticket = k % TICKETS + 1;
                let marker = format!("crash-marker-{k}");
                let (action, body) = match k % 4 {
                    0 => ("reply", serde_json::json!({"body": marker})),
                    1 => ("note", serde_json::json!({"body": marker})),
                    2 => ("resolve", serde_json::json!({})),
                    _ => ("reopen", serde_json::json!({})),
                };
                let r = http
                    .post(format!(
                        "http://127.0.0.1:{port}/api/v1/tickets/{ticket}/{action}"
                    ))
                    .bearer_auth(&token)
                    .json(&body)
                    .send();
                match r {
                    Ok(r) if r.status().is_success() => {
                        sent.fetch_add(1, Ordering::SeqCst);
                        if matches!(action, "reply" | "note") {
                            acked.lock().unwrap().push(marker);
                        }
                    }
                    Ok(r) => assert!(
                        r.status().as_u16() == 409 || r.status().as_u16() == 503,
                        "{action} on {ticket}: {}",
                        r.status()
                    ),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
    };

    let mut rng = rand::thread_rng();
    for _ in 0..CYCLES {
        let mut serve = start();
        std::thread::sleep(Duration::from_millis(rand::Rng::gen_range(
            &mut rng,
            300..1200,
        )));
        serve.child.kill().unwrap(); // SIGKILL
        serve.child.wait().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    mailer.join().unwrap();
    worker.join().unwrap();

    // One last start drains what is left: the maildir and the outbox.
    let serve = start();
    let delivered = delivered.load(Ordering::SeqCst) as i64;
    let unsent = |db: &Db| -> i64 {
        db.query(|c| {
            helpdesk::db::schema::outbox::table
                .filter(helpdesk::db::schema::outbox::status.ne("sent"))
                .count()
                .get_result(c)
        })
        .unwrap_or(-1)
    };
    let drained = Instant::now();
    while !(in_new(&md) == 0 && counts(&db).0 == delivered && unsent(&db) == 0) {
        assert!(
            drained.elapsed() < Duration::from_secs(120),
            "not drained within 120 s: {} in new/, {:?} stored of {delivered}, {} outbox rows unsent",
            in_new(&md),
            counts(&db),
            unsent(&db)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(serve);

    // No acknowledged mail lost, none stored twice.
    assert_eq!(counts(&db), (delivered, delivered), "one ticket per mail");
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "the load got through: {} changes",
        acked.len()
    );
    eprintln!(
        "{CYCLES} kills: {delivered} mails, {} API changes acknowledged ({} replies and notes)",
        sent.load(Ordering::SeqCst),
        acked.len()
    );
    // Every acknowledged reply and note is there exactly once.
    let bodies: Vec<String> = db
        .query(|c| {
            helpdesk::db::schema::messages::table
                .select(helpdesk::db::schema::messages::body_text)
                .load(c)
        })
        .unwrap();
    for m in &acked {
        let n = bodies.iter().filter(|b| b.trim() == m.as_str()).count();
        assert_eq!(n, 1, "{m} stored {n} times");
    }
    check_consistency(&db);
    // The outbox: every row reached the SMTP server. A row is sent again
    // only when the kill fell between the server's acceptance and the
    // commit that marks it sent, so only rows in flight at a kill (at most
    // 8 at once), and always with the same Message-ID, which the
    // recipient's mail client shows once. No protocol can do better: SMTP
    // has no way to ask whether a mail was accepted.
    let received = smtp.received();
    let mut ids: Vec<String> = received.iter().map(|r| message_id(r)).collect();
    let rows: i64 = db
        .query(|c| helpdesk::db::schema::outbox::table.count().get_result(c))
        .unwrap();
    ids.sort();
    let total = ids.len();
    ids.dedup();
    assert_eq!(ids.len() as i64, rows, "every outbox row delivered");
    let resent = total - ids.len();
    eprintln!("{rows} outbox rows, {resent} sent again after a kill");
    assert!(resent <= CYCLES * 8, "{resent} resends in {CYCLES} kills");
}
