//! Helpers the benchmarks share (`mod common;` in each; a directory, so
//! cargo does not take it for a benchmark of its own).

#![allow(dead_code)] // each benchmark uses a different subset

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

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
