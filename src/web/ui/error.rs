//! Page errors: one HTML error page, one mapping to HTTP status. A user's
//! mistake is a 4xx with a sentence saying what to do; only our own faults
//! are 500, and their detail goes to the log, never to the page.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::db::DbError;
use crate::tickets::TicketError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Not signed in (or the session ended): go to the sign-in page, then back.
    #[error("please sign in")]
    SignIn { login: &'static str, next: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this form has expired or was not sent from this site; go back, reload the page and send it again")]
    Csrf,
    #[error("{0}")]
    TooLarge(String),
    /// Over a rate limit; `retry_after_s` goes out as `Retry-After`.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_s: u64 },
    #[error("the database is unavailable; try again in a moment")]
    Unavailable,
    #[error("something went wrong on our side; it has been logged")]
    Internal(String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: String,
}

impl PageError {
    /// Over a rate limit: says what to do and when (`wait_ms` from now).
    pub fn too_many(what: &str, wait_ms: i64) -> PageError {
        let retry_after_s = (wait_ms.max(0) as u64).div_ceil(1000);
        let minutes = retry_after_s.div_ceil(60);
        PageError::TooManyRequests {
            message: format!("{what} Try again in {minutes} minute(s)."),
            retry_after_s,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            PageError::SignIn { .. } => "Sign in",
            PageError::Forbidden(_) => "Not allowed",
            PageError::NotFound(_) => "Not found",
            PageError::BadRequest(_) => "Bad request",
            PageError::Conflict(_) => "Not possible now",
            PageError::Csrf => "Form expired",
            PageError::TooLarge(_) => "Too large",
            PageError::TooManyRequests { .. } => "Too many requests",
            PageError::Unavailable => "Unavailable",
            PageError::Internal(_) => "Error",
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { .. } => StatusCode::SEE_OTHER,
            PageError::Forbidden(_) | PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Conflict(_) => StatusCode::CONFLICT,
            PageError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            PageError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            PageError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PageError::SignIn { login, next } = self {
            let to = format!("{login}?next={}", super::forms::url_encode(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .finish();
        }
        if let PageError::Internal(detail) = self {
            tracing::error!(%detail, "internal error in a page request");
        }
        let status = self.status_code();
        let page = ErrorPage {
            status: status.as_u16(),
            title: self.title(),
            message: self.to_string(),
        };
        let mut res = HttpResponse::build(status);
        if let PageError::TooManyRequests { retry_after_s, .. } = self {
            res.insert_header((header::RETRY_AFTER, retry_after_s.to_string()));
        }
        match page.render() {
            Ok(html) => res.content_type("text/html; charset=utf-8").body(html),
            Err(_) => res.body(self.to_string()),
        }
    }
}

impl From<DbError> for PageError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                PageError::Unavailable
            }
            DbError::Query(diesel::result::Error::NotFound) => {
                PageError::NotFound("not found".into())
            }
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for PageError {
    fn from(e: diesel::result::Error) -> Self {
        PageError::from(DbError::from(e))
    }
}

impl From<TicketError> for PageError {
    fn from(e: TicketError) -> Self {
        match e {
            TicketError::NotFound(id) => PageError::NotFound(format!("ticket {id} not found")),
            e @ TicketError::Transition { .. } => PageError::Conflict(e.to_string()),
            TicketError::Invalid { message, .. } => PageError::BadRequest(message),
            TicketError::Db(d) => d.into(),
            TicketError::Store(s) => s.into(),
        }
    }
}

impl From<crate::people::PeopleError> for PageError {
    fn from(e: crate::people::PeopleError) -> Self {
        use crate::people::PeopleError;
        match e {
            PeopleError::Db(d) => d.into(),
            PeopleError::Store(s) => s.into(),
            other => PageError::BadRequest(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for PageError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Internal(format!("template: {e}"))
    }
}
