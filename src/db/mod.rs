//! Storage: one connection type over SQLite and PostgreSQL, picked by URL,
//! pooled, with migrations embedded per backend and applied before the pool
//! hands out connections.

pub mod id_list;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Arbitrary constant for `pg_advisory_lock`, so several `serve` processes
/// starting together apply the migrations once.
const MIGRATION_LOCK_KEY: i64 = 0x6865_6c70_6465_736b; // "helpdesk"

/// Runs `$body` with `$c` bound to the concrete connection, for the few
/// queries the multi-backend layer cannot express (multi-row inserts, row
/// locks). The body is compiled once per backend.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Postgres($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// The backend of `DbConn` (either database), for query nodes of our own.
pub type AnyBackend = <DbConn as diesel::Connection>::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL scheme {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(diesel::result::Error),
}

thread_local! {
    /// Set when a query on this thread found the store unavailable; the
    /// pool then drops the connection it hands back instead of keeping it.
    /// diesel only counts a connection broken when its transaction state
    /// is, so a PostgreSQL connection whose server restarted would
    /// otherwise fail every read until a write happened to break it.
    static CONNECTION_LOST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl From<diesel::result::Error> for DbError {
    /// A lost connection or a full disk is the store being unavailable
    /// (503, exit 75: try again later), not a failed query (a bug).
    fn from(e: diesel::result::Error) -> Self {
        if store_unavailable(&e) {
            CONNECTION_LOST.with(|l| l.set(true));
            DbError::Unavailable(e.to_string())
        } else {
            DbError::Query(e)
        }
    }
}

fn store_unavailable(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            [
                // SQLite
                "database or disk is full",
                "disk I/O error",
                "unable to open database file",
                // PostgreSQL going away (57P01 and friends), as libpq says it
                "terminating connection",
                "server closed the connection",
                "no connection to the server",
                "could not connect",
                "connection to server",
                "the database system is shutting down",
                "the database system is starting up",
                "the database system is in recovery mode",
                "could not extend file",
                "No space left on device",
            ]
            .iter()
            .any(|p| m.contains(p))
        }
        _ => false,
    }
}

/// Where the data lives, parsed from `HELPDESK_DATABASE_URL`.
#[derive(Debug, Clone)]
pub enum DbTarget {
    Sqlite(PathBuf),
    Postgres(String),
}

/// A PostgreSQL URL for a server on this machine gets `sslmode=disable`
/// unless it names an sslmode: TLS over loopback protects nothing, and
/// libpq's OpenSSL cleanup at process exit can crash a process whose other
/// threads still hold TLS connections (seen as SIGSEGV after every test had
/// passed). Remote servers keep libpq's default (`prefer`).
fn loopback_without_tls(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "::1");
    if !loopback || url.contains("sslmode=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}sslmode=disable")
}

impl DbTarget {
    /// An unknown scheme is an error: a typo must never create a stray SQLite file.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::BadUrl("sqlite:// without a path".into()));
            }
            Ok(DbTarget::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbTarget::Postgres(loopback_without_tls(url)))
        } else {
            let scheme = url.split("://").next().unwrap_or(url);
            Err(DbError::BadUrl(scheme.chars().take(40).collect()))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbTarget::Sqlite(_) => Backend::Sqlite,
            DbTarget::Postgres(_) => Backend::Postgres,
        }
    }

    fn establish(&self) -> Result<DbConn, diesel::ConnectionError> {
        match self {
            DbTarget::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                // WAL lets readers run beside the writer; FULL makes every commit
                // that acknowledges mail durable; busy_timeout covers other
                // processes, and comes first: switching to WAL needs a lock
                // that another process may hold.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 15000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                )
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConn::Sqlite(conn))
            }
            DbTarget::Postgres(url) => Ok(DbConn::Postgres(PgConnection::establish(url)?)),
        }
    }
}

pub struct Manager(DbTarget);

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        self.0.establish().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        // r2d2 asks on the thread that used the connection, as it returns.
        CONNECTION_LOST.with(|l| l.replace(false)) || conn.is_broken()
    }
}

pub type PooledConn = r2d2::PooledConnection<Manager>;

/// The shared handle to the store: cheap to clone, used from blocking threads only.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// SQLite has one writer: serializing writers in-process avoids lock
    /// upgrades failing with "database is locked" and busy-wait sleeps.
    write_lock: Arc<Mutex<()>>,
    /// The same across processes (`serve` and MTA pipes side by side): a
    /// lock file next to the database, so waiting writers queue in the
    /// kernel instead of SQLite's sleeping busy handler.
    file_lock: Option<Arc<std::fs::File>>,
}

/// Holds the cross-process writer lock until dropped.
struct FileLockGuard<'a>(&'a std::fs::File);

impl Drop for FileLockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Db {
    /// Connects, applies pending migrations, then builds the pool.
    pub fn connect(url: &str) -> Result<Db, DbError> {
        let target = DbTarget::parse(url)?;
        if let DbTarget::Sqlite(path) = &target {
            configure_sqlite();
            ensure_parent_dir(path)?;
        }
        let mut conn = target
            .establish()
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        run_migrations(&mut conn)?;
        drop(conn);
        let backend = target.backend();
        let file_lock = match &target {
            DbTarget::Sqlite(path) => {
                let mut lock_path = path.clone().into_os_string();
                lock_path.push(".writer-lock");
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map(Arc::new)
                    .ok()
            }
            DbTarget::Postgres(_) => None,
        };
        let max_size = match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            // No idle minimum: r2d2 would refill it from a background thread
            // whenever a connection is taken, and a short-lived command
            // (`helpdesk ingest`) exiting while libpq connects there crashes
            // in libpq's exit-time cleanup (SIGSEGV after the commit).
            .min_idle(Some(0))
            // No `SELECT 1` before every checkout (one more round trip per
            // request on PostgreSQL): a connection that failed is marked
            // broken by diesel and dropped when it comes back instead.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(Manager(target))
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        Ok(Db {
            pool,
            backend,
            write_lock: Arc::new(Mutex::new(())),
            file_lock,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn conn(&self) -> Result<PooledConn, DbError> {
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// A second connection for work that can use one beside the caller's
    /// (the reports), if the pool has one within a moment: never waits for
    /// a busy pool, where the work simply runs on one connection. A year's
    /// report at a million tickets took 0.64 s split over two connections
    /// against 1.22 s on one on PostgreSQL, and 0.38 s against 0.62 s on
    /// SQLite. (SQLite was slower split, 1.70 s against 1.04 s, until the
    /// older tickets' query stopped fetching a row per settled ticket: see
    /// the `ticket_facts_older_index` migration.)
    pub fn spare_conn(&self) -> Option<PooledConn> {
        self.pool.get_timeout(Duration::from_millis(50)).ok()
    }

    /// Runs `f` on a pooled connection without a transaction (reads).
    pub fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<DbError>,
    {
        let mut conn = self.conn()?;
        f(&mut conn)
    }

    /// `read` for plain diesel queries.
    pub fn query<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConn) -> diesel::QueryResult<T>,
    {
        self.read(|c| f(c).map_err(DbError::from))
    }

    /// Runs `f` in one write transaction: committed if it returns Ok, rolled
    /// back otherwise. On SQLite the transaction starts IMMEDIATE (takes the
    /// write lock up front) so it can never fail half-way on a lock upgrade.
    pub fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<DbError>,
    {
        let _guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        // Without the lock file (read-only directory) SQLite's own locking
        // still keeps writers apart, only less efficiently.
        let _file_guard = self
            .file_lock
            .as_deref()
            .and_then(|f| f.lock().ok().map(|_| FileLockGuard(f)));
        let mut conn = self.conn()?;
        let conn: &mut DbConn = &mut conn;
        let begun = match conn {
            DbConn::Sqlite(c) => {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
            }
            DbConn::Postgres(_) => DbConn::begin_transaction(conn),
        };
        begun.map_err(DbError::from)?;
        let outcome = f(conn);
        finish(conn, outcome)
    }
}

/// Ends the transaction `outcome` was reached in: committed if it is Ok,
/// rolled back otherwise.
fn finish<T, E: From<DbError>>(conn: &mut DbConn, outcome: Result<T, E>) -> Result<T, E> {
    match outcome {
        Ok(value) => {
            DbConn::commit_transaction(conn).map_err(DbError::from)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = DbConn::rollback_transaction(conn) {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// Runs `f` on PostgreSQL in one read-only snapshot whose prepared
/// statements keep one plan (`plan_cache_mode = force_generic_plan`, for
/// this transaction only); on SQLite runs it as is (its plans never look at
/// bound values, `configure_sqlite`).
///
/// For statements whose best plan is the same for every value bound: the
/// queue's merged listing is a union of index ranges, each with its own
/// ORDER BY and LIMIT, so the plan's shape is fixed by the SQL. PostgreSQL
/// still planned it on every execution (a generic plan for an agent's
/// "assigned to me elsewhere" arms is costed as reading thousands of rows,
/// a custom one knows they are empty, so it never switched): 0.5 ms of
/// planning against 0.13 ms of execution at a million tickets. The setting
/// stays within the transaction, as statements that need a plan per value
/// (ranges of dates, the SLA job's due times) run elsewhere.
pub fn with_generic_plans<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<DbError>,
{
    match conn {
        DbConn::Sqlite(_) => f(conn),
        DbConn::Postgres(c) => {
            // One round trip: both statements go as one simple query.
            AnsiTransactionManager::begin_transaction_sql(
                c,
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
                 SET LOCAL plan_cache_mode = force_generic_plan",
            )
            .map_err(DbError::from)?;
            let outcome = f(conn);
            finish(conn, outcome)
        }
    }
}

/// Process-wide SQLite settings, applied once before the first connection
/// opens (SQLite refuses them after it has initialized; then the defaults
/// stay, which are slower but equally correct).
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is called before any connection exists in
        // this process (Once, and Db::connect is the only opener). A pooled
        // connection is only ever used by one thread at a time (diesel's
        // SqliteConnection is not Sync), which is what multi-thread mode
        // requires; the per-call connection mutexes of serialized mode were
        // ~10 % of a page's samples. Memory statistics take a global mutex
        // on every allocation and nothing reads them.
        unsafe {
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MULTITHREAD);
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0);
            // Run for every connection this process opens from now on.
            libsqlite3_sys::sqlite3_auto_extension(Some(stable_plans));
        }
    });
}

/// Turns on SQLite's query planner stability guarantee for a new
/// connection. Without it a plan may depend on a bound value, so SQLite
/// marks such parameters and re-prepares the statement on the first step
/// after any of them is bound again, even to the same value. Every `LIMIT ?`
/// is such a parameter (SQLite codes a known limit as a constant), and
/// diesel binds the limit of `.limit(n)` and `.first()`: so each of those
/// cached statements was compiled anew on every execution (a fifth of the
/// queue page's CPU at a million tickets). Our plans never need a bound
/// value: the LIKE searches start with `%`, no partial index is chosen by
/// one.
unsafe extern "C" fn stable_plans(
    db: *mut libsqlite3_sys::sqlite3,
    _err: *mut *mut std::os::raw::c_char,
    _api: *const libsqlite3_sys::sqlite3_api_routines,
) -> std::os::raw::c_int {
    // SAFETY: SQLite calls this with the connection it is opening;
    // ENABLE_QPSG takes an int and an optional int* for the new setting.
    unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1,
            std::ptr::null_mut::<std::os::raw::c_int>(),
        );
    }
    libsqlite3_sys::SQLITE_OK
}

fn ensure_parent_dir(path: &Path) -> Result<(), DbError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|e| {
            DbError::Unavailable(format!("cannot create directory {}: {e}", dir.display()))
        }),
        _ => Ok(()),
    }
}

fn run_migrations(conn: &mut DbConn) -> Result<(), DbError> {
    let applied = match conn {
        DbConn::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.len())
            .map_err(|e| DbError::Migration(e.to_string()))?,
        DbConn::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len())
                .map_err(|e| DbError::Migration(e.to_string()));
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            result?
        }
    };
    if applied > 0 {
        tracing::info!(applied, "applied database migrations");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scheme_is_an_error_not_a_file() {
        assert!(matches!(DbTarget::parse("mysql://x"), Err(DbError::BadUrl(s)) if s == "mysql"));
        assert!(matches!(
            DbTarget::parse("data/helpdesk.db"),
            Err(DbError::BadUrl(_))
        ));
        assert!(matches!(
            DbTarget::parse("sqlite://"),
            Err(DbError::BadUrl(_))
        ));
        assert!(matches!(
            DbTarget::parse("sqlite://data/h.db"),
            Ok(DbTarget::Sqlite(p)) if p == Path::new("data/h.db")
        ));
        assert!(matches!(
            DbTarget::parse("postgresql://root@127.0.0.1/test"),
            Ok(DbTarget::Postgres(_))
        ));
    }

    #[test]
    fn loopback_postgres_goes_without_tls_unless_asked() {
        let f = loopback_without_tls;
        assert_eq!(
            f("postgres://root@127.0.0.1:5432/test"),
            "postgres://root@127.0.0.1:5432/test?sslmode=disable"
        );
        assert_eq!(
            f("postgres://u:p@localhost/db?application_name=x"),
            "postgres://u:p@localhost/db?application_name=x&sslmode=disable"
        );
        assert_eq!(
            f("postgres://[::1]:5432/db"),
            "postgres://[::1]:5432/db?sslmode=disable"
        );
        assert_eq!(
            f("postgres://root@127.0.0.1/test?sslmode=require"),
            "postgres://root@127.0.0.1/test?sslmode=require"
        );
        assert_eq!(
            f("postgres://db.example.com/test"),
            "postgres://db.example.com/test"
        );
        assert_eq!(
            f("postgres://u:p%40127.0.0.1@db.example.com/x"),
            "postgres://u:p%40127.0.0.1@db.example.com/x"
        );
    }
}
