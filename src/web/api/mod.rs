//! REST API v1: bearer tokens, JSON in and out, errors as `{"error": …}`.

mod auth;
mod error;
mod json;
pub mod limit;
mod reports;
mod tickets;
pub(crate) mod views;

pub use auth::ApiUser;
pub use error::ApiError;
pub use json::ApiJson;

use actix_web::{web, HttpRequest};

use crate::web::routes::Routes;

/// Largest JSON body the API reads.
pub const MAX_BODY: usize = 2 << 20;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .service(
                web::scope("/v1")
                    .configure(|cfg| {
                        let r = &mut Routes::new(cfg, "/api/v1");
                        tickets::routes(r);
                        reports::routes(r);
                    })
                    .default_service(web::to(not_found)),
            )
            .default_service(web::to(not_found)),
    );
}

pub fn json_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_BODY)
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::BadRequest {
            message: format!("bad query string: {err}"),
            field: None,
        }
        .into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, req| {
        ApiError::NotFound(format!("no such resource {} ({err})", req.path())).into()
    })
}

pub async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// Runs blocking store work off the async workers.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await?
}
