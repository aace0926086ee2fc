//! The agents' ticket page: the whole conversation, participants, the event
//! timeline, and the forms that act on the ticket (each a thin handler over
//! `tickets::ops`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::conversation::{self, MessageView};
use super::forms::{Form, Upload};
use super::queue::{capitalize, Opt};
use super::session::Staff;
use super::{blocking, fmt, html, redirect, Chrome, FieldErrors, PageError, Reply};
use crate::db::DbConn;
use crate::tickets::csat::{self, Survey};
use crate::tickets::{ops, Actor, Assignment, Body, Event, Priority, Status, Ticket, TicketError};
use crate::tickets::{query, sla};
use crate::time::now_ms;
use crate::web::api::views::Names;
use crate::web::routes::{Access, Routes};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Staff, "/tickets/{id}", show)
        .post(Access::Staff, "/tickets/{id}/reply", reply)
        .post(Access::Staff, "/tickets/{id}/note", note)
        .post(Access::Staff, "/tickets/{id}/assign", assign)
        .post(Access::Staff, "/tickets/{id}/priority", priority)
        .post(Access::Staff, "/tickets/{id}/escalate", escalate)
        .post(Access::Staff, "/tickets/{id}/csat-done", csat_done)
        .post(
            Access::Staff,
            "/tickets/{id}/{action:resolve|reopen|close}",
            change_status,
        )
        .get(Access::Staff, "/canned/{id}", canned_text);
}

/// A canned response's text, for the reply box's "Insert" (script).
async fn canned_text(
    state: web::Data<AppState>,
    _staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let found = blocking(move || {
        state
            .db
            .query(|c| crate::canned::find(c, id))
            .map_err(PageError::from)
    })
    .await?;
    match found {
        Some(r) => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(r.body)),
        None => Err(PageError::NotFound(format!(
            "canned response {id} not found"
        ))),
    }
}

pub struct Head {
    pub id: i64,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub requester: String,
    pub requester_email: String,
    pub group: String,
    pub assignee: String,
    pub channel: String,
    pub created: String,
    pub escalation: i32,
    /// The SLA clocks: badge text and class (ok, warning, breached, paused, met, missed).
    pub sla: Vec<(String, &'static str)>,
    pub sla_policy: Option<String>,
    pub parent_id: Option<i64>,
}

pub struct EventLine {
    pub when: String,
    pub who: String,
    pub what: String,
}

/// What was typed into the page's forms, kept when a form comes back with errors.
#[derive(Default)]
pub struct Draft {
    pub reply: String,
    pub note: String,
    pub reason: String,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    chrome: Chrome,
    t: Head,
    failures: Vec<FailureLine>,
    participants: Vec<String>,
    messages: Vec<MessageView>,
    events: Vec<EventLine>,
    agents: Vec<Opt>,
    groups: Vec<Opt>,
    priorities: Vec<Opt>,
    canned: Vec<Opt>,
    draft: Draft,
    csat: Option<CsatLine>,
    can_reply: bool,
    can_resolve: bool,
    can_reopen: bool,
    can_close: bool,
}

/// The ticket's satisfaction survey, as the sidebar shows it.
struct CsatLine {
    state: String,
    rating: Option<i32>,
    label: &'static str,
    low: bool,
    comment: Option<String>,
    needs_follow_up: bool,
    followed_up: Option<String>,
}

fn csat_line(s: csat::SurveyRow, names: &Names) -> CsatLine {
    let state = match s.state.as_str() {
        csat::SCHEDULED => format!("Survey scheduled for {}", fmt::datetime(s.due_at)),
        csat::SENT => match s.reminded_at {
            Some(r) => format!("Survey sent, reminded {}; no answer yet", fmt::datetime(r)),
            None => format!(
                "Survey sent {}; no answer yet",
                s.sent_at.map(fmt::datetime).unwrap_or_default()
            ),
        },
        csat::ANSWERED => format!(
            "Answered {}",
            s.answered_at.map(fmt::datetime).unwrap_or_default()
        ),
        _ => "Survey not sent (cancelled)".into(),
    };
    let followed_up = s.followed_up_at.map(|at| {
        let who = s
            .followed_up_by
            .and_then(|u| names.users.get(&u))
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "an agent".into());
        format!("Followed up by {who}, {}", fmt::datetime(at))
    });
    CsatLine {
        state,
        rating: s.rating,
        label: s.rating.map(csat::rating_label).unwrap_or(""),
        low: matches!(s.rating, Some(1 | 2)),
        needs_follow_up: s.needs_follow_up(),
        comment: s.comment,
        followed_up,
    }
}

/// A bounce shown on the ticket: mail to this recipient did not arrive.
struct FailureLine {
    when: String,
    recipient: String,
    diagnostic: String,
}

#[derive(Deserialize)]
struct ShowQuery {
    done: Option<String>,
    canned: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    q: web::Query<ShowQuery>,
) -> Result<Reply, PageError> {
    let id = id.into_inner();
    let q = q.into_inner();
    blocking(move || {
        state.db.read(|c| {
            let mut draft = Draft::default();
            if let Some(cid) = q.canned.as_deref().and_then(|s| s.parse::<i64>().ok()) {
                if let Some(r) = crate::canned::find(c, cid)? {
                    draft.reply = r.body;
                }
            }
            render(
                c,
                &state,
                &staff,
                id,
                draft,
                q.done.as_deref(),
                StatusCode::OK,
            )
        })
    })
    .await
}

fn describe(e: &Event, names: &Names) -> String {
    let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
    let s = |k: &str| {
        data.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let from = e.from_value.as_deref().unwrap_or("");
    let to = e.to_value.as_deref().unwrap_or("");
    let agent = |v: &serde_json::Value| {
        v.as_i64()
            .and_then(|id| names.users.get(&id))
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "nobody".into())
    };
    let group = |v: &serde_json::Value| {
        v.as_i64()
            .and_then(|id| names.groups.get(&id))
            .map(|g| g.name.clone())
            .unwrap_or_else(|| "no group".into())
    };
    match e.kind.as_str() {
        "created" => format!("opened the ticket (via {})", s("channel")),
        "customer_message" => "wrote".into(),
        "agent_reply" => "replied".into(),
        "note" => "added an internal note".into(),
        "auto_message" if s("direction") == "in" => {
            "sent an automatic reply (out-of-office, list or bulk mail)".into()
        }
        "auto_message" => format!("sent an automatic mail ({})", s("purpose")),
        "status_changed" => format!("changed the status from {from} to {to}"),
        "reopened" => format!("reopened the ticket ({from} → {to})"),
        "escalated" => format!("escalated to level {to}: {}", s("reason")),
        "assigned" => format!(
            "assigned it to {} in {}",
            agent(&data["to_agent"]),
            group(&data["to_group"])
        ),
        "priority_changed" => format!("changed the priority from {from} to {to}"),
        "sla_breached" => format!("SLA breached: {}", s("target")),
        "csat_sent" => "sent a satisfaction survey".into(),
        "csat_received" => format!("rated {}", data["rating"]),
        other => other.to_string(),
    }
}

fn render(
    c: &mut DbConn,
    state: &AppState,
    staff: &Staff,
    id: i64,
    draft: Draft,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let t: Ticket = staff.ticket(c, id)?;
    let now = now_ms();
    let events = query::events(c, t.id)?;
    let survey = csat::for_ticket(c, t.id)?;
    let messages = query::messages(c, t.id)?;
    // Every agent and group the events and messages name is in the
    // directory; the customers they name are read in one lookup.
    let mut customer_ids: std::collections::HashSet<i64> = events
        .iter()
        .filter_map(|e| e.actor_customer_id)
        .chain(messages.iter().filter_map(|m| m.author_customer_id))
        .collect();
    customer_ids.insert(t.requester_id);
    let names = Names::load_in(c, &staff.directory, customer_ids)?;
    let requester = names.person(None, Some(t.requester_id));
    let messages = conversation::build(
        c,
        &t,
        messages,
        &names,
        false,
        state.config.smtp_url.is_some(),
    )?;
    let participants = query::participants(c, t.id)?
        .into_iter()
        .map(|p| format!("{} <{}>", p.name, p.email))
        .collect();
    let staff_list = &staff.directory.staff;
    let cur_agent = t.assignee_id.map(|a| a.to_string()).unwrap_or_default();
    let mut agents = vec![Opt {
        value: String::new(),
        label: "Nobody".into(),
        selected: t.assignee_id.is_none(),
    }];
    agents.extend(staff_list.iter().filter(|u| u.active).map(|u| Opt {
        selected: u.id.to_string() == cur_agent,
        value: u.id.to_string(),
        label: u.name.clone(),
    }));
    let cur_group = t.group_id.map(|g| g.to_string()).unwrap_or_default();
    let mut groups = vec![Opt {
        value: String::new(),
        label: "No group".into(),
        selected: t.group_id.is_none(),
    }];
    groups.extend(staff.directory.groups.iter().map(|g| Opt {
        selected: g.id.to_string() == cur_group,
        value: g.id.to_string(),
        label: g.name.clone(),
    }));
    let priorities = Priority::ALL
        .iter()
        .map(|p| Opt {
            value: p.as_str().into(),
            label: capitalize(p.as_str()),
            selected: p.as_str() == t.priority,
        })
        .collect();
    let canned = crate::canned::list(c)?
        .into_iter()
        .map(|r| Opt {
            value: r.id.to_string(),
            label: r.title,
            selected: false,
        })
        .collect();
    let st = t.status();
    let active = st.is_active();
    let rules = match t.sla_policy_id {
        Some(p) => crate::sla::policy::Book::for_group(c, t.group_id)?
            .by_id(p)
            .cloned(),
        None => None,
    };
    let head = Head {
        id: t.id,
        subject: t.subject.clone(),
        status: t.status.clone(),
        priority: t.priority.clone(),
        requester: requester
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        requester_email: requester.map(|p| p.email).unwrap_or_default(),
        group: t
            .group_id
            .and_then(|g| names.groups.get(&g))
            .map(|g| g.name.clone())
            .unwrap_or_else(|| "No group".into()),
        assignee: names
            .person(t.assignee_id, None)
            .map(|p| p.name)
            .unwrap_or_else(|| "Unassigned".into()),
        channel: t.channel.clone(),
        created: fmt::datetime(t.created_at),
        escalation: t.escalation_level,
        sla: sla::view(&t, rules.as_ref(), now)
            .iter()
            .map(|v| (fmt::clock(v), v.state.as_str()))
            .collect(),
        sla_policy: rules.as_ref().map(|r| r.policy.name.clone()),
        parent_id: t.parent_id,
    };
    let events = events
        .iter()
        .map(|e| EventLine {
            when: fmt::datetime(e.at),
            who: match (e.actor_user_id, e.actor_customer_id) {
                (None, None) => "Helpdesk".into(),
                (u, cu) => names
                    .person_ref(u, cu)
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
            },
            what: describe(e, &names),
        })
        .collect();
    html(
        status,
        &TicketPage {
            failures: query::delivery_failures(c, t.id)?
                .into_iter()
                .map(|f| FailureLine {
                    when: fmt::datetime(f.created_at),
                    recipient: f.recipient.unwrap_or_else(|| "unknown recipient".into()),
                    diagnostic: match f.status {
                        Some(st) if !f.diagnostic.contains(&st) => {
                            format!("{} ({st})", f.diagnostic)
                        }
                        _ => f.diagnostic,
                    },
                })
                .collect(),
            chrome: Chrome::new(format!("#{} {}", t.id, t.subject), &staff.csrf)
                .staff(&staff.user)
                .section("tickets")
                .notice(done),
            t: head,
            participants,
            messages,
            events,
            agents,
            groups,
            priorities,
            canned,
            draft,
            csat: survey.map(|s| csat_line(s, &names)),
            can_reply: st != Status::Closed,
            can_resolve: active,
            can_reopen: matches!(st, Status::Resolved | Status::Closed),
            can_close: st == Status::Resolved,
        },
    )
}

/// Runs one change; a validation error comes back as the page with the
/// typed text kept and the message next to its field (422).
async fn act<F>(
    state: web::Data<AppState>,
    staff: Staff,
    id: i64,
    mut draft: Draft,
    done: &'static str,
    change: F,
) -> Result<Reply, PageError>
where
    F: FnOnce(&mut DbConn, &AppState, &Staff, i64) -> Result<&'static str, TicketError>
        + Send
        + 'static,
{
    blocking(move || {
        let now = now_ms();
        let outcome = state.db.write(
            |c| -> Result<Result<&'static str, TicketError>, PageError> {
                staff.ticket(c, id)?;
                Ok(change(c, &state, &staff, now))
            },
        )?;
        match outcome {
            Ok(code) => {
                let code = if code.is_empty() { done } else { code };
                Ok(redirect(&format!("/tickets/{id}?done={code}")))
            }
            Err(TicketError::Invalid { field, message }) => {
                draft.errors.add(field, message);
                state.db.read(|c| {
                    render(
                        c,
                        &state,
                        &staff,
                        id,
                        draft,
                        None,
                        StatusCode::UNPROCESSABLE_ENTITY,
                    )
                })
            }
            Err(other) => Err(other.into()),
        }
    })
    .await
}

async fn reply(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    form: Upload,
) -> Result<Reply, PageError> {
    let id = id.into_inner();
    let text = form.text("body");
    let then_raw = form.text("then");
    let mut draft = Draft {
        reply: text.clone(),
        ..Draft::default()
    };
    let then = match then_raw.as_str() {
        "" => None,
        s => match s.parse::<Status>() {
            Ok(s) => Some(s),
            Err(e) => {
                draft.errors.add("then", e);
                None
            }
        },
    };
    for e in &form.file_errors {
        draft
            .errors
            .add("attachments", format!("{e}; choose the files again"));
    }
    if !draft.errors.is_empty() {
        return blocking(move || {
            state.db.read(|c| {
                render(
                    c,
                    &state,
                    &staff,
                    id,
                    draft,
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
            })
        })
        .await;
    }
    let files = form.files;
    act(
        state,
        staff,
        id,
        draft,
        "reply",
        move |c, st, staff, now| {
            let body = Body {
                attachments: files,
                ..Body::text(text)
            };
            let survey = Survey::from_config(&st.config);
            ops::reply(c, &st.signer, id, staff.user.id, body, then, survey, now)?;
            Ok(if then == Some(Status::Resolved) {
                "reply_resolved"
            } else {
                "reply"
            })
        },
    )
    .await
}

#[derive(Deserialize)]
struct TextForm {
    body: Option<String>,
}

async fn note(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    form: Form<TextForm>,
) -> Result<Reply, PageError> {
    let text = form.0.body.unwrap_or_default();
    let id = id.into_inner();
    let draft = Draft {
        note: text.clone(),
        ..Draft::default()
    };
    act(state, staff, id, draft, "note", move |c, _, staff, now| {
        ops::note(c, id, staff.user.id, Body::text(text), now).map(|_| "")
    })
    .await
}

#[derive(Deserialize)]
struct AssignForm {
    agent: Option<String>,
    group: Option<String>,
}

fn opt_id(field: &'static str, raw: Option<&str>) -> Result<Option<i64>, TicketError> {
    match raw.map(str::trim).unwrap_or("") {
        "" | "none" => Ok(None),
        s => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| TicketError::Invalid {
                field,
                message: format!("{s:?} is not a choice from the list"),
            }),
    }
}

async fn assign(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    form: Form<AssignForm>,
) -> Result<Reply, PageError> {
    let f = form.0;
    let id = id.into_inner();
    act(
        state,
        staff,
        id,
        Draft::default(),
        "assign",
        move |c, _, staff, now| {
            let change = Assignment {
                agent: Some(opt_id("agent", f.agent.as_deref())?),
                group: Some(opt_id("group", f.group.as_deref())?),
            };
            let changed = ops::assign(c, id, change, Actor::Agent(staff.user.id), now)?;
            Ok(if changed { "" } else { "unchanged" })
        },
    )
    .await
}

#[derive(Deserialize)]
struct PriorityForm {
    priority: Option<String>,
}

async fn priority(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    form: Form<PriorityForm>,
) -> Result<Reply, PageError> {
    let raw = form.0.priority.unwrap_or_default();
    let id = id.into_inner();
    act(
        state,
        staff,
        id,
        Draft::default(),
        "priority",
        move |c, _, staff, now| {
            let p = raw
                .parse::<Priority>()
                .map_err(|message| TicketError::Invalid {
                    field: "priority",
                    message,
                })?;
            let changed = ops::set_priority(c, id, p, Actor::Agent(staff.user.id), now)?;
            Ok(if changed { "" } else { "unchanged" })
        },
    )
    .await
}

#[derive(Deserialize)]
struct EscalateForm {
    reason: Option<String>,
}

async fn escalate(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    form: Form<EscalateForm>,
) -> Result<Reply, PageError> {
    let reason = form.0.reason.unwrap_or_default();
    let id = id.into_inner();
    let draft = Draft {
        reason: reason.clone(),
        ..Draft::default()
    };
    act(
        state,
        staff,
        id,
        draft,
        "escalate",
        move |c, _, staff, now| {
            ops::escalate(c, id, &reason, Actor::Agent(staff.user.id), now).map(|_| "")
        },
    )
    .await
}

#[derive(Deserialize)]
struct Empty {}

/// Resolve, reopen or close: the status changes that take no input.
async fn change_status(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(i64, String)>,
    _f: Form<Empty>,
) -> Result<Reply, PageError> {
    type StatusOp = fn(&mut DbConn, i64, Actor, Survey, i64) -> Result<Status, TicketError>;
    let (id, action) = path.into_inner();
    let (op, done): (StatusOp, &'static str) = match action.as_str() {
        "resolve" => (ops::resolve, "resolve"),
        "reopen" => (|c, id, a, _, at| ops::reopen(c, id, a, at), "reopen"),
        "close" => (|c, id, a, _, at| ops::close(c, id, a, at), "close"),
        _ => {
            return Err(PageError::NotFound(
                "there is no page at this address".into(),
            ))
        }
    };
    act(
        state,
        staff,
        id,
        Draft::default(),
        done,
        move |c, st, staff, now| {
            let survey = Survey::from_config(&st.config);
            op(c, id, Actor::Agent(staff.user.id), survey, now).map(|_| "")
        },
    )
    .await
}

/// "Follow-up done" on a low rating: off the CSAT follow-up view, with a note.
async fn csat_done(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    _f: Form<Empty>,
) -> Result<Reply, PageError> {
    let id = id.into_inner();
    act(
        state,
        staff,
        id,
        Draft::default(),
        "csat_done",
        move |c, _, staff, now| {
            let done = csat::follow_up_done(c, id, staff.user.id, now)?;
            Ok(if done { "" } else { "unchanged" })
        },
    )
    .await
}
