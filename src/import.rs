//! Reads a JSON Lines file and imports it in batches through
//! `tickets::import`. Bad lines are reported with their number and skipped.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::db::Db;
use crate::tickets::import::{import_batch, prepare, ImportCache, PreparedTicket};
use crate::tickets::TicketError;
use crate::time::now_ms;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    pub imported: usize,
    pub skipped: usize,
    pub bad: usize,
    pub elapsed: Duration,
}

impl Summary {
    pub fn rate(&self) -> f64 {
        self.imported as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "imported {} tickets, skipped {} already present, {} bad lines, in {:.2} s ({:.0} tickets/s)",
            self.imported,
            self.skipped,
            self.bad,
            self.elapsed.as_secs_f64(),
            self.rate()
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] TicketError),
}

pub struct Options {
    pub batch_size: usize,
    /// Draw a progress bar (only ever on a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_size: 1000,
            progress: std::io::stderr().is_terminal(),
        }
    }
}

/// Imports `path`; `bad_line(number, message)` hears of each skipped line.
pub fn import_file(
    db: &Db,
    path: &Path,
    opts: &Options,
    mut bad_line: impl FnMut(usize, &str),
) -> Result<Summary, ImportError> {
    let io_err = |source| ImportError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if opts.progress {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {percent:>3}% {bytes}/{total_bytes} {msg} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut cache = ImportCache::default();
    let mut batch = Batch::default();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(io_err)?;
        if n == 0 {
            break;
        }
        number += 1;
        bar.inc(n as u64);
        if line.trim().is_empty() {
            continue;
        }
        match prepare(&line) {
            Ok(t) => {
                batch.lines.push(number);
                batch.tickets.push(t);
            }
            Err(message) => {
                summary.bad += 1;
                bar.suspend(|| bad_line(number, &message));
            }
        }
        if batch.tickets.len() >= opts.batch_size.max(1) {
            flush(
                db,
                &mut batch,
                &mut cache,
                &mut summary,
                &bar,
                &mut bad_line,
            )?;
            bar.set_message(format!("{} tickets", summary.imported));
        }
    }
    flush(
        db,
        &mut batch,
        &mut cache,
        &mut summary,
        &bar,
        &mut bad_line,
    )?;
    bar.finish_and_clear();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Prepared tickets and the line each came from.
#[derive(Default)]
struct Batch {
    lines: Vec<usize>,
    tickets: Vec<PreparedTicket>,
}

fn flush(
    db: &Db,
    batch: &mut Batch,
    cache: &mut ImportCache,
    summary: &mut Summary,
    bar: &ProgressBar,
    bad_line: &mut impl FnMut(usize, &str),
) -> Result<(), ImportError> {
    if batch.tickets.is_empty() {
        return Ok(());
    }
    match db.write(|c| import_batch(c, &batch.tickets, cache, now_ms())) {
        Ok(r) => {
            summary.imported += r.imported;
            summary.skipped += r.skipped;
        }
        Err(TicketError::Store(e)) => return Err(TicketError::Store(e).into()),
        Err(_) => {
            // Something in the batch broke a constraint: find the line by
            // importing one at a time. The cache may name rows that were
            // rolled back, so start it afresh.
            *cache = ImportCache::default();
            for (number, t) in batch.lines.iter().zip(&batch.tickets) {
                match db.write(|c| import_batch(c, std::slice::from_ref(t), cache, now_ms())) {
                    Ok(r) => {
                        summary.imported += r.imported;
                        summary.skipped += r.skipped;
                    }
                    Err(TicketError::Store(e)) => return Err(TicketError::Store(e).into()),
                    Err(e) => {
                        *cache = ImportCache::default();
                        summary.bad += 1;
                        bar.suspend(|| bad_line(*number, &e.to_string()));
                    }
                }
            }
        }
    }
    batch.lines.clear();
    batch.tickets.clear();
    Ok(())
}
