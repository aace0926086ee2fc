//! Canned responses: saved replies agents insert into the reply box.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use diesel::Connection;
use serde::Deserialize;

use super::{chrome, excerpt, save, DoneQuery, Refused};
use crate::canned::{self, Canned};
use crate::db::DbConn;
use crate::people::is_unique_violation;
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::ui::forms::Form;
use crate::web::ui::session::Staff;
use crate::web::ui::{blocking, html, redirect, Chrome, FieldErrors, PageError, Reply};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Admin, "/admin/canned", list)
        .post(Access::Admin, "/admin/canned", create)
        .get(Access::Admin, "/admin/canned/{id}", edit)
        .post(Access::Admin, "/admin/canned/{id}", update)
        .post(Access::Admin, "/admin/canned/{id}/delete", delete);
}

struct Row {
    id: i64,
    title: String,
    excerpt: String,
}

#[derive(Default)]
struct Draft {
    title: String,
    body: String,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin_canned.html")]
struct ListPage {
    chrome: Chrome,
    area: &'static str,
    rows: Vec<Row>,
    draft: Draft,
}

#[derive(Template)]
#[template(path = "admin_canned_edit.html")]
struct EditPage {
    chrome: Chrome,
    area: &'static str,
    id: i64,
    stored_title: String,
    draft: Draft,
}

fn render_list(
    c: &mut DbConn,
    staff: &Staff,
    draft: Draft,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let rows = canned::list(c)?
        .into_iter()
        .map(|r: Canned| Row {
            excerpt: excerpt(&r.body, 80),
            id: r.id,
            title: r.title,
        })
        .collect();
    html(
        status,
        &ListPage {
            chrome: chrome(staff, "Canned responses", done),
            area: "canned",
            rows,
            draft,
        },
    )
}

fn render_edit(
    c: &mut DbConn,
    staff: &Staff,
    id: i64,
    draft: Option<Draft>,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let r = canned::find(c, id)?
        .ok_or_else(|| PageError::NotFound(format!("canned response {id} not found")))?;
    let draft = draft.unwrap_or_else(|| Draft {
        title: r.title.clone(),
        body: r.body.clone(),
        errors: FieldErrors::default(),
    });
    html(
        status,
        &EditPage {
            chrome: chrome(staff, format!("Canned response {}", r.title), done),
            area: "canned",
            id,
            stored_title: r.title,
            draft,
        },
    )
}

async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<DoneQuery>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    blocking(move || {
        state.db.read(|c| {
            render_list(
                c,
                &staff,
                Draft::default(),
                q.done.as_deref(),
                StatusCode::OK,
            )
        })
    })
    .await
}

async fn edit(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    q: web::Query<DoneQuery>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    blocking(move || {
        state
            .db
            .read(|c| render_edit(c, &staff, id, None, q.done.as_deref(), StatusCode::OK))
    })
    .await
}

#[derive(Deserialize)]
struct CannedForm {
    title: Option<String>,
    body: Option<String>,
}

fn taken(title: &str) -> Refused {
    Refused::field(
        "title",
        format!("a canned response titled {:?} already exists", title.trim()),
    )
}

/// Checks the text and the title's uniqueness, then runs `write` (in a
/// savepoint, so a concurrent duplicate reads as "taken").
fn checked<T>(
    c: &mut DbConn,
    draft: (&str, &str),
    except: Option<i64>,
    write: impl FnOnce(&mut DbConn) -> diesel::QueryResult<T>,
) -> Result<T, Refused> {
    let (title, body) = draft;
    let problems = canned::validate(title, body);
    if !problems.is_empty() {
        let mut errors = FieldErrors::default();
        for (field, message) in problems {
            errors.add(field, message);
        }
        return Err(Refused::Fields(errors));
    }
    if canned::title_taken(c, title, except)? {
        return Err(taken(title));
    }
    match c.transaction(write) {
        Err(e) if is_unique_violation(&e) => Err(taken(title)),
        other => Ok(other?),
    }
}

async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<CannedForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let mut draft = Draft {
        title: form.0.title.unwrap_or_default(),
        body: form.0.body.unwrap_or_default(),
        errors: FieldErrors::default(),
    };
    let (title, body) = (draft.title.clone(), draft.body.clone());
    let outcome = save(state.clone(), move |c| {
        checked(c, (&title, &body), None, |c| {
            canned::create(c, &title, &body, now_ms())
        })
    })
    .await?;
    match outcome {
        Ok(_) => Ok(redirect("/admin/canned?done=created")),
        Err(errors) => {
            draft.errors = errors;
            blocking(move || {
                state
                    .db
                    .read(|c| render_list(c, &staff, draft, None, StatusCode::UNPROCESSABLE_ENTITY))
            })
            .await
        }
    }
}

async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    form: Form<CannedForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    let mut draft = Draft {
        title: form.0.title.unwrap_or_default(),
        body: form.0.body.unwrap_or_default(),
        errors: FieldErrors::default(),
    };
    let (title, body) = (draft.title.clone(), draft.body.clone());
    let outcome = save(state.clone(), move |c| {
        canned::find(c, id)?
            .ok_or_else(|| PageError::NotFound(format!("canned response {id} not found")))?;
        checked(c, (&title, &body), Some(id), |c| {
            canned::update(c, id, &title, &body, now_ms())
        })
    })
    .await?;
    match outcome {
        Ok(_) => Ok(redirect("/admin/canned?done=saved")),
        Err(errors) => {
            draft.errors = errors;
            blocking(move || {
                state.db.read(|c| {
                    render_edit(
                        c,
                        &staff,
                        id,
                        Some(draft),
                        None,
                        StatusCode::UNPROCESSABLE_ENTITY,
                    )
                })
            })
            .await
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn delete(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    _form: Form<Empty>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    let deleted = blocking(move || {
        state
            .db
            .write(|c| canned::delete(c, id).map_err(crate::db::DbError::from))
            .map_err(PageError::from)
    })
    .await?;
    if deleted == 0 {
        return Err(PageError::NotFound(format!(
            "canned response {id} not found"
        )));
    }
    Ok(redirect("/admin/canned?done=deleted"))
}
