//! /api/v1/reports: the METRICS.md report as JSON or CSV, for managers and
//! admins.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::auth::ApiUser;
use super::blocking;
use super::error::ApiError;
use crate::reports::{self, RawParams, ReportError, ReportParams};
use crate::tickets::Role;
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Api, "/reports", show);
}

#[derive(Deserialize)]
struct Query {
    #[serde(flatten)]
    params: RawParams,
    format: Option<String>,
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Missing { field, message } => ApiError::BadRequest {
                message: format!("{field}: {message}"),
                field: Some(field.into()),
            },
            ReportError::Invalid { field, message } => ApiError::invalid(field, message),
            ReportError::Db(d) => d.into(),
        }
    }
}

async fn show(
    state: web::Data<AppState>,
    user: ApiUser,
    q: web::Query<Query>,
) -> Result<HttpResponse, ApiError> {
    if !matches!(user.user.role(), Role::Manager | Role::Admin) {
        return Err(ApiError::Forbidden(
            "reports are for managers and admins".into(),
        ));
    }
    let Query { params, format } = q.into_inner();
    let csv = match format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("{other:?} is not a format (expected json or csv)"),
            ))
        }
    };
    let report = blocking(move || {
        state.db.read(|c| {
            let p = ReportParams::parse(c, &params)?;
            Ok::<_, ApiError>(reports::report_pooled(&state.db, c, &p, now_ms())?)
        })
    })
    .await?;
    if csv {
        let name = format!("report-{}-{}.csv", report.from, report.to);
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{name}\""),
            ))
            .body(reports::csv::render(&report)))
    } else {
        Ok(HttpResponse::Ok().json(report))
    }
}
