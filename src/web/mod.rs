//! HTTP: the application built on a bound listener (port 0 in tests), and
//! thin handlers that extract, authorize, call the domain and render.

pub mod api;
mod headers;
mod health;
pub mod routes;
pub mod ui;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::config::Config;
use crate::db::Db;
use crate::mail::message_id::MessageIdSigner;

/// The client's address, for rate limits. The peer address: behind a
/// reverse proxy every client shares the proxy's (a forwarded header is
/// not trusted, since any client can send one).
pub fn client_address(req: &actix_web::HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    pub config: Config,
    pub signer: MessageIdSigner,
    pub csrf: ui::csrf::CsrfKey,
    /// Where people reach this server: `HELPDESK_BASE_URL`, else the bound
    /// address. Links in mail use it, never the request's Host header (which
    /// a client chooses).
    pub base_url: String,
    pub api_limit: api::limit::ApiLimit,
    /// Staff and groups as of the store's `directory_version`.
    pub directory: crate::people::directory::DirectoryCache,
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds `config.listen` and builds the server (not yet running).
    pub fn build(config: Config, db: Db, secret: &[u8]) -> std::io::Result<Application> {
        let listener = TcpListener::bind(config.listen)?;
        let port = listener.local_addr()?.port();
        let signer = MessageIdSigner::new(secret, &config.mail_domain());
        let csrf = ui::csrf::CsrfKey::derive(secret);
        let base_url = config
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}:{port}", config.listen.ip()));
        let api_limit = api::limit::ApiLimit::new(config.api_requests_per_minute);
        let state = web::Data::new(AppState {
            api_limit,
            db,
            config,
            signer,
            csrf,
            base_url,
            directory: Default::default(),
        });
        let server = HttpServer::new(move || {
            App::new()
                .wrap(headers::defaults())
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
                .app_data(state.clone())
                .app_data(api::json_config())
                .app_data(api::query_config())
                .app_data(api::path_config())
                .configure(|cfg| health::routes(&mut routes::Routes::new(cfg, "")))
                .configure(api::routes)
                .configure(ui::routes)
        })
        .listen(listener)?
        .shutdown_timeout(20)
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from outside (tests): its workers finish and drop
    /// their state, database connections included.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until SIGINT/SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
