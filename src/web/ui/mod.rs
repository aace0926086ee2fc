//! The browser UI: server-rendered askama pages for agents, managers,
//! admins and customers. Handlers stay thin: extract (the session and form
//! extractors check sign-in and CSRF), authorize, call the domain, render.

mod admin;
mod assets;
pub mod charts;
mod conversation;
mod csat;
pub mod csrf;
pub mod error;
mod files;
mod fmt;
pub mod forms;
mod layout;
mod login;
mod portal;
mod queue;
mod reports;
pub mod session;
mod settings;
mod ticket;
mod webform;

pub use error::PageError;
pub use layout::Chrome;

use actix_web::http::{header, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse, Responder};
use askama::Template;

use session::Visitor;

use crate::web::routes::{Access, Routes};

pub fn routes(cfg: &mut web::ServiceConfig) {
    Routes::new(cfg, "").get(Access::Public, "/static/{name}", assets::serve);
    cfg.service(
        web::scope("")
            .wrap(from_fn(session::browser_layer))
            .configure(|cfg| {
                let r = &mut Routes::new(cfg, "");
                r.get(Access::Public, "/", home);
                login::routes(r);
                queue::routes(r);
                ticket::routes(r);
                files::routes(r);
                webform::routes(r);
                portal::routes(r);
                csat::routes(r);
                admin::routes(r);
                settings::routes(r);
                reports::routes(r);
            })
            .default_service(web::to(not_found)),
    );
}

/// A finished page or redirect. Unlike `HttpResponse` it is `Send`, so it
/// can be produced on a blocking thread next to the database work.
pub enum Reply {
    Html(StatusCode, String),
    Redirect(String),
}

impl Responder for Reply {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        self.into_response()
    }
}

impl Reply {
    pub fn into_response(self) -> HttpResponse {
        match self {
            Reply::Html(status, body) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(body),
            Reply::Redirect(to) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .finish(),
        }
    }
}

/// Renders a page with status 200.
pub fn page<T: Template>(t: &T) -> Result<Reply, PageError> {
    html(StatusCode::OK, t)
}

/// Renders a page with `status` (422 for a form shown again with errors).
pub fn html<T: Template>(status: StatusCode, t: &T) -> Result<Reply, PageError> {
    Ok(Reply::Html(status, t.render()?))
}

/// 303 to a local path: after a POST the browser GETs the result.
pub fn redirect(to: &str) -> Reply {
    Reply::Redirect(to.to_string())
}

/// Runs blocking store work off the async workers.
pub async fn blocking<T, F>(f: F) -> Result<T, PageError>
where
    F: FnOnce() -> Result<T, PageError> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await?
}

async fn home(v: Visitor) -> Reply {
    if v.staff.is_some() {
        redirect("/tickets")
    } else if v.customer.is_some() {
        redirect("/portal")
    } else {
        redirect("/login")
    }
}

async fn not_found() -> Result<Reply, PageError> {
    Err(PageError::NotFound(
        "there is no page at this address".into(),
    ))
}

/// Field errors of a form, shown next to each field.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first error, for a summary at the top of the form.
    pub fn all(&self) -> impl Iterator<Item = &(&'static str, String)> {
        self.0.iter()
    }
}
