use std::io::{BufRead, IsTerminal};

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{
    Failure, ImportArgs, IngestArgs, ReportArgs, TokenCreateArgs, UserAddArgs, EX_DATAERR,
    EX_NOINPUT, EX_SOFTWARE, EX_TEMPFAIL,
};
use crate::auth::{password, tokens};
use crate::config::{redact_url, Config};
use crate::db::{Db, DbError};
use crate::mail::inbound::{self, Ingest, Outcome};
use crate::mail::message_id::MessageIdSigner;
use crate::mail::sources::{imap, maildir};
use crate::people::{self, EmailAddress, NewStaff, PeopleError};
use crate::time::now_ms;
use crate::web::Application;

fn connect(config: &Config) -> Result<Db, Failure> {
    Db::connect(&config.database_url).map_err(|e| {
        Failure::from(e).with_context(&format!("database {}", redact_url(&config.database_url)))
    })
}

impl Failure {
    fn with_context(mut self, what: &str) -> Failure {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl From<PeopleError> for Failure {
    fn from(e: PeopleError) -> Self {
        match e {
            PeopleError::Store(s) => s.into(),
            PeopleError::Db(d) => DbError::from(d).into(),
            other => Failure::new(EX_DATAERR, other.to_string()),
        }
    }
}

pub fn serve(config: Config) -> Result<(), Failure> {
    let db = connect(&config)?;
    let secret = crate::settings::server_secret(&db, config.secret.as_deref())?;
    let admins = db.query(people::count_admins)?;
    if admins == 0 {
        tracing::warn!(
            "no admin user yet; create the first one with: \
             cargo run --release -- user add --email you@example.com --name \"Your Name\" --role admin \
             (it reads the password from standard input)"
        );
    }
    let backend = db.backend().as_str();
    let stop = Arc::new(AtomicBool::new(false));
    crate::background::set_nice(config.background_nice);
    let watcher = if config.maildirs.is_empty() {
        None
    } else {
        let signer = MessageIdSigner::new(&secret, &config.mail_domain());
        let (db, config, stop) = (db.clone(), config.clone(), stop.clone());
        tracing::info!(maildirs = config.maildirs.len(), "watching maildirs");
        Some(
            crate::background::spawn("maildir", move || maildir::watch(db, signer, config, stop))
                .map_err(|e| {
                Failure::new(
                    EX_SOFTWARE,
                    format!("cannot start the maildir watcher: {e}"),
                )
            })?,
        )
    };
    let imap_poller = if config.imap.is_empty() {
        None
    } else {
        let signer = MessageIdSigner::new(&secret, &config.mail_domain());
        let (db, config, stop) = (db.clone(), config.clone(), stop.clone());
        tracing::info!(
            accounts = config.imap.len(),
            poll_seconds = config.imap_poll_seconds,
            "polling IMAP accounts"
        );
        Some(
            crate::background::spawn("imap", move || imap::watch(db, signer, config, stop))
                .map_err(|e| {
                    Failure::new(EX_SOFTWARE, format!("cannot start the IMAP poller: {e}"))
                })?,
        )
    };
    let sender = crate::mail::outbound::spawn(db.clone(), &config, stop.clone())
        .map_err(|e| Failure::new(super::EX_CONFIG, e))?;
    let sla_job = crate::sla::job::spawn(db.clone(), stop.clone())
        .map_err(|e| Failure::new(EX_SOFTWARE, format!("cannot start the SLA job: {e}")))?;
    let facts_job = crate::reports::facts::spawn(db.clone(), stop.clone()).map_err(|e| {
        Failure::new(
            EX_SOFTWARE,
            format!("cannot start the report facts job: {e}"),
        )
    })?;
    // Surveys off: scheduled ones wait (and are dropped once older than a
    // link's lifetime when surveys are on again); sent links keep working.
    let csat_job = if config.csat_enabled {
        let base_url = config.base_url.clone().unwrap_or_else(|| {
            tracing::warn!(
                listen = %config.listen,
                "no HELPDESK_BASE_URL: survey links point at the listen address; set it to the public URL"
            );
            format!("http://{}", config.listen)
        });
        let settings = crate::csat::job::Settings::new(&config, &secret, &base_url);
        Some(
            crate::csat::job::spawn(db.clone(), settings, stop.clone()).map_err(|e| {
                Failure::new(EX_SOFTWARE, format!("cannot start the survey job: {e}"))
            })?,
        )
    } else {
        None
    };
    let served = actix_web::rt::System::new().block_on(async move {
        let listen = config.listen;
        let app = Application::build(config, db, &secret)
            .map_err(|e| Failure::new(super::EX_UNAVAILABLE, format!("cannot listen on {listen}: {e}")))?;
        tracing::info!(address = %format!("http://{}:{}", listen.ip(), app.port()), db = backend, "listening");
        app.run_until_stopped()
            .await
            .map_err(|e| Failure::new(EX_SOFTWARE, format!("server failed: {e}")))?;
        Ok(())
    });
    // The watcher finishes its batch (a commit, then the moves) and stops.
    stop.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        let _ = w.join();
    }
    if let Some(p) = imap_poller {
        let _ = p.join();
    }
    // The sender finishes the mail in hand (sent, then marked) and stops.
    if let Some(s) = sender {
        let _ = s.join();
    }
    let _ = sla_job.join();
    let _ = facts_job.join();
    if let Some(j) = csat_job {
        let _ = j.join();
    }
    if served.is_ok() {
        tracing::info!("shut down");
    }
    served
}

/// The store for mail commands: any failure to reach it is a temporary
/// failure, so the MTA keeps the mail and retries.
fn connect_for_mail(config: &Config) -> Result<(Db, MessageIdSigner), Failure> {
    let tempfail = |e: DbError| {
        Failure::new(
            EX_TEMPFAIL,
            format!("database {}: {e}", redact_url(&config.database_url)),
        )
    };
    let db = Db::connect(&config.database_url).map_err(tempfail)?;
    let secret = crate::settings::server_secret(&db, config.secret.as_deref()).map_err(tempfail)?;
    Ok((db, MessageIdSigner::new(&secret, &config.mail_domain())))
}

pub fn ingest(config: &Config, args: IngestArgs) -> Result<(), Failure> {
    let mut raw = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut raw)
        .map_err(|e| Failure::new(EX_TEMPFAIL, format!("cannot read the mail from stdin: {e}")))?;
    if raw.is_empty() {
        return Err(Failure::new(EX_NOINPUT, "no mail on standard input"));
    }
    let (db, signer) = connect_for_mail(config)?;
    let mailbox = match &args.mailbox {
        Some(a) => {
            let addr = EmailAddress::parse(a)
                .map_err(|m| Failure::new(super::EX_CONFIG, format!("--mailbox: {m}")))?;
            let found = db
                .query(|c| crate::mailboxes::find_by_address(c, &addr))
                .map_err(|e| Failure::new(EX_TEMPFAIL, e.to_string()))?;
            if found.is_none() {
                tracing::warn!(mailbox = %addr, "no mailbox with this address is configured; the mail comes in without one");
            }
            found
        }
        None => None,
    };
    let ctx = Ingest::new(signer, config, mailbox)
        .load_mailboxes(&db)
        .map_err(|e| Failure::new(EX_TEMPFAIL, e.to_string()))?;
    match inbound::ingest(&db, &ctx, &raw, now_ms()) {
        Ok(Outcome::Quarantined {
            quarantine_id,
            reason,
        }) => Err(Failure::new(
            EX_DATAERR,
            format!(
                "the mail was quarantined (stored as entry {quarantine_id} for an admin): {reason}"
            ),
        )),
        Ok(o) => {
            match o.ticket_id() {
                Some(t) => println!("{} ticket {t}", o.kind()),
                None => println!("{}", o.kind()),
            }
            Ok(())
        }
        Err(e) => Err(Failure::new(
            EX_TEMPFAIL,
            format!("{e}; not stored, try again later"),
        )),
    }
}

/// One pass over every maildir and IMAP account. Each source runs even
/// when another failed; the exit code is 75 when any failure is temporary
/// (store or server unavailable: what was not committed stays put).
pub fn fetch(config: &Config) -> Result<(), Failure> {
    if config.maildirs.is_empty() && config.imap.is_empty() {
        eprintln!("no mail sources configured (maildirs, imap)");
        return Ok(());
    }
    let (db, signer) = connect_for_mail(config)?;
    let mut total = maildir::PassSummary::default();
    let mut failures: Vec<Failure> = Vec::new();
    if !config.maildirs.is_empty() {
        match maildir::fetch_all(&db, &signer, config) {
            Ok(s) => total.merge(&s),
            Err(e @ maildir::MaildirError::Io { .. }) => {
                failures.push(Failure::new(EX_NOINPUT, e.to_string()))
            }
            Err(maildir::MaildirError::Ingest(i)) => failures.push(Failure::new(
                EX_TEMPFAIL,
                format!("{i}; the rest stays in new/"),
            )),
        }
    }
    for (_, result) in imap::fetch_all(&db, &signer, config) {
        match result {
            Ok(s) => total.merge(&s),
            Err(e) => failures.push(Failure::new(EX_TEMPFAIL, e.to_string())),
        }
    }
    eprintln!("{total}");
    if failures.is_empty() {
        return Ok(());
    }
    let code = if failures.iter().any(|f| f.code == EX_TEMPFAIL) {
        EX_TEMPFAIL
    } else {
        failures[0].code
    };
    let message = failures
        .into_iter()
        .map(|f| f.message)
        .collect::<Vec<_>>()
        .join("\nerror: ");
    Err(Failure::new(code, message))
}

pub fn migrate(config: &Config) -> Result<(), Failure> {
    let db = connect(config)?;
    println!(
        "database {} is up to date ({})",
        redact_url(&config.database_url),
        db.backend().as_str()
    );
    Ok(())
}

/// One line from stdin; on a terminal, asked for twice without echo.
fn read_password() -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password("Password: ")
            .map_err(|e| Failure::new(EX_NOINPUT, format!("cannot read the password: {e}")))?;
        let again = rpassword::prompt_password("Repeat password: ")
            .map_err(|e| Failure::new(EX_NOINPUT, format!("cannot read the password: {e}")))?;
        if first != again {
            return Err(Failure::new(EX_DATAERR, "the passwords differ"));
        }
        return Ok(first);
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| {
        Failure::new(
            EX_NOINPUT,
            format!("cannot read the password from stdin: {e}"),
        )
    })?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn user_add(config: &Config, args: UserAddArgs) -> Result<(), Failure> {
    let email = EmailAddress::parse(&args.email)
        .map_err(|m| Failure::new(EX_DATAERR, format!("--email: {m}")))?;
    if args.name.trim().is_empty() {
        return Err(Failure::new(EX_DATAERR, "--name: a name is required"));
    }
    let pw = read_password()?;
    password::validate(&pw).map_err(|m| Failure::new(EX_DATAERR, format!("password: {m}")))?;
    let hash = password::hash(&pw).map_err(|m| Failure::new(EX_SOFTWARE, m))?;
    let db = connect(config)?;
    let now = now_ms();
    let (user, group) = db.write(|c| -> Result<_, PeopleError> {
        let user = people::create_user(
            c,
            NewStaff {
                email: &email,
                name: &args.name,
                role: args.role,
                password_hash: Some(hash),
            },
            now,
        )?;
        let group = match &args.group {
            Some(name) => {
                let (g, created) = people::find_or_create_group(c, name, now)?;
                people::add_member(c, g.id, user.id)?;
                Some((g.name, created))
            }
            None => None,
        };
        Ok((user, group))
    })?;
    println!(
        "added {} {} <{}> (id {})",
        user.role, user.name, user.email, user.id
    );
    if let Some((name, created)) = group {
        println!(
            "member of group {name:?}{}",
            if created { " (new group)" } else { "" }
        );
    }
    Ok(())
}

pub fn token_create(config: &Config, args: TokenCreateArgs) -> Result<(), Failure> {
    let email = EmailAddress::parse(&args.user)
        .map_err(|m| Failure::new(EX_DATAERR, format!("--user: {m}")))?;
    let db = connect(config)?;
    let token = db.write(|c| -> Result<String, Failure> {
        let user = people::find_user_by_email(c, &email)
            .map_err(DbError::from)?
            .filter(|u| u.active)
            .ok_or_else(|| {
                Failure::new(EX_DATAERR, format!("--user: no active staff user {email}"))
            })?;
        Ok(tokens::create(c, user.id, &args.name, now_ms()).map_err(DbError::from)?)
    })?;
    eprintln!(
        "token for {email} (shown only this once; send it as 'Authorization: Bearer <token>'):"
    );
    println!("{token}");
    Ok(())
}

pub fn import(config: &Config, args: ImportArgs) -> Result<(), Failure> {
    if !args.file.is_file() {
        return Err(Failure::new(
            EX_NOINPUT,
            format!("{}: no such file", args.file.display()),
        ));
    }
    let db = connect(config)?;
    let opts = crate::import::Options {
        batch_size: args.batch_size as usize,
        ..Default::default()
    };
    let summary = crate::import::import_file(&db, &args.file, &opts, |line, message| {
        eprintln!("line {line}: {message} (skipped)");
    })
    .map_err(|e| match e {
        crate::import::ImportError::Io { .. } => Failure::new(EX_NOINPUT, e.to_string()),
        crate::import::ImportError::Store(t) => Failure::new(super::EX_TEMPFAIL, t.to_string()),
    })?;
    eprintln!("{summary}");
    if summary.bad > 0 {
        return Err(Failure::new(
            EX_DATAERR,
            format!(
                "{} bad lines were skipped; the rest is imported",
                summary.bad
            ),
        ));
    }
    Ok(())
}

pub fn report(config: &Config, args: ReportArgs) -> Result<(), Failure> {
    use crate::reports::{self, RawParams, ReportError, ReportParams};
    let csv = match args.format.trim() {
        "json" => false,
        "csv" => true,
        other => {
            return Err(Failure::new(
                super::EX_USAGE,
                format!("--format: {other:?} is not a format (expected json or csv)"),
            ))
        }
    };
    let raw = RawParams {
        from: Some(args.from),
        to: Some(args.to),
        tz: args.tz,
        group: args.group,
        agent: args.agent,
        priority: args.priority,
        channel: args.channel,
    };
    let db = connect(config)?;
    let mut conn = db.conn()?;
    let p = ReportParams::parse(&mut conn, &raw).map_err(|e| match e {
        ReportError::Missing { field, message } | ReportError::Invalid { field, message } => {
            Failure::new(super::EX_USAGE, format!("--{field}: {message}"))
        }
        ReportError::Db(d) => DbError::from(d).into(),
    })?;
    let report = reports::report_pooled(&db, &mut conn, &p, now_ms()).map_err(DbError::from)?;
    let text = if csv {
        reports::csv::render(&report)
    } else {
        let mut json = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::new(EX_SOFTWARE, e.to_string()))?;
        json.push('\n');
        json
    };
    use std::io::Write;
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| Failure::new(EX_SOFTWARE, format!("cannot write the report: {e}")))
}
