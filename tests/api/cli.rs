//! The binary itself: zero-setup serve with graceful shutdown, user and
//! token commands, import, and clear failures with sysexits codes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{fresh_database_url, postgres_url};

/// The binary, run in `dir` with only the configuration given here.
pub(crate) fn helpdesk(dir: &std::path::Path, db_url: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_helpdesk"));
    c.current_dir(dir)
        .env_remove("HELPDESK_DATABASE_URL")
        .env_remove("HELPDESK_CONFIG")
        .env("HELPDESK_LOG", "info")
        .env("NO_COLOR", "1");
    if let Some(u) = db_url {
        c.env("HELPDESK_DATABASE_URL", u);
    }
    c
}

/// Runs `cmd` with `stdin` as its input: exit code, stdout, stderr.
pub(crate) fn run_with_stdin(mut cmd: Command, stdin: &str) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments exits without reading stdin: a
    // broken pipe then is its answer, not a test failure.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The database the binary uses in these tests: default SQLite in the
/// working directory, or a fresh PostgreSQL database.
fn database() -> (Option<String>, crate::helpers::DbGuard) {
    let (url, guard) = fresh_database_url();
    (postgres_url().map(|_| url), guard)
}

#[test]
fn serve_starts_with_no_setup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (db_url, _guard) = database();
    let mut child = helpdesk(dir.path(), db_url.as_deref())
        .arg("serve")
        .env("HELPDESK_LISTEN", "127.0.0.1:0")
        .env("HELPDESK_LOG", "debug")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = Vec::new();
    let mut port = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while port.is_none() && Instant::now() < deadline {
        let Some(Ok(l)) = lines.next() else { break };
        if let Some(rest) = l.split("http://127.0.0.1:").nth(1) {
            port = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|p| p.parse::<u16>().ok());
        }
        log.push(l);
    }
    let port = port.unwrap_or_else(|| panic!("no listening line in: {log:#?}"));
    assert!(
        log.iter()
            .any(|l| l.contains("no admin user yet") && l.contains("user add")),
        "{log:#?}"
    );
    if db_url.is_none() {
        assert!(
            dir.path().join("data/helpdesk.db").exists(),
            "SQLite file created under data/"
        );
    }
    let body = reqwest::blocking_get(port, "/healthz");
    // A sign-in link's secret is in its query string: it must not be logged.
    let page = reqwest::blocking_get(port, "/portal/auth?token=leakcheck0123456789");
    assert!(page.contains("link"), "{page}");
    let expected = if db_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body, format!(r#"{{"db":"{expected}","status":"ok"}}"#));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("shut down")), "{rest:#?}");
    let all: Vec<&String> = log.iter().chain(rest.iter()).collect();
    assert!(
        all.iter().any(|l| l.contains("/portal/auth")),
        "requests are logged (at debug): {all:#?}"
    );
    assert!(
        !all.iter().any(|l| l.contains("leakcheck0123456789")),
        "a token reached the log: {all:#?}"
    );
}

/// A tiny blocking GET (the suite's reqwest has no blocking feature).
mod reqwest {
    use std::io::{Read, Write};

    pub fn blocking_get(port: u16, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 "), "{out}");
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
    }
}

#[test]
fn user_add_token_create_and_their_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let (db_url, _guard) = database();
    let cmd = |args: &[&str]| {
        let mut c = helpdesk(dir.path(), db_url.as_deref());
        c.args(args);
        c
    };
    let add = [
        "user",
        "add",
        "--email",
        "Ann@Example.com",
        "--name",
        "Ann",
        "--role",
        "admin",
        "--group",
        "Support",
    ];
    let (code, out, err) = run_with_stdin(cmd(&add), "a good long password\n");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ann@example.com") && out.contains("Support"),
        "{out}"
    );

    let (code, _, err) = run_with_stdin(cmd(&add), "a good long password\n");
    assert_eq!((code, err.contains("already exists")), (65, true), "{err}");
    let (code, _, err) = run_with_stdin(
        cmd(&[
            "user",
            "add",
            "--email",
            "b@example.com",
            "--name",
            "B",
            "--role",
            "agent",
        ]),
        "short\n",
    );
    assert_eq!((code, err.contains("at least")), (65, true), "{err}");
    let (code, _, err) = run_with_stdin(
        cmd(&[
            "user",
            "add",
            "--email",
            "b@example.com",
            "--name",
            "B",
            "--role",
            "boss",
        ]),
        "",
    );
    assert_eq!(code, 2, "clap usage error: {err}");
    assert!(err.contains("boss"), "{err}");
    let (code, _, err) = run_with_stdin(
        cmd(&[
            "user", "add", "--email", "nope", "--name", "B", "--role", "agent",
        ]),
        "x\n",
    );
    assert_eq!((code, err.contains("--email")), (65, true), "{err}");

    let (code, token, err) =
        run_with_stdin(cmd(&["token", "create", "--user", "ann@example.com"]), "");
    assert_eq!(code, 0, "{err}");
    assert!(
        token.trim().starts_with("hd_") && err.contains("only this once"),
        "{token} {err}"
    );
    let (code, _, err) =
        run_with_stdin(cmd(&["token", "create", "--user", "ghost@example.com"]), "");
    assert_eq!(
        (code, err.contains("no active staff user")),
        (65, true),
        "{err}"
    );
}

#[test]
fn unknown_database_scheme_fails_without_creating_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_with_stdin(
        {
            let mut c = helpdesk(dir.path(), Some("mysql://root@localhost/x"));
            c.arg("migrate");
            c
        },
        "",
    );
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("unsupported database URL scheme"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing created"
    );
}

#[test]
fn import_command_reports_lines_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (db_url, _guard) = database();
    let good = r#"{"external_id": "A-1", "subject": "Hi", "requester": {"email": "a@example.com"}, "created_at": "2026-01-05T09:00:00Z", "events": [{"at": "2026-01-05T09:30:00Z", "type": "note", "body": "n"}]}"#;
    let file =
        crate::import::write_file(&[good.to_string(), r#"{"external_id": "A-2"}"#.to_string()]);
    let mut c = helpdesk(dir.path(), db_url.as_deref());
    c.arg("import").arg(file.path());
    let (code, _, err) = run_with_stdin(c, "");
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("line 2: missing field `subject`"), "{err}");
    assert!(
        err.contains("imported 1 tickets") && err.contains("tickets/s"),
        "{err}"
    );

    let mut c = helpdesk(dir.path(), db_url.as_deref());
    c.arg("import").arg("/no/such.jsonl");
    let (code, _, err) = run_with_stdin(c, "");
    assert_eq!((code, err.contains("no such file")), (66, true), "{err}");
}

#[test]
fn json_logs_and_a_settings_file() {
    let dir = tempfile::tempdir().unwrap();
    let (db_url, _guard) = database();
    let mut c = helpdesk(dir.path(), db_url.as_deref());
    c.arg("migrate").env("HELPDESK_LOG_FORMAT", "json");
    let (code, out, err) = run_with_stdin(c, "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("up to date"), "{out}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "a fresh database logs its migrations");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
    }

    // A settings file is read; an unknown key in it is a configuration error.
    let file = dir.path().join("custom.toml");
    std::fs::write(&file, "log_format = \"json\"\n").unwrap();
    let mut c = helpdesk(dir.path(), db_url.as_deref());
    c.arg("--config").arg(&file).arg("migrate");
    let (code, _, err) = run_with_stdin(c, "");
    assert_eq!(code, 0, "{err}");
    std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let mut c = helpdesk(dir.path(), db_url.as_deref());
    c.arg("--config").arg(&file).arg("migrate");
    let (code, _, err) = run_with_stdin(c, "");
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("custom.toml") && err.contains("lisen"),
        "{err}"
    );
}
