//! Reports of METRICS.md: parameters (`ReportParams`), the figures
//! (`compute`, pure), the queries that feed them (`load`) and the CSV form.
//!
//! Decisions where METRICS.md is silent (also in `compute`):
//! - Cohort metrics look at each ticket's history up to the report's end
//!   instant `to` (exclusive), so a report over a past period gives the same
//!   answer tomorrow; a reply after `to` does not count for that period.
//! - Filters use the ticket's current `group`, `assignee` (Zendesk reports
//!   by assignee too), `priority` and `channel`; they narrow every figure
//!   (cohort, backlog, volume and CSAT), since all are about tickets.

pub mod compute;
pub mod csv;
pub mod facts;
pub mod load;
pub mod series;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::db::DbConn;
use crate::people::{self, EmailAddress};
use crate::tickets::{Channel, Priority};

/// Longest period a report covers, so one request cannot ask for centuries.
pub const MAX_DAYS: i64 = 400;

/// A validated report request.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportParams {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz: Tz,
    pub group: Option<i64>,
    pub agent: Option<i64>,
    pub priority: Option<Priority>,
    pub channel: Option<Channel>,
}

/// The request as typed (query string or command line).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RawParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub tz: Option<String>,
    pub group: Option<String>,
    pub agent: Option<String>,
    pub priority: Option<String>,
    pub channel: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A required parameter is missing (a malformed request).
    #[error("{field}: {message}")]
    Missing {
        field: &'static str,
        message: String,
    },
    /// A parameter has a value we cannot use.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ReportError {
    ReportError::Invalid {
        field,
        message: message.into(),
    }
}

fn date(field: &'static str, raw: Option<&str>) -> Result<NaiveDate, ReportError> {
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(ReportError::Missing {
            field,
            message: "a date (YYYY-MM-DD) is required".into(),
        })?;
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| invalid(field, format!("{raw:?} is not a date (YYYY-MM-DD)")))
}

fn nonempty(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ReportParams {
    /// Validates `raw`; group and agent are ids or names (the agent's email).
    pub fn parse(conn: &mut DbConn, raw: &RawParams) -> Result<ReportParams, ReportError> {
        let from = date("from", raw.from.as_deref())?;
        let to = date("to", raw.to.as_deref())?;
        if to <= from {
            return Err(invalid(
                "to",
                "must be after from (the period is [from, to))",
            ));
        }
        if (to - from).num_days() > MAX_DAYS {
            return Err(invalid(
                "to",
                format!("a report covers at most {MAX_DAYS} days"),
            ));
        }
        let tz = match nonempty(&raw.tz) {
            None => Tz::UTC,
            Some(t) => t.parse().map_err(|_| {
                invalid(
                    "tz",
                    format!(
                        "{t:?} is not a known time zone (use an IANA name such as Europe/Berlin)"
                    ),
                )
            })?,
        };
        let group = match nonempty(&raw.group) {
            None => None,
            Some(g) => {
                let found = match g.parse::<i64>() {
                    Ok(id) => people::find_group(conn, id)?,
                    Err(_) => people::find_group_by_name(conn, g)?,
                };
                Some(
                    found
                        .map(|g| g.id)
                        .ok_or_else(|| invalid("group", format!("no group {g:?}")))?,
                )
            }
        };
        let agent = match nonempty(&raw.agent) {
            None => None,
            Some(a) => {
                let found = match a.parse::<i64>() {
                    Ok(id) => people::find_user(conn, id)?,
                    Err(_) => match EmailAddress::parse(a) {
                        Ok(e) => people::find_user_by_email(conn, &e)?,
                        Err(m) => return Err(invalid("agent", m.to_string())),
                    },
                };
                Some(
                    found
                        .map(|u| u.id)
                        .ok_or_else(|| invalid("agent", format!("no agent {a:?}")))?,
                )
            }
        };
        let priority = nonempty(&raw.priority)
            .map(str::parse::<Priority>)
            .transpose()
            .map_err(|m| invalid("priority", m))?;
        let channel = nonempty(&raw.channel)
            .map(str::parse::<Channel>)
            .transpose()
            .map_err(|m| invalid("channel", m))?;
        Ok(ReportParams {
            from,
            to,
            tz,
            group,
            agent,
            priority,
            channel,
        })
    }

    /// The instants the period's days begin, `from` to `to` inclusive.
    pub fn day_starts(&self) -> Vec<(NaiveDate, i64)> {
        let mut out = Vec::new();
        let mut d = self.from;
        while d <= self.to {
            out.push((d, day_start(self.tz, d)));
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        out
    }
}

/// The first instant of `date` in `tz` (UTC ms). Where midnight does not
/// exist (a DST gap), the first local time of the day that does.
pub fn day_start(tz: Tz, date: NaiveDate) -> i64 {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    for step in 0..=96 {
        let local = midnight + Duration::minutes(15 * step);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc).timestamp_millis();
        }
    }
    midnight.and_utc().timestamp_millis()
}

/// RFC 3339 UTC with whole seconds, as `backlog.at` shows it.
pub fn rfc3339_utc(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

// ---- the report, serialised exactly as METRICS.md shows it ----

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub tz: String,
    pub volume: Volume,
    pub first_response: FirstResponse,
    pub resolution: Resolution,
    pub fcr: Rate,
    pub backlog: Backlog,
    pub reopen: Rate,
    pub escalation: Rate,
    pub interactions_per_ticket: Option<f64>,
    pub sla: Sla,
    pub csat: Csat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Volume {
    pub created: u64,
    pub resolved: u64,
    pub by_channel: ByChannel,
}

/// Every channel, always, in a fixed order.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ByChannel {
    pub email: u64,
    pub web: u64,
    pub agent: u64,
    pub api: u64,
    pub import: u64,
}

impl ByChannel {
    pub fn add(&mut self, c: Channel) {
        match c {
            Channel::Email => self.email += 1,
            Channel::Web => self.web += 1,
            Channel::Agent => self.agent += 1,
            Channel::Api => self.api += 1,
            Channel::Import => self.import += 1,
        }
    }

    pub fn rows(&self) -> [(&'static str, u64); 5] {
        [
            ("email", self.email),
            ("web", self.web),
            ("agent", self.agent),
            ("api", self.api),
            ("import", self.import),
        ]
    }
}

/// Median, mean and p90 of some durations, calendar and business.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Stats {
    pub median_s: Option<i64>,
    pub mean_s: Option<f64>,
    pub p90_s: Option<i64>,
    pub business_median_s: Option<i64>,
    pub business_mean_s: Option<f64>,
    pub business_p90_s: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct FirstResponse {
    pub count: u64,
    pub pending: u64,
    #[serde(flatten)]
    pub stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Resolution {
    pub count: u64,
    #[serde(flatten)]
    pub stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Rate {
    pub eligible: u64,
    pub count: u64,
    pub rate: Option<f64>,
}

impl Rate {
    pub fn new(eligible: u64, count: u64) -> Rate {
        Rate {
            eligible,
            count,
            rate: ratio(count, eligible),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Backlog {
    pub at: String,
    pub open: u64,
    pub by_age: ByAge,
    pub daily: Vec<Day>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ByAge {
    pub lt_1d: u64,
    pub d1_3: u64,
    pub d3_7: u64,
    pub gt_7d: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    pub date: String,
    pub open: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Sla {
    pub first_response: MetMissed,
    pub resolution: MetMissed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct MetMissed {
    pub met: u64,
    pub missed: u64,
    pub rate: Option<f64>,
}

impl MetMissed {
    pub fn new(met: u64, missed: u64) -> MetMissed {
        MetMissed {
            met,
            missed,
            rate: ratio(met, met + missed),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Csat {
    pub sent: u64,
    pub responses: u64,
    pub score: Option<f64>,
    pub average: Option<f64>,
    pub response_rate: Option<f64>,
}

/// `part / whole`, or null when there is nothing to divide by.
pub fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Builds the whole report for `p` from the store, as of `now`.
pub fn report(
    conn: &mut DbConn,
    p: &ReportParams,
    now: i64,
) -> Result<Report, diesel::result::Error> {
    load::run(conn, p, now)
}

/// `report`, reading half of the period's tickets on a second connection
/// of `db` at the same time when the pool has one (`Db::spare_conn`).
pub fn report_pooled(
    db: &crate::db::Db,
    conn: &mut DbConn,
    p: &ReportParams,
    now: i64,
) -> Result<Report, diesel::result::Error> {
    let mut spare = db.spare_conn();
    load::run_with(conn, spare.as_deref_mut(), p, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_starts_follow_the_zone() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 2026-03-29 00:00 CET is 23:00 UTC the day before.
        assert_eq!(rfc3339_utc(day_start(berlin, d)), "2026-03-28T23:00:00Z");
        // The next day begins at 00:00 CEST, 22:00 UTC.
        assert_eq!(
            rfc3339_utc(day_start(berlin, d.succ_opt().unwrap())),
            "2026-03-29T22:00:00Z"
        );
        // Havana skips midnight at DST: the day begins at 01:00 local.
        let havana: Tz = "America/Havana".parse().unwrap();
        let h = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        assert_eq!(rfc3339_utc(day_start(havana, h)), "2026-03-08T05:00:00Z");
    }
}
