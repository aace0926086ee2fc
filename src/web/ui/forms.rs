//! Form bodies. Every POST a page sends goes through `Form` (urlencoded) or
//! `Upload` (multipart): both refuse a request whose CSRF token is missing
//! or wrong before the handler runs, so no handler can forget the check.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::csrf::FIELD;
use super::error::PageError;
use super::session::csrf_valid;
use crate::tickets::attachments::{human_size, NewAttachment};
use crate::web::AppState;

/// Largest urlencoded form body (a long reply fits; an upload does not).
pub const MAX_FORM_BYTES: usize = 2 << 20;
/// Files per upload form.
pub const MAX_FILES: usize = 10;

pub fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| PageError::Internal("no app state".into()))
}

/// A urlencoded form whose CSRF token checked out. Fields that carry user
/// text should be `String`/`Option<String>` so that nothing typed is refused
/// by the parser; handlers validate and re-render with errors.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let bytes = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let state = state_of(&req)?;
            let body = bytes.await.map_err(|e| {
                PageError::TooLarge(format!("the form could not be read ({e}); at most 2 MiB"))
            })?;
            let token = form_urlencoded::parse(&body)
                .find(|(k, _)| k == FIELD)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            if !csrf_valid(&req, &state, &token) {
                return Err(PageError::Csrf);
            }
            serde_html_form::from_bytes::<T>(&body)
                .map(Form)
                .map_err(|e| PageError::BadRequest(format!("the form was not understood: {e}")))
        })
    }
}

/// A multipart form (text fields and files) whose CSRF token checked out.
/// A file over the size limit is dropped with an error the page shows next
/// to the field, keeping everything else that was typed.
pub struct Upload {
    pub fields: Vec<(String, String)>,
    pub files: Vec<NewAttachment>,
    pub file_errors: Vec<String>,
}

impl Upload {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }
}

impl FromRequest for Upload {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let multipart = actix_multipart::Multipart::new(req.headers(), payload.take());
        Box::pin(async move {
            let state = state_of(&req)?;
            let limit = state.config.max_attachment_bytes;
            let upload = read_multipart(multipart, limit).await?;
            let token = upload.get(FIELD).unwrap_or_default();
            if !csrf_valid(&req, &state, token) {
                return Err(PageError::Csrf);
            }
            Ok(upload)
        })
    }
}

async fn read_multipart(
    mut mp: actix_multipart::Multipart,
    file_limit: usize,
) -> Result<Upload, PageError> {
    let bad = |e: actix_multipart::MultipartError| {
        PageError::BadRequest(format!("the upload could not be read: {e}"))
    };
    let mut up = Upload {
        fields: Vec::new(),
        files: Vec::new(),
        file_errors: Vec::new(),
    };
    let mut text_bytes = 0usize;
    while let Some(field) = mp.next().await {
        let mut field = field.map_err(bad)?;
        let name = field.name().unwrap_or_default().to_string();
        let disposition = field.content_disposition().cloned();
        let filename = disposition
            .as_ref()
            .and_then(|d| d.get_filename())
            .map(str::to_string);
        let content_type = field
            .content_type()
            .map(|m| m.essence_str().to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        let mut data = Vec::new();
        let mut too_big = false;
        let cap = if filename.is_some() {
            file_limit
        } else {
            MAX_FORM_BYTES
        };
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(bad)?;
            if too_big {
                continue; // drain the rest, keep reading the other fields
            }
            if data.len() + chunk.len() > cap {
                too_big = true;
                data = Vec::new();
                continue;
            }
            data.extend_from_slice(&chunk);
        }
        match filename {
            Some(fname) => {
                if fname.is_empty() && data.is_empty() && !too_big {
                    continue; // an empty file input
                }
                if too_big {
                    up.file_errors.push(format!(
                        "{fname} is larger than the limit of {}",
                        human_size(file_limit as i64)
                    ));
                } else if up.files.len() >= MAX_FILES {
                    up.file_errors.push(format!(
                        "{fname} was not attached: at most {MAX_FILES} files"
                    ));
                } else {
                    up.files.push(NewAttachment {
                        filename: fname,
                        content_type,
                        content_id: None,
                        inline: false,
                        data,
                    });
                }
            }
            None => {
                if too_big {
                    return Err(PageError::TooLarge(format!(
                        "the field {name} is larger than 2 MiB"
                    )));
                }
                text_bytes += data.len();
                if text_bytes > MAX_FORM_BYTES {
                    return Err(PageError::TooLarge(
                        "the form's text is larger than 2 MiB".into(),
                    ));
                }
                let value = String::from_utf8_lossy(&data).into_owned();
                up.fields.push((name, value));
            }
        }
    }
    Ok(up)
}
