//! Command line: `serve`, `migrate`, `ingest`, `fetch`, `user add`,
//! `token create`, `import`, `report`.
//! Exit codes follow sysexits(3).

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::tickets::Role;

#[derive(Debug, Parser)]
#[command(name = "helpdesk", version, about = "Help-desk ticketing server")]
pub struct Cli {
    /// Settings file (default: ./helpdesk.toml when present, or $HELPDESK_CONFIG)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (and, as they land, the mail sources and jobs)
    Serve,
    /// Apply pending database migrations and exit
    Migrate,
    /// Manage staff users
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Import tickets with their history from a JSON Lines file (METRICS.md format)
    Import(ImportArgs),
    /// Ingest one mail from standard input (MTA pipe). Exits 0 once it is
    /// committed, 75 when the store is unavailable (the MTA retries), 65
    /// when it was quarantined (stored for an admin)
    Ingest(IngestArgs),
    /// Run one pass over the configured mail sources (maildirs and IMAP
    /// accounts) and exit: 0 when everything found is committed, 75 when
    /// the store or a server is unavailable (the rest is fetched next time)
    Fetch,
    /// Print the METRICS.md report for a period as JSON or CSV. Exits 64 on
    /// bad arguments, 75 when the store is unavailable
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// First day of the period (YYYY-MM-DD, in --tz)
    #[arg(long)]
    pub from: String,
    /// The day after the period (YYYY-MM-DD): the period is [from, to)
    #[arg(long)]
    pub to: String,
    /// IANA time zone of the days (default UTC)
    #[arg(long)]
    pub tz: Option<String>,
    /// json or csv
    #[arg(long, default_value = "json")]
    pub format: String,
    /// Only tickets of this group (id or name)
    #[arg(long)]
    pub group: Option<String>,
    /// Only tickets assigned to this agent (id or email)
    #[arg(long)]
    pub agent: Option<String>,
    /// Only tickets of this priority
    #[arg(long)]
    pub priority: Option<String>,
    /// Only tickets opened through this channel
    #[arg(long)]
    pub channel: Option<String>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The support address the mail was sent to (a configured mailbox)
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a staff user; the password is read from standard input
    Add(UserAddArgs),
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// Add the user to this group (created when missing)
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a staff user and print it (it is shown only once)
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Email of the staff user the token acts as
    #[arg(long)]
    pub user: String,
    /// A label to recognise the token by
    #[arg(long, default_value = "cli")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The JSON Lines file
    pub file: PathBuf,
    /// Tickets written per transaction
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
}

/// A failure with its sysexits code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

pub const EX_USAGE: u8 = 64;
pub const EX_DATAERR: u8 = 65;
pub const EX_NOINPUT: u8 = 66;
pub const EX_UNAVAILABLE: u8 = 69;
pub const EX_SOFTWARE: u8 = 70;
pub const EX_TEMPFAIL: u8 = 75;
pub const EX_CONFIG: u8 = 78;

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<crate::db::DbError> for Failure {
    fn from(e: crate::db::DbError) -> Self {
        use crate::db::DbError;
        let code = match &e {
            DbError::BadUrl(_) => EX_CONFIG,
            DbError::Unavailable(_) => EX_TEMPFAIL,
            _ => EX_SOFTWARE,
        };
        Failure::new(code, e.to_string())
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: configuration: {e}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    crate::telemetry::init(config.log_format);
    let result = match cli.command {
        Command::Serve => commands::serve(config),
        Command::Migrate => commands::migrate(&config),
        Command::User(UserCommand::Add(args)) => commands::user_add(&config, args),
        Command::Token(TokenCommand::Create(args)) => commands::token_create(&config, args),
        Command::Import(args) => commands::import(&config, args),
        Command::Ingest(args) => commands::ingest(&config, args),
        Command::Fetch => commands::fetch(&config),
        Command::Report(args) => commands::report(&config, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
