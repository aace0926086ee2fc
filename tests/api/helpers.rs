//! Test harness: every test gets its own database — a temporary SQLite file
//! by default, a fresh PostgreSQL database (dropped afterwards) when
//! HELPDESK_TEST_DATABASE_URL is set — and, for HTTP tests, its own server
//! on a free port.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use helpdesk::auth::{password, tokens};
use helpdesk::config::Config;
use helpdesk::db::Db;
use helpdesk::mail::message_id::MessageIdSigner;
use helpdesk::people::{self, EmailAddress, NewStaff};
use helpdesk::tickets::Role;
use helpdesk::time::now_ms;
use helpdesk::web::Application;
use rand::Rng;
use serde_json::Value;

pub const SECRET: &[u8] = b"test secret";

/// Keeps the test's database alive; removes it on drop.
pub enum DbGuard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let DbGuard::Postgres { admin_url, name } = self {
            if let Ok(mut c) = PgConnection::establish(admin_url) {
                let _ =
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

pub fn postgres_url() -> Option<String> {
    std::env::var("HELPDESK_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Replaces the database name in a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    format!("{}/{name}{query}", &base[..path_start])
}

/// A fresh, migrated database for one test.
pub fn test_db() -> (Db, DbGuard) {
    let (url, guard) = fresh_database_url();
    let db = Db::connect(&url).expect("test database");
    (db, guard)
}

/// The URL of a fresh, empty database (not yet migrated).
pub fn fresh_database_url() -> (String, DbGuard) {
    match postgres_url() {
        Some(admin_url) => {
            let name = format!("helpdesk_test_{:016x}", rand::thread_rng().gen::<u64>());
            let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
                panic!("HELPDESK_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
            });
            admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .expect("create test database");
            (
                with_database(&admin_url, &name),
                DbGuard::Postgres { admin_url, name },
            )
        }
        None => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("helpdesk.db").display());
            (url, DbGuard::Sqlite(dir))
        }
    }
}

pub fn signer() -> MessageIdSigner {
    MessageIdSigner::new(SECRET, "support.example.com")
}

pub struct TestApp {
    pub address: String,
    pub db: Db,
    /// The database's URL, for running the binary against it.
    pub db_url: String,
    pub client: reqwest::Client,
    /// Token of an admin (sees every group).
    pub token: String,
    server: actix_web::dev::ServerHandle,
    _guard: DbGuard,
}

/// Creates a staff user (with a login) and a token for them.
pub fn staff(db: &Db, email: &str, role: Role, groups: &[&str]) -> (i64, String) {
    let hash = password::hash("a long test password").unwrap();
    db.write(|c| -> Result<_, people::PeopleError> {
        let email = EmailAddress::parse(email).unwrap();
        let user = people::create_user(
            c,
            NewStaff {
                email: &email,
                name: email.local_part(),
                role,
                password_hash: Some(hash),
            },
            now_ms(),
        )?;
        for g in groups {
            let (group, _) = people::find_or_create_group(c, g, now_ms())?;
            people::add_member(c, group.id, user.id)?;
        }
        let token = tokens::create(c, user.id, "test", now_ms())?;
        Ok((user.id, token))
    })
    .expect("create staff user")
}

/// The id of an existing group, by name.
pub fn group_id(db: &Db, name: &str) -> i64 {
    db.query(|c| people::find_group_by_name(c, name))
        .unwrap()
        .expect("group exists")
        .id
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// `spawn_app` with extra settings, as `HELPDESK_*` variables would give them.
pub async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    let (url, guard) = fresh_database_url();
    let db = Db::connect(&url).expect("test database");
    let config = Config::from_sources(None, |k| {
        if let Some((_, v)) = settings.iter().find(|(key, _)| *key == k) {
            return Some(v.to_string());
        }
        match k {
            "HELPDESK_DATABASE_URL" => Some(url.clone()),
            "HELPDESK_LISTEN" => Some("127.0.0.1:0".into()),
            "HELPDESK_SUPPORT_ADDRESS" => Some("help@support.example.com".into()),
            _ => None,
        }
    })
    .unwrap();
    let app = Application::build(config, db.clone(), SECRET).expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = app.handle();
    tokio::spawn(app.run_until_stopped());
    let (_, token) = staff(&db, "admin@example.com", Role::Admin, &["Support"]);
    TestApp {
        address,
        db,
        db_url: url,
        client: reqwest::Client::new(),
        token,
        server,
        _guard: guard,
    }
}

impl TestApp {
    /// Stops the server and waits for its workers, so none still holds a
    /// database connection while the test process exits.
    pub async fn stop(&self) {
        self.server.stop(true).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// POSTs and returns (status, JSON body).
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.post(path, &self.token, body).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path, &self.token).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates a ticket through the API and returns its id.
    pub async fn create_ticket(&self, subject: &str, group: Option<&str>) -> i64 {
        let mut body = serde_json::json!({
            "subject": subject, "body": "Please help.",
            "requester": {"email": "ann@example.com", "name": "Ann"},
        });
        if let Some(g) = group {
            body["group"] = g.into();
        }
        let (status, json) = self.post_json("/api/v1/tickets", body).await;
        assert_eq!(status, 201, "{json}");
        json["ticket"]["id"].as_i64().unwrap()
    }
}

/// The event types of a ticket detail, in order.
pub fn event_types(detail: &Value) -> Vec<String> {
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// The password `staff()` gives every user.
pub const PASSWORD: &str = "a long test password";

/// A browser-like client: keeps cookies, does not follow redirects (tests
/// look at them), and finds the CSRF token in the pages it fetched.
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    pub csrf: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: String,
    pub body: String,
}

/// The first `name="csrf" value="…"` of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[i..].find('"')?;
    Some(html[i..i + end].to_string())
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            base: app.address.clone(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            csrf: String::new(),
        }
    }

    async fn page(&mut self, r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = r.text().await.unwrap_or_default();
        if let Some(t) = csrf_of(&body) {
            self.csrf = t;
        }
        Page {
            status,
            location,
            content_type,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        self.page(r).await
    }

    /// POSTs a urlencoded form with the current CSRF token added.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let body = serde_html_form_encode(&all);
        self.post_raw(path, body).await
    }

    /// POSTs a urlencoded body exactly as given (no token added).
    pub async fn post_raw(&mut self, path: &str, body: String) -> Page {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request");
        self.page(r).await
    }

    /// POSTs a multipart form (text fields and files) with the CSRF token.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, Vec<u8>)],
    ) -> Page {
        let mut form = reqwest::multipart::Form::new().text("csrf", self.csrf.clone());
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        for (field, name, ctype, data) in files {
            let part = reqwest::multipart::Part::bytes(data.clone())
                .file_name(name.to_string())
                .mime_str(ctype)
                .unwrap();
            form = form.part(field.to_string(), part);
        }
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .multipart(form)
            .send()
            .await
            .expect("request");
        self.page(r).await
    }

    /// Signs in as staff; panics unless it worked.
    pub async fn login(&mut self, email: &str) {
        self.get("/login").await;
        let p = self
            .post("/login", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(p.status, 303, "sign-in as {email} failed: {}", p.body);
    }
}

pub fn serde_html_form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>(),
                form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}
