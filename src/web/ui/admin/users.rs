//! Staff users: the list, the create form, and the edit page (name, role,
//! active flag, groups, a new password). Deactivating a user or changing
//! their password ends their sessions.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::{chrome, save, ticked, DoneQuery, Refused};
use crate::auth::{password, sessions};
use crate::db::DbConn;
use crate::people::{self, EmailAddress, NewStaff, PeopleError, User, UserUpdate};
use crate::tickets::Role;
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::ui::queue::{capitalize, Opt};
use crate::web::ui::session::Staff;
use crate::web::ui::{blocking, html, redirect, FieldErrors, PageError, Reply};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Admin, "/admin/users", list)
        .post(Access::Admin, "/admin/users", create)
        .get(Access::Admin, "/admin/users/{id}", edit)
        .post(Access::Admin, "/admin/users/{id}", update);
}

struct Row {
    id: i64,
    name: String,
    email: String,
    role: String,
    active: bool,
    groups: String,
    can_sign_in: bool,
}

/// What the form shows: the stored values, or what was typed. Never a password.
struct Draft {
    email: String,
    name: String,
    role: String,
    active: bool,
    groups: Vec<i64>,
    errors: FieldErrors,
}

impl Draft {
    fn blank() -> Draft {
        Draft {
            email: String::new(),
            name: String::new(),
            role: Role::Agent.as_str().into(),
            active: true,
            groups: Vec::new(),
            errors: FieldErrors::default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct ListPage {
    chrome: crate::web::ui::Chrome,
    area: &'static str,
    rows: Vec<Row>,
    draft: Draft,
    roles: Vec<Opt>,
    groups: Vec<Opt>,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct EditPage {
    chrome: crate::web::ui::Chrome,
    area: &'static str,
    id: i64,
    email: String,
    can_sign_in: bool,
    has_password: bool,
    is_self: bool,
    draft: Draft,
    roles: Vec<Opt>,
    groups: Vec<Opt>,
}

fn role_opts(current: &str) -> Vec<Opt> {
    Role::ALL
        .iter()
        .map(|r| Opt {
            value: r.as_str().into(),
            label: capitalize(r.as_str()),
            selected: r.as_str() == current,
        })
        .collect()
}

fn group_opts(c: &mut DbConn, checked: &[i64]) -> Result<Vec<Opt>, PageError> {
    Ok(people::list_groups(c)?
        .into_iter()
        .map(|g| Opt {
            selected: checked.contains(&g.id),
            value: g.id.to_string(),
            label: g.name,
        })
        .collect())
}

fn render_list(
    c: &mut DbConn,
    staff: &Staff,
    draft: Draft,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let mut names = people::group_names_by_user(c)?;
    let rows = people::list_staff(c)?
        .into_iter()
        .map(|u: User| Row {
            can_sign_in: u.can_login(),
            groups: names.remove(&u.id).unwrap_or_default().join(", "),
            id: u.id,
            role: u.role().as_str().into(),
            active: u.active,
            name: u.name,
            email: u.email,
        })
        .collect();
    let groups = group_opts(c, &draft.groups)?;
    html(
        status,
        &ListPage {
            chrome: chrome(staff, "Staff users", done),
            area: "users",
            rows,
            roles: role_opts(&draft.role),
            groups,
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
    let user = people::find_user(c, id)?
        .ok_or_else(|| PageError::NotFound(format!("staff user {id} not found")))?;
    let draft = match draft {
        Some(d) => d,
        None => Draft {
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role().as_str().into(),
            active: user.active,
            groups: people::group_ids_of(c, id)?,
            errors: FieldErrors::default(),
        },
    };
    let groups = group_opts(c, &draft.groups)?;
    html(
        status,
        &EditPage {
            chrome: chrome(staff, format!("Edit {}", user.name), done),
            area: "users",
            id,
            email: user.email.clone(),
            can_sign_in: user.can_login(),
            has_password: user.password_hash.is_some(),
            is_self: user.id == staff.user.id,
            roles: role_opts(&draft.role),
            groups,
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
        state
            .db
            .read(|c| render_list(c, &staff, Draft::blank(), q.done.as_deref(), StatusCode::OK))
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
struct UserForm {
    email: Option<String>,
    name: Option<String>,
    role: Option<String>,
    active: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    password: Option<String>,
    password2: Option<String>,
}

/// The form checked at the edge: every field's error at once.
struct Checked {
    email: Option<EmailAddress>,
    name: String,
    role: Role,
    groups: Vec<i64>,
    password: Option<String>,
}

fn check(f: &UserForm, creating: bool, draft: &mut Draft) -> Option<Checked> {
    let errors = &mut draft.errors;
    let email = if creating {
        match EmailAddress::parse(f.email.as_deref().unwrap_or_default()) {
            Ok(e) => Some(e),
            Err(m) => {
                errors.add("email", m);
                None
            }
        }
    } else {
        None
    };
    let name = f.name.as_deref().unwrap_or_default().trim().to_string();
    if name.is_empty() {
        errors.add("name", "a name is required");
    } else if name.chars().count() > 200 {
        errors.add("name", "a name is at most 200 characters");
    }
    let role = match f.role.as_deref().map(str::trim).unwrap_or_default() {
        "" => {
            errors.add("role", "choose a role");
            None
        }
        r => r.parse::<Role>().map_err(|m| errors.add("role", m)).ok(),
    };
    let mut groups = Vec::new();
    for g in &f.groups {
        match g.trim().parse::<i64>() {
            Ok(id) if !groups.contains(&id) => groups.push(id),
            Ok(_) => {}
            Err(_) => errors.add("groups", format!("{g:?} is not a group from the list")),
        }
    }
    let pw = f.password.clone().unwrap_or_default();
    let pw2 = f.password2.clone().unwrap_or_default();
    let password = if pw.is_empty() && pw2.is_empty() && !creating {
        None
    } else if pw.is_empty() {
        errors.add("password", "a password is required");
        None
    } else {
        if let Err(m) = password::validate(&pw) {
            errors.add("password", m);
        } else if pw != pw2 {
            errors.add("password2", "the two passwords do not match");
        }
        Some(pw)
    };
    if !errors.is_empty() {
        return None;
    }
    Some(Checked {
        email,
        name,
        role: role?,
        groups,
        password,
    })
}

/// What was typed, to show again (the passwords are not kept).
fn draft_of(f: &UserForm) -> Draft {
    Draft {
        email: f.email.clone().unwrap_or_default().trim().to_string(),
        name: f.name.clone().unwrap_or_default(),
        role: f.role.clone().unwrap_or_default(),
        active: ticked(&f.active),
        groups: f
            .groups
            .iter()
            .filter_map(|g| g.trim().parse().ok())
            .collect(),
        errors: FieldErrors::default(),
    }
}

/// argon2 takes a while: off the async workers, and before the write
/// transaction so it does not hold SQLite's write lock.
async fn hash(pw: Option<String>) -> Result<Option<String>, PageError> {
    match pw {
        None => Ok(None),
        Some(pw) => {
            blocking(move || password::hash(&pw).map(Some).map_err(PageError::Internal)).await
        }
    }
}

async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    form: crate::web::ui::forms::Form<UserForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let f = form.0;
    let mut draft = draft_of(&f);
    draft.active = true;
    let again = move |state: web::Data<AppState>, staff: Staff, draft: Draft| async move {
        blocking(move || {
            state
                .db
                .read(|c| render_list(c, &staff, draft, None, StatusCode::UNPROCESSABLE_ENTITY))
        })
        .await
    };
    let Some(input) = check(&f, true, &mut draft) else {
        return again(state, staff, draft).await;
    };
    let Some(email) = input.email else {
        return Err(PageError::Internal("checked email missing".into()));
    };
    let password_hash = hash(input.password).await?;
    let outcome = save(state.clone(), move |c| {
        let user = people::create_user(
            c,
            NewStaff {
                email: &email,
                name: &input.name,
                role: input.role,
                password_hash,
            },
            now_ms(),
        )?;
        people::set_groups(c, user.id, &input.groups)?;
        tracing::info!(user_id = user.id, "staff user created");
        Ok(user.id)
    })
    .await?;
    match outcome {
        Ok(_) => Ok(redirect("/admin/users?done=created")),
        Err(errors) => {
            draft.errors = errors;
            again(state, staff, draft).await
        }
    }
}

struct Saved {
    sessions_ended: bool,
    password_changed: bool,
    still_admin: bool,
}

async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    form: crate::web::ui::forms::Form<UserForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    let f = form.0;
    let mut draft = draft_of(&f);
    let again = move |state: web::Data<AppState>, staff: Staff, draft: Draft| async move {
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
    };
    let Some(input) = check(&f, false, &mut draft) else {
        return again(state, staff, draft).await;
    };
    let active = draft.active;
    let password_hash = hash(input.password).await?;
    let outcome = save(state.clone(), move |c| {
        let before = people::find_user(c, id)?
            .ok_or_else(|| PageError::NotFound(format!("staff user {id} not found")))?;
        let change = UserUpdate {
            name: &input.name,
            role: input.role,
            active,
        };
        let after = people::update_user(c, id, change).map_err(|e| match e {
            // Next to the field that would have locked everyone out.
            e @ PeopleError::LastAdmin(_) => {
                let field = if input.role != Role::Admin {
                    "role"
                } else {
                    "active"
                };
                Refused::field(field, e.to_string())
            }
            other => other.into(),
        })?;
        people::set_groups(c, id, &input.groups)?;
        let password_changed = password_hash.is_some();
        if password_changed {
            people::set_password(c, id, password_hash)?;
        }
        // A deactivated user, or one whose password may have leaked, must
        // not stay signed in anywhere.
        let sessions_ended = password_changed || (before.active && !after.active);
        if sessions_ended {
            sessions::delete_for_user(c, id)?;
        }
        tracing::info!(user_id = id, sessions_ended, "staff user updated");
        Ok(Saved {
            sessions_ended,
            password_changed,
            still_admin: after.role() == Role::Admin && after.active,
        })
    })
    .await?;
    match outcome {
        Ok(saved) if id == staff.user.id && saved.sessions_ended => {
            Ok(redirect(if saved.password_changed {
                "/login?done=password_changed"
            } else {
                "/login?done=signed_out"
            }))
        }
        Ok(saved) if id == staff.user.id && !saved.still_admin => {
            Ok(redirect("/tickets?done=saved"))
        }
        Ok(_) => Ok(redirect("/admin/users?done=saved")),
        Err(errors) => {
            draft.errors = errors;
            again(state, staff, draft).await
        }
    }
}
