use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde_json::json;

use super::AppState;
use crate::web::routes::{Access, Routes};

pub fn routes(r: &mut Routes) {
    r.get(Access::Public, "/healthz", healthz);
}

/// 200 when the store answers, 503 otherwise (load balancers take us out).
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let st = state.clone();
    let ok = web::block(move || {
        st.db.read(|c| {
            c.batch_execute("SELECT 1")
                .map_err(crate::db::DbError::from)
        })
    })
    .await
    .map(|r| r.is_ok())
    .unwrap_or(false);
    let db = state.db.backend().as_str();
    if ok {
        HttpResponse::Ok().json(json!({"status": "ok", "db": db}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable", "db": db}))
    }
}
