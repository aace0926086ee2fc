//! Faults under a running `serve`: its PostgreSQL stopped in the middle of
//! the run (a private server of our own, so the suite's shared one is
//! untouched), and a full disk under SQLite (a small tmpfs). Meanwhile
//! pages and the API answer 503 with a clear message, `helpdesk ingest`
//! exits 75 (the MTA keeps the mail), the maildir and IMAP mail stays where
//! it is; once the store is back everything recovers and every mail is
//! stored exactly once.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use helpdesk::db::schema::{raw_mails, tickets};
use helpdesk::db::Db;
use helpdesk::tickets::Role;

use crate::dovecot::Dovecot;
use crate::helpers::staff;
use crate::ingest::{mail, SUPPORT};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
        let (uid, gid) = ids("postgres");
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

fn ids(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with(&format!("{user}:")))
        .unwrap_or_else(|| panic!("no {user} user"));
    let f: Vec<&str> = line.split(':').collect();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

/// `helpdesk serve` against `url`, watching `maildir` (and `imap`).
struct Serve {
    child: Child,
    port: u16,
    http: reqwest::blocking::Client,
}

impl Serve {
    fn start(dir: &Path, url: &str, maildir: &Path, imap: Option<&str>) -> Serve {
        let port = free_port();
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
            .env("HELPDESK_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("serve.log")).unwrap());
        match imap {
            Some(u) => cmd.env("HELPDESK_IMAP_URLS", u),
            None => cmd.env_remove("HELPDESK_IMAP_URLS"),
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
