//! SLA calendars: a time zone, open hours per weekday and holidays. Saving
//! or deleting one recomputes the due times of every open ticket.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::{chrome, save, DoneQuery, Refused};
use crate::db::DbConn;
use crate::sla::calendar::{format_day_hours, Calendar, DAYS};
use crate::sla::policy::{self, CalendarInput, CalendarRow, FieldProblems};
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::ui::forms::Form;
use crate::web::ui::session::Staff;
use crate::web::ui::{blocking, html, redirect, Chrome, FieldErrors, PageError, Reply};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Admin, "/admin/calendars", list)
        .post(Access::Admin, "/admin/calendars", create)
        .get(Access::Admin, "/admin/calendars/{id}", edit)
        .post(Access::Admin, "/admin/calendars/{id}", update)
        .post(Access::Admin, "/admin/calendars/{id}/delete", delete);
}

/// The form field of each weekday, Monday first.
const DAY_FIELDS: [&str; 7] = ["day0", "day1", "day2", "day3", "day4", "day5", "day6"];

/// Offered in the time zone input; any IANA name is accepted.
const COMMON_ZONES: [&str; 16] = [
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/Warsaw",
    "Europe/Helsinki",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
];

/// The domain's field names as the `'static` names `FieldErrors` keeps;
/// anything unexpected is shown at the top of the form.
fn field_errors(problems: FieldProblems) -> FieldErrors {
    let mut errors = FieldErrors::default();
    for (field, message) in problems {
        let f = match field.as_str() {
            "name" => "name",
            "time_zone" => "time_zone",
            "holidays" => "holidays",
            "hours" => "hours",
            other => DAY_FIELDS
                .iter()
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
    time_zone: String,
    hours: String,
    holidays: usize,
    used_by: String,
}

struct Draft {
    name: String,
    time_zone: String,
    days: [String; 7],
    holidays: String,
    errors: FieldErrors,
}

impl Draft {
    /// A new calendar starts as office hours, Monday to Friday.
    fn blank() -> Draft {
        Draft {
            name: String::new(),
            time_zone: "UTC".into(),
            days: std::array::from_fn(|i| if i < 5 { "09:00-17:00" } else { "closed" }.to_string()),
            holidays: String::new(),
            errors: FieldErrors::default(),
        }
    }

    fn stored(row: &CalendarRow, errors: FieldErrors) -> Draft {
        // A hand-edited row that no longer parses is shown as stored, so the
        // admin can see and correct it.
        let days = match Calendar::from_stored(&row.time_zone, &row.hours, &row.holidays) {
            Ok(cal) => std::array::from_fn(|i| format_day_hours(&cal.week()[i])),
            Err(_) => {
                let lines: Vec<&str> = row.hours.lines().collect();
                std::array::from_fn(|i| lines.get(i).copied().unwrap_or("").to_string())
            }
        };
        Draft {
            name: row.name.clone(),
            time_zone: row.time_zone.clone(),
            days,
            holidays: row.holidays.clone(),
            errors,
        }
    }

    fn input(&self) -> CalendarInput {
        CalendarInput {
            name: self.name.clone(),
            time_zone: self.time_zone.clone(),
            days: self.days.clone(),
            holidays: self.holidays.clone(),
        }
    }
}

/// One weekday's input, ready for the template.
struct DayInput {
    field: &'static str,
    label: &'static str,
    value: String,
    error: Option<String>,
}

fn day_inputs(draft: &Draft) -> Vec<DayInput> {
    (0..7)
        .map(|i| DayInput {
            field: DAY_FIELDS[i],
            label: DAYS[i],
            value: draft.days[i].clone(),
            error: draft.errors.get(DAY_FIELDS[i]).map(str::to_string),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin_calendars.html")]
struct ListPage {
    chrome: Chrome,
    area: &'static str,
    rows: Vec<Row>,
    zones: &'static [&'static str],
    days: Vec<DayInput>,
    draft: Draft,
}

#[derive(Template)]
#[template(path = "admin_calendar.html")]
struct EditPage {
    chrome: Chrome,
    area: &'static str,
    id: i64,
    stored_name: String,
    used_by: String,
    zones: &'static [&'static str],
    days: Vec<DayInput>,
    draft: Draft,
}

/// "Mon–Fri 09:00-17:00; Sat–Sun closed": consecutive days with the same
/// hours share one entry.
pub(super) fn hours_summary(week: &[Vec<(u16, u16)>; 7]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut start = 0;
    while start < 7 {
        let mut end = start;
        while end + 1 < 7 && week[end + 1] == week[start] {
            end += 1;
        }
        let short = |d: usize| &DAYS[d][..3];
        let days = if end == start {
            short(start).to_string()
        } else {
            format!("{}–{}", short(start), short(end))
        };
        parts.push(format!("{days} {}", format_day_hours(&week[start])));
        start = end + 1;
    }
    parts.join("; ")
}

/// Names of the policies per calendar id.
fn users_of(c: &mut DbConn) -> Result<Vec<(i64, String)>, PageError> {
    Ok(policy::policies(c)?
        .into_iter()
        .filter_map(|p| p.calendar_id.map(|id| (id, p.name)))
        .collect())
}

fn used_by(users: &[(i64, String)], id: i64) -> String {
    users
        .iter()
        .filter(|(c, _)| *c == id)
        .map(|(_, n)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_list(
    c: &mut DbConn,
    staff: &Staff,
    draft: Draft,
    done: Option<&str>,
    status: StatusCode,
) -> Result<Reply, PageError> {
    let users = users_of(c)?;
    let rows = policy::calendars(c)?
        .into_iter()
        .map(|r| {
            let (hours, holidays) = match Calendar::from_stored(&r.time_zone, &r.hours, &r.holidays)
            {
                Ok(cal) => (hours_summary(cal.week()), cal.holidays().count()),
                Err(e) => (format!("invalid: {e}"), 0),
            };
            Row {
                used_by: used_by(&users, r.id),
                id: r.id,
                name: r.name,
                time_zone: r.time_zone,
                hours,
                holidays,
            }
        })
        .collect();
    html(
        status,
        &ListPage {
            chrome: chrome(staff, "SLA calendars", done),
            area: "calendars",
            rows,
            zones: &COMMON_ZONES,
            days: day_inputs(&draft),
            draft,
        },
    )
}

/// What the edit form shows.
enum Shown {
    /// The stored values, with these errors (e.g. why it cannot be deleted).
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
    let row = policy::find_calendar(c, id)?.ok_or_else(|| not_found(id))?;
    let draft = match shown {
        Shown::Typed(d) => *d,
        Shown::Stored(errors) => Draft::stored(&row, errors),
    };
    let users = users_of(c)?;
    html(
        status,
        &EditPage {
            chrome: chrome(staff, format!("Calendar {}", row.name), done),
            area: "calendars",
            id,
            used_by: used_by(&users, id),
            stored_name: row.name,
            zones: &COMMON_ZONES,
            days: day_inputs(&draft),
            draft,
        },
    )
}

fn not_found(id: i64) -> PageError {
    PageError::NotFound(format!("calendar {id} not found"))
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
struct CalendarForm {
    name: Option<String>,
    time_zone: Option<String>,
    day0: Option<String>,
    day1: Option<String>,
    day2: Option<String>,
    day3: Option<String>,
    day4: Option<String>,
    day5: Option<String>,
    day6: Option<String>,
    holidays: Option<String>,
}

fn draft_of(f: CalendarForm) -> Draft {
    let days =
        [f.day0, f.day1, f.day2, f.day3, f.day4, f.day5, f.day6].map(Option::unwrap_or_default);
    Draft {
        name: f.name.unwrap_or_default(),
        time_zone: f.time_zone.unwrap_or_default(),
        days,
        holidays: f.holidays.unwrap_or_default(),
        errors: FieldErrors::default(),
    }
}

/// Recomputes open tickets' due times after a calendar or policy changed.
/// Its own write: the change is committed whatever happens here.
pub(super) async fn refresh_open_tickets(state: web::Data<AppState>) -> Result<(), PageError> {
    blocking(move || {
        let n = crate::tickets::sla::refresh_open(&state.db)?;
        tracing::info!(
            tickets = n,
            "SLA changed; open tickets' due times recomputed"
        );
        Ok(())
    })
    .await
}

async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<CalendarForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let mut draft = draft_of(form.0);
    let input = draft.input();
    let outcome = save(state.clone(), move |c| {
        policy::save_calendar(c, None, &input, now_ms())?
            .map_err(|p| Refused::Fields(field_errors(p)))
    })
    .await?;
    match outcome {
        // A new calendar is used by no policy yet: no ticket's clock moves.
        Ok(_) => Ok(redirect("/admin/calendars?done=created")),
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
    form: Form<CalendarForm>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    let mut draft = draft_of(form.0);
    let input = draft.input();
    let outcome = save(state.clone(), move |c| {
        policy::find_calendar(c, id)?.ok_or_else(|| not_found(id))?;
        policy::save_calendar(c, Some(id), &input, now_ms())?
            .map_err(|p| Refused::Fields(field_errors(p)))
    })
    .await?;
    match outcome {
        Ok(_) => {
            refresh_open_tickets(state).await?;
            Ok(redirect(&format!("/admin/calendars/{id}?done=sla_saved")))
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
        policy::find_calendar(c, id)?.ok_or_else(|| not_found(id))?;
        policy::delete_calendar(c, id)?.map_err(|m| Refused::field("form", m))
    })
    .await?;
    match outcome {
        // Only an unused calendar can go, so no ticket's clock moves.
        Ok(()) => Ok(redirect("/admin/calendars?done=deleted")),
        // In use: the calendar page again, saying why (409, nothing changed).
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
    use crate::sla::calendar::parse_day_hours;

    #[test]
    fn summaries_group_days_with_the_same_hours() {
        let office = |i: usize| {
            if i < 5 {
                parse_day_hours("09:00-17:00").unwrap()
            } else {
                Vec::new()
            }
        };
        let week: [Vec<(u16, u16)>; 7] = std::array::from_fn(office);
        assert_eq!(hours_summary(&week), "Mon–Fri 09:00-17:00; Sat–Sun closed");
        let mut week = week;
        week[2] = parse_day_hours("09:00-12:00, 13:00-17:00").unwrap();
        week[6] = parse_day_hours("10:00-14:00").unwrap();
        assert_eq!(
            hours_summary(&week),
            "Mon–Tue 09:00-17:00; Wed 09:00-12:00, 13:00-17:00; Thu–Fri 09:00-17:00; \
             Sat closed; Sun 10:00-14:00"
        );
        let always = Calendar::always();
        assert_eq!(hours_summary(always.week()), "Mon–Sun 00:00-24:00");
    }

    #[test]
    fn problems_map_to_form_fields() {
        let e = field_errors(vec![
            ("day3".into(), "bad".into()),
            ("hours".into(), "closed".into()),
            ("weird".into(), "?".into()),
        ]);
        assert_eq!(e.get("day3"), Some("bad"));
        assert_eq!(e.get("hours"), Some("closed"));
        assert_eq!(e.get("form"), Some("?"));
    }
}
