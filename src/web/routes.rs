//! Every route is registered through here, with who may use it, so the
//! router's whole list is known at run time: the authorization test walks
//! it (every route × role × someone else's object), and a route added
//! anywhere else fails this module's test.

use std::sync::Mutex;

use actix_web::{web, FromRequest, Handler, Responder};

/// Who a route is for. The handler enforces it; the declaration is what
/// the authorization test holds it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone: sign-in, the web form, health, assets, and links that carry
    /// their own secret token (surveys, portal sign-in).
    Public,
    /// A signed-in customer, for their own tickets only.
    Customer,
    /// Signed-in staff (agents and admins), for objects in their scope.
    Staff,
    /// Signed-in staff in scope, or the customer the object belongs to.
    Visitor,
    /// Signed-in admins only.
    Admin,
    /// The REST API: a staff member's bearer token, for objects in their
    /// scope.
    Api,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    pub method: &'static str,
    /// The full pattern, as actix matches it (`/tickets/{id}`).
    pub path: String,
    pub access: Access,
}

static TABLE: Mutex<Vec<Route>> = Mutex::new(Vec::new());

/// Every route registered so far: all of them once an app has been built.
pub fn table() -> Vec<Route> {
    TABLE.lock().map(|t| t.clone()).unwrap_or_default()
}

/// Registers routes on an actix `ServiceConfig` under `prefix` (the
/// enclosing scopes' path) and records them.
pub struct Routes<'a> {
    cfg: &'a mut web::ServiceConfig,
    prefix: &'static str,
}

impl<'a> Routes<'a> {
    pub fn new(cfg: &'a mut web::ServiceConfig, prefix: &'static str) -> Routes<'a> {
        Routes { cfg, prefix }
    }

    pub fn get<F, Args>(&mut self, access: Access, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.record("GET", path, access);
        self.cfg.route(path, web::get().to(handler));
        self
    }

    pub fn post<F, Args>(&mut self, access: Access, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.record("POST", path, access);
        self.cfg.route(path, web::post().to(handler));
        self
    }

    fn record(&self, method: &'static str, path: &str, access: Access) {
        let route = Route {
            method,
            path: format!("{}{path}", self.prefix),
            access,
        };
        // Each server worker builds the app: record a route once.
        if let Ok(mut t) = TABLE.lock() {
            if !t.contains(&route) {
                t.push(route);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Routes registered straight on actix would escape the table, and so
    /// the authorization test: only this module may call actix's route
    /// builders.
    #[test]
    fn every_route_is_registered_through_this_module() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("web/routes.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (n, line) in text.lines().enumerate() {
                        let code = line.trim_start();
                        if code.starts_with("//") {
                            continue;
                        }
                        for banned in [".route(", "web::resource(", "web::get()", "web::post()"] {
                            if code.contains(banned) {
                                found.push(format!("{}:{}: {code}", path.display(), n + 1));
                            }
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web"),
            &mut found,
        );
        assert!(
            found.is_empty(),
            "register these through web::routes::Routes:\n{}",
            found.join("\n")
        );
    }
}
