//! SLA policies: targets per priority, the calendar they count in, and what
//! a breach does. Saving or deleting one recomputes the due times of every
//! open ticket.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::calendars::refresh_open_tickets;
use super::{chrome, opt_id, save, ticked, DoneQuery, Refused};
use crate::db::DbConn;
use crate::people;
use crate::sla::policy::{self, format_minutes, FieldProblems, Policy, PolicyInput, Target};
use crate::tickets::Priority;
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::ui::forms::Form;
use crate::web::ui::queue::Opt;
use crate::web::ui::session::Staff;
use crate::web::ui::{blocking, html, redirect, Chrome, FieldErrors, PageError, Reply};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Admin, "/admin/sla", list)
        .post(Access::Admin, "/admin/sla", create)
        .get(Access::Admin, "/admin/sla/{id}", edit)
        .post(Access::Admin, "/admin/sla/{id}", update)
        .post(Access::Admin, "/admin/sla/{id}/delete", delete);
}

/// Form fields of the targets, in `Priority::ALL` order.
const FR_FIELDS: [&str; 4] = ["fr0", "fr1", "fr2", "fr3"];
const RES_FIELDS: [&str; 4] = ["res0", "res1", "res2", "res3"];

const DEFAULT_SCOPE: &str = "Default for groups without their own";
const ALWAYS: &str = "24/7 (UTC)";

/// The domain's field names as the `'static` names `FieldErrors` keeps;
/// anything unexpected is shown at the top of the form.
fn field_errors(problems: FieldProblems) -> FieldErrors {
    let mut errors = FieldErrors::default();
    for (field, message) in problems {
        let f = match field.as_str() {
            "name" => "name",
            "group" => "group",
            "calendar" => "calendar",
            "targets" => "targets",
            "breach_group" => "breach_group",
            other => FR_FIELDS
                .iter()
                .chain(RES_FIELDS.iter())
                .find(|d| **d == other)
                .copied()
                .unwrap_or("form"),
        };
        errors.add(f, message);
    }
    errors
}

struct Row {
    id: i64,
    name: String,
    group: String,
    calendar: String,
    targets: String,
    open: i64,
}

struct Draft {
    name: String,
    group: String,
    calendar: String,
    first_response: [String; 4],
    resolution: [String; 4],
    breach_raise_level: bool,
    breach_group: String,
    breach_raise_priority: bool,
    breach_notify: bool,
    errors: FieldErrors,
}

impl Draft {
    /// A new policy escalates and notifies on a breach, but leaves the
    /// priority alone unless an admin asks for it.
    fn blank() -> Draft {
        Draft {
            name: String::new(),
            group: String::new(),
            calendar: String::new(),
            first_response: Default::default(),
            resolution: Default::default(),
            breach_raise_level: true,
            breach_group: String::new(),
            breach_raise_priority: false,
            breach_notify: true,
            errors: FieldErrors::default(),
        }
    }

    fn stored(p: &Policy, targets: &[Target; 4], errors: FieldErrors) -> Draft {
        let id = |v: Option<i64>| v.map(|i| i.to_string()).unwrap_or_default();
        Draft {
            name: p.name.clone(),
            group: id(p.group_id),
            calendar: id(p.calendar_id),
            first_response: targets.map(|t| format_minutes(t.first_response_minutes)),
            resolution: targets.map(|t| format_minutes(t.resolution_minutes)),
            breach_raise_level: p.breach_raise_level,
            breach_group: id(p.breach_group_id),
            breach_raise_priority: p.breach_raise_priority,
            breach_notify: p.breach_notify,
            errors,
        }
    }
}

/// One priority's row of target inputs, ready for the template.
struct TargetInputs {
    label: &'static str,
    fr_field: &'static str,
    fr: String,
    fr_error: Option<String>,
    res_field: &'static str,
    res: String,
    res_error: Option<String>,
}

fn target_inputs(draft: &Draft) -> Vec<TargetInputs> {
    (0..4)
        .map(|i| TargetInputs {
            label: priority_label(Priority::ALL[i]),
            fr_field: FR_FIELDS[i],
            fr: draft.first_response[i].clone(),
            fr_error: draft.errors.get(FR_FIELDS[i]).map(str::to_string),
            res_field: RES_FIELDS[i],
            res: draft.resolution[i].clone(),
            res_error: draft.errors.get(RES_FIELDS[i]).map(str::to_string),
        })
        .collect()
}

fn priority_label(p: Priority) -> &'static str {
    match p {
        Priority::Low => "Low",
        Priority::Normal => "Normal",
        Priority::High => "High",
        Priority::Urgent => "Urgent",
    }
}

/// "Normal: first response 4h, resolution 1d 2h; Urgent: first response 30m".
fn targets_summary(targets: &[Target; 4]) -> String {
    let parts: Vec<String> = targets
        .iter()
        .zip(Priority::ALL)
        .filter_map(|(t, p)| {
            let mut bits = Vec::new();
            if let Some(m) = t.first_response_minutes {
                bits.push(format!("first response {}", format_minutes(Some(m))));
            }
            if let Some(m) = t.resolution_minutes {
                bits.push(format!("resolution {}", format_minutes(Some(m))));
            }
            (!bits.is_empty()).then(|| format!("{}: {}", priority_label(*p), bits.join(", ")))
        })
        .collect();
    if parts.is_empty() {
        "no targets".into()
    } else {
        parts.join("; ")
    }
}

/// The selects' options: groups, calendars, and the escalation group.
struct Choices {
    groups: Vec<Opt>,
    calendars: Vec<Opt>,
    breach_groups: Vec<Opt>,
}

fn choices(c: &mut DbConn, draft: &Draft) -> Result<Choices, PageError> {
    let groups = people::list_groups(c)?;
    let cals = policy::calendars(c)?;
    let with_first = |first: &str, current: &str, items: Vec<(i64, String)>| {
        let mut opts = vec![Opt {
            value: String::new(),
            label: first.to_string(),
            selected: current.is_empty(),
        }];
        opts.extend(items.into_iter().map(|(id, label)| Opt {
            selected: id.to_string() == current,
            value: id.to_string(),
            label,
        }));
        opts
    };
    let group_items = || groups.iter().map(|g| (g.id, g.name.clone())).collect();
    Ok(Choices {
        groups: with_first(
            "Default: all groups without their own policy",
            &draft.group,
            group_items(),
        ),
        calendars: with_first(
            "Around the clock (24/7, UTC)",
            &draft.calendar,
            cals.into_iter().map(|c| (c.id, c.name)).collect(),
        ),
        breach_groups: with_first("Do not move", &draft.breach_group, group_items()),
    })
}

#[derive(Template)]
#[template(path = "admin_sla.html")]
struct ListPage {
    chrome: Chrome,
    area: &'static str,
    rows: Vec<Row>,
    choices: Choices,
    targets: Vec<TargetInputs>,
    draft: Draft,
}

#[derive(Template)]
#[template(path = "admin_sla_policy.html")]
struct EditPage {
    chrome: Chrome,
    area: &'static str,
    id: i64,
    stored_name: String,
    open: i64,
    choices: Choices,
    targets: Vec<TargetInputs>,
    draft: Draft,
}

fn render_list(
    c: &mut DbConn,
    staff: &Staff,
    draft: Draft,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let groups = people::list_groups(c)?;
    let cals = policy::calendars(c)?;
    let mut rows = Vec::new();
    for p in policy::policies(c)? {
        let group = match p.group_id {
            None => DEFAULT_SCOPE.to_string(),
            Some(g) => groups
                .iter()
                .find(|x| x.id == g)
                .map(|x| x.name.clone())
                .unwrap_or_else(|| format!("group {g}")),
        };
        let calendar = match p.calendar_id {
            None => ALWAYS.to_string(),
            Some(id) => cals
                .iter()
                .find(|x| x.id == id)
                .map(|x| x.name.clone())
                .unwrap_or_else(|| format!("calendar {id}")),
        };
        rows.push(Row {
            targets: targets_summary(&policy::targets(c, p.id)?),
            open: policy::open_tickets(c, p.id)?,
            id: p.id,
            name: p.name,
            group,
            calendar,
        });
    }
    html(
        status,
        &ListPage {
            chrome: chrome(staff, "SLA policies", done),
            area: "sla",
            rows,
            choices: choices(c, &draft)?,
            targets: target_inputs(&draft),
            draft,
        },
    )
}

/// What the edit form shows.
enum Shown {
    /// The stored values, with these errors.
    Stored(FieldErrors),
    /// What was typed.
    Typed(Box<Draft>),
}

fn render_edit(
    c: &mut DbConn,
    staff: &Staff,
    id: i64,
    shown: Shown,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let p = policy::find_policy(c, id)?.ok_or_else(|| not_found(id))?;
    let draft = match shown {
        Shown::Typed(d) => *d,
        Shown::Stored(errors) => Draft::stored(&p, &policy::targets(c, id)?, errors),
    };
    html(
        status,
        &EditPage {
            chrome: chrome(staff, format!("SLA policy {}", p.name), done),
            area: "sla",
            id,
            open: policy::open_tickets(c, id)?,
            stored_name: p.name,
            choices: choices(c, &draft)?,
            targets: target_inputs(&draft),
            draft,
        },
    )
}

fn not_found(id: i64) -> PageError {
    PageError::NotFound(format!("SLA policy {id} not found"))
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
struct PolicyForm {
    name: Option<String>,
    group: Option<String>,
    calendar: Option<String>,
    fr0: Option<String>,
    fr1: Option<String>,
    fr2: Option<String>,
    fr3: Option<String>,
    res0: Option<String>,
    res1: Option<String>,
    res2: Option<String>,
    res3: Option<String>,
    breach_raise_level: Option<String>,
    breach_group: Option<String>,
    breach_raise_priority: Option<String>,
    breach_notify: Option<String>,
}

fn draft_of(f: PolicyForm) -> Draft {
    let text = |v: Option<String>| v.unwrap_or_default();
    let id = |v: Option<String>| v.unwrap_or_default().trim().to_string();
    Draft {
        breach_raise_level: ticked(&f.breach_raise_level),
        breach_raise_priority: ticked(&f.breach_raise_priority),
        breach_notify: ticked(&f.breach_notify),
        name: text(f.name),
        group: id(f.group),
        calendar: id(f.calendar),
        first_response: [f.fr0, f.fr1, f.fr2, f.fr3].map(text),
        resolution: [f.res0, f.res1, f.res2, f.res3].map(text),
        breach_group: id(f.breach_group),
        errors: FieldErrors::default(),
    }
}

/// The select values parsed at the edge (a non-number is a field error);
/// everything else is checked by `policy::save_policy`.
fn input_of(d: &Draft) -> Result<PolicyInput, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut pick = |field: &'static str, raw: &str| {
        opt_id(Some(raw))
            .map_err(|m| errors.add(field, m))
            .unwrap_or(None)
    };
    let group_id = pick("group", &d.group);
    let calendar_id = pick("calendar", &d.calendar);
    let breach_group_id = pick("breach_group", &d.breach_group);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(PolicyInput {
        name: d.name.clone(),
        group_id,
        calendar_id,
        first_response: d.first_response.clone(),
        resolution: d.resolution.clone(),
        breach_raise_level: d.breach_raise_level,
        breach_group_id,
        breach_raise_priority: d.breach_raise_priority,
        breach_notify: d.breach_notify,
    })
}

/// Saves (`id` None: creates) and returns the problems per field, if any.
async fn save_draft(
    state: &web::Data<AppState>,
    id: Option<i64>,
    draft: &Draft,
) -> Result<Result<i64, FieldErrors>, PageError> {
    let input = match input_of(draft) {
        Ok(i) => i,
        Err(errors) => return Ok(Err(errors)),
    };
    save(state.clone(), move |c| {
        if let Some(id) = id {
            policy::find_policy(c, id)?.ok_or_else(|| not_found(id))?;
        }
        policy::save_policy(c, id, &input, now_ms())?.map_err(|p| Refused::Fields(field_errors(p)))
    })
    .await
}

async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<PolicyForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let mut draft = draft_of(form.0);
    match save_draft(&state, None, &draft).await? {
        Ok(_) => {
            refresh_open_tickets(state).await?;
            Ok(redirect("/admin/sla?done=sla_created"))
        }
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
    form: Form<PolicyForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    let mut draft = draft_of(form.0);
    match save_draft(&state, Some(id), &draft).await? {
        Ok(_) => {
            refresh_open_tickets(state).await?;
            Ok(redirect(&format!("/admin/sla/{id}?done=sla_saved")))
        }
        Err(errors) => {
            draft.errors = errors;
            blocking(move || {
                state.db.read(|c| {
                    render_edit(
                        c,
                        &staff,
                        id,
                        Shown::Typed(Box::new(draft)),
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
        policy::find_policy(c, id)?.ok_or_else(|| not_found(id))?;
        policy::delete_policy(c, id)?;
        Ok(())
    })
    .await?;
    match outcome {
        Ok(()) => {
            refresh_open_tickets(state).await?;
            Ok(redirect("/admin/sla?done=sla_deleted"))
        }
        // Nothing refuses a delete today; if something does, the policy page
        // says why (409, nothing changed).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_summaries_name_only_what_is_set() {
        let mut t = [Target::default(); 4];
        assert_eq!(targets_summary(&t), "no targets");
        t[1].first_response_minutes = Some(240);
        t[1].resolution_minutes = Some(24 * 60 + 30);
        t[3].first_response_minutes = Some(30);
        assert_eq!(
            targets_summary(&t),
            "Normal: first response 4h, resolution 24h 30m; Urgent: first response 30m"
        );
    }

    #[test]
    fn select_values_that_are_not_numbers_are_field_errors() {
        let mut d = Draft::blank();
        d.group = "abc".into();
        d.breach_group = "7".into();
        let e = input_of(&d).unwrap_err();
        assert!(e.get("group").is_some_and(|m| m.contains("abc")));
        assert!(!e.has("breach_group"));
        d.group = String::new();
        let i = input_of(&d).unwrap();
        assert_eq!((i.group_id, i.breach_group_id), (None, Some(7)));
        let e = field_errors(vec![("res2".into(), "x".into()), ("?".into(), "y".into())]);
        assert_eq!((e.get("res2"), e.get("form")), (Some("x"), Some("y")));
    }
}
