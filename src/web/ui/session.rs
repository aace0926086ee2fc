//! Who is at the browser: the session cookie, the CSRF seed cookie, and the
//! extractors handlers take — `Visitor` (anyone), `Staff` (signed-in staff,
//! else a redirect to /login) and `PortalUser` (a signed-in customer, else a
//! redirect to /portal/login).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::error::PageError;
use crate::auth::sessions::{self, Found};
use crate::db::{DbConn, DbError};
use crate::people::directory::Directory;
use crate::people::{Customer, User};
use crate::tickets::query::{self, Scope};
use crate::tickets::{Role, Ticket};
use crate::web::AppState;

pub const SESSION_COOKIE: &str = "hd_session";
pub const SEED_COOKIE: &str = "hd_seed";

/// A seed minted for this request (the browser had none yet).
#[derive(Clone)]
struct NewSeed(String);

/// A cookie as every one of ours is: HttpOnly, SameSite=Lax, Secure when
/// the site is served over https, for the whole site.
pub fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

/// A Set-Cookie that deletes `name`.
pub fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), secure);
    c.set_max_age(CookieDuration::ZERO);
    c
}

pub fn secure_cookies(state: &AppState) -> bool {
    state
        .config
        .base_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
}

/// The per-browser secret a CSRF token binds to: the session cookie when
/// there is one, else the seed cookie (minted by `browser_layer`).
fn csrf_seed(req: &HttpRequest) -> Option<String> {
    if let Some(c) = req.cookie(SESSION_COOKIE).filter(|c| !c.value().is_empty()) {
        return Some(c.value().to_string());
    }
    if let Some(c) = req.cookie(SEED_COOKIE).filter(|c| !c.value().is_empty()) {
        return Some(c.value().to_string());
    }
    req.extensions().get::<NewSeed>().map(|s| s.0.clone())
}

pub fn csrf_token(req: &HttpRequest, state: &AppState) -> String {
    match csrf_seed(req) {
        Some(seed) => state.csrf.token(&seed),
        None => String::new(),
    }
}

pub fn csrf_valid(req: &HttpRequest, state: &AppState, submitted: &str) -> bool {
    match csrf_seed(req) {
        Some(seed) => state.csrf.verify(&seed, submitted),
        None => false,
    }
}

/// Middleware for every page: mints the CSRF seed cookie for a new browser
/// and keeps pages out of caches.
pub async fn browser_layer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let has_cookie = req.cookie(SESSION_COOKIE).is_some() || req.cookie(SEED_COOKIE).is_some();
    let seed = (!has_cookie).then(crate::auth::random_token);
    if let Some(s) = &seed {
        req.extensions_mut().insert(NewSeed(s.clone()));
    }
    let secure = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| secure_cookies(s));
    let mut res = next.call(req).await?;
    if let Some(s) = seed {
        let _ = res
            .response_mut()
            .add_cookie(&cookie(SEED_COOKIE, s, secure));
    }
    // The security headers every answer carries come from `web::headers`.
    let h = res.headers_mut();
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| PageError::Internal("no app state".into()))
}

/// Looks the session cookie up (and slides its expiry), off the async workers.
async fn current_session(
    req: &HttpRequest,
    state: web::Data<AppState>,
) -> Result<Option<Found>, PageError> {
    current_session_then(req, state, |_, found, _| Ok(found)).await
}

/// `current_session`, then `then` on the same blocking thread, so an
/// extractor that needs more from the store costs one hop off the workers;
/// `then` also gets the `directory_version` the lookup read.
async fn current_session_then<T, F>(
    req: &HttpRequest,
    state: web::Data<AppState>,
    then: F,
) -> Result<Option<T>, PageError>
where
    T: Send + 'static,
    F: FnOnce(&AppState, Found, i64) -> Result<T, PageError> + Send + 'static,
{
    let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return Ok(None);
    };
    if token.is_empty() {
        return Ok(None);
    }
    web::block(move || -> Result<Option<T>, PageError> {
        let now = crate::time::now_ms();
        let Some(session) = state.db.query(|c| sessions::lookup(c, &token, now))? else {
            return Ok(None);
        };
        // Extending the session is housekeeping: a store that cannot write
        // just now (a full disk) must not turn a read into an error.
        if session.stale {
            if let Err(e) = state
                .db
                .write(|c| sessions::touch(c, &session, now).map_err(DbError::from))
            {
                tracing::warn!(error = %e, "session not extended");
            }
        }
        then(&state, session.found, session.directory_version).map(Some)
    })
    .await?
}

fn next_path(req: &HttpRequest) -> String {
    // Only ever a local path, so the redirect after sign-in stays on this site.
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if req.method() == actix_web::http::Method::GET {
        pq.to_string()
    } else {
        req.path().to_string()
    }
}

/// Anyone: signed in or not. Public pages take this for the CSRF token.
pub struct Visitor {
    pub csrf: String,
    pub staff: Option<User>,
    pub customer: Option<Customer>,
}

impl FromRequest for Visitor {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            let csrf = csrf_token(&req, &state);
            let (staff, customer) = match current_session(&req, state).await? {
                Some(Found::Staff(u)) => (Some(u), None),
                Some(Found::Customer(c)) => (None, Some(c)),
                None => (None, None),
            };
            Ok(Visitor {
                csrf,
                staff,
                customer,
            })
        })
    }
}

/// A signed-in staff user with what they may see.
pub struct Staff {
    pub user: User,
    pub scope: Scope,
    pub csrf: String,
    /// Every staff user and group, current as of the session's lookup.
    pub directory: Arc<Directory>,
}

impl Staff {
    pub fn role(&self) -> Role {
        self.user.role()
    }

    pub fn is_manager(&self) -> bool {
        matches!(self.role(), Role::Manager | Role::Admin)
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Role::Admin
    }

    pub fn require_admin(&self) -> Result<(), PageError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(PageError::Forbidden(
                "only admins can open this page".into(),
            ))
        }
    }

    /// A ticket the user may act on: 404 when missing, 403 outside their groups.
    pub fn ticket(&self, conn: &mut DbConn, id: i64) -> Result<Ticket, PageError> {
        match query::staff_access(conn, &self.scope, id)? {
            query::Access::Granted(t) => Ok(*t),
            query::Access::Missing => Err(PageError::NotFound(format!("ticket {id} not found"))),
            query::Access::Denied => Err(PageError::Forbidden(format!(
                "ticket {id} belongs to a group you are not a member of"
            ))),
        }
    }
}

fn sign_in(req: &HttpRequest) -> PageError {
    PageError::SignIn {
        login: "/login",
        next: next_path(req),
    }
}

impl Staff {
    /// The signed-in staff user, and `then` run for them on the blocking
    /// thread that looked the session up: a page that reads the store
    /// costs one hop off the async workers instead of two (the extractor's
    /// and the handler's), which the busiest page (the queue) is worth.
    /// A customer's session, or a staff account that may not sign in, asks
    /// for a sign-in.
    pub async fn then<T, F>(req: &HttpRequest, then: F) -> Result<T, PageError>
    where
        T: Send + 'static,
        F: FnOnce(&AppState, Staff) -> Result<T, PageError> + Send + 'static,
    {
        let state = state_of(req)?;
        let csrf = csrf_token(req, &state);
        let done = current_session_then(req, state, move |st, found, version| match found {
            Found::Staff(user) if user.can_login() => {
                let directory = st.directory.at_least(&st.db, version)?;
                let scope = query::scope_in(&user, &directory);
                let staff = Staff {
                    user,
                    scope,
                    csrf,
                    directory,
                };
                then(st, staff).map(Some)
            }
            _ => Ok(None),
        })
        .await?;
        done.flatten().ok_or_else(|| sign_in(req))
    }
}

impl FromRequest for Staff {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Staff::then(&req, |_, staff| Ok(staff)).await })
    }
}

/// A customer signed in to the portal.
pub struct PortalUser {
    pub customer: Customer,
    pub csrf: String,
}

impl PortalUser {
    /// One of the customer's own tickets (requester or CC'd). Any other id is
    /// "not found": a customer learns nothing about other people's tickets.
    pub fn ticket(&self, conn: &mut DbConn, id: i64) -> Result<Ticket, PageError> {
        let not_found = || PageError::NotFound(format!("ticket {id} not found"));
        let t = query::ticket(conn, id)?.ok_or_else(not_found)?;
        if query::customer_can_see(conn, &t, self.customer.id)? {
            Ok(t)
        } else {
            Err(not_found())
        }
    }
}

impl FromRequest for PortalUser {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            let csrf = csrf_token(&req, &state);
            match current_session(&req, state).await? {
                Some(Found::Customer(customer)) => Ok(PortalUser { customer, csrf }),
                _ => Err(PageError::SignIn {
                    login: "/portal/login",
                    next: next_path(&req),
                }),
            }
        })
    }
}
