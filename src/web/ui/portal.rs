//! The customer portal: sign-in by a mailed single-use link, the list of a
//! customer's own requests, and one request's public conversation with a
//! reply form and a reopen button. A customer only ever sees tickets they
//! are the requester of or CC'd on (`PortalUser::ticket`), and never notes.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::conversation::{self, MessageView};
use super::forms::{Form, Upload, MAX_FILES};
use super::session::{self, PortalUser, Visitor, SESSION_COOKIE};
use super::{blocking, fmt, html, page, redirect, Chrome, FieldErrors, PageError, Reply};
use crate::auth::portal_links::{self, LinkState};
use crate::auth::{ratelimit, sessions};
use crate::db::DbConn;
use crate::mail::outbox::{self, Standalone};
use crate::people::{self, EmailAddress};
use crate::tickets::attachments::human_size;
use crate::tickets::{ops, query, Actor, Body, Status, TicketError};
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::{client_address, AppState};

/// Requests listed on the portal's first page.
const LIST_LIMIT: i64 = 200;

pub fn routes(r: &mut Routes) {
    r.get(Access::Public, "/portal/login", login_form)
        .post(Access::Public, "/portal/login", send_link)
        .get(Access::Public, "/portal/auth", confirm)
        .post(Access::Public, "/portal/auth", sign_in)
        .get(Access::Customer, "/portal", list)
        .get(Access::Customer, "/portal/tickets/{id}", show)
        .post(Access::Customer, "/portal/tickets/{id}/reply", reply)
        .post(Access::Customer, "/portal/tickets/{id}/reopen", reopen);
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

#[derive(Deserialize)]
struct Empty {}

// ---- sign-in by link ------------------------------------------------------

#[derive(Template)]
#[template(path = "portal_login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal_link_sent.html")]
struct LinkSentPage {
    chrome: Chrome,
}

fn public_chrome(v: &Visitor, title: &str) -> Chrome {
    Chrome::new(title, &v.csrf).section("portal")
}

async fn login_form(v: Visitor, q: web::Query<DoneQuery>) -> Result<Reply, PageError> {
    if v.customer.is_some() {
        return Ok(redirect("/portal"));
    }
    page(&LoginPage {
        chrome: public_chrome(&v, "Sign in to your requests").notice(q.done.as_deref()),
        email: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
struct LinkForm {
    email: Option<String>,
}

fn link_mail(name: &str, url: &str) -> String {
    format!(
        "Hello {name},\n\n\
         use this link to sign in and see your requests:\n\n\
         {url}\n\n\
         The link expires in 30 minutes and works only once.\n\
         If you did not ask for it, you can ignore this mail: nobody can sign in without the link.\n"
    )
}

async fn send_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    v: Visitor,
    form: Form<LinkForm>,
) -> Result<Reply, PageError> {
    let raw = form.0.email.unwrap_or_default().trim().to_string();
    let email = match EmailAddress::parse(&raw) {
        Ok(e) => e,
        Err(msg) => {
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                &LoginPage {
                    chrome: public_chrome(&v, "Sign in to your requests"),
                    email: raw,
                    error: Some(msg),
                },
            )
        }
    };
    let st = state.clone();
    let address = client_address(&req);
    blocking(move || {
        let now = now_ms();
        st.db.write(|c| -> Result<(), PageError> {
            let limits = [
                ratelimit::Limit::link_address(&address),
                ratelimit::Limit::link_email(email.as_str()),
            ];
            if let Some(ms) = ratelimit::take(c, &limits, now)? {
                return Err(PageError::too_many(
                    "Too many sign-in links were asked for, from your network or for this address.",
                    ms,
                ));
            }
            let Some(customer) = people::find_customer_by_email(c, &email)? else {
                return Ok(());
            };
            let Some(token) = portal_links::create(c, customer.id, now)? else {
                tracing::info!(
                    customer_id = customer.id,
                    "portal link not sent: too many open"
                );
                return Ok(());
            };
            let url = format!(
                "{}/portal/auth?token={token}",
                st.base_url.trim_end_matches('/')
            );
            let body = link_mail(&customer.name, &url);
            let mail_id = st.signer.generate(0);
            outbox::queue(
                c,
                Standalone {
                    kind: "portal_link",
                    to: &customer.email,
                    subject: "Your sign-in link",
                    body_text: &body,
                    mail_message_id: &mail_id,
                },
                now,
            )?;
            tracing::info!(customer_id = customer.id, "portal link queued");
            Ok(())
        })
    })
    .await?;
    // The same page whether or not we know the address (and when too many
    // links are open): the form must not tell who is a customer.
    page(&LinkSentPage {
        chrome: public_chrome(&v, "Check your mail"),
    })
}

#[derive(Template)]
#[template(path = "portal_auth.html")]
struct AuthPage {
    chrome: Chrome,
    token: String,
    /// Why the link cannot be used; None when it can.
    problem: Option<&'static str>,
}

fn link_problem(s: &LinkState) -> Option<(StatusCode, &'static str)> {
    match s {
        LinkState::Valid(_) => None,
        LinkState::Used => Some((
            StatusCode::GONE,
            "This sign-in link has already been used. Each link works only once.",
        )),
        LinkState::Expired => Some((
            StatusCode::GONE,
            "This sign-in link has expired. Links work for 30 minutes.",
        )),
        LinkState::Unknown => Some((
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid: it may be incomplete, already used or expired.",
        )),
    }
}

fn auth_page(v: &Visitor, token: String, state: &LinkState) -> Result<Reply, PageError> {
    let problem = link_problem(state);
    html(
        problem.map(|p| p.0).unwrap_or(StatusCode::OK),
        &AuthPage {
            chrome: public_chrome(v, "Sign in"),
            token: if problem.is_some() {
                String::new()
            } else {
                token
            },
            problem: problem.map(|p| p.1),
        },
    )
}

#[derive(Deserialize)]
struct TokenParam {
    token: Option<String>,
}

/// The link from the mail only shows a button: mail scanners that fetch
/// links must neither sign in nor use the link up.
async fn confirm(
    state: web::Data<AppState>,
    v: Visitor,
    q: web::Query<TokenParam>,
) -> Result<Reply, PageError> {
    let token = q.into_inner().token.unwrap_or_default();
    let t = token.clone();
    let link = blocking(move || {
        state
            .db
            .query(|c| portal_links::check(c, &t, now_ms()))
            .map_err(PageError::from)
    })
    .await?;
    auth_page(&v, token, &link)
}

async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    v: Visitor,
    form: Form<TokenParam>,
) -> Result<HttpResponse, PageError> {
    let token = form.0.token.unwrap_or_default();
    let previous = req
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|c| !c.is_empty());
    let st = state.clone();
    let t = token.clone();
    let (link, session_token) = blocking(move || {
        let now = now_ms();
        st.db.write(|c| -> Result<_, PageError> {
            let link = portal_links::consume(c, &t, now)?;
            let session_token = match link {
                LinkState::Valid(customer_id) => {
                    // The browser's earlier session (someone else, maybe)
                    // ends here rather than lingering behind the new cookie.
                    if let Some(old) = &previous {
                        sessions::delete(c, old)?;
                    }
                    Some(sessions::create(
                        c,
                        sessions::Who::Customer(customer_id),
                        now,
                    )?)
                }
                _ => None,
            };
            Ok((link, session_token))
        })
    })
    .await?;
    match session_token {
        Some(session_token) => {
            if let LinkState::Valid(customer_id) = link {
                tracing::info!(customer_id, "portal sign-in");
            }
            let secure = session::secure_cookies(&state);
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/portal?done=signed_in"))
                .cookie(session::cookie(SESSION_COOKIE, session_token, secure))
                .finish())
        }
        None => Ok(auth_page(&v, token, &link)?.into_response()),
    }
}

// ---- the customer's requests --------------------------------------------

struct Row {
    id: i64,
    subject: String,
    status: String,
    updated: String,
    updated_title: String,
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct HomePage {
    chrome: Chrome,
    rows: Vec<Row>,
    more: bool,
    limit: i64,
}

fn portal_chrome(user: &PortalUser, title: impl Into<String>) -> Chrome {
    Chrome::new(title, &user.csrf)
        .customer(&user.customer)
        .section("portal")
}

async fn list(
    state: web::Data<AppState>,
    user: PortalUser,
    q: web::Query<DoneQuery>,
) -> Result<Reply, PageError> {
    let done = q.into_inner().done;
    blocking(move || {
        let mut tickets = state
            .db
            .query(|c| query::customer_tickets(c, user.customer.id, LIST_LIMIT + 1))?;
        let more = tickets.len() as i64 > LIST_LIMIT;
        tickets.truncate(LIST_LIMIT as usize);
        let now = now_ms();
        let rows = tickets
            .into_iter()
            .map(|t| Row {
                id: t.id,
                subject: t.subject,
                status: t.status,
                updated: fmt::ago(now, t.updated_at),
                updated_title: fmt::datetime(t.updated_at),
            })
            .collect();
        page(&HomePage {
            chrome: portal_chrome(&user, "My requests").notice(done.as_deref()),
            rows,
            more,
            limit: LIST_LIMIT,
        })
    })
    .await
}

/// What was typed into the reply form, kept when it comes back with errors.
#[derive(Default)]
struct Draft {
    body: String,
    files_sent: bool,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "portal_ticket.html")]
struct TicketPage {
    chrome: Chrome,
    id: i64,
    subject: String,
    status: String,
    created: String,
    parent_id: Option<i64>,
    messages: Vec<MessageView>,
    draft: Draft,
    can_reopen: bool,
    closed: bool,
    file_limit: String,
    max_files: usize,
}

fn render(
    c: &mut DbConn,
    state: &AppState,
    user: &PortalUser,
    id: i64,
    draft: Draft,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let t = user.ticket(c, id)?;
    // The customer's view: public messages only, never internal notes.
    let messages = conversation::build_named(c, &t, true, state.config.smtp_url.is_some())?;
    let st = t.status();
    html(
        status,
        &TicketPage {
            chrome: portal_chrome(user, format!("#{} {}", t.id, t.subject)).notice(done),
            id: t.id,
            subject: t.subject.clone(),
            status: t.status.clone(),
            created: fmt::datetime(t.created_at),
            parent_id: t.parent_id,
            messages,
            draft,
            can_reopen: st == Status::Resolved,
            closed: st == Status::Closed,
            file_limit: human_size(state.config.max_attachment_bytes as i64),
            max_files: MAX_FILES,
        },
    )
}

async fn show(
    state: web::Data<AppState>,
    user: PortalUser,
    id: web::Path<i64>,
    q: web::Query<DoneQuery>,
) -> Result<Reply, PageError> {
    let id = id.into_inner();
    let done = q.into_inner().done;
    blocking(move || {
        state.db.read(|c| {
            render(
                c,
                &state,
                &user,
                id,
                Draft::default(),
                done.as_deref(),
                StatusCode::OK,
            )
        })
    })
    .await
}

async fn reply(
    state: web::Data<AppState>,
    user: PortalUser,
    id: web::Path<i64>,
    form: Upload,
) -> Result<Reply, PageError> {
    let id = id.into_inner();
    let mut draft = Draft {
        body: form.text("body"),
        files_sent: !form.files.is_empty() || !form.file_errors.is_empty(),
        errors: FieldErrors::default(),
    };
    if draft.body.trim().is_empty() {
        draft.errors.add("body", "write a message before sending");
    }
    if !form.file_errors.is_empty() {
        draft.errors.add("attachments", form.file_errors.join("; "));
    }
    let files = form.files;
    blocking(move || {
        let again = |c: &mut DbConn, draft: Draft| {
            render(
                c,
                &state,
                &user,
                id,
                draft,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        };
        if !draft.errors.is_empty() {
            return state.db.read(|c| again(c, draft));
        }
        let body = Body {
            attachments: files,
            // Browsers send textarea line breaks as CRLF; store plain newlines.
            ..Body::text(draft.body.replace("\r\n", "\n"))
        };
        let now = now_ms();
        let outcome =
            state
                .db
                .write(|c| -> Result<Result<ops::Posted, TicketError>, PageError> {
                    user.ticket(c, id)?;
                    Ok(ops::customer_message(c, id, user.customer.id, body, now))
                })?;
        match outcome {
            Ok(p) if p.follow_up => Ok(redirect(&format!(
                "/portal/tickets/{}?done=follow_up",
                p.ticket_id
            ))),
            Ok(_) => Ok(redirect(&format!("/portal/tickets/{id}?done=sent"))),
            Err(TicketError::Invalid { field, message }) => {
                draft.errors.add(field, message);
                state.db.read(|c| again(c, draft))
            }
            Err(other) => Err(other.into()),
        }
    })
    .await
}

async fn reopen(
    state: web::Data<AppState>,
    user: PortalUser,
    id: web::Path<i64>,
    _form: Form<Empty>,
) -> Result<Reply, PageError> {
    let id = id.into_inner();
    blocking(move || {
        let now = now_ms();
        state.db.write(|c| -> Result<(), PageError> {
            let t = user.ticket(c, id)?;
            // A customer reopens only what was resolved; a closed request stays
            // closed and a new message opens a follow-up instead.
            match t.status() {
                Status::Resolved => {}
                Status::Closed => {
                    return Err(PageError::Conflict(
                        "this request is closed and cannot be reopened; write a message on its page to open a follow-up request".into(),
                    ))
                }
                _ => {
                    return Err(PageError::Conflict(
                        "this request is still open; there is nothing to reopen".into(),
                    ))
                }
            }
            ops::reopen(c, id, Actor::Customer(user.customer.id), now)?;
            Ok(())
        })?;
        Ok(redirect(&format!("/portal/tickets/{id}?done=reopen")))
    })
    .await
}
