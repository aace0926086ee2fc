//! /api/v1/tickets: thin handlers over `crate::tickets`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::auth::ApiUser;
use super::error::ApiError;
use super::json::ApiJson;
use super::{blocking, views};
use crate::db::DbConn;
use crate::people::{self, EmailAddress};
use crate::tickets::csat::Survey;
use crate::tickets::query::{self, Cursor, Filter, ListQuery};
use crate::tickets::{ops, Actor, Assignment, Body, Channel, NewTicket, Priority, Status};
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Api, "/tickets", list)
        .post(Access::Api, "/tickets", create)
        .get(Access::Api, "/tickets/{id}", show)
        .post(Access::Api, "/tickets/{id}/reply", reply)
        .post(Access::Api, "/tickets/{id}/note", note)
        .post(Access::Api, "/tickets/{id}/assign", assign)
        .post(Access::Api, "/tickets/{id}/priority", priority)
        .post(Access::Api, "/tickets/{id}/escalate", escalate)
        .post(Access::Api, "/tickets/{id}/resolve", resolve)
        .post(Access::Api, "/tickets/{id}/reopen", reopen)
        .post(Access::Api, "/tickets/{id}/close", close);
}

type State = web::Data<AppState>;

/// A group or agent named by id or by name/email.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
enum Ref {
    Id(i64),
    Name(String),
}

fn group_id(conn: &mut DbConn, field: &str, r: &Ref) -> Result<i64, ApiError> {
    let found = match r {
        Ref::Id(id) => people::find_group(conn, *id)?,
        Ref::Name(name) => people::find_group_by_name(conn, name)?,
    };
    found
        .map(|g| g.id)
        .ok_or_else(|| ApiError::invalid(field, format!("no group {}", describe(r))))
}

fn agent_id(conn: &mut DbConn, field: &str, r: &Ref) -> Result<i64, ApiError> {
    let found = match r {
        Ref::Id(id) => people::find_user(conn, *id)?,
        Ref::Name(email) => match EmailAddress::parse(email) {
            Ok(e) => people::find_user_by_email(conn, &e)?,
            Err(m) => return Err(ApiError::invalid(field, m)),
        },
    };
    found
        .filter(|u| u.active)
        .map(|u| u.id)
        .ok_or_else(|| ApiError::invalid(field, format!("no active agent {}", describe(r))))
}

fn describe(r: &Ref) -> String {
    match r {
        Ref::Id(id) => format!("with id {id}"),
        Ref::Name(n) => format!("{n:?}"),
    }
}

#[derive(Deserialize)]
struct ListParams {
    status: Option<String>,
    group: Option<String>,
    assignee: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `none` and `me` are the words; anything else is an id, a name or an email.
fn parse_ref(raw: &str) -> Ref {
    raw.trim()
        .parse::<i64>()
        .map(Ref::Id)
        .unwrap_or_else(|_| Ref::Name(raw.trim().to_string()))
}

async fn list(
    state: State,
    user: ApiUser,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let statuses = match p.status.as_deref().filter(|s| !s.is_empty()) {
        None => Vec::new(),
        Some(s) => s
            .split(',')
            .map(|x| x.trim().parse::<Status>())
            .collect::<Result<_, _>>()
            .map_err(|m| ApiError::invalid("status", m))?,
    };
    let limit = match p.limit {
        None => 50,
        Some(n @ 1..=200) => n,
        Some(_) => return Err(ApiError::invalid("limit", "limit is 1 to 200")),
    };
    let after = match p.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            Cursor::decode(c)
                .ok_or_else(|| ApiError::invalid("cursor", "not a cursor from a previous page"))?,
        ),
    };
    blocking(move || {
        state.db.read(|c| {
            let group = match p.group.as_deref().map(str::trim) {
                None | Some("") => None,
                Some("none") => Some(Filter::None),
                Some(g) => Some(Filter::Is(group_id(c, "group", &parse_ref(g))?)),
            };
            let assignee = match p.assignee.as_deref().map(str::trim) {
                None | Some("") => None,
                Some("none") => Some(Filter::None),
                Some("me") => Some(Filter::Is(user.user.id)),
                Some(a) => Some(Filter::Is(agent_id(c, "assignee", &parse_ref(a))?)),
            };
            let q = ListQuery {
                statuses,
                group,
                assignee,
                text: p.q,
                after,
                limit,
                ..ListQuery::new(user.scope.clone())
            };
            let (rows, next) = query::list(c, &q)?;
            Ok(json!({
                "tickets": views::tickets(c, rows)?,
                "next_cursor": next.map(|n| n.encode()),
            }))
        })
    })
    .await
    .map(|page| HttpResponse::Ok().json(page))
}

async fn show(state: State, user: ApiUser, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    blocking(move || {
        state.db.read(|c| {
            let t = user.ticket(c, id)?;
            Ok(views::detail(c, t)?)
        })
    })
    .await
    .map(|detail| HttpResponse::Ok().json(detail))
}

#[derive(Deserialize)]
struct Requester {
    email: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct CreateReq {
    subject: String,
    body: String,
    requester: Requester,
    priority: Option<Priority>,
    group: Option<Ref>,
    assignee: Option<Ref>,
    channel: Option<Channel>,
}

async fn create(
    state: State,
    user: ApiUser,
    req: ApiJson<CreateReq>,
) -> Result<HttpResponse, ApiError> {
    let req = req.0;
    let channel = match req.channel.unwrap_or(Channel::Api) {
        c @ (Channel::Api | Channel::Agent) => c,
        other => {
            return Err(ApiError::invalid(
                "channel",
                format!("the API creates tickets as \"api\" or \"agent\", not {other:?}"),
            ))
        }
    };
    if req.body.trim().is_empty() {
        return Err(ApiError::invalid("body", "a message text is required"));
    }
    let requester = EmailAddress::parse(&req.requester.email)
        .map_err(|m| ApiError::invalid("requester.email", m))?;
    blocking(move || {
        state.db.write(|c| {
            let group_id = req
                .group
                .as_ref()
                .map(|g| group_id(c, "group", g))
                .transpose()?;
            let assignee_id = req
                .assignee
                .as_ref()
                .map(|a| agent_id(c, "assignee", a))
                .transpose()?;
            let new = NewTicket {
                subject: req.subject,
                body: Body::text(req.body),
                requester,
                requester_name: req.requester.name,
                channel,
                priority: req.priority.unwrap_or(Priority::Normal),
                group_id,
                assignee_id,
                mailbox_id: None,
                actor: Actor::Agent(user.user.id),
            };
            let posted = ops::create(c, new, now_ms())?;
            let t = user.ticket(c, posted.ticket_id).or_else(|_| {
                // Created into a group the agent cannot see: still report it.
                query::ticket(c, posted.ticket_id)?
                    .ok_or_else(|| ApiError::Internal("created ticket vanished".into()))
            })?;
            Ok(views::detail(c, t)?)
        })
    })
    .await
    .map(|detail| {
        HttpResponse::Created()
            .insert_header(("Location", format!("/api/v1/tickets/{}", detail.ticket.id)))
            .json(detail)
    })
}

/// What an action needs: the connection inside its transaction, the app,
/// the user, the ticket id (already authorized) and the time of the change.
struct Ctx<'a> {
    conn: &'a mut DbConn,
    state: &'a AppState,
    user: &'a ApiUser,
    id: i64,
    now: i64,
}

impl Ctx<'_> {
    fn actor(&self) -> Actor {
        Actor::Agent(self.user.user.id)
    }
}

/// Runs one action on a ticket the user may act on, in one write
/// transaction, and answers with the ticket as it is afterwards.
async fn act<F>(state: State, user: ApiUser, id: i64, f: F) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(Ctx<'_>) -> Result<serde_json::Value, ApiError> + Send + 'static,
{
    blocking(move || {
        state.db.write(|conn| {
            user.ticket(conn, id)?;
            let result = f(Ctx {
                conn: &mut *conn,
                state: &state,
                user: &user,
                id,
                now: now_ms(),
            })?;
            let t = query::ticket(conn, id)?
                .ok_or_else(|| ApiError::NotFound(format!("ticket {id} not found")))?;
            Ok(json!({ "ticket": views::ticket(conn, t)?, "result": result }))
        })
    })
    .await
    .map(|body| HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
struct ReplyReq {
    body: String,
    status: Option<Status>,
}

async fn reply(
    state: State,
    user: ApiUser,
    id: web::Path<i64>,
    req: ApiJson<ReplyReq>,
) -> Result<HttpResponse, ApiError> {
    let req = req.0;
    act(state, user, id.into_inner(), move |x| {
        let p = ops::reply(
            x.conn,
            &x.state.signer,
            x.id,
            x.user.user.id,
            Body::text(req.body),
            req.status,
            Survey::from_config(&x.state.config),
            x.now,
        )?;
        Ok(json!({ "message_id": p.message_id }))
    })
    .await
}

#[derive(Deserialize)]
struct NoteReq {
    body: String,
}

async fn note(
    state: State,
    user: ApiUser,
    id: web::Path<i64>,
    req: ApiJson<NoteReq>,
) -> Result<HttpResponse, ApiError> {
    let req = req.0;
    act(state, user, id.into_inner(), move |x| {
        let p = ops::note(x.conn, x.id, x.user.user.id, Body::text(req.body), x.now)?;
        Ok(json!({ "message_id": p.message_id }))
    })
    .await
}

/// Tells a missing key (leave as is) from `null` (clear).
fn some_or_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignReq {
    #[serde(default, deserialize_with = "some_or_null")]
    agent: Option<Option<Ref>>,
    #[serde(default, deserialize_with = "some_or_null")]
    group: Option<Option<Ref>>,
}

async fn assign(
    state: State,
    user: ApiUser,
    id: web::Path<i64>,
    req: ApiJson<AssignReq>,
) -> Result<HttpResponse, ApiError> {
    let req = req.0;
    if req.agent.is_none() && req.group.is_none() {
        return Err(ApiError::invalid(
            "agent",
            "give an agent and/or a group (null to clear)",
        ));
    }
    act(state, user, id.into_inner(), move |x| {
        let change = Assignment {
            agent: match &req.agent {
                None => None,
                Some(None) => Some(None),
                Some(Some(r)) => Some(Some(agent_id(x.conn, "agent", r)?)),
            },
            group: match &req.group {
                None => None,
                Some(None) => Some(None),
                Some(Some(r)) => Some(Some(group_id(x.conn, "group", r)?)),
            },
        };
        let actor = x.actor();
        let changed = ops::assign(x.conn, x.id, change, actor, x.now)?;
        Ok(json!({ "changed": changed }))
    })
    .await
}

#[derive(Deserialize)]
struct PriorityReq {
    priority: Priority,
}

async fn priority(
    state: State,
    user: ApiUser,
    id: web::Path<i64>,
    req: ApiJson<PriorityReq>,
) -> Result<HttpResponse, ApiError> {
    let req = req.0;
    act(state, user, id.into_inner(), move |x| {
        let actor = x.actor();
        let changed = ops::set_priority(x.conn, x.id, req.priority, actor, x.now)?;
        Ok(json!({ "changed": changed }))
    })
    .await
}

#[derive(Deserialize)]
struct EscalateReq {
    reason: String,
}

async fn escalate(
    state: State,
    user: ApiUser,
    id: web::Path<i64>,
    req: ApiJson<EscalateReq>,
) -> Result<HttpResponse, ApiError> {
    let req = req.0;
    act(state, user, id.into_inner(), move |x| {
        let actor = x.actor();
        let level = ops::escalate(x.conn, x.id, &req.reason, actor, x.now)?;
        Ok(json!({ "escalation_level": level }))
    })
    .await
}

/// Status actions take no parameters; unknown keys are refused, not ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// A status change; resolving also schedules the survey.
type StatusOp =
    fn(&mut DbConn, i64, Actor, Survey, i64) -> Result<Status, crate::tickets::TicketError>;

async fn status_action(
    state: State,
    user: ApiUser,
    id: i64,
    op: StatusOp,
) -> Result<HttpResponse, ApiError> {
    act(state, user, id, move |x| {
        let actor = x.actor();
        let survey = Survey::from_config(&x.state.config);
        let status = op(x.conn, x.id, actor, survey, x.now)?;
        Ok(json!({ "status": status }))
    })
    .await
}

async fn resolve(
    state: State,
    user: ApiUser,
    id: web::Path<i64>,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    status_action(state, user, id.into_inner(), ops::resolve).await
}

async fn reopen(
    state: State,
    user: ApiUser,
    id: web::Path<i64>,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    status_action(state, user, id.into_inner(), |c, id, a, _, at| {
        ops::reopen(c, id, a, at)
    })
    .await
}

async fn close(
    state: State,
    user: ApiUser,
    id: web::Path<i64>,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    status_action(state, user, id.into_inner(), |c, id, a, _, at| {
        ops::close(c, id, a, at)
    })
    .await
}
