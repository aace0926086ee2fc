//! Authorization generated from the router: every route the app registers
//! (`helpdesk::web::routes::table`), called by everyone who may not use it
//! on someone else's object (no one signed in, another customer, an agent
//! outside the ticket's group), is refused (3xx to a sign-in page, or 4xx),
//! shows nothing of the object, and changes nothing. A new route is in the
//! table the moment it is registered, so it cannot be forgotten here; a
//! route with a path parameter this test has no object for fails it.

use diesel::prelude::*;
use helpdesk::db::schema::*;
use helpdesk::tickets::{query, Role};
use helpdesk::web::routes::{self, Access, Route};

use crate::helpers::{group_id, spawn_app, staff, Browser, TestApp};
use crate::ingest::ctx;
use crate::portal::{portal_sign_in, submit, ticket_number};

/// Words of the victim's ticket that must never reach an outsider.
const SECRET: &str = "payroll";

/// The routes anyone may use; a new public route must be added here on
/// purpose.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/static/{name}"),
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/new"),
    ("POST", "/new"),
    ("GET", "/portal/login"),
    ("POST", "/portal/login"),
    ("GET", "/portal/auth"),
    ("POST", "/portal/auth"),
    ("GET", "/csat/{token}"),
    ("POST", "/csat/{token}"),
    ("GET", "/csat/{token}/opt-out"),
    ("POST", "/csat/{token}/opt-out"),
];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Who {
    Anonymous,
    /// A signed-in customer who is not the ticket's requester.
    OtherCustomer,
    /// An agent (with an API token) outside the ticket's group.
    OutsideAgent,
}

/// Whose the object in a route's path is.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Object {
    None,
    /// The victim's ticket, or something of it.
    Victims,
    /// Something every staff member may use (a canned response).
    Staffs,
    /// Admin-only data (users, groups, settings).
    Admins,
}

struct Fixture {
    ticket: i64,
    attachment: i64,
    canned: i64,
    quarantine: i64,
    outsider_id: i64,
    secret_group: i64,
    mailbox: i64,
    calendar: i64,
    policy: i64,
}

/// The concrete path for a route pattern and whose object it names.
fn concrete(route: &Route, f: &Fixture) -> (String, Object) {
    let p = route.path.as_str();
    let t = f.ticket;
    let (path, object) = match p {
        "/static/{name}" => ("/static/app.css".to_string(), Object::None),
        _ if p.starts_with("/csat/{token}") => (
            p.replace("{token}", "not-a-real-survey-token"),
            Object::None,
        ),
        _ if p.starts_with("/tickets/{id}") || p.starts_with("/api/v1/tickets/{id}") => (
            p.replace("{id}", &t.to_string())
                .replace("{action:resolve|reopen|close}", "resolve"),
            Object::Victims,
        ),
        _ if p.starts_with("/portal/tickets/{id}") => {
            (p.replace("{id}", &t.to_string()), Object::Victims)
        }
        "/attachments/{id}/{name}" => (
            format!("/attachments/{}/payroll.csv", f.attachment),
            Object::Victims,
        ),
        "/canned/{id}" => (format!("/canned/{}", f.canned), Object::Staffs),
        _ if p.starts_with("/admin") => {
            let id = if p.starts_with("/admin/users/") {
                f.outsider_id
            } else if p.starts_with("/admin/groups/") {
                f.secret_group
            } else if p.starts_with("/admin/canned/") {
                f.canned
            } else if p.starts_with("/admin/quarantine/") {
                f.quarantine
            } else if p.starts_with("/admin/mailboxes/") {
                f.mailbox
            } else if p.starts_with("/admin/calendars/") {
                f.calendar
            } else if p.starts_with("/admin/sla/") {
                f.policy
            } else {
                0
            };
            (
                p.replace("{id}", &id.to_string())
                    .replace("{user_id}", &f.outsider_id.to_string()),
                Object::Admins,
            )
        }
        _ => (p.to_string(), Object::None),
    };
    assert!(
        !path.contains('{'),
        "no object for the parameters of {} {}: give this test one",
        route.method,
        route.path
    );
    (path, object)
}

/// Whether `who` may use the route on that object at all.
fn entitled(who: Who, access: Access, object: Object) -> bool {
    match access {
        Access::Public => true,
        Access::Customer => who == Who::OtherCustomer && object == Object::None,
        Access::Staff | Access::Api => {
            who == Who::OutsideAgent && matches!(object, Object::None | Object::Staffs)
        }
        Access::Visitor => match object {
            Object::None => who != Who::Anonymous,
            Object::Staffs => who == Who::OutsideAgent,
            Object::Victims | Object::Admins => false,
        },
        Access::Admin => false,
    }
}

/// Everything an unauthorized request could have changed.
fn state(app: &TestApp, f: &Fixture) -> String {
    app.db
        .query(|c| {
            let counts = [
                users::table.count().get_result::<i64>(c)?,
                customers::table.count().get_result(c)?,
                groups::table.count().get_result(c)?,
                mailboxes::table.count().get_result(c)?,
                tickets::table.count().get_result(c)?,
                calendars::table.count().get_result(c)?,
                sla_policies::table.count().get_result(c)?,
                messages::table.count().get_result(c)?,
                attachments::table.count().get_result(c)?,
                events::table.count().get_result(c)?,
                outbox::table.count().get_result(c)?,
                api_tokens::table.count().get_result(c)?,
                canned_responses::table.count().get_result(c)?,
                quarantine::table.count().get_result(c)?,
                csat_surveys::table.count().get_result(c)?,
            ];
            let ticket = query::ticket(c, f.ticket)?;
            let user = helpdesk::people::find_user(c, f.outsider_id)?;
            Ok::<_, diesel::result::Error>(format!("{counts:?}\n{ticket:?}\n{user:?}"))
        })
        .unwrap()
}

struct Caller {
    who: Who,
    browser: Browser,
    token: Option<String>,
}

impl Caller {
    async fn send(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        multipart: bool,
    ) -> (u16, Option<String>, String) {
        let url = app.url(path);
        let c = &self.browser.client;
        let mut req = if method == "GET" {
            c.get(&url)
        } else if path.starts_with("/api/") {
            c.post(&url).json(&serde_json::json!({
                "body": "intrusion", "subject": "intrusion", "priority": "urgent",
                "group": null, "agent": null, "reason": "intrusion",
                "requester": {"email": "intruder@example.com"},
            }))
        } else {
            let fields = [
                ("csrf", self.browser.csrf.as_str()),
                ("body", "intrusion"),
                ("subject", "intrusion"),
                ("title", "intrusion"),
                ("name", "intrusion"),
                ("email", "intruder@example.com"),
                ("reason", "intrusion"),
                ("priority", "urgent"),
                ("role", "admin"),
                ("status", "resolved"),
                ("rating", "1"),
                ("ids", "1"),
            ];
            if multipart {
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in fields {
                    form = form.text(k, v.to_string());
                }
                c.post(&url).multipart(form)
            } else {
                c.post(&url).form(&fields)
            }
        };
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        (status, location, r.text().await.unwrap_or_default())
    }
}

#[tokio::test]
async fn every_route_refuses_everyone_but_whom_it_is_for() {
    let app = spawn_app().await;
    // The victim: Bob's ticket with a file, moved into a group the outside
    // agent is not in.
    let mut bob = Browser::new(&app);
    let p = submit(
        &mut bob,
        &[
            ("name", "Bob"),
            ("email", "bob@example.com"),
            ("subject", "Quarterly payroll export"),
            ("body", "The payroll numbers for Q3 are attached."),
        ],
        &[(
            "attachments",
            "payroll.csv",
            "text/csv",
            b"payroll,1".to_vec(),
        )],
    )
    .await;
    let ticket = ticket_number(&p.body);
    staff(&app.db, "keeper@example.com", Role::Agent, &["Secret"]);
    let secret_group = group_id(&app.db, "Secret");
    let (status, json) = app
        .post_json(
            &format!("/api/v1/tickets/{ticket}/assign"),
            serde_json::json!({"group": secret_group}),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let (outsider_id, outsider_token) =
        staff(&app.db, "outsider@example.com", Role::Agent, &["Other"]);
    // A canned response (every agent's) and a quarantined mail.
    let mut admin = Browser::new(&app);
    admin.login("admin@example.com").await;
    admin.get("/admin/canned").await;
    let p = admin
        .post(
            "/admin/canned",
            &[("title", "Hello"), ("body", "Hello there")],
        )
        .await;
    assert!(p.status < 400, "{}", p.body);
    let junk = b"no headers at all\n".to_vec();
    helpdesk::mail::inbound::ingest(&app.db, &ctx(&app.db), &junk, helpdesk::time::now_ms())
        .unwrap();

    let ids = app
        .db
        .query(|c| {
            use diesel::dsl::min;
            Ok::<_, diesel::result::Error>([
                attachments::table
                    .select(min(attachments::id))
                    .first::<Option<i64>>(c)?,
                canned_responses::table
                    .select(min(canned_responses::id))
                    .first(c)?,
                quarantine::table.select(min(quarantine::id)).first(c)?,
                mailboxes::table.select(min(mailboxes::id)).first(c)?,
                calendars::table.select(min(calendars::id)).first(c)?,
                sla_policies::table.select(min(sla_policies::id)).first(c)?,
            ])
        })
        .unwrap()
        .map(|id| id.unwrap_or(999_999));
    let f = Fixture {
        ticket,
        attachment: ids[0],
        canned: ids[1],
        quarantine: ids[2],
        outsider_id,
        secret_group,
        mailbox: ids[3],
        calendar: ids[4],
        policy: ids[5],
    };

    let mut anonymous = Browser::new(&app);
    anonymous.get("/login").await;
    // Ann, another customer, with a ticket of her own.
    app.create_ticket("Ann's own request", None).await;
    let mut ann = Browser::new(&app);
    portal_sign_in(&app, &mut ann, "ann@example.com").await;
    ann.get("/portal").await;
    let mut agent = Browser::new(&app);
    agent.login("outsider@example.com").await;
    agent.get("/tickets").await;
    let callers = [
        Caller {
            who: Who::Anonymous,
            browser: anonymous,
            token: None,
        },
        Caller {
            who: Who::OtherCustomer,
            browser: ann,
            token: None,
        },
        Caller {
            who: Who::OutsideAgent,
            browser: agent,
            token: Some(outsider_token),
        },
    ];

    let mut table = routes::table();
    assert!(
        table.len() > 60,
        "the router's table is filled once an app is built: {}",
        table.len()
    );
    for r in &table {
        let public = PUBLIC.contains(&(r.method, r.path.as_str()));
        assert_eq!(
            r.access == Access::Public,
            public,
            "{} {} is declared {:?}: public routes are listed in this test on purpose",
            r.method,
            r.path,
            r.access
        );
    }
    // Public routes last: signing out or in would change who the callers are.
    table.sort_by_key(|r| r.access == Access::Public);
    let mut checked = 0;
    let mut failures = Vec::new();
    for route in &table {
        if route.method == "POST"
            && (route.path == "/logout" || route.path == "/login" || route.path == "/portal/auth")
        {
            continue; // they change who the caller is; covered by the login tests
        }
        let (path, object) = concrete(route, &f);
        for caller in &callers {
            let encodings: &[bool] = if route.method == "POST" && !path.starts_with("/api/") {
                &[false, true]
            } else {
                &[false]
            };
            for &multipart in encodings {
                let before = state(&app, &f);
                let (status, location, body) =
                    caller.send(&app, route.method, &path, multipart).await;
                let after = state(&app, &f);
                checked += 1;
                let what = format!(
                    "{} {path} ({:?}) as {:?}{}: {status}",
                    route.method,
                    route.access,
                    caller.who,
                    if multipart { ", multipart" } else { "" }
                );
                if status >= 500 {
                    failures.push(format!(
                        "{what}: server error {}",
                        &body[..body.len().min(200)]
                    ));
                    continue;
                }
                if body.to_lowercase().contains(SECRET) {
                    failures.push(format!("{what}: shows the victim's ticket"));
                }
                if entitled(caller.who, route.access, object) {
                    continue;
                }
                if before != after {
                    failures.push(format!(
                        "{what}: changed data\n  before {before}\n  after  {after}"
                    ));
                }
                let refused = match status {
                    300..=399 => {
                        route.method == "POST"
                            || location.as_deref().is_some_and(|l| {
                                l.starts_with("/login") || l.starts_with("/portal/login")
                            })
                    }
                    400..=499 => true,
                    _ => false,
                };
                if !refused {
                    failures.push(format!("{what}: not refused (location {location:?})"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} requests:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 200, "{checked}");
    app.stop().await;
}
