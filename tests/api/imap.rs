//! The IMAP source against a real Dovecot (tests/api/dovecot.rs), through
//! the `helpdesk fetch` and `helpdesk serve` commands: new mail is stored
//! and then marked, moved or deleted; a fetch killed mid-pass loses and
//! duplicates nothing; a UIDVALIDITY change re-scans without duplicates;
//! mail another client read first still comes in; bad credentials and
//! unreachable servers exit 75 with a clear message; TLS both ways.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use helpdesk::db::schema::{imap_folders, messages, raw_mails, tickets};
use helpdesk::db::Db;
use helpdesk::mailboxes::{self, MailboxInput};
use helpdesk::people::EmailAddress;
use rand::Rng;

use crate::dovecot::{Dovecot, PASSWORD};
use crate::helpers::fresh_database_url;
use crate::ingest::mail;

fn helpdesk(dir: &Path, db_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_helpdesk"));
    c.current_dir(dir)
        .env_remove("HELPDESK_CONFIG")
        .env_remove("HELPDESK_MAILDIRS")
        .env_remove("HELPDESK_IMAP_URLS")
        .env("HELPDESK_DATABASE_URL", db_url)
        .env("HELPDESK_SUPPORT_ADDRESS", crate::ingest::SUPPORT)
        .env("HELPDESK_SECRET", "imap test secret")
        .env("HELPDESK_LOG", "warn")
        .env("NO_COLOR", "1");
    c
}

/// `helpdesk fetch` over these IMAP URLs: (exit code, stderr).
fn fetch(dir: &Path, db_url: &str, urls: &[String]) -> (i32, String) {
    let out = helpdesk(dir, db_url)
        .arg("fetch")
        .env("HELPDESK_IMAP_URLS", urls.join(" "))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    (out.status.code().unwrap_or(-1), err)
}

fn count(db: &Db, table: &str) -> i64 {
    db.query(|c| match table {
        "raw_mails" => raw_mails::table.count().get_result(c),
        "messages" => messages::table.count().get_result(c),
        "tickets" => tickets::table.count().get_result(c),
        _ => unreachable!(),
    })
    .unwrap()
}

/// (account, folder, uidvalidity, last_uid, acked_uid) rows.
fn states(db: &Db) -> Vec<(String, String, i64, i64, i64)> {
    db.query(|c| {
        imap_folders::table
            .select((
                imap_folders::account,
                imap_folders::folder,
                imap_folders::uidvalidity,
                imap_folders::last_uid,
                imap_folders::acked_uid,
            ))
            .order(imap_folders::account)
            .load(c)
    })
    .unwrap()
}

fn stored_ids(db: &Db) -> Vec<String> {
    db.query(|c| {
        raw_mails::table
            .select(raw_mails::mail_message_id)
            .load::<Option<String>>(c)
    })
    .unwrap()
    .into_iter()
    .flatten()
    .collect()
}

fn mails(n: usize, tag: &str) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            mail(
                &format!("customer{}@example.com", i % 7),
                &format!("{tag} request {i}"),
                &[&format!("Message-ID: <{tag}.{i}@example.com>")],
                &format!("Please help with {tag} {i}.\n{}", "Some words. ".repeat(30)),
            )
        })
        .collect()
}

/// CRLF line ends, as IMAP APPEND wants them.
fn crlf(raw: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(raw)
        .replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

#[test]
fn imap_fetch_stores_new_mail_then_marks_moves_or_deletes_it() {
    let dv = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    let billing = db
        .write(|c| -> Result<_, helpdesk::db::DbError> {
            Ok(mailboxes::create(
                c,
                MailboxInput {
                    address: &EmailAddress::parse("billing@support.example.com").unwrap(),
                    name: "Billing",
                    group_id: None,
                    ack_enabled: false,
                },
                1,
            )
            .unwrap())
        })
        .unwrap();
    for m in mails(3, "support") {
        dv.deliver("support", &m, false);
    }
    for m in mails(2, "billing") {
        dv.deliver("billing", &m, false);
    }
    for m in mails(2, "sales") {
        dv.deliver("sales", &m, false);
    }
    for m in mails(2, "keyword") {
        dv.deliver("keyword", &m, false);
    }
    let urls = vec![
        dv.url("support", "INBOX", ""),
        dv.url(
            "billing",
            "INBOX",
            "after=move:Processed&mailbox=billing@support.example.com",
        ),
        dv.url("sales", "INBOX", "after=delete"),
        dv.url("keyword", "INBOX", "after=mark:$Helpdesk"),
    ];
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("9 stored, 0 duplicates"), "{err}");
    assert_eq!(count(&db, "tickets"), 9);

    // mark (the default): \Seen, still in the INBOX.
    let inbox = dv.client("support").list("INBOX");
    assert_eq!(inbox.len(), 3);
    assert!(inbox.iter().all(|m| m.has("\\Seen")), "{inbox:?}");
    // move: gone from the INBOX, in Processed; routed to its mailbox.
    let mut c = dv.client("billing");
    assert!(c.list("INBOX").is_empty());
    let moved = c.list("Processed");
    assert_eq!(moved.len(), 2, "{moved:?}");
    let routed: i64 = db
        .query(|c| {
            tickets::table
                .filter(tickets::mailbox_id.eq(billing.id))
                .count()
                .get_result(c)
        })
        .unwrap();
    assert_eq!(routed, 2);
    // delete: gone.
    assert!(dv.client("sales").list("INBOX").is_empty());
    // mark:KEYWORD: flagged with it, \Seen untouched.
    let kw = dv.client("keyword").list("INBOX");
    assert!(
        kw.iter().all(|m| m.has("$Helpdesk") && !m.has("\\Seen")),
        "{kw:?}"
    );

    let st = states(&db);
    assert_eq!(st.len(), 4, "{st:?}");
    let support = st.iter().find(|s| s.0.starts_with("support@")).unwrap();
    assert_eq!((support.1.as_str(), support.3, support.4), ("INBOX", 3, 3));
    assert!(
        !format!("{st:?}").contains(PASSWORD),
        "no password in the state"
    );

    // Only new mail is fetched the next time.
    dv.deliver("support", &mails(4, "support")[3], false);
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 stored, 0 duplicates"), "{err}");
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0 stored, 0 duplicates"), "{err}");
    assert_eq!(count(&db, "raw_mails"), 10);
}

#[test]
fn imap_fetch_killed_mid_pass_then_run_again_stores_every_message_once() {
    let n: usize = std::env::var("HELPDESK_IMAP_CRASH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dv = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    for m in mails(n, "crash") {
        dv.deliver("support", &m, false);
    }
    let urls = vec![dv.url("support", "INBOX", "")];
    let mut observer = dv.client("support");
    let mut rng = rand::thread_rng();
    let (mut cycles, mut kills, mut mid_pass, mut unacked) = (0, 0, 0, 0);
    let started = Instant::now();
    while cycles < 40 && (count(&db, "raw_mails") as usize) < n {
        cycles += 1;
        let before = count(&db, "raw_mails");
        let mut child = helpdesk(dir.path(), &url)
            .arg("fetch")
            .env("HELPDESK_IMAP_URLS", urls.join(" "))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Mostly: kill it soon after it committed something more (inside
        // the pass, often between a commit and its acknowledgement);
        // sometimes at any moment (connecting, searching, fetching).
        if rng.gen_bool(0.25) {
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..200)));
        } else {
            let deadline = Instant::now() + Duration::from_secs(60);
            while count(&db, "raw_mails") == before
                && child.try_wait().unwrap().is_none()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..25)));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
            let now = count(&db, "raw_mails") as usize;
            if now > 0 && now < n {
                mid_pass += 1;
            }
        }
        child.wait().unwrap();
        // Whatever the server shows as acknowledged is stored.
        let stored: HashSet<String> = stored_ids(&db).into_iter().collect();
        let listed = observer.list("INBOX");
        if listed.iter().filter(|m| m.has("\\Seen")).count() < stored.len() {
            // Killed between a commit and its acknowledgement.
            unacked += 1;
        }
        for m in listed {
            if m.has("\\Seen") {
                let id = m.message_id.clone().unwrap();
                assert!(
                    stored.contains(&id),
                    "cycle {cycles}: {id} is marked \\Seen but not stored"
                );
            }
        }
    }
    assert!(
        mid_pass >= 1,
        "no kill landed inside a pass ({kills} kills in {cycles} cycles): the test proved little"
    );
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    let all = observer.list("INBOX");
    assert_eq!(all.len(), n);
    assert!(all.iter().all(|m| m.has("\\Seen")), "all acknowledged");
    assert_eq!(count(&db, "raw_mails"), n as i64, "each mail stored once");
    assert_eq!(count(&db, "messages"), n as i64, "each mail is one message");
    let distinct: HashSet<String> = stored_ids(&db).into_iter().collect();
    assert_eq!(distinct.len(), n);
    let st = states(&db);
    let top = i64::from(all.last().unwrap().uid);
    assert_eq!((st[0].3, st[0].4), (top, top), "{st:?}");
    eprintln!(
        "IMAP crash test: {n} mails, {cycles} cycles, {kills} SIGKILLs ({mid_pass} mid-pass, \
         {unacked} between a commit and its acknowledgement), {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn imap_crash_after_the_commit_but_before_the_uid_update_or_the_mark_duplicates_nothing() {
    let dv = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    for m in mails(5, "early") {
        dv.deliver("support", &m, false);
    }
    let urls = vec![dv.url("support", "INBOX", "")];
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("5 stored"), "{err}");
    let mut other = dv.client("support");

    // As if the process died right after the commit: no UID stored, nothing
    // marked. The mail is fetched again and recognised.
    db.query(|c| diesel::delete(imap_folders::table).execute(c))
        .unwrap();
    other.store("INBOX", "1:*", "-FLAGS (\\Seen)");
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0 stored, 5 duplicates"), "{err}");
    assert!(other.list("INBOX").iter().all(|m| m.has("\\Seen")));
    assert_eq!(count(&db, "raw_mails"), 5);
    assert_eq!(count(&db, "tickets"), 5);

    // As if it died after storing the UID but before marking: the next
    // pass marks without fetching anything.
    db.query(|c| {
        diesel::update(imap_folders::table)
            .set(imap_folders::acked_uid.eq(0))
            .execute(c)
    })
    .unwrap();
    other.store("INBOX", "1:*", "-FLAGS (\\Seen)");
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0 stored, 0 duplicates"), "{err}");
    assert!(other.list("INBOX").iter().all(|m| m.has("\\Seen")));
    assert_eq!(states(&db)[0].4, 5);
    assert_eq!(count(&db, "raw_mails"), 5);
}

#[test]
fn imap_uidvalidity_change_rescans_the_folder_without_duplicates() {
    let dv = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    let mut other = dv.client("support");
    other.create("Support");
    let batch = mails(5, "uv");
    for m in &batch[..4] {
        other.append("Support", &crlf(m));
    }
    let urls = vec![dv.url("support", "Support", "")];
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("4 stored"), "{err}");
    let before = states(&db)[0].clone();
    assert_eq!(before.3, 4);

    // The folder is recreated: same mail, new UIDs, new UIDVALIDITY.
    other.delete("Support");
    other.create("Support");
    for m in &batch {
        other.append("Support", &crlf(m));
    }
    let uv = other.uidvalidity("Support");
    assert_ne!(i64::from(uv), before.2, "Dovecot kept the UIDVALIDITY");
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("UIDVALIDITY changed"), "{err}");
    assert!(err.contains("1 stored, 4 duplicates"), "{err}");
    assert_eq!(count(&db, "raw_mails"), 5);
    assert_eq!(count(&db, "messages"), 5);
    let after = states(&db)[0].clone();
    assert_eq!((after.2, after.3, after.4), (i64::from(uv), 5, 5));
    assert!(other.list("Support").iter().all(|m| m.has("\\Seen")));
}

#[test]
fn imap_mail_another_client_read_first_is_still_stored() {
    let dv = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    let m = mails(4, "read");
    dv.deliver("support", &m[0], false);
    dv.deliver("support", &m[1], false);
    // Read in another mail program before we got to it.
    dv.deliver("support", &m[2], true);
    let mut other = dv.client("support");
    let listed = other.list("INBOX");
    assert_eq!(listed.len(), 3);
    other.store("INBOX", &listed[0].uid.to_string(), "+FLAGS (\\Seen)");
    assert_eq!(
        other
            .list("INBOX")
            .iter()
            .filter(|m| m.has("\\Seen"))
            .count(),
        2
    );
    let urls = vec![dv.url("support", "INBOX", "")];
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("3 stored"), "{err}");

    dv.deliver("support", &m[3], false);
    let uid = other.list("INBOX").last().unwrap().uid;
    other.store("INBOX", &uid.to_string(), "+FLAGS (\\Seen)");
    let (code, err) = fetch(dir.path(), &url, &urls);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 stored"), "{err}");
    let ids: HashSet<String> = stored_ids(&db).into_iter().collect();
    for i in 0..4 {
        assert!(ids.contains(&format!("<read.{i}@example.com>")), "{ids:?}");
    }
}

#[test]
fn imap_bad_credentials_unreachable_server_or_store_down_exit_75_with_a_clear_error() {
    let dv = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    dv.deliver("support", &mails(1, "bad")[0], false);

    let wrong = format!(
        "imap://support:wrong-pass-123@127.0.0.1:{}/INBOX?tls=none",
        dv.port
    );
    let (code, err) = fetch(dir.path(), &url, &[wrong]);
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("login failed"), "{err}");
    assert!(err.contains("support@127.0.0.1"), "{err}");
    assert!(!err.contains("wrong-pass-123"), "the password shows: {err}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("imap://support:pw@127.0.0.1:{closed}/INBOX?tls=none");
    let (code, err) = fetch(dir.path(), &url, &[unreachable]);
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("cannot connect"), "{err}");

    let (code, err) = fetch(dir.path(), &url, &[dv.url("support", "Nope", "")]);
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("cannot open folder \"Nope\""), "{err}");

    // TLS spoken to the plain port: a clear TLS failure, not a hang.
    let tls_to_plain = format!("imaps://support:pw@127.0.0.1:{}/INBOX", dv.port);
    let (code, err) = fetch(dir.path(), &url, &[tls_to_plain]);
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("TLS"), "{err}");

    // A bad configuration is a configuration error (78), shown without the password.
    let (code, err) = fetch(
        dir.path(),
        &url,
        &["imap://support:hunter2@127.0.0.1/?after=archive".to_string()],
    );
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("after") && !err.contains("hunter2"), "{err}");

    // The store is down: nothing is fetched or marked.
    let (code, err) = fetch(
        dir.path(),
        "postgres://root@127.0.0.1:1/helpdesk?connect_timeout=2",
        &[dv.url("support", "INBOX", "")],
    );
    assert_eq!(code, 75, "{err}");
    let mut other = dv.client("support");
    assert!(!other.list("INBOX")[0].has("\\Seen"));

    // A failing account does not stop the others, nor a maildir.
    let md = dir.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).unwrap();
    }
    std::fs::write(md.join("new/1.local"), mails(1, "local")[0].clone()).unwrap();
    let out = helpdesk(dir.path(), &url)
        .arg("fetch")
        .env("HELPDESK_MAILDIRS", md.to_str().unwrap())
        .env(
            "HELPDESK_IMAP_URLS",
            format!(
                "{} {}",
                dv.url("support", "Nope", ""),
                dv.url("support", "INBOX", "")
            ),
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains("2 stored"), "{err}");
    assert!(std::fs::read_dir(md.join("new")).unwrap().next().is_none());
    assert!(other.list("INBOX")[0].has("\\Seen"));
    assert_eq!(count(&db, "raw_mails"), 2);
}

#[test]
fn imap_over_tls_implicit_and_starttls_with_a_private_ca() {
    let dv = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    let m = mails(3, "tls");
    dv.deliver("support", &m[0], false);
    dv.deliver("support", &m[1], false);
    let pass = PASSWORD.replace(' ', "%20");
    let ca = dv.ca_file.display().to_string();

    // Not signed by a CA we trust: refused, clearly.
    let untrusted = format!("imaps://support:{pass}@127.0.0.1:{}/INBOX", dv.tls_port);
    let (code, err) = fetch(dir.path(), &url, &[untrusted]);
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("certificate"), "{err}");
    assert_eq!(count(&db, "raw_mails"), 0);

    let implicit = format!(
        "imaps://support:{pass}@127.0.0.1:{}/INBOX?ca_file={ca}",
        dv.tls_port
    );
    let (code, err) = fetch(dir.path(), &url, &[implicit]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("2 stored"), "{err}");

    dv.deliver("support", &m[2], false);
    let starttls = format!(
        "imap://support:{pass}@127.0.0.1:{}/INBOX?ca_file={ca}",
        dv.port
    );
    let (code, err) = fetch(dir.path(), &url, &[starttls]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 stored, 0 duplicates"), "{err}");
    assert!(dv
        .client("support")
        .list("INBOX")
        .iter()
        .all(|m| m.has("\\Seen")));
}

#[test]
fn serve_polls_imap_wakes_on_idle_and_stops_cleanly() {
    let dv = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    let m = mails(2, "serve");
    dv.deliver("support", &m[0], false);
    // A poll interval far beyond the test: only IDLE can explain a quick
    // pick-up of the second mail.
    let mut child = helpdesk(dir.path(), &url)
        .arg("serve")
        .env("HELPDESK_LISTEN", "127.0.0.1:0")
        .env("HELPDESK_IMAP_URLS", dv.url("support", "INBOX", ""))
        .env("HELPDESK_IMAP_POLL_SECONDS", "3600")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |n: i64, secs: u64| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while count(&db, "raw_mails") < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        count(&db, "raw_mails")
    };
    let first = wait_for(1, 60);
    // Give the poller time to enter IDLE after its first pass.
    std::thread::sleep(Duration::from_millis(500));
    dv.deliver("support", &m[1], false);
    let second = wait_for(2, 30);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(first, 1, "the first pass stored nothing");
    assert_eq!(second, 2, "new mail was not picked up while idling");
    let exit = exit.expect("serve did not stop within 20 s of SIGTERM");
    assert!(exit.success(), "{exit:?}");
    assert!(dv
        .client("support")
        .list("INBOX")
        .iter()
        .all(|m| m.has("\\Seen")));
}

#[test]
fn serve_polls_imap_servers_without_idle() {
    // The same Dovecot, advertising no IDLE.
    let dv = Dovecot::start_with("imap_capability = IMAP4rev1 LITERAL+ UIDPLUS MOVE");
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = fresh_database_url();
    let db = Db::connect(&url).unwrap();
    let log = dir.path().join("serve.log");
    let mut child = helpdesk(dir.path(), &url)
        .arg("serve")
        .env("HELPDESK_LISTEN", "127.0.0.1:0")
        .env("HELPDESK_LOG", "info")
        .env("HELPDESK_IMAP_URLS", dv.url("support", "INBOX", ""))
        .env("HELPDESK_IMAP_POLL_SECONDS", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while states(&db).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    dv.deliver("support", &mails(1, "poll")[0], false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&db, "raw_mails") < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exit = child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(count(&db, "raw_mails"), 1, "{text}");
    assert!(text.contains("idle=false"), "{text}");
    assert!(!text.contains(PASSWORD), "the password is in the log");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn imap_logs_never_show_the_password_even_at_trace_level() {
    let dv = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = fresh_database_url();
    dv.deliver("support", &mails(1, "trace")[0], false);
    let wrong = format!(
        "imap://support:wrong-pass-123@127.0.0.1:{}/INBOX?tls=none",
        dv.port
    );
    let out = helpdesk(dir.path(), &url)
        .arg("fetch")
        .env("HELPDESK_LOG", "trace")
        .env(
            "HELPDESK_IMAP_URLS",
            format!("{} {wrong}", dv.url("support", "INBOX", "")),
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains("1 stored"), "{err}");
    for secret in [PASSWORD, "s3cret", "wrong-pass-123"] {
        assert!(!err.contains(secret), "{secret:?} is in the log:\n{err}");
    }
}
