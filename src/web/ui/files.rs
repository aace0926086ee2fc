//! Attachment downloads, for staff who may see the ticket and for the
//! customer whose ticket it is (never files of internal notes). Anything
//! but a raster image is sent as a download, and every file is sandboxed,
//! so an uploaded HTML or SVG file can never run script on our origin.

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpResponse};

use super::session::Visitor;
use super::{blocking, PageError};
use crate::tickets::attachments;
use crate::tickets::query;
use crate::web::routes::{Access, Routes};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Visitor, "/attachments/{id}/{name}", download);
}

async fn download(
    state: web::Data<AppState>,
    v: Visitor,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, _name) = path.into_inner();
    let not_found = move || PageError::NotFound(format!("attachment {id} not found"));
    let (att, data) = blocking(move || {
        state.db.read(|c| {
            let (att, ticket_id, kind) = attachments::find(c, id)?.ok_or_else(not_found)?;
            let ticket = query::ticket(c, ticket_id)?.ok_or_else(not_found)?;
            let allowed = match (&v.staff, &v.customer) {
                (Some(user), _) => query::scope_for(c, user)?.allows(&ticket),
                (None, Some(customer)) => {
                    kind != "note" && query::customer_can_see(c, &ticket, customer.id)?
                }
                (None, None) => false,
            };
            if !allowed {
                // Whoever may not see it learns nothing, not even that it exists.
                return Err(not_found());
            }
            let data = attachments::data(c, &att.blob_sha256)?;
            Ok((att, data))
        })
    })
    .await?;
    let disposition = ContentDisposition {
        disposition: if att.displays_inline() {
            DispositionType::Inline
        } else {
            DispositionType::Attachment
        },
        parameters: vec![DispositionParam::Filename(att.filename.clone())],
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, att.content_type.clone()))
        .insert_header(disposition)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        ))
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .body(data))
}
