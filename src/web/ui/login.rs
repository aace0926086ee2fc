//! Staff sign-in and sign-out (customers sign in by link: see the portal).

use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::forms::Form;
use super::session::{self, Visitor, SESSION_COOKIE};
use super::{blocking, html, page, redirect, Chrome, PageError, Reply};
use crate::auth::{password, ratelimit, sessions};
use crate::db::DbError;
use crate::people::{self, EmailAddress};
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Public, "/login", show)
        .post(Access::Public, "/login", submit)
        .post(Access::Public, "/logout", logout);
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    next: String,
    form_error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    done: Option<String>,
}

/// Only a path on this site: never `//host` or `https://…` (open redirect).
pub fn safe_next(next: Option<&str>, default: &str) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => default.to_string(),
    }
}

async fn show(v: Visitor, q: web::Query<NextQuery>) -> Result<Reply, PageError> {
    if v.staff.is_some() {
        return Ok(redirect(&safe_next(q.next.as_deref(), "/tickets")));
    }
    page(&LoginPage {
        chrome: Chrome::new("Sign in", &v.csrf)
            .section("login")
            .notice(q.done.as_deref()),
        email: String::new(),
        next: safe_next(q.next.as_deref(), "/tickets"),
        form_error: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

/// A hash to verify against when the account does not exist, so a wrong
/// email takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| password::hash(&crate::auth::random_token()).unwrap_or_default())
}

enum Outcome {
    Blocked(i64),
    Failed,
    SignedIn(String),
}

async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    v: Visitor,
    form: Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let f = form.0;
    let email_raw = f.email.unwrap_or_default().trim().to_string();
    let pw = f.password.unwrap_or_default();
    let next = safe_next(f.next.as_deref(), "/tickets");
    let address = crate::web::client_address(&req);
    let st = state.clone();
    let email_for_check = email_raw.clone();
    let outcome = blocking(move || {
        let now = now_ms();
        let account = ratelimit::account_key(&email_for_check);
        let address = ratelimit::address_key(&address);
        if let Some(wait) = st
            .db
            .query(|c| ratelimit::blocked_for(c, &account, &address, now))?
        {
            return Ok(Outcome::Blocked(wait));
        }
        let user = match EmailAddress::parse(&email_for_check) {
            Ok(e) => st.db.query(|c| people::find_user_by_email(c, &e))?,
            Err(_) => None,
        };
        let ok = match user.as_ref().filter(|u| u.can_login()) {
            Some(u) => password::verify(&pw, u.password_hash.as_deref().unwrap_or_default()),
            None => {
                let _ = password::verify(&pw, dummy_hash());
                false
            }
        };
        match (ok, user) {
            (true, Some(u)) => {
                let token = st.db.write(|c| {
                    ratelimit::clear_account(c, &account)?;
                    // Housekeeping where it costs nothing extra: a write is open anyway.
                    sessions::purge_expired(c, now)?;
                    sessions::create(c, sessions::Who::Staff(u.id), now).map_err(DbError::from)
                })?;
                tracing::info!(user_id = u.id, "staff sign-in");
                Ok(Outcome::SignedIn(token))
            }
            _ => {
                st.db.write(|c| {
                    ratelimit::record_failure(c, &account, &address, now).map_err(DbError::from)
                })?;
                tracing::info!("failed staff sign-in");
                Ok(Outcome::Failed)
            }
        }
    })
    .await?;
    let again = |status: StatusCode, msg: String| {
        html(
            status,
            &LoginPage {
                chrome: Chrome::new("Sign in", &v.csrf).section("login"),
                email: email_raw.clone(),
                next: next.clone(),
                form_error: Some(msg),
            },
        )
        .map(Reply::into_response)
    };
    match outcome {
        Outcome::Blocked(wait_ms) => {
            let minutes = (wait_ms + 59_999) / 60_000;
            let mut res = again(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed sign-ins. Try again in {minutes} minute(s)."),
            )?;
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from((wait_ms.max(0) as u64).div_ceil(1000)),
            );
            Ok(res)
        }
        Outcome::Failed => again(
            StatusCode::UNAUTHORIZED,
            "The email or the password is wrong.".into(),
        ),
        Outcome::SignedIn(token) => {
            let secure = session::secure_cookies(&state);
            Ok(HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, next))
                .cookie(session::cookie(SESSION_COOKIE, token, secure))
                .finish())
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    v: Visitor,
    _form: Form<Empty>,
) -> Result<HttpResponse, PageError> {
    let to = if v.customer.is_some() {
        "/portal/login?done=signed_out"
    } else {
        "/login?done=signed_out"
    };
    if let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) {
        let st = state.clone();
        blocking(move || {
            st.db
                .write(|c| sessions::delete(c, &token).map_err(DbError::from))
                .map_err(PageError::from)
        })
        .await?;
    }
    let secure = session::secure_cookies(&state);
    Ok(HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to))
        .cookie(session::removal(SESSION_COOKIE, secure))
        .finish())
}
