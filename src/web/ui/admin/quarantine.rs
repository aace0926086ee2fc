//! The mail quarantine: mail ingestion could not process (no headers, no
//! sender, over the size limit, ...). Admins see each with its error,
//! download the raw mail, and retry it after a fix. Nothing here deletes.

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::chrome;
use crate::mail::inbound::{self, Ingest, IngestError, Outcome};
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::ui::forms::Form;
use crate::web::ui::session::Staff;
use crate::web::ui::{blocking, fmt, page, redirect, Chrome, PageError, Reply};
use crate::web::AppState;

/// The list shows this many, newest first.
const SHOWN: i64 = 200;

pub fn routes(r: &mut Routes) {
    r.get(Access::Admin, "/admin/quarantine", list)
        .get(Access::Admin, "/admin/quarantine/{id}/raw", download)
        .post(Access::Admin, "/admin/quarantine/{id}/retry", retry);
}

impl From<IngestError> for PageError {
    fn from(e: IngestError) -> Self {
        tracing::error!(error = %e, "quarantine retry failed");
        PageError::Unavailable
    }
}

struct Row {
    id: i64,
    received: String,
    size: String,
    message_id: String,
    error: String,
    attempts: i32,
    resolved: bool,
}

#[derive(Template)]
#[template(path = "admin_quarantine.html")]
struct ListPage {
    chrome: Chrome,
    area: &'static str,
    rows: Vec<Row>,
    open: usize,
}

#[derive(Deserialize)]
struct ListQuery {
    done: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<ListQuery>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    blocking(move || {
        let all = state.db.query(|c| inbound::quarantined(c, true, SHOWN))?;
        let rows: Vec<Row> = all
            .into_iter()
            .map(|m| Row {
                id: m.id,
                received: fmt::datetime(m.created_at),
                size: crate::tickets::attachments::human_size(m.size),
                message_id: m.mail_message_id.unwrap_or_default(),
                error: m.error,
                attempts: m.attempts,
                resolved: m.resolved_at.is_some(),
            })
            .collect();
        let open = rows.iter().filter(|r| !r.resolved).count();
        page(&ListPage {
            chrome: chrome(&staff, "Mail quarantine", q.done.as_deref()),
            area: "quarantine",
            rows,
            open,
        })
    })
    .await
}

async fn download(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    let raw = blocking(move || {
        state
            .db
            .query(|c| inbound::quarantined_raw(c, id))?
            .ok_or_else(|| PageError::NotFound(format!("quarantine entry {id} not found")))
    })
    .await?;
    // Always a download: the mail is hostile until proven otherwise.
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(format!("quarantine-{id}.eml"))],
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "message/rfc822"))
        .insert_header(disposition)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(raw))
}

#[derive(Deserialize)]
struct Empty {}

async fn retry(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    _form: Form<Empty>,
) -> Result<Reply, PageError> {
    staff.require_admin()?;
    let id = id.into_inner();
    let outcome = blocking(move || {
        let ctx =
            Ingest::new(state.signer.clone(), &state.config, None).load_mailboxes(&state.db)?;
        Ok(inbound::retry(&state.db, &ctx, id, now_ms())?)
    })
    .await?;
    match outcome {
        None => Err(PageError::NotFound(format!(
            "quarantine entry {id} not found"
        ))),
        Some(Outcome::Quarantined { .. }) => Ok(redirect("/admin/quarantine?done=retry_failed")),
        Some(_) => Ok(redirect("/admin/quarantine?done=retried")),
    }
}
