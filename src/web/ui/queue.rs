//! The agents' queue (`/tickets`): filters, sorts, keyset pages of 50,
//! counts per status, SLA and escalation badges, and bulk actions.

use std::collections::HashMap;

use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::forms::{url_encode, Form};
use super::session::Staff;
use super::{blocking, fmt, page, redirect, Chrome, PageError, Reply};
use crate::tickets::csat::Survey;
use crate::tickets::query::{self, Cursor, Filter, ListQuery, Sort};
use crate::tickets::{ops, Actor, Assignment, Priority, Status};
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::AppState;

pub const PAGE_SIZE: i64 = 50;

pub fn routes(r: &mut Routes) {
    r.get(Access::Staff, "/tickets", show)
        .post(Access::Staff, "/tickets/bulk", bulk);
}

#[derive(Deserialize, Default, Clone)]
pub struct QueueParams {
    status: Option<String>,
    group: Option<String>,
    assignee: Option<String>,
    priority: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
    /// `low`: the CSAT follow-up view (rated 1 or 2, not followed up).
    csat: Option<String>,
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn opt(value: impl Into<String>, label: impl Into<String>, current: &str) -> Opt {
    let value = value.into();
    Opt {
        selected: value == current,
        label: label.into(),
        value,
    }
}

/// A queue row. The group and assignee names are borrowed from the
/// directory: a page's rows are a thousand allocations, fewer is cheaper.
pub struct Row<'a> {
    pub id: i64,
    pub subject: String,
    pub requester: String,
    pub status: String,
    pub priority: String,
    pub group: &'a str,
    pub assignee: &'a str,
    pub updated: String,
    pub updated_title: String,
    pub due: Option<(String, &'static str)>,
    pub escalation: i32,
}

pub struct Tab {
    pub label: String,
    pub count: i64,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage<'a> {
    chrome: Chrome,
    rows: Vec<Row<'a>>,
    tabs: Vec<Tab>,
    statuses: Vec<Opt>,
    groups: Vec<Opt>,
    assignees: Vec<Opt>,
    priorities: Vec<Opt>,
    sorts: Vec<Opt>,
    agents: Vec<Opt>,
    q: String,
    next_href: Option<String>,
    first_href: Option<String>,
    back: String,
    filter_errors: Vec<String>,
    /// Set on the CSAT follow-up view (kept by the filter form).
    csat: String,
}

/// The query string for these filters (no cursor), with `status` replaced.
fn href(p: &QueueParams, status: Option<&str>) -> String {
    let mut parts = Vec::new();
    let status = status.or(p.status.as_deref());
    for (k, v) in [
        ("status", status),
        ("group", p.group.as_deref()),
        ("assignee", p.assignee.as_deref()),
        ("priority", p.priority.as_deref()),
        ("q", p.q.as_deref()),
        ("sort", p.sort.as_deref()),
        ("csat", p.csat.as_deref()),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", url_encode(v)));
        }
    }
    if parts.is_empty() {
        "/tickets".into()
    } else {
        format!("/tickets?{}", parts.join("&"))
    }
}

fn with_cursor(base: &str, cursor: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}cursor={}", url_encode(cursor))
}

/// `active` (the default) is new + open + pending; `all` is every status.
fn parse_statuses(raw: &str) -> Result<Vec<Status>, String> {
    match raw {
        "" | "active" => Ok(vec![Status::New, Status::Open, Status::Pending]),
        "all" => Ok(Vec::new()),
        s => s.parse::<Status>().map(|s| vec![s]),
    }
}

async fn show(req: HttpRequest, params: web::Query<QueueParams>) -> Result<Reply, PageError> {
    let p = params.into_inner();
    // The session and the page in one hop off the async workers.
    Staff::then(&req, move |state, staff| {
        state.db.read(|c| render(c, &staff, p))
    })
    .await
}

fn render(c: &mut crate::db::DbConn, staff: &Staff, p: QueueParams) -> Result<Reply, PageError> {
    let now = now_ms();
    let mut errors = Vec::new();
    let mut q = ListQuery::new(staff.scope.clone());
    q.limit = PAGE_SIZE;
    let csat_raw = p.csat.clone().unwrap_or_default();
    match csat_raw.as_str() {
        "" => {}
        "low" => q.csat_follow_up = true,
        other => errors.push(format!("{other:?} is not a CSAT view (low)")),
    }
    let mut status_raw = p.status.clone().unwrap_or_default();
    if q.csat_follow_up && status_raw.is_empty() {
        // Rated tickets are resolved or closed: the view spans every status.
        status_raw = "all".into();
    }
    q.statuses = parse_statuses(&status_raw).unwrap_or_else(|e| {
        errors.push(e);
        parse_statuses("").unwrap_or_default()
    });
    let group_raw = p.group.clone().unwrap_or_default();
    q.group = match group_raw.as_str() {
        "" => None,
        "none" => Some(Filter::None),
        g => match g.parse::<i64>() {
            Ok(id) => Some(Filter::Is(id)),
            Err(_) => {
                errors.push(format!("{g:?} is not a group"));
                None
            }
        },
    };
    let assignee_raw = p.assignee.clone().unwrap_or_default();
    q.assignee = match assignee_raw.as_str() {
        "" => None,
        "none" => Some(Filter::None),
        "me" => Some(Filter::Is(staff.user.id)),
        a => match a.parse::<i64>() {
            Ok(id) => Some(Filter::Is(id)),
            Err(_) => {
                errors.push(format!("{a:?} is not an agent"));
                None
            }
        },
    };
    let priority_raw = p.priority.clone().unwrap_or_default();
    if !priority_raw.is_empty() {
        match priority_raw.parse::<Priority>() {
            Ok(pr) => q.priorities = vec![pr],
            Err(e) => errors.push(e),
        }
    }
    let sort_raw = p.sort.clone().unwrap_or_default();
    q.sort = if sort_raw.is_empty() {
        Sort::Updated
    } else {
        Sort::parse(&sort_raw).unwrap_or_else(|| {
            errors.push(format!("{sort_raw:?} is not a sort order"));
            Sort::Updated
        })
    };
    q.text = p.q.clone().filter(|t| !t.trim().is_empty());
    if let Some(cur) = p.cursor.as_deref().filter(|c| !c.is_empty()) {
        match Cursor::decode(cur) {
            Some(c) => q.after = Some(c),
            None => errors.push("that page link is broken; showing the first page".into()),
        }
    }

    let (rows, next, counts) = query::queue_page(c, &q)?;
    let staff_list = &staff.directory.staff;
    let groups = &staff.directory.groups;
    let agent_name: HashMap<i64, &str> =
        staff_list.iter().map(|u| (u.id, u.name.as_str())).collect();
    let group_name: HashMap<i64, &str> = groups.iter().map(|g| (g.id, g.name.as_str())).collect();

    let rows = rows
        .into_iter()
        .map(
            |query::QueueRow {
                 ticket: t,
                 requester,
             }| Row {
                id: t.id,
                group: t
                    .group_id
                    .and_then(|g| group_name.get(&g).copied())
                    .unwrap_or_default(),
                assignee: t
                    .assignee_id
                    .and_then(|a| agent_name.get(&a).copied())
                    .unwrap_or_default(),
                updated: fmt::ago(now, t.updated_at),
                updated_title: fmt::datetime(t.updated_at),
                due: crate::tickets::sla::soonest(&t)
                    .map(|(due, warn, breached)| fmt::due(now, due, warn, breached)),
                escalation: t.escalation_level,
                // Moved out last: the fields above read `t`.
                subject: t.subject,
                requester,
                status: t.status,
                priority: t.priority,
            },
        )
        .collect();

    let current_tab = if q.csat_follow_up {
        "csat"
    } else if status_raw.is_empty() {
        "active"
    } else {
        status_raw.as_str()
    };
    // Status tabs leave the follow-up view.
    let plain = QueueParams {
        csat: None,
        ..p.clone()
    };
    let mut tabs = vec![Tab {
        label: "Active".into(),
        count: counts.of("new") + counts.of("open") + counts.of("pending"),
        href: href(&plain, Some("active")),
        current: current_tab == "active",
    }];
    for s in Status::ALL {
        tabs.push(Tab {
            label: capitalize(s.as_str()),
            count: counts.of(s.as_str()),
            href: href(&plain, Some(s.as_str())),
            current: current_tab == s.as_str(),
        });
    }
    tabs.push(Tab {
        label: "All".into(),
        count: counts.total(),
        href: href(&plain, Some("all")),
        current: current_tab == "all",
    });
    tabs.push(Tab {
        label: "CSAT follow-up".into(),
        count: counts.follow_ups,
        href: "/tickets?status=all&csat=low".into(),
        current: q.csat_follow_up,
    });

    let status_cur = if status_raw.is_empty() {
        "active"
    } else {
        status_raw.as_str()
    };
    let mut statuses = vec![
        opt("active", "Active (new, open, pending)", status_cur),
        opt("all", "All", status_cur),
    ];
    statuses.extend(
        Status::ALL
            .iter()
            .map(|s| opt(s.as_str(), capitalize(s.as_str()), status_cur)),
    );
    let mut group_opts = vec![
        opt("", "Any group", &group_raw),
        opt("none", "No group", &group_raw),
    ];
    group_opts.extend(
        groups
            .iter()
            .map(|g| opt(g.id.to_string(), &g.name, &group_raw)),
    );
    let mut assignee_opts = vec![
        opt("", "Anyone", &assignee_raw),
        opt("me", "Me", &assignee_raw),
        opt("none", "Unassigned", &assignee_raw),
    ];
    let active_staff: Vec<_> = staff_list.iter().filter(|u| u.active).collect();
    assignee_opts.extend(
        active_staff
            .iter()
            .map(|u| opt(u.id.to_string(), &u.name, &assignee_raw)),
    );
    let mut priorities = vec![opt("", "Any priority", &priority_raw)];
    priorities.extend(
        Priority::ALL
            .iter()
            .map(|pr| opt(pr.as_str(), capitalize(pr.as_str()), &priority_raw)),
    );
    let sort_cur = q.sort.as_str();
    let sorts = vec![
        opt("updated", "Last update", sort_cur),
        opt("created", "Created", sort_cur),
        opt("priority", "Priority", sort_cur),
        opt("due", "SLA due", sort_cur),
    ];
    let mut agents = vec![opt("me", "Me", ""), opt("none", "Nobody (unassign)", "")];
    agents.extend(
        active_staff
            .iter()
            .map(|u| opt(u.id.to_string(), &u.name, "")),
    );

    let base = href(&p, None);
    let back = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(cur) => with_cursor(&base, cur),
        None => base.clone(),
    };
    page(&QueuePage {
        chrome: Chrome::new("Tickets", &staff.csrf)
            .staff(&staff.user)
            .section("tickets")
            .notice(p.done.as_deref()),
        rows,
        tabs,
        statuses,
        groups: group_opts,
        assignees: assignee_opts,
        priorities,
        sorts,
        agents,
        q: p.q.clone().unwrap_or_default(),
        next_href: next.map(|n| with_cursor(&base, &n.encode())),
        first_href: q.after.map(|_| base.clone()),
        back,
        filter_errors: errors,
        csat: if q.csat_follow_up {
            "low".into()
        } else {
            String::new()
        },
    })
}

pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[derive(Deserialize)]
struct BulkForm {
    #[serde(default)]
    ids: Vec<String>,
    action: Option<String>,
    agent: Option<String>,
    back: Option<String>,
}

async fn bulk(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<BulkForm>,
) -> Result<Reply, PageError> {
    let f = form.0;
    let back = super::login::safe_next(f.back.as_deref(), "/tickets");
    let ids: Vec<i64> = f
        .ids
        .iter()
        .map(|s| s.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            PageError::BadRequest(
                "the selection holds something that is not a ticket number".into(),
            )
        })?;
    if ids.is_empty() {
        return Err(PageError::BadRequest(
            "no tickets selected: tick the boxes of the tickets to change".into(),
        ));
    }
    if ids.len() > 500 {
        return Err(PageError::BadRequest("at most 500 tickets at once".into()));
    }
    let action = f.action.unwrap_or_default();
    let agent: Option<Option<i64>> = match action.as_str() {
        "resolve" => None,
        "assign" => Some(match f.agent.as_deref().unwrap_or("") {
            "me" => Some(staff.user.id),
            "none" | "" => None,
            a => Some(
                a.parse::<i64>()
                    .map_err(|_| PageError::BadRequest(format!("{a:?} is not an agent")))?,
            ),
        }),
        other => {
            return Err(PageError::BadRequest(format!(
                "{other:?} is not a bulk action (resolve or assign)"
            )))
        }
    };
    let survey = Survey::from_config(&state.config);
    let problems = blocking(move || {
        let mut problems = Vec::new();
        for id in ids {
            let now = now_ms();
            let result = state.db.write(|c| -> Result<(), PageError> {
                staff.ticket(c, id)?;
                let actor = Actor::Agent(staff.user.id);
                match agent {
                    None => ops::resolve(c, id, actor, survey, now).map(|_| ())?,
                    Some(a) => ops::assign(
                        c,
                        id,
                        Assignment {
                            agent: Some(a),
                            group: None,
                        },
                        actor,
                        now,
                    )
                    .map(|_| ())?,
                }
                Ok(())
            });
            if let Err(e) = result {
                match e {
                    PageError::Unavailable | PageError::Internal(_) => return Err(e),
                    other => problems.push(format!("#{id}: {other}")),
                }
            }
        }
        Ok(problems)
    })
    .await?;
    if problems.is_empty() {
        let sep = if back.contains('?') { '&' } else { '?' };
        Ok(redirect(&format!("{back}{sep}done=bulk")))
    } else {
        Err(PageError::Conflict(format!(
            "Some tickets were not changed (the others were): {}",
            problems.join("; ")
        )))
    }
}
