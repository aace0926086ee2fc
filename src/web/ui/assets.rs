//! CSS and JavaScript, compiled into the binary. URLs carry a content hash,
//! so browsers may cache them for a year and still never see a stale file.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../static/app.js"),
    ),
];

fn versions() -> &'static Vec<(&'static str, String)> {
    static V: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    V.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, _, body)| {
                let hash = crate::tickets::attachments::sha256_hex(body.as_bytes());
                (*name, format!("/static/{name}?v={}", &hash[..12]))
            })
            .collect()
    })
}

/// The versioned URL of an asset.
pub fn url(name: &str) -> &'static str {
    versions()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, u)| u.as_str())
        .unwrap_or("/static/missing")
}

pub async fn serve(name: web::Path<String>) -> HttpResponse {
    match FILES.iter().find(|(n, _, _)| *n == name.as_str()) {
        Some((_, ctype, body)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *ctype))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(*body),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such file"),
    }
}
