//! What the reports page shows: figures formatted for reading (rates as
//! percentages, durations in words, null as "—"), the charts, the tables.

use askama::Template;

use super::{Computed, Query, PERIODS};
use crate::people::directory::Directory;
use crate::reports::series::{Row, Series, FRT_LABELS};
use crate::reports::Report;
use crate::tickets::{Channel, Priority};
use crate::web::ui::charts::{self, Line, Stack, Unit};
use crate::web::ui::forms::url_encode;
use crate::web::ui::queue::Opt;
use crate::web::ui::session::Staff;
use crate::web::ui::{Chrome, FieldErrors};

pub const NONE: &str = "—";

/// `66.7 %`
pub fn percent(v: Option<f64>) -> String {
    v.map_or(NONE.into(), |v| format!("{:.1} %", v * 100.0))
}

/// `3 h 20 min`, `2 d 4 h`, `45 s`.
pub fn duration(s: Option<i64>) -> String {
    let Some(s) = s else {
        return NONE.into();
    };
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => match (s / 3600, s % 3600 / 60) {
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        },
        s => match (s / 86_400, s % 86_400 / 3600) {
            (d, 0) => format!("{d} d"),
            (d, h) => format!("{d} d {h} h"),
        },
    }
}

fn number(v: Option<f64>) -> String {
    v.map_or(NONE.into(), |v| format!("{v:.2}"))
}

/// One headline figure with the previous period's value beside it.
pub struct Figure {
    pub label: &'static str,
    pub now: String,
    pub before: String,
}

/// A table row, already formatted; the first cell is the row header.
pub struct TableRow {
    pub head: String,
    pub cells: Vec<String>,
}

/// The selects' choices, from the directory.
pub struct Options {
    groups: Vec<(String, String)>,
    agents: Vec<(String, String)>,
}

impl Options {
    pub fn of(directory: &Directory) -> Options {
        Options {
            groups: directory
                .groups
                .iter()
                .map(|g| (g.id.to_string(), g.name.clone()))
                .collect(),
            agents: directory
                .staff
                .iter()
                .map(|u| (u.id.to_string(), format!("{} <{}>", u.name, u.email)))
                .collect(),
        }
    }
}

fn select(current: Option<&str>, any: &str, choices: Vec<(String, String)>) -> Vec<Opt> {
    let current = current.map(str::trim).unwrap_or("");
    let mut out = vec![Opt {
        value: String::new(),
        label: any.into(),
        selected: current.is_empty(),
    }];
    out.extend(choices.into_iter().map(|(value, label)| Opt {
        selected: value == current,
        value,
        label,
    }));
    out
}

pub struct Figures {
    pub from: String,
    pub to: String,
    pub prev_from: String,
    pub prev_to: String,
    pub headline: Vec<Figure>,
    pub charts: Vec<String>,
    pub days: Vec<TableRow>,
    pub frt: Vec<TableRow>,
    pub weeks: Vec<TableRow>,
    pub agents: Vec<TableRow>,
    pub groups: Vec<TableRow>,
    /// The query string of the shown figures, for the download links.
    pub query: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
pub struct ReportsPage {
    pub chrome: Chrome,
    pub period: Vec<Opt>,
    pub from: String,
    pub to: String,
    pub tz: String,
    pub groups: Vec<Opt>,
    pub agents: Vec<Opt>,
    pub priorities: Vec<Opt>,
    pub channels: Vec<Opt>,
    pub errors: FieldErrors,
    pub figures: Option<Figures>,
}

pub fn page(
    staff: &Staff,
    q: &Query,
    period: &str,
    options: Options,
    outcome: Result<Computed, FieldErrors>,
) -> ReportsPage {
    let (errors, figures) = match outcome {
        Ok(c) => (FieldErrors::default(), Some(figures(&c))),
        Err(e) => (e, None),
    };
    // Show the dates the figures are for, so "last 7 days" reads as dates.
    let (from, to) = match &figures {
        Some(f) => (f.from.clone(), f.to.clone()),
        None => (
            q.from.clone().unwrap_or_default(),
            q.to.clone().unwrap_or_default(),
        ),
    };
    let fixed = |all: &[(&str, &str)]| -> Vec<(String, String)> {
        all.iter()
            .map(|(v, l)| (v.to_string(), l.to_string()))
            .collect()
    };
    let mut periods = select(Some(period), "", fixed(&PERIODS));
    periods.remove(0);
    let priorities: Vec<(&str, &str)> = Priority::ALL
        .iter()
        .map(|p| (p.as_str(), p.as_str()))
        .collect();
    let channels: Vec<(&str, &str)> = Channel::ALL
        .iter()
        .map(|c| (c.as_str(), c.as_str()))
        .collect();
    ReportsPage {
        chrome: Chrome::new("Reports", &staff.csrf)
            .staff(&staff.user)
            .section("reports"),
        period: periods,
        from,
        to,
        tz: q.tz.clone().unwrap_or_default(),
        groups: select(q.group.as_deref(), "All groups", options.groups),
        agents: select(q.agent.as_deref(), "All agents", options.agents),
        priorities: select(q.priority.as_deref(), "All priorities", fixed(&priorities)),
        channels: select(q.channel.as_deref(), "All channels", fixed(&channels)),
        errors,
        figures,
    }
}

fn headline(r: &Report, p: &Report) -> Vec<Figure> {
    type Pick = fn(&Report) -> String;
    let figures: [(&'static str, Pick); 19] = [
        ("Tickets created", |r| r.volume.created.to_string()),
        ("Tickets resolved", |r| r.volume.resolved.to_string()),
        ("First response, median", |r| {
            duration(r.first_response.stats.median_s)
        }),
        ("First response, p90", |r| {
            duration(r.first_response.stats.p90_s)
        }),
        ("First response, median (business hours)", |r| {
            duration(r.first_response.stats.business_median_s)
        }),
        ("First response, p90 (business hours)", |r| {
            duration(r.first_response.stats.business_p90_s)
        }),
        ("Resolution, median", |r| {
            duration(r.resolution.stats.median_s)
        }),
        ("Resolution, median (business hours)", |r| {
            duration(r.resolution.stats.business_median_s)
        }),
        ("First contact resolution", |r| percent(r.fcr.rate)),
        ("Backlog at the period's end", |r| {
            r.backlog.open.to_string()
        }),
        ("Reopen rate", |r| percent(r.reopen.rate)),
        ("Escalation rate", |r| percent(r.escalation.rate)),
        ("SLA first response met", |r| {
            percent(r.sla.first_response.rate)
        }),
        ("SLA resolution met", |r| percent(r.sla.resolution.rate)),
        ("CSAT ratings received", |r| r.csat.responses.to_string()),
        ("CSAT score (ratings 4–5)", |r| percent(r.csat.score)),
        ("CSAT average rating", |r| number(r.csat.average)),
        ("CSAT response rate", |r| percent(r.csat.response_rate)),
        ("Interactions per resolved ticket", |r| {
            number(r.interactions_per_ticket)
        }),
    ];
    figures
        .into_iter()
        .map(|(label, f)| Figure {
            label,
            now: f(r),
            before: f(p),
        })
        .collect()
}

fn chart_svgs(s: &Series) -> Vec<String> {
    let dates: Vec<String> = s
        .days
        .iter()
        .map(|d| d.date.get(5..).unwrap_or(&d.date).to_string())
        .collect();
    let weeks: Vec<String> = s.weeks.iter().map(|w| w.week.clone()).collect();
    let count = |f: &dyn Fn(&crate::reports::series::DayPoint) -> u64| -> Vec<Option<f64>> {
        s.days.iter().map(|d| Some(f(d) as f64)).collect()
    };
    let bucket = |k: usize| -> Vec<u64> { s.days.iter().map(|d| d.backlog[k]).collect() };
    vec![
        charts::lines(
            "Tickets created and resolved per day",
            &dates,
            &[
                Line {
                    name: "Created",
                    color: charts::BLUE_,
                    values: count(&|d| d.created),
                },
                Line {
                    name: "Resolved",
                    color: charts::ORANGE_,
                    values: count(&|d| d.resolved),
                },
            ],
            Unit::Count,
        ),
        charts::stacked_bars(
            "Backlog at each day's end, by age",
            &dates,
            &[
                Stack {
                    name: "< 1 day",
                    color: charts::BLUE_,
                    values: bucket(0),
                },
                Stack {
                    name: "1–3 days",
                    color: charts::TEAL_,
                    values: bucket(1),
                },
                Stack {
                    name: "3–7 days",
                    color: charts::ORANGE_,
                    values: bucket(2),
                },
                Stack {
                    name: "> 7 days",
                    color: charts::PURPLE_,
                    values: bucket(3),
                },
            ],
        ),
        charts::bars(
            "First response time distribution",
            &FRT_LABELS.map(String::from),
            &s.frt_buckets,
        ),
        charts::lines(
            "SLA compliance per week",
            &weeks,
            &[
                Line {
                    name: "First response",
                    color: charts::TEAL_,
                    values: s.weeks.iter().map(|w| w.sla_fr_rate()).collect(),
                },
                Line {
                    name: "Resolution",
                    color: charts::PURPLE_,
                    values: s.weeks.iter().map(|w| w.sla_res_rate()).collect(),
                },
            ],
            Unit::Percent,
        ),
        charts::lines(
            "CSAT score per week",
            &weeks,
            &[Line {
                name: "Score",
                color: charts::BLUE_,
                values: s.weeks.iter().map(|w| w.csat_score()).collect(),
            }],
            Unit::Percent,
        ),
    ]
}

fn rows(rows: &[Row]) -> Vec<TableRow> {
    rows.iter()
        .map(|r| TableRow {
            head: r.name.clone(),
            cells: vec![
                r.tickets.to_string(),
                r.resolved.to_string(),
                duration(r.frt_median_s),
                duration(r.resolution_median_s),
                percent(r.fcr_rate),
                percent(r.sla_fr_rate),
                r.csat_count.to_string(),
                percent(r.csat_score),
            ],
        })
        .collect()
}

fn query_string(c: &Computed) -> String {
    let p = &c.params;
    let mut parts = vec![
        "period=custom".to_string(),
        format!("from={}", p.from),
        format!("to={}", p.to),
        format!("tz={}", url_encode(p.tz.name())),
    ];
    let mut add = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{k}={}", url_encode(&v)));
        }
    };
    add("group", p.group.map(|g| g.to_string()));
    add("agent", p.agent.map(|a| a.to_string()));
    add("priority", p.priority.map(|x| x.as_str().to_string()));
    add("channel", p.channel.map(|x| x.as_str().to_string()));
    parts.join("&")
}

fn figures(c: &Computed) -> Figures {
    let (r, s) = (&c.report, &c.series);
    let days = s
        .days
        .iter()
        .map(|d| TableRow {
            head: d.date.clone(),
            cells: [
                d.created,
                d.resolved,
                d.backlog.iter().sum(),
                d.backlog[0],
                d.backlog[1],
                d.backlog[2],
                d.backlog[3],
            ]
            .iter()
            .map(u64::to_string)
            .collect(),
        })
        .collect();
    let frt = FRT_LABELS
        .iter()
        .zip(s.frt_buckets)
        .map(|(l, n)| TableRow {
            head: l.to_string(),
            cells: vec![n.to_string()],
        })
        .collect();
    let weeks = s
        .weeks
        .iter()
        .map(|w| TableRow {
            head: w.week.clone(),
            cells: vec![
                w.sla_fr_met.to_string(),
                w.sla_fr_missed.to_string(),
                percent(w.sla_fr_rate()),
                w.sla_res_met.to_string(),
                w.sla_res_missed.to_string(),
                percent(w.sla_res_rate()),
                w.csat_count.to_string(),
                percent(w.csat_score()),
            ],
        })
        .collect();
    Figures {
        from: r.from.clone(),
        to: r.to.clone(),
        prev_from: c.previous.from.clone(),
        prev_to: c.previous.to.clone(),
        headline: headline(r, &c.previous),
        charts: chart_svgs(s),
        days,
        frt,
        weeks,
        agents: rows(&s.agents),
        groups: rows(&s.groups),
        query: query_string(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_words() {
        assert_eq!(duration(None), "—");
        assert_eq!(duration(Some(45)), "45 s");
        assert_eq!(duration(Some(1800)), "30 min");
        assert_eq!(duration(Some(12_000)), "3 h 20 min");
        assert_eq!(duration(Some(7200)), "2 h");
        assert_eq!(duration(Some(2 * 86_400 + 4 * 3600 + 59)), "2 d 4 h");
        assert_eq!(percent(Some(2.0 / 3.0)), "66.7 %");
        assert_eq!(percent(None), "—");
    }
}
