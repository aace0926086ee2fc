//! Mailboxes: the support addresses, the group their new tickets go to and
//! whether they acknowledge new requests.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::{chrome, opt_id, save, ticked, DoneQuery, Refused};
use crate::db::DbConn;
use crate::mailboxes::{self, MailboxError, MailboxInput};
use crate::people::{self, EmailAddress};
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::ui::forms::Form;
use crate::web::ui::queue::Opt;
use crate::web::ui::session::Staff;
use crate::web::ui::{blocking, html, redirect, Chrome, FieldErrors, PageError, Reply};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Admin, "/admin/mailboxes", list)
        .post(Access::Admin, "/admin/mailboxes", create)
        .get(Access::Admin, "/admin/mailboxes/{id}", edit)
        .post(Access::Admin, "/admin/mailboxes/{id}", update)
        .post(Access::Admin, "/admin/mailboxes/{id}/delete", delete);
}

impl From<MailboxError> for Refused {
    fn from(e: MailboxError) -> Self {
        match e {
            MailboxError::Invalid { field, message } => Refused::field(field, message),
            e @ MailboxError::AddressTaken(_) => Refused::field("address", e.to_string()),
            e @ MailboxError::InUse { .. } => Refused::field("form", e.to_string()),
            e @ MailboxError::NotFound(_) => Refused::Page(PageError::NotFound(e.to_string())),
            MailboxError::Db(d) => d.into(),
        }
    }
}

struct Row {
    id: i64,
    address: String,
    name: String,
    group: String,
    ack_enabled: bool,
}

struct Draft {
    address: String,
    name: String,
    group: String,
    ack_enabled: bool,
    errors: FieldErrors,
}

impl Draft {
    fn blank() -> Draft {
        Draft {
            address: String::new(),
            name: String::new(),
            group: String::new(),
            // New requests are acknowledged unless an admin says otherwise.
            ack_enabled: true,
            errors: FieldErrors::default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_mailboxes.html")]
struct ListPage {
    chrome: Chrome,
    area: &'static str,
    rows: Vec<Row>,
    groups: Vec<Opt>,
    draft: Draft,
}

#[derive(Template)]
#[template(path = "admin_mailbox.html")]
struct EditPage {
    chrome: Chrome,
    area: &'static str,
    id: i64,
    stored_address: String,
    groups: Vec<Opt>,
    draft: Draft,
}

fn group_opts(c: &mut DbConn, current: &str) -> Result<Vec<Opt>, PageError> {
    let mut opts = vec![Opt {
        value: String::new(),
        label: "No group".into(),
        selected: current.is_empty(),
    }];
    opts.extend(people::list_groups(c)?.into_iter().map(|g| Opt {
        selected: g.id.to_string() == current,
        value: g.id.to_string(),
        label: g.name,
    }));
    Ok(opts)
}

fn render_list(
    c: &mut DbConn,
    staff: &Staff,
    draft: Draft,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let groups = people::list_groups(c)?;
    let rows = mailboxes::list(c)?
        .into_iter()
        .map(|m| Row {
            group: m
                .group_id
                .and_then(|g| groups.iter().find(|x| x.id == g))
                .map(|g| g.name.clone())
                .unwrap_or_else(|| "No group".into()),
            id: m.id,
            address: m.address,
            name: m.name,
            ack_enabled: m.ack_enabled,
        })
        .collect();
    html(
        status,
        &ListPage {
            chrome: chrome(staff, "Mailboxes", done),
            area: "mailboxes",
            rows,
            groups: group_opts(c, &draft.group)?,
            draft,
        },
    )
}

/// What the edit form shows.
enum Shown {
    /// The stored values, with these errors (e.g. why it cannot be deleted).
    Stored(FieldErrors),
    /// What was typed.
    Typed(Draft),
}

fn render_edit(
    c: &mut DbConn,
    staff: &Staff,
    id: i64,
    shown: Shown,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let m = mailboxes::find(c, id)?
        .ok_or_else(|| PageError::NotFound(format!("mailbox {id} not found")))?;
    let draft = match shown {
        Shown::Typed(d) => d,
        Shown::Stored(errors) => Draft {
            address: m.address.clone(),
            name: m.name.clone(),
            group: m.group_id.map(|g| g.to_string()).unwrap_or_default(),
            ack_enabled: m.ack_enabled,
            errors,
        },
    };
    html(
        status,
        &EditPage {
            chrome: chrome(staff, format!("Mailbox {}", m.address), done),
            area: "mailboxes",
            id,
            stored_address: m.address,
            groups: group_opts(c, &draft.group)?,
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
        state.db.read(|c| {
            render_edit(
                c,
                &staff,
                id,
                Shown::Stored(FieldErrors::default()),
                q.done.as_deref(),
                StatusCode::OK,
            )
        })
    })
    .await
}

#[derive(Deserialize)]
struct MailboxForm {
    address: Option<String>,
    name: Option<String>,
    group: Option<String>,
    ack_enabled: Option<String>,
}

fn draft_of(f: &MailboxForm) -> Draft {
    Draft {
        address: f.address.clone().unwrap_or_default().trim().to_string(),
        name: f.name.clone().unwrap_or_default(),
        group: f.group.clone().unwrap_or_default().trim().to_string(),
        ack_enabled: ticked(&f.ack_enabled),
        errors: FieldErrors::default(),
    }
}

/// Address and group parsed at the edge; name and group existence are
/// checked by `mailboxes` in the transaction.
fn parse(f: &MailboxForm, errors: &mut FieldErrors) -> Option<(EmailAddress, Option<i64>)> {
    let address = EmailAddress::parse(f.address.as_deref().unwrap_or_default())
        .map_err(|m| errors.add("address", m))
        .ok();
    let group = opt_id(f.group.as_deref())
        .map_err(|m| errors.add("group", m))
        .ok();
    if f.name.as_deref().unwrap_or_default().trim().is_empty() {
        errors.add("name", "a name is required");
    }
    if !errors.is_empty() {
        return None;
    }
    Some((address?, group?))
}

async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<MailboxForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let f = form.0;
    let mut draft = draft_of(&f);
    let outcome = match parse(&f, &mut draft.errors) {
        None => Err(std::mem::take(&mut draft.errors)),
        Some((address, group_id)) => {
            let name = draft.name.clone();
            let ack_enabled = draft.ack_enabled;
            save(state.clone(), move |c| {
                let input = MailboxInput {
                    address: &address,
                    name: &name,
                    group_id,
                    ack_enabled,
                };
                Ok(mailboxes::create(c, input, now_ms())?.id)
            })
            .await?
        }
    };
    match outcome {
        Ok(_) => Ok(redirect("/admin/mailboxes?done=created")),
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
    form: Form<MailboxForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    let f = form.0;
    let mut draft = draft_of(&f);
    let outcome = match parse(&f, &mut draft.errors) {
        None => Err(std::mem::take(&mut draft.errors)),
        Some((address, group_id)) => {
            let name = draft.name.clone();
            let ack_enabled = draft.ack_enabled;
            save(state.clone(), move |c| {
                let input = MailboxInput {
                    address: &address,
                    name: &name,
                    group_id,
                    ack_enabled,
                };
                mailboxes::update(c, id, input)?;
                Ok(())
            })
            .await?
        }
    };
    match outcome {
        Ok(()) => Ok(redirect("/admin/mailboxes?done=saved")),
        Err(errors) => {
            draft.errors = errors;
            blocking(move || {
                state.db.read(|c| {
                    render_edit(
                        c,
                        &staff,
                        id,
                        Shown::Typed(draft),
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
    let outcome = save(state.clone(), move |c| {
        mailboxes::delete(c, id)?;
        Ok(())
    })
    .await?;
    match outcome {
        Ok(()) => Ok(redirect("/admin/mailboxes?done=deleted")),
        // In use: the mailbox page again, saying why (409, nothing changed).
        Err(errors) => {
            blocking(move || {
                state.db.read(|c| {
                    render_edit(
                        c,
                        &staff,
                        id,
                        Shown::Stored(errors),
                        None,
                        StatusCode::CONFLICT,
                    )
                })
            })
            .await
        }
    }
}
