//! A staff user's own settings: which notification mails they get.

use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::session::Staff;
use super::{blocking, page, redirect, Chrome, PageError, Reply};
use crate::tickets::notify::{self, Notice};
use crate::web::routes::{Access, Routes};
use crate::web::ui::forms::Form;
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Staff, "/settings/notifications", show).post(
        Access::Staff,
        "/settings/notifications",
        save,
    );
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

struct Choice {
    key: &'static str,
    label: &'static str,
    on: bool,
}

#[derive(Template)]
#[template(path = "settings_notifications.html")]
struct PrefsPage {
    chrome: Chrome,
    choices: Vec<Choice>,
}

async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<DoneQuery>,
) -> Result<Reply, PageError> {
    blocking(move || {
        let prefs = state.db.query(|c| notify::prefs(c, staff.user.id))?;
        page(&PrefsPage {
            chrome: Chrome::new("Notifications", &staff.csrf)
                .staff(&staff.user)
                .section("settings")
                .notice(q.done.as_deref()),
            choices: prefs
                .into_iter()
                .map(|(n, on)| Choice {
                    key: n.key(),
                    label: n.label(),
                    on,
                })
                .collect(),
        })
    })
    .await
}

/// Unchecked boxes are absent from the form: absent means off.
#[derive(Deserialize)]
struct PrefsForm {
    new_ticket: Option<String>,
    customer_reply: Option<String>,
    assigned: Option<String>,
    sla_breach: Option<String>,
    csat_low: Option<String>,
}

async fn save(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<PrefsForm>,
) -> Result<Reply, PageError> {
    let f = form.0;
    let choices: Vec<(Notice, bool)> = Notice::ALL
        .iter()
        .map(|&n| {
            let v = match n {
                Notice::NewTicket => &f.new_ticket,
                Notice::CustomerReply => &f.customer_reply,
                Notice::Assigned => &f.assigned,
                Notice::SlaBreach => &f.sla_breach,
                Notice::CsatLow => &f.csat_low,
            };
            (n, v.is_some())
        })
        .collect();
    let uid = staff.user.id;
    blocking(move || {
        state
            .db
            .write(|c| notify::set_prefs(c, uid, &choices).map_err(PageError::from))
    })
    .await?;
    Ok(redirect("/settings/notifications?done=saved"))
}
