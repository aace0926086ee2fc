//! The public web form (`/new`): anyone can open a request. The ticket is
//! created on the `web` channel with the customer as its actor; the
//! confirmation is shown directly (no redirect) because it names the ticket
//! number, which a reload must not be able to create twice silently.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;

use super::forms::{Upload, MAX_FILES};
use super::session::Visitor;
use super::{blocking, html, page, Chrome, FieldErrors, PageError, Reply};
use crate::auth::ratelimit;
use crate::db::DbError;
use crate::people::{self, EmailAddress};
use crate::tickets::attachments::human_size;
use crate::tickets::{ops, Actor, Body, Channel, NewTicket, Priority, TicketError};
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::{client_address, AppState};

/// Longest name we take: a name is shown in lists and mail headers.
const MAX_NAME_CHARS: usize = 200;

pub fn routes(r: &mut Routes) {
    r.get(Access::Public, "/new", show)
        .post(Access::Public, "/new", submit);
}

/// What was typed, kept when the form comes back with errors.
#[derive(Default)]
struct Draft {
    name: String,
    email: String,
    subject: String,
    body: String,
    /// Files were sent: browsers cannot refill a file input, so say so.
    files_sent: bool,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "new.html")]
struct NewPage {
    chrome: Chrome,
    d: Draft,
    file_limit: String,
    max_files: usize,
}

#[derive(Template)]
#[template(path = "new_done.html")]
struct DonePage {
    chrome: Chrome,
    id: i64,
    email: String,
    signed_in: bool,
}

fn chrome(v: &Visitor, title: &str) -> Chrome {
    let c = Chrome::new(title, &v.csrf).section("new");
    match (&v.customer, &v.staff) {
        (Some(customer), _) => c.customer(customer),
        (None, Some(user)) => c.staff(user),
        (None, None) => c,
    }
}

fn form_page(
    state: &AppState,
    v: &Visitor,
    d: Draft,
    status: StatusCode,
) -> Result<Reply, PageError> {
    html(
        status,
        &NewPage {
            chrome: chrome(v, "Submit a request"),
            d,
            file_limit: human_size(state.config.max_attachment_bytes as i64),
            max_files: MAX_FILES,
        },
    )
}

async fn show(state: web::Data<AppState>, v: Visitor) -> Result<Reply, PageError> {
    let mut d = Draft::default();
    if let Some(c) = &v.customer {
        d.name = c.name.clone();
        d.email = c.email.clone();
    }
    form_page(&state, &v, d, StatusCode::OK)
}

async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    v: Visitor,
    form: Upload,
) -> Result<Reply, PageError> {
    let mut d = Draft {
        name: form.text("name"),
        email: form.text("email"),
        subject: form.text("subject"),
        body: form.text("body"),
        files_sent: !form.files.is_empty() || !form.file_errors.is_empty(),
        errors: FieldErrors::default(),
    };
    if d.name.trim().chars().count() > MAX_NAME_CHARS {
        d.errors.add(
            "name",
            format!("A name is at most {MAX_NAME_CHARS} characters."),
        );
    }
    let email = match EmailAddress::parse(&d.email) {
        Ok(e) => Some(e),
        Err(msg) => {
            d.errors.add("email", msg);
            None
        }
    };
    let subject = match ops::validate_subject(&d.subject) {
        Ok(s) => Some(s),
        Err(TicketError::Invalid { message, .. }) => {
            d.errors.add("subject", message);
            None
        }
        Err(other) => return Err(other.into()),
    };
    if d.body.trim().is_empty() {
        d.errors.add("body", "a message is required");
    }
    if !form.file_errors.is_empty() {
        d.errors.add("attachments", form.file_errors.join("; "));
    }
    let (Some(email), Some(subject), true) = (email, subject, d.errors.is_empty()) else {
        return form_page(&state, &v, d, StatusCode::UNPROCESSABLE_ENTITY);
    };

    let address = client_address(&req);
    let st = state.clone();
    let wait = blocking(move || {
        let limit = [ratelimit::Limit::web_form(&address)];
        st.db
            .write(|c| ratelimit::take(c, &limit, now_ms()).map_err(DbError::from))
            .map_err(PageError::from)
    })
    .await?;
    if let Some(ms) = wait {
        return Err(PageError::too_many(
            "Too many requests were sent from your network in the last minutes.",
            ms,
        ));
    }

    // Browsers send textarea line breaks as CRLF; store plain newlines.
    let text = d.body.replace("\r\n", "\n");
    let name = Some(d.name.trim().to_string()).filter(|n| !n.is_empty());
    let files = form.files;
    let st = state.clone();
    let to = email.clone();
    let created = blocking(move || {
        let now = now_ms();
        Ok(st.db.write(|c| -> Result<_, TicketError> {
            // The requester opens a web ticket, so they are its actor: the
            // customer row must exist before the ticket names them.
            let customer = people::find_or_create_customer(c, &to, name.as_deref(), now)?;
            ops::create(
                c,
                NewTicket {
                    subject,
                    body: Body {
                        attachments: files,
                        ..Body::text(text)
                    },
                    requester: to,
                    requester_name: name,
                    channel: Channel::Web,
                    priority: Priority::Normal,
                    group_id: None,
                    assignee_id: None,
                    mailbox_id: None,
                    actor: Actor::Customer(customer.id),
                },
                now,
            )
        }))
    })
    .await?;
    match created {
        Ok(posted) => {
            tracing::info!(ticket_id = posted.ticket_id, "web form ticket");
            page(&DonePage {
                chrome: chrome(&v, "Request received"),
                id: posted.ticket_id,
                email: email.to_string(),
                // Their portal shows it only when it went to the signed-in address.
                signed_in: v
                    .customer
                    .as_ref()
                    .is_some_and(|c| c.email == email.as_str()),
            })
        }
        Err(TicketError::Invalid { field, message }) => {
            d.errors.add(field, message);
            form_page(&state, &v, d, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other.into()),
    }
}
