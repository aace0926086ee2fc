//! The admin pages: staff users, groups, mailboxes, canned responses, SLA
//! calendars and policies, and the mail quarantine.
//! Every handler starts with `staff.require_admin()` (agents and managers
//! get 403); every POST goes through `Form`, which has checked the CSRF
//! token before the handler runs.

mod calendars;
mod canned;
mod groups;
mod mailboxes;
mod quarantine;
mod sla;
mod users;

use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::session::Staff;
use super::{blocking, page, Chrome, FieldErrors, PageError, Reply};
use crate::db::{DbConn, DbError};
use crate::people::PeopleError;
use crate::web::routes::{Access, Routes};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Admin, "/admin", index);
    users::routes(r);
    groups::routes(r);
    mailboxes::routes(r);
    canned::routes(r);
    calendars::routes(r);
    sla::routes(r);
    quarantine::routes(r);
}

/// The chrome of an admin page.
fn chrome(staff: &Staff, title: impl Into<String>, done: Option<&str>) -> Chrome {
    Chrome::new(title, &staff.csrf)
        .staff(&staff.user)
        .section("admin")
        .notice(done)
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_index.html")]
struct IndexPage {
    chrome: Chrome,
    area: &'static str,
    users: usize,
    groups: usize,
    mailboxes: usize,
    canned: usize,
    calendars: usize,
    policies: usize,
    quarantined: usize,
}

async fn index(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<DoneQuery>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    blocking(move || {
        let (users, groups, mailboxes, canned, calendars, policies, quarantined) =
            state.db.query(|c| {
                Ok((
                    crate::people::list_staff(c)?.len(),
                    crate::people::list_groups(c)?.len(),
                    crate::mailboxes::list(c)?.len(),
                    crate::canned::list(c)?.len(),
                    crate::sla::policy::calendars(c)?.len(),
                    crate::sla::policy::policies(c)?.len(),
                    crate::mail::inbound::quarantined(c, false, 10_000)?.len(),
                ))
            })?;
        page(&IndexPage {
            chrome: chrome(&staff, "Administration", q.done.as_deref()),
            area: "",
            users,
            groups,
            mailboxes,
            canned,
            calendars,
            policies,
            quarantined,
        })
    })
    .await
}

/// Why a save did not happen: fields to correct (the form comes back with
/// what was typed, 422), or an error page.
enum Refused {
    Fields(FieldErrors),
    Page(PageError),
}

impl Refused {
    fn field(field: &'static str, message: impl Into<String>) -> Refused {
        let mut e = FieldErrors::default();
        e.add(field, message);
        Refused::Fields(e)
    }
}

impl From<PageError> for Refused {
    fn from(e: PageError) -> Self {
        Refused::Page(e)
    }
}

impl From<DbError> for Refused {
    fn from(e: DbError) -> Self {
        Refused::Page(e.into())
    }
}

impl From<diesel::result::Error> for Refused {
    fn from(e: diesel::result::Error) -> Self {
        Refused::Page(e.into())
    }
}

impl From<PeopleError> for Refused {
    fn from(e: PeopleError) -> Self {
        match e {
            PeopleError::Invalid { field, message } => Refused::field(field, message),
            e @ PeopleError::UserExists(_) => Refused::field("email", e.to_string()),
            e @ PeopleError::GroupExists(_) => Refused::field("name", e.to_string()),
            e @ PeopleError::LastAdmin(_) => Refused::field("form", e.to_string()),
            e @ (PeopleError::UserNotFound(_) | PeopleError::GroupNotFound(_)) => {
                Refused::Page(PageError::NotFound(e.to_string()))
            }
            PeopleError::Db(d) => d.into(),
            PeopleError::Store(s) => s.into(),
        }
    }
}

/// Runs `f` in one write transaction, rolled back when it refuses.
async fn save<T, F>(state: web::Data<AppState>, f: F) -> Result<Result<T, FieldErrors>, PageError>
where
    F: FnOnce(&mut DbConn) -> Result<T, Refused> + Send + 'static,
    T: Send + 'static,
{
    blocking(move || match state.db.write(f) {
        Ok(v) => Ok(Ok(v)),
        Err(Refused::Fields(e)) => Ok(Err(e)),
        Err(Refused::Page(p)) => Err(p),
    })
    .await
}

/// A checkbox: sent (with any value) when ticked, absent otherwise.
fn ticked(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.is_empty())
}

/// An id from a select; "" means none.
fn opt_id(raw: Option<&str>) -> Result<Option<i64>, String> {
    match raw.map(str::trim).unwrap_or("") {
        "" => Ok(None),
        s => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("{s:?} is not a choice from the list")),
    }
}

/// The first characters of a text, for a list.
fn excerpt(s: &str, chars: usize) -> String {
    let line = s.trim().lines().next().unwrap_or("");
    let mut out: String = line.chars().take(chars).collect();
    if line.chars().count() > chars || s.trim().lines().nth(1).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_ids_and_excerpts() {
        assert_eq!(opt_id(None), Ok(None));
        assert_eq!(opt_id(Some(" ")), Ok(None));
        assert_eq!(opt_id(Some("12")), Ok(Some(12)));
        assert!(opt_id(Some("x")).is_err());
        assert_eq!(excerpt("Hello", 10), "Hello");
        assert_eq!(excerpt("Hello world", 5), "Hello…");
        assert_eq!(excerpt("Hi\nthere", 10), "Hi…");
        assert!(ticked(&Some("on".into())));
        assert!(!ticked(&None));
    }
}
