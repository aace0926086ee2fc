//! Reads a JSON Lines file and imports it in batches through
//! `tickets::import`. Bad lines are reported with their number and skipped.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::db::Db;
use std::sync::{mpsc, Mutex};

use crate::db::Backend;
use crate::tickets::import::{
    import_batch, prepare, resolve_people, write_tickets, BatchResult, ImportCache, People,
    PreparedTicket,
};
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
    /// Connections writing tickets at once; None picks one per core on
    /// PostgreSQL (whose server side is the bottleneck) and always one on
    /// SQLite, which has a single writer anyway.
    pub writers: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_size: 1000,
            progress: std::io::stderr().is_terminal(),
            writers: None,
        }
    }
}

/// What the parsing thread hands to the writer.
enum Parsed {
    Bad(usize, String),
    /// An external id seen earlier in the file: the first occurrence wins,
    /// whichever writer happens to commit first.
    Repeat,
    Batch(Batch),
}

/// A batch ready for a writer: its people already exist.
struct Job {
    batch: Batch,
    people: People,
}

type Done = (Batch, Result<BatchResult, TicketError>);

/// Imports `path`; `bad_line(number, message)` hears of each skipped line.
///
/// One thread parses and validates; this one creates the people each batch
/// names (serially, so writers never race to create the same customer);
/// writer threads store the tickets, each batch in one transaction.
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
    let writers = match db.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => opts
            .writers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().min(4)))
            .max(1),
    };
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut cache = ImportCache::default();
    let batch_size = opts.batch_size.max(1);
    std::thread::scope(|scope| -> Result<(), ImportError> {
        let (parsed_tx, parsed_rx) = mpsc::sync_channel::<Parsed>(2);
        let parser_bar = bar.clone();
        let parser = scope.spawn(move || parse_batches(file, batch_size, &parser_bar, parsed_tx));

        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(writers);
        let job_rx = std::sync::Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        for _ in 0..writers {
            let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
            scope.spawn(move || loop {
                let job = job_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok(job) = job else { break };
                let result =
                    db.write(|c| write_tickets(c, &job.batch.tickets, &job.people, now_ms()));
                if done_tx.send((job.batch, result)).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);

        for msg in parsed_rx {
            match msg {
                Parsed::Bad(number, message) => {
                    summary.bad += 1;
                    bar.suspend(|| bad_line(number, &message));
                }
                Parsed::Repeat => summary.skipped += 1,
                Parsed::Batch(batch) => {
                    match db.write(|c| resolve_people(c, &batch.tickets, &mut cache, now_ms())) {
                        Ok(people) => {
                            if job_tx.send(Job { batch, people }).is_err() {
                                break; // every writer stopped; their results say why
                            }
                        }
                        Err(e) => settle(
                            db,
                            (batch, Err(e)),
                            &mut cache,
                            &mut summary,
                            &bar,
                            &mut bad_line,
                        )?,
                    }
                }
            }
            while let Ok(done) = done_rx.try_recv() {
                settle(db, done, &mut cache, &mut summary, &bar, &mut bad_line)?;
            }
        }
        drop(job_tx);
        for done in done_rx {
            settle(db, done, &mut cache, &mut summary, &bar, &mut bad_line)?;
        }
        parser
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the parsing thread panicked")))
            .map_err(io_err)
    })?;
    bar.finish_and_clear();
    summary.elapsed = started.elapsed();
    if summary.imported > 0 {
        // Fresh statistics after a bulk load, so the planner picks the
        // indexes (PostgreSQL has none for a new table until autovacuum runs).
        db.query(|c| {
            use diesel::connection::SimpleConnection;
            c.batch_execute("ANALYZE")
        })
        .map_err(|e| ImportError::Store(TicketError::Store(e)))?;
        // Open tickets get their SLA clocks like any other (a no-op
        // without policies).
        crate::tickets::sla::refresh_open(db)
            .map_err(|e| ImportError::Store(TicketError::Store(e)))?;
    }
    Ok(summary)
}

/// Reads lines, validates them and sends batches (and bad lines, in order).
fn parse_batches(
    file: std::fs::File,
    batch_size: usize,
    bar: &ProgressBar,
    tx: mpsc::SyncSender<Parsed>,
) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut bytes = Vec::new();
    let mut number = 0;
    let mut batch = Batch::default();
    let mut seen = std::collections::HashSet::new();
    loop {
        bytes.clear();
        let n = reader.read_until(b'\n', &mut bytes)?;
        if n == 0 {
            break;
        }
        number += 1;
        bar.inc(n as u64);
        // A line that is not UTF-8 is one bad line, not the end of the file.
        let Ok(line) = std::str::from_utf8(&bytes) else {
            if tx
                .send(Parsed::Bad(number, "the line is not valid UTF-8".into()))
                .is_err()
            {
                return Ok(());
            }
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let sent = match prepare(line) {
            Ok(t) if !seen.insert(t.external_id.clone()) => tx.send(Parsed::Repeat),
            Ok(t) => {
                batch.lines.push(number);
                batch.tickets.push(t);
                if batch.tickets.len() >= batch_size {
                    tx.send(Parsed::Batch(std::mem::take(&mut batch)))
                } else {
                    Ok(())
                }
            }
            Err(message) => tx.send(Parsed::Bad(number, message)),
        };
        if sent.is_err() {
            return Ok(()); // the writer stopped; it reports why
        }
    }
    if !batch.tickets.is_empty() {
        let _ = tx.send(Parsed::Batch(batch));
    }
    Ok(())
}

/// Prepared tickets and the line each came from.
#[derive(Default)]
struct Batch {
    lines: Vec<usize>,
    tickets: Vec<PreparedTicket>,
}

/// Counts a finished batch. A batch that broke a constraint is retried one
/// ticket at a time, so only the offending lines are reported and skipped.
fn settle(
    db: &Db,
    (batch, result): Done,
    cache: &mut ImportCache,
    summary: &mut Summary,
    bar: &ProgressBar,
    bad_line: &mut impl FnMut(usize, &str),
) -> Result<(), ImportError> {
    match result {
        Ok(r) => {
            summary.imported += r.imported;
            summary.skipped += r.skipped;
        }
        Err(TicketError::Store(e)) => return Err(TicketError::Store(e).into()),
        Err(_) => {
            for (number, t) in batch.lines.iter().zip(&batch.tickets) {
                match db.write(|c| import_batch(c, std::slice::from_ref(t), cache, now_ms())) {
                    Ok(r) => {
                        summary.imported += r.imported;
                        summary.skipped += r.skipped;
                    }
                    Err(TicketError::Store(e)) => return Err(TicketError::Store(e).into()),
                    Err(e) => {
                        // The rolled-back transaction may have created people the cache now names.
                        *cache = ImportCache::default();
                        summary.bad += 1;
                        bar.suspend(|| bad_line(*number, &e.to_string()));
                    }
                }
            }
        }
    }
    bar.set_message(format!("{} tickets", summary.imported));
    Ok(())
}
