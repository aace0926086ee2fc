//! Groups: the list with member counts, creating one, and a group's page
//! (rename, members, add and remove a member).

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::{chrome, opt_id, save, DoneQuery, Refused};
use crate::db::DbConn;
use crate::people;
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::ui::forms::Form;
use crate::web::ui::queue::Opt;
use crate::web::ui::session::Staff;
use crate::web::ui::{blocking, html, redirect, Chrome, FieldErrors, PageError, Reply};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Admin, "/admin/groups", list)
        .post(Access::Admin, "/admin/groups", create)
        .get(Access::Admin, "/admin/groups/{id}", show)
        .post(Access::Admin, "/admin/groups/{id}", rename)
        .post(Access::Admin, "/admin/groups/{id}/members", add_member)
        .post(
            Access::Admin,
            "/admin/groups/{id}/members/{user_id}/remove",
            remove_member,
        );
}

struct Row {
    id: i64,
    name: String,
    members: i64,
}

#[derive(Default)]
struct Draft {
    name: String,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin_groups.html")]
struct ListPage {
    chrome: Chrome,
    area: &'static str,
    rows: Vec<Row>,
    draft: Draft,
}

struct Member {
    id: i64,
    name: String,
    email: String,
    role: String,
    active: bool,
}

/// The group page's forms: the rename box (None: the stored name) and the
/// member to add.
#[derive(Default)]
struct GroupDraft {
    name: Option<String>,
    user: String,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin_group.html")]
struct GroupPage {
    chrome: Chrome,
    area: &'static str,
    id: i64,
    name: String,
    members: Vec<Member>,
    candidates: Vec<Opt>,
    name_value: String,
    draft: GroupDraft,
}

fn render_list(
    c: &mut DbConn,
    staff: &Staff,
    draft: Draft,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let counts = people::member_counts(c)?;
    let rows = people::list_groups(c)?
        .into_iter()
        .map(|g| Row {
            members: counts.get(&g.id).copied().unwrap_or(0),
            id: g.id,
            name: g.name,
        })
        .collect();
    html(
        status,
        &ListPage {
            chrome: chrome(staff, "Groups", done),
            area: "groups",
            rows,
            draft,
        },
    )
}

fn render_group(
    c: &mut DbConn,
    staff: &Staff,
    id: i64,
    draft: GroupDraft,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let group = people::find_group(c, id)?
        .ok_or_else(|| PageError::NotFound(format!("group {id} not found")))?;
    let members = people::group_members(c, id)?;
    let candidates = people::list_staff(c)?
        .into_iter()
        .filter(|u| !members.iter().any(|m| m.id == u.id))
        .map(|u| Opt {
            selected: u.id.to_string() == draft.user,
            value: u.id.to_string(),
            label: if u.active {
                format!("{} <{}>", u.name, u.email)
            } else {
                format!("{} <{}> (inactive)", u.name, u.email)
            },
        })
        .collect();
    let name_value = draft.name.clone().unwrap_or_else(|| group.name.clone());
    let members = members
        .into_iter()
        .map(|u| Member {
            role: u.role().as_str().into(),
            id: u.id,
            name: u.name,
            email: u.email,
            active: u.active,
        })
        .collect();
    html(
        status,
        &GroupPage {
            chrome: chrome(staff, format!("Group {}", group.name), done),
            area: "groups",
            id,
            name: group.name,
            members,
            candidates,
            name_value,
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

async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    q: web::Query<DoneQuery>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    blocking(move || {
        state.db.read(|c| {
            render_group(
                c,
                &staff,
                id,
                GroupDraft::default(),
                q.done.as_deref(),
                StatusCode::OK,
            )
        })
    })
    .await
}

#[derive(Deserialize)]
struct NameForm {
    name: Option<String>,
}

async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<NameForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let name = form.0.name.unwrap_or_default();
    let typed = name.clone();
    let outcome = save(state.clone(), move |c| {
        Ok(people::create_group(c, &name, now_ms())?.id)
    })
    .await?;
    match outcome {
        Ok(id) => Ok(redirect(&format!("/admin/groups/{id}?done=created"))),
        Err(errors) => {
            let draft = Draft {
                name: typed,
                errors,
            };
            blocking(move || {
                state
                    .db
                    .read(|c| render_list(c, &staff, draft, None, StatusCode::UNPROCESSABLE_ENTITY))
            })
            .await
        }
    }
}

/// The group page again with `draft`'s errors (422).
async fn again(
    state: web::Data<AppState>,
    staff: Staff,
    id: i64,
    draft: GroupDraft,
) -> Result<Reply, PageError> {
    blocking(move || {
        state
            .db
            .read(|c| render_group(c, &staff, id, draft, None, StatusCode::UNPROCESSABLE_ENTITY))
    })
    .await
}

async fn rename(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    form: Form<NameForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    let name = form.0.name.unwrap_or_default();
    let typed = name.clone();
    let outcome = save(state.clone(), move |c| {
        people::rename_group(c, id, &name)?;
        Ok(())
    })
    .await?;
    match outcome {
        Ok(()) => Ok(redirect(&format!("/admin/groups/{id}?done=saved"))),
        Err(errors) => {
            let draft = GroupDraft {
                name: Some(typed),
                errors,
                ..GroupDraft::default()
            };
            again(state, staff, id, draft).await
        }
    }
}

#[derive(Deserialize)]
struct MemberForm {
    user: Option<String>,
}

async fn add_member(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    form: Form<MemberForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    let raw = form.0.user.unwrap_or_default();
    let typed = raw.clone();
    let outcome = save(state.clone(), move |c| {
        people::find_group(c, id)?
            .ok_or_else(|| PageError::NotFound(format!("group {id} not found")))?;
        let user_id = match opt_id(Some(&raw)) {
            Ok(Some(u)) => u,
            Ok(None) => return Err(Refused::field("user", "choose a staff user to add")),
            Err(m) => return Err(Refused::field("user", m)),
        };
        if people::find_user(c, user_id)?.is_none() {
            return Err(Refused::field(
                "user",
                format!("staff user {user_id} does not exist (any more); reload the page"),
            ));
        }
        people::add_member(c, id, user_id)?;
        Ok(())
    })
    .await?;
    match outcome {
        Ok(()) => Ok(redirect(&format!("/admin/groups/{id}?done=member_added"))),
        Err(errors) => {
            let draft = GroupDraft {
                name: None,
                user: typed,
                errors,
            };
            again(state, staff, id, draft).await
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn remove_member(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(i64, i64)>,
    _form: Form<Empty>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let (id, user_id) = path.into_inner();
    let outcome = save(state, move |c| {
        people::find_group(c, id)?
            .ok_or_else(|| PageError::NotFound(format!("group {id} not found")))?;
        if !people::remove_member(c, id, user_id)? {
            return Err(PageError::NotFound(format!(
                "staff user {user_id} is not a member of this group"
            ))
            .into());
        }
        Ok(())
    })
    .await?;
    match outcome {
        Ok(()) => Ok(redirect(&format!("/admin/groups/{id}?done=member_removed"))),
        Err(errors) => Err(PageError::BadRequest(
            errors
                .all()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}
