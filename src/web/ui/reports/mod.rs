//! /reports: the METRICS.md figures for managers and admins, with the
//! previous period beside them, server-drawn charts, per-agent and
//! per-group tables, and their downloads (served with the session, since
//! the API needs a bearer token).

mod view;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::session::Staff;
use super::{blocking, html, FieldErrors, PageError};
use crate::db::DbConn;
use crate::reports::series::{Row, Series};
use crate::reports::{self, RawParams, Report, ReportError, ReportParams};
use crate::web::routes::{Access, Routes};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Staff, "/reports", show)
        .get(Access::Staff, "/reports/agents.csv", agents_csv)
        .get(Access::Staff, "/reports/groups.csv", groups_csv)
        .get(Access::Staff, "/reports/report.csv", report_csv)
        .get(Access::Staff, "/reports/report.json", report_json);
}

/// The query string as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Query {
    pub period: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub tz: Option<String>,
    pub group: Option<String>,
    pub agent: Option<String>,
    pub priority: Option<String>,
    pub channel: Option<String>,
}

/// The periods of the picker.
pub const PERIODS: [(&str, &str); 4] = [
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("month", "This month"),
    ("custom", "Custom"),
];

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The period's `[from, to)` for `period` as of `today` (in the report's
/// zone): the last N days end with today; "this month" is the month so far.
/// `None` for a custom period (the dates come from the query).
pub fn period_dates(period: &str, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let to = today.succ_opt().unwrap_or(today);
    match period {
        "7d" => Some((to - Days::new(7), to)),
        "30d" => Some((to - Days::new(30), to)),
        "month" => Some((today.with_day(1).unwrap_or(today), to)),
        _ => None,
    }
}

/// The typed query turned into the engine's raw parameters, with the
/// period resolved to dates; or the fields that are wrong.
fn resolve(q: &Query) -> Result<RawParams, FieldErrors> {
    let mut errors = FieldErrors::default();
    let period = nonempty(&q.period).unwrap_or("30d").to_string();
    if !PERIODS.iter().any(|(v, _)| *v == period) {
        errors.add(
            "period",
            format!("{period:?} is not a period (choose one from the list)"),
        );
    }
    let tz: Tz = match nonempty(&q.tz) {
        None => Tz::UTC,
        Some(t) => match t.parse() {
            Ok(tz) => tz,
            Err(_) => {
                errors.add(
                    "tz",
                    format!(
                        "{t:?} is not a known time zone (use an IANA name such as Europe/Berlin)"
                    ),
                );
                Tz::UTC
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let today = Utc::now().with_timezone(&tz).date_naive();
    let (from, to) = match period_dates(&period, today) {
        Some((f, t)) => (
            Some(f.format("%Y-%m-%d").to_string()),
            Some(t.format("%Y-%m-%d").to_string()),
        ),
        None => (q.from.clone(), q.to.clone()),
    };
    Ok(RawParams {
        from,
        to,
        tz: q.tz.clone(),
        group: q.group.clone(),
        agent: q.agent.clone(),
        priority: q.priority.clone(),
        channel: q.channel.clone(),
    })
}

/// The period of the same length immediately before `p`.
fn previous(p: &ReportParams) -> ReportParams {
    let days = Days::new((p.to - p.from).num_days().max(0) as u64);
    ReportParams {
        from: p.from - days,
        to: p.from,
        ..p.clone()
    }
}

/// What one request computed: both periods, or the field errors.
pub struct Computed {
    pub params: ReportParams,
    pub report: Report,
    pub series: Series,
    pub previous: Report,
}

fn field_errors(e: ReportError) -> Result<FieldErrors, PageError> {
    let mut errors = FieldErrors::default();
    match e {
        ReportError::Missing { field, message } | ReportError::Invalid { field, message } => {
            errors.add(field, message)
        }
        ReportError::Db(d) => return Err(d.into()),
    }
    Ok(errors)
}

/// Parses the resolved parameters and runs the engine for the period and
/// the one before (on the caller's blocking thread).
fn compute(
    db: &crate::db::Db,
    conn: &mut DbConn,
    raw: &RawParams,
    now: i64,
) -> Result<Result<Computed, FieldErrors>, PageError> {
    let params = match ReportParams::parse(conn, raw) {
        Ok(p) => p,
        Err(e) => return field_errors(e).map(Err),
    };
    let mut spare = db.spare_conn();
    let (report, series) = reports::load::run_full_with(conn, spare.as_deref_mut(), &params, now)?;
    let previous = reports::load::run_with(conn, spare.as_deref_mut(), &previous(&params), now)?;
    Ok(Ok(Computed {
        params,
        report,
        series,
        previous,
    }))
}

fn require_manager(staff: &Staff) -> Result<(), PageError> {
    if staff.is_manager() {
        Ok(())
    } else {
        Err(PageError::Forbidden(
            "reports are for managers and admins".into(),
        ))
    }
}

async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<Query>,
) -> Result<super::Reply, PageError> {
    require_manager(&staff)?;
    let q = q.into_inner();
    blocking(move || {
        state.db.read(|c| {
            let options = view::Options::of(&staff.directory);
            let resolved = resolve(&q);
            let outcome = match &resolved {
                Ok(raw) => compute(&state.db, c, raw, crate::time::now_ms())?,
                Err(e) => Err(e.clone()),
            };
            // The picker keeps what was chosen, even beside another error.
            let period = nonempty(&q.period).unwrap_or("30d").to_string();
            let status = if outcome.is_ok() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let page = view::page(&staff, &q, &period, options, outcome);
            html(status, &page)
        })
    })
    .await
}

/// Which download.
#[derive(Clone, Copy)]
enum Download {
    Agents,
    Groups,
    ReportCsv,
    ReportJson,
}

async fn agents_csv(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    download(state, staff, q.into_inner(), Download::Agents).await
}

async fn groups_csv(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    download(state, staff, q.into_inner(), Download::Groups).await
}

async fn report_csv(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    download(state, staff, q.into_inner(), Download::ReportCsv).await
}

async fn report_json(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    download(state, staff, q.into_inner(), Download::ReportJson).await
}

/// A file body, its content type and name; or the field errors as text.
type FileOut = Result<(String, &'static str, String), String>;

async fn download(
    state: web::Data<AppState>,
    staff: Staff,
    q: Query,
    what: Download,
) -> Result<HttpResponse, PageError> {
    require_manager(&staff)?;
    let out: FileOut = blocking(move || {
        let raw = match resolve(&q) {
            Ok(r) => r,
            Err(e) => return Ok(Err(errors_text(&e))),
        };
        let params = state.db.read(|c| match ReportParams::parse(c, &raw) {
            Ok(p) => Ok(Ok(p)),
            Err(e) => field_errors(e).map(|e| Err(errors_text(&e))),
        })?;
        let params = match params {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let now = crate::time::now_ms();
        let span = format!("{}-{}", params.from, params.to);
        Ok(Ok(match what {
            Download::Agents | Download::Groups => {
                let (_, series) = state.db.read(|c| {
                    let mut spare = state.db.spare_conn();
                    reports::load::run_full_with(c, spare.as_deref_mut(), &params, now)
                        .map_err(PageError::from)
                })?;
                let (rows, name) = match what {
                    Download::Agents => (&series.agents, "agents"),
                    _ => (&series.groups, "groups"),
                };
                (
                    rows_csv(rows),
                    "text/csv; charset=utf-8",
                    format!("{name}-{span}.csv"),
                )
            }
            Download::ReportCsv | Download::ReportJson => {
                let report = state.db.read(|c| {
                    reports::report_pooled(&state.db, c, &params, now).map_err(PageError::from)
                })?;
                if matches!(what, Download::ReportCsv) {
                    (
                        reports::csv::render(&report),
                        "text/csv; charset=utf-8",
                        format!("report-{span}.csv"),
                    )
                } else {
                    let body = serde_json::to_string(&report)
                        .map_err(|e| PageError::Internal(e.to_string()))?;
                    (body, "application/json", format!("report-{span}.json"))
                }
            }
        }))
    })
    .await?;
    Ok(match out {
        Ok((body, ctype, name)) => HttpResponse::Ok()
            .content_type(ctype)
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{name}\""),
            ))
            .body(body),
        Err(message) => HttpResponse::UnprocessableEntity()
            .content_type("text/plain; charset=utf-8")
            .body(message),
    })
}

fn errors_text(e: &FieldErrors) -> String {
    e.all()
        .map(|(f, m)| format!("{f}: {m}\n"))
        .collect::<String>()
}

/// The agent or group table as CSV: rates as fractions, null as empty.
pub fn rows_csv(rows: &[Row]) -> String {
    use crate::reports::csv::field;
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut out = String::from(
        "name,tickets,resolved,frt_median_s,resolution_median_s,fcr_rate,\
         sla_first_response_rate,csat_count,csat_score\r\n",
    );
    for r in rows {
        let cells = [
            r.name.clone(),
            r.tickets.to_string(),
            r.resolved.to_string(),
            opt(r.frt_median_s.map(|v| v.to_string())),
            opt(r.resolution_median_s.map(|v| v.to_string())),
            opt(r.fcr_rate.map(|v| v.to_string())),
            opt(r.sla_fr_rate.map(|v| v.to_string())),
            r.csat_count.to_string(),
            opt(r.csat_score.map(|v| v.to_string())),
        ];
        let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_end_with_today() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let today = d("2026-03-15");
        assert_eq!(
            period_dates("7d", today),
            Some((d("2026-03-09"), d("2026-03-16")))
        );
        assert_eq!(
            period_dates("30d", today),
            Some((d("2026-02-14"), d("2026-03-16")))
        );
        assert_eq!(
            period_dates("month", today),
            Some((d("2026-03-01"), d("2026-03-16")))
        );
        assert_eq!(period_dates("custom", today), None);
    }

    #[test]
    fn rows_are_quoted() {
        let rows = [Row {
            name: "Doe, Jane".into(),
            tickets: 2,
            fcr_rate: Some(0.5),
            ..Default::default()
        }];
        let csv = rows_csv(&rows);
        assert!(csv.ends_with("\"Doe, Jane\",2,0,,,0.5,,0,\r\n"), "{csv}");
    }
}
