//! Bearer-token authentication for the API.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::error::ApiError;
use crate::auth::tokens;
use crate::db::{DbConn, DbError};
use crate::people::User;
use crate::tickets::query::Scope;
use crate::tickets::Ticket;
use crate::web::AppState;

/// The staff user behind the request's token, with what they may see.
pub struct ApiUser {
    pub user: User,
    pub scope: Scope,
}

impl ApiUser {
    /// Loads a ticket the user may act on: 404 when missing, 403 outside their groups.
    pub fn ticket(&self, conn: &mut DbConn, id: i64) -> Result<Ticket, ApiError> {
        use crate::tickets::query::{staff_access, Access};
        match staff_access(conn, &self.scope, id)? {
            Access::Granted(t) => Ok(*t),
            Access::Missing => Err(ApiError::NotFound(format!("ticket {id} not found"))),
            Access::Denied => Err(ApiError::Forbidden(format!(
                "ticket {id} belongs to a group you are not a member of"
            ))),
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token.ok_or(ApiError::Unauthorized)?;
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            super::blocking(move || {
                let now = crate::time::now_ms();
                let owner = state
                    .db
                    .query(|c| tokens::authenticate(c, &token, now))?
                    .ok_or(ApiError::Unauthorized)?;
                if let Some(seconds) = state
                    .api_limit
                    .take(owner.token_id, std::time::Instant::now())
                {
                    return Err(ApiError::TooManyRequests(seconds));
                }
                // Recording last use is housekeeping: a store that cannot
                // write just now (a full disk) must not fail a read.
                if owner.stale {
                    if let Err(e) = state
                        .db
                        .write(|c| tokens::touch(c, owner.token_id, now).map_err(DbError::from))
                    {
                        tracing::warn!(error = %e, "token's last use not recorded");
                    }
                }
                let scope = state
                    .db
                    .query(|c| crate::tickets::query::scope_for(c, &owner.user))?;
                Ok(ApiUser {
                    user: owner.user,
                    scope,
                })
            })
            .await
        })
    }
}
