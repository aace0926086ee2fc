//! The admin pages: staff users, groups, mailboxes, canned responses. Who
//! may use them, CSRF on every POST, the create/edit/delete flows, and the
//! forms' errors.

use helpdesk::db::Db;
use helpdesk::people::{self, EmailAddress};
use helpdesk::tickets::{ops, Actor, Body, Channel, NewTicket, Priority, Role};
use helpdesk::time::now_ms;
use helpdesk::{canned, mailboxes};

use crate::helpers::{spawn_app, staff, Browser, Page, TestApp};

/// Ids of one of each thing the admin pages manage.
struct Fixtures {
    agent: i64,
    group: i64,
    mailbox: i64,
    canned: i64,
}

fn group_id(db: &Db, name: &str) -> i64 {
    db.query(|c| people::find_group_by_name(c, name))
        .unwrap()
        .unwrap_or_else(|| panic!("no group {name}"))
        .id
}

fn user(db: &Db, id: i64) -> people::User {
    db.query(|c| people::find_user(c, id)).unwrap().unwrap()
}

fn user_by_email(db: &Db, email: &str) -> Option<people::User> {
    let e = EmailAddress::parse(email).unwrap();
    db.query(|c| people::find_user_by_email(c, &e)).unwrap()
}

fn fixtures(app: &TestApp) -> Fixtures {
    let (agent, _) = staff(&app.db, "agent@example.com", Role::Agent, &["Support"]);
    let group = group_id(&app.db, "Support");
    let mailbox = app
        .db
        .write(|c| {
            let address = EmailAddress::parse("help@example.com").unwrap();
            mailboxes::create(
                c,
                mailboxes::MailboxInput {
                    address: &address,
                    name: "Example Help",
                    group_id: Some(group),
                    ack_enabled: true,
                },
                now_ms(),
            )
            .map_err(|e| helpdesk::db::DbError::Unavailable(e.to_string()))
        })
        .unwrap()
        .id;
    let canned = app
        .db
        .write(|c| {
            canned::create(c, "Greeting", "Hello, thanks for writing.", now_ms())
                .map_err(helpdesk::db::DbError::from)
        })
        .unwrap();
    Fixtures {
        agent,
        group,
        mailbox,
        canned,
    }
}

fn gets(f: &Fixtures) -> Vec<String> {
    vec![
        "/admin".into(),
        "/admin/users".into(),
        format!("/admin/users/{}", f.agent),
        "/admin/groups".into(),
        format!("/admin/groups/{}", f.group),
        "/admin/mailboxes".into(),
        format!("/admin/mailboxes/{}", f.mailbox),
        "/admin/canned".into(),
        format!("/admin/canned/{}", f.canned),
    ]
}

/// Every admin POST route with a body that would change something.
fn posts(f: &Fixtures) -> Vec<(String, Vec<(&'static str, String)>)> {
    let pw = "another long password".to_string();
    vec![
        (
            "/admin/users".into(),
            vec![
                ("email", "new@example.com".into()),
                ("name", "New".into()),
                ("role", "admin".into()),
                ("password", pw.clone()),
                ("password2", pw),
            ],
        ),
        (
            format!("/admin/users/{}", f.agent),
            vec![("name", "Renamed".into()), ("role", "admin".into())],
        ),
        ("/admin/groups".into(), vec![("name", "Hackers".into())]),
        (
            format!("/admin/groups/{}", f.group),
            vec![("name", "Renamed".into())],
        ),
        (
            format!("/admin/groups/{}/members", f.group),
            vec![("user", f.agent.to_string())],
        ),
        (
            format!("/admin/groups/{}/members/{}/remove", f.group, f.agent),
            vec![],
        ),
        (
            "/admin/mailboxes".into(),
            vec![
                ("address", "sales@example.com".into()),
                ("name", "Sales".into()),
            ],
        ),
        (
            format!("/admin/mailboxes/{}", f.mailbox),
            vec![
                ("address", "other@example.com".into()),
                ("name", "Other".into()),
            ],
        ),
        (format!("/admin/mailboxes/{}/delete", f.mailbox), vec![]),
        (
            "/admin/canned".into(),
            vec![("title", "New".into()), ("body", "Text".into())],
        ),
        (
            format!("/admin/canned/{}", f.canned),
            vec![("title", "Changed".into()), ("body", "Text".into())],
        ),
        (format!("/admin/canned/{}/delete", f.canned), vec![]),
    ]
}

fn as_refs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Nothing the POSTs above would change has changed.
fn assert_untouched(app: &TestApp, f: &Fixtures) {
    let db = &app.db;
    assert!(user_by_email(db, "new@example.com").is_none());
    let agent = user(db, f.agent);
    assert_eq!(agent.name, "agent");
    assert_eq!(agent.role, "agent");
    assert!(db
        .query(|c| people::find_group_by_name(c, "Hackers"))
        .unwrap()
        .is_none());
    assert_eq!(
        db.query(|c| people::find_group(c, f.group))
            .unwrap()
            .unwrap()
            .name,
        "Support"
    );
    assert!(db
        .query(|c| people::is_member(c, f.group, f.agent))
        .unwrap());
    let mailboxes = db.query(mailboxes::list).unwrap();
    assert_eq!(mailboxes.len(), 1);
    assert_eq!(mailboxes[0].address, "help@example.com");
    let canned = db.query(canned::list).unwrap();
    assert_eq!(canned.len(), 1);
    assert_eq!(canned[0].title, "Greeting");
}

async fn admin_browser(app: &TestApp) -> Browser {
    let mut b = Browser::new(app);
    b.login("admin@example.com").await;
    // The CSRF token is bound to the session: take one from a signed-in page.
    let p = b.get("/admin").await;
    assert_eq!(p.status, 200, "{}", p.body);
    b
}

fn assert_form_again(p: &Page) {
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.content_type.starts_with("text/html"));
    assert!(p.body.contains("aria-invalid=\"true\""), "{}", p.body);
}

#[tokio::test]
async fn every_admin_page_renders_for_an_admin() {
    let app = spawn_app().await;
    let f = fixtures(&app);
    let mut b = admin_browser(&app).await;
    for path in gets(&f) {
        let p = b.get(&path).await;
        assert_eq!(p.status, 200, "{path}: {}", p.body);
        assert!(p.content_type.starts_with("text/html"), "{path}");
        assert!(
            p.body
                .contains("<a href=\"/admin\" aria-current=\"page\">Admin</a>"),
            "{path} is not in the admin section"
        );
        assert!(p.body.contains("name=\"csrf\""), "{path}");
    }
    let p = b.get("/admin").await;
    for link in [
        "/admin/users",
        "/admin/groups",
        "/admin/mailboxes",
        "/admin/canned",
    ] {
        assert!(p.body.contains(&format!("href=\"{link}\"")), "{link}");
    }
    let p = b.get("/admin/users").await;
    assert!(p.body.contains("agent@example.com"));
    assert!(p.body.contains("Support"));
    let p = b.get("/admin/groups").await;
    assert!(
        p.body.contains("<td class=\"members\">2</td>"),
        "{}",
        p.body
    );
    let p = b.get(&format!("/admin/groups/{}", f.group)).await;
    assert!(p.body.contains("agent@example.com"));
    let p = b.get("/admin/mailboxes").await;
    assert!(p.body.contains("help@example.com") && p.body.contains("Example Help"));
    let p = b.get("/admin/canned").await;
    assert!(p.body.contains("Greeting") && p.body.contains("Hello, thanks for writing."));
    let p = b.get("/admin/users/999999").await;
    assert_eq!(p.status, 404);
    let p = b.get("/admin/mailboxes/999999").await;
    assert_eq!(p.status, 404);

    // Not signed in: the sign-in page, then back.
    let mut anon = Browser::new(&app);
    let p = anon.get("/admin/users").await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location.as_deref(), Some("/login?next=%2Fadmin%2Fusers"));
}

#[tokio::test]
async fn agents_and_managers_get_403_on_every_admin_page_and_action() {
    let app = spawn_app().await;
    let f = fixtures(&app);
    staff(&app.db, "manager@example.com", Role::Manager, &["Support"]);
    for email in ["agent@example.com", "manager@example.com"] {
        let mut b = Browser::new(&app);
        b.login(email).await;
        let p = b.get("/tickets").await;
        assert_eq!(p.status, 200);
        assert!(
            !p.body.contains("href=\"/admin\""),
            "{email} sees the admin link"
        );
        for path in gets(&f) {
            let p = b.get(&path).await;
            assert_eq!(p.status, 403, "{email} GET {path}");
            assert!(
                p.body.contains("only admins"),
                "{email} GET {path}: {}",
                p.body
            );
        }
        for (path, fields) in posts(&f) {
            let p = b.post(&path, &as_refs(&fields)).await;
            assert_eq!(p.status, 403, "{email} POST {path}");
            // Refused as a non-admin, not for a bad token.
            assert!(
                p.body.contains("only admins"),
                "{email} POST {path}: {}",
                p.body
            );
        }
    }
    assert_untouched(&app, &f);
}

#[tokio::test]
async fn every_admin_post_without_the_csrf_field_is_403() {
    let app = spawn_app().await;
    let f = fixtures(&app);
    let mut b = admin_browser(&app).await;
    for (path, fields) in posts(&f) {
        let body = crate::helpers::serde_html_form_encode(&as_refs(&fields));
        let p = b.post_raw(&path, body).await;
        assert_eq!(p.status, 403, "POST {path} without csrf");
        assert!(p.body.contains("form has expired"), "{path}: {}", p.body);
        let mut with_wrong = vec![("csrf", "forged")];
        with_wrong.extend(as_refs(&fields));
        let body = crate::helpers::serde_html_form_encode(&with_wrong);
        let p = b.post_raw(&path, body).await;
        assert_eq!(p.status, 403, "POST {path} with a wrong csrf");
    }
    assert_untouched(&app, &f);
}

#[tokio::test]
async fn admin_creates_and_edits_a_staff_user() {
    let app = spawn_app().await;
    let f = fixtures(&app);
    let billing = app
        .db
        .write(|c| people::create_group(c, "Billing", now_ms()))
        .unwrap()
        .id;
    let mut b = admin_browser(&app).await;
    let (g1, g2) = (f.group.to_string(), billing.to_string());
    let p = b
        .post(
            "/admin/users",
            &[
                ("email", " Zoe@Example.com "),
                ("name", "Zoe Zed"),
                ("role", "manager"),
                ("password", "zoe's long password"),
                ("password2", "zoe's long password"),
                ("groups", &g1),
                ("groups", &g2),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/users?done=created"));
    let zoe = user_by_email(&app.db, "zoe@example.com").expect("created");
    assert_eq!(zoe.name, "Zoe Zed");
    assert_eq!(zoe.role, "manager");
    assert!(zoe.can_login());
    let mut groups = app.db.query(|c| people::group_ids_of(c, zoe.id)).unwrap();
    groups.sort();
    assert_eq!(groups, {
        let mut g = vec![f.group, billing];
        g.sort();
        g
    });
    let p = b.get("/admin/users?done=created").await;
    assert!(p.body.contains("Created."));
    assert!(p.body.contains("Zoe Zed") && p.body.contains("Billing, Support"));

    // The new user signs in with the password the admin set.
    let mut z = Browser::new(&app);
    z.get("/login").await;
    let p = z
        .post(
            "/login",
            &[
                ("email", "zoe@example.com"),
                ("password", "zoe's long password"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);

    // Edit: name, role, groups; no password change keeps the old one and the session.
    let path = format!("/admin/users/{}", zoe.id);
    let p = b.get(&path).await;
    assert!(p.body.contains("zoe@example.com"));
    assert!(p.body.contains("value=\"Zoe Zed\""));
    let p = b
        .post(
            &path,
            &[
                ("name", "Zoe Zimmer"),
                ("role", "agent"),
                ("active", "1"),
                ("groups", &g2),
                ("password", ""),
                ("password2", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/users?done=saved"));
    let zoe = user(&app.db, zoe.id);
    assert_eq!(
        (zoe.name.as_str(), zoe.role.as_str()),
        ("Zoe Zimmer", "agent")
    );
    assert!(zoe.active);
    assert_eq!(
        app.db.query(|c| people::group_ids_of(c, zoe.id)).unwrap(),
        vec![billing]
    );
    let p = z.get("/tickets").await;
    assert_eq!(
        p.status, 200,
        "an edit without a new password keeps the session"
    );
}

#[tokio::test]
async fn user_form_errors_keep_what_was_typed() {
    let app = spawn_app().await;
    let f = fixtures(&app);
    let mut b = admin_browser(&app).await;
    let g = f.group.to_string();
    let p = b
        .post(
            "/admin/users",
            &[
                ("email", "not-an-address"),
                ("name", "  "),
                ("role", "wizard"),
                ("password", "short"),
                ("password2", "short"),
                ("groups", &g),
            ],
        )
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("value=\"not-an-address\""));
    assert!(p.body.contains("is not an email address"));
    assert!(p.body.contains("a name is required"));
    assert!(p.body.contains("is not a role"));
    assert!(p.body.contains("at least 10 characters"));
    assert!(p.body.contains(&format!("value=\"{g}\" checked")));
    assert!(!p.body.contains("short"), "a password was echoed back");

    let p = b
        .post(
            "/admin/users",
            &[
                ("email", "kim@example.com"),
                ("name", "Kim"),
                ("role", "agent"),
                ("password", "kim's long password"),
                ("password2", "kim's other password"),
            ],
        )
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("the two passwords do not match"));
    assert!(p.body.contains("value=\"kim@example.com\"") && p.body.contains("value=\"Kim\""));
    assert!(
        !p.body.contains("long password\""),
        "a password was echoed back"
    );

    // A taken address (in any case).
    let p = b
        .post(
            "/admin/users",
            &[
                ("email", "AGENT@example.com"),
                ("name", "Second Agent"),
                ("role", "agent"),
                ("password", "a fine long password"),
                ("password2", "a fine long password"),
            ],
        )
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("already exists"), "{}", p.body);
    assert!(p.body.contains("value=\"Second Agent\""));
    assert!(!p.body.contains("a fine long password"));
    assert!(user_by_email(&app.db, "kim@example.com").is_none());

    // Editing: empty name, mismatched new password; nothing is saved.
    let path = format!("/admin/users/{}", f.agent);
    let p = b
        .post(
            &path,
            &[
                ("name", ""),
                ("role", "manager"),
                ("active", "1"),
                ("password", "a new long password"),
                ("password2", "something else"),
            ],
        )
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("a name is required"));
    assert!(p.body.contains("the two passwords do not match"));
    assert!(p.body.contains("<option value=\"manager\" selected>"));
    assert!(!p.body.contains("a new long password"));
    let agent = user(&app.db, f.agent);
    assert_eq!(
        (agent.name.as_str(), agent.role.as_str()),
        ("agent", "agent")
    );
}

#[tokio::test]
async fn the_last_active_admin_cannot_demote_or_deactivate_themselves() {
    let app = spawn_app().await;
    let admin = user_by_email(&app.db, "admin@example.com").unwrap();
    let mut b = admin_browser(&app).await;
    let path = format!("/admin/users/{}", admin.id);
    let p = b
        .post(
            &path,
            &[("name", "Admin"), ("role", "manager"), ("active", "1")],
        )
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("last active admin"), "{}", p.body);
    assert!(p.body.contains("id=\"user-role-err\""));
    let p = b.post(&path, &[("name", "Admin"), ("role", "admin")]).await;
    assert_form_again(&p);
    assert!(p.body.contains("last active admin"));
    assert!(p.body.contains("id=\"user-active-err\""));
    let a = user(&app.db, admin.id);
    assert!(a.active && a.role == "admin" && a.name == "admin");
    assert_eq!(b.get("/admin").await.status, 200, "still signed in");

    // An inactive admin or one without a password does not count.
    let (other, _) = staff(&app.db, "other-admin@example.com", Role::Admin, &[]);
    app.db
        .write(|c| {
            people::update_user(
                c,
                other,
                people::UserUpdate {
                    name: "Other",
                    role: Role::Admin,
                    active: false,
                },
            )
        })
        .unwrap();
    let p = b
        .post(
            &path,
            &[("name", "Admin"), ("role", "agent"), ("active", "1")],
        )
        .await;
    assert_form_again(&p);

    // With another active admin, stepping down works and leaves the admin pages.
    let mut ob = admin_browser_for(&app, other).await;
    let p = ob.get("/admin").await;
    assert_eq!(p.status, 303, "the inactive admin cannot sign in");
    app.db
        .write(|c| {
            people::update_user(
                c,
                other,
                people::UserUpdate {
                    name: "Other",
                    role: Role::Admin,
                    active: true,
                },
            )
        })
        .unwrap();
    let p = b
        .post(
            &path,
            &[("name", "Admin"), ("role", "agent"), ("active", "1")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/tickets?done=saved"));
    assert_eq!(user(&app.db, admin.id).role, "agent");
    assert_eq!(b.get("/admin").await.status, 403);
}

/// A browser for a user created by `staff()` (only tries to sign in).
async fn admin_browser_for(app: &TestApp, id: i64) -> Browser {
    let email = user(&app.db, id).email;
    let mut b = Browser::new(app);
    b.get("/login").await;
    b.post(
        "/login",
        &[("email", &email), ("password", crate::helpers::PASSWORD)],
    )
    .await;
    b
}

#[tokio::test]
async fn deactivating_or_changing_a_password_ends_the_users_sessions() {
    let app = spawn_app().await;
    let f = fixtures(&app);
    let mut admin = admin_browser(&app).await;
    let mut agent = Browser::new(&app);
    agent.login("agent@example.com").await;
    assert_eq!(agent.get("/tickets").await.status, 200);

    let path = format!("/admin/users/{}", f.agent);
    let g = f.group.to_string();
    let p = admin
        .post(
            &path,
            &[
                ("name", "agent"),
                ("role", "agent"),
                ("active", "1"),
                ("groups", &g),
                ("password", "the agent's new password"),
                ("password2", "the agent's new password"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = agent.get("/tickets").await;
    assert_eq!(p.status, 303, "the old session still works");
    assert_eq!(p.location.as_deref(), Some("/login?next=%2Ftickets"));
    agent.get("/login").await;
    let p = agent
        .post(
            "/login",
            &[
                ("email", "agent@example.com"),
                ("password", crate::helpers::PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, 401, "the old password still works");
    let p = agent
        .post(
            "/login",
            &[
                ("email", "agent@example.com"),
                ("password", "the agent's new password"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(agent.get("/tickets").await.status, 200);

    // Deactivation (the box unticked) signs them out at once.
    let p = admin
        .post(
            &path,
            &[("name", "agent"), ("role", "agent"), ("groups", &g)],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(!user(&app.db, f.agent).active);
    let p = agent.get("/tickets").await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location.as_deref(), Some("/login?next=%2Ftickets"));
    let p = admin.get("/admin/users").await;
    assert!(p.body.contains("agent@example.com"));
    agent.get("/login").await;
    let p = agent
        .post(
            "/login",
            &[
                ("email", "agent@example.com"),
                ("password", "the agent's new password"),
            ],
        )
        .await;
    assert_eq!(p.status, 401, "an inactive user signed in");
}

#[tokio::test]
async fn admin_manages_groups_and_members() {
    let app = spawn_app().await;
    let f = fixtures(&app);
    let mut b = admin_browser(&app).await;

    let p = b.post("/admin/groups", &[("name", "  Billing ")]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let billing = group_id(&app.db, "Billing");
    assert_eq!(
        p.location,
        Some(format!("/admin/groups/{billing}?done=created"))
    );
    let p = b.post("/admin/groups", &[("name", "Billing")]).await;
    assert_form_again(&p);
    assert!(p.body.contains("already exists"));
    assert!(p.body.contains("value=\"Billing\""));
    let p = b.post("/admin/groups", &[("name", " ")]).await;
    assert_form_again(&p);
    assert!(p.body.contains("1 to 100 characters"));
    let long = "x".repeat(101);
    let p = b.post("/admin/groups", &[("name", &long)]).await;
    assert_form_again(&p);
    assert!(p.body.contains(&long), "the typed name is kept");
    assert_eq!(app.db.query(people::list_groups).unwrap().len(), 2);

    // Rename; to a taken name is an error next to the field.
    let path = format!("/admin/groups/{billing}");
    let p = b.post(&path, &[("name", "Accounts")]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location, Some(format!("{path}?done=saved")));
    let p = b.post(&path, &[("name", "Support")]).await;
    assert_form_again(&p);
    assert!(p.body.contains("already exists") && p.body.contains("value=\"Support\""));
    assert_eq!(
        app.db
            .query(|c| people::find_group(c, billing))
            .unwrap()
            .unwrap()
            .name,
        "Accounts"
    );

    // Members: add, list, count, remove.
    let agent = f.agent.to_string();
    let p = b
        .post(&format!("{path}/members"), &[("user", &agent)])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location, Some(format!("{path}?done=member_added")));
    assert!(app
        .db
        .query(|c| people::is_member(c, billing, f.agent))
        .unwrap());
    let p = b.get(&format!("{path}?done=member_added")).await;
    assert!(p.body.contains("Member added."));
    assert!(p.body.contains("agent@example.com"));
    assert!(p.body.contains(&format!(
        "/admin/groups/{billing}/members/{}/remove",
        f.agent
    )));
    let p = b.get("/admin/groups").await;
    assert!(p.body.contains(&format!(
        "<tr data-group=\"{billing}\"><td><a href=\"/admin/groups/{billing}\">Accounts</a></td><td class=\"members\">1</td></tr>"
    )), "{}", p.body);
    let p = b
        .post(&format!("{path}/members"), &[("user", "999999")])
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("does not exist"));
    let p = b.post(&format!("{path}/members"), &[("user", "abc")]).await;
    assert_form_again(&p);

    let remove = format!("{path}/members/{}/remove", f.agent);
    let p = b.post(&remove, &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location, Some(format!("{path}?done=member_removed")));
    assert!(!app
        .db
        .query(|c| people::is_member(c, billing, f.agent))
        .unwrap());
    assert_eq!(b.post(&remove, &[]).await.status, 404);
    assert_eq!(b.get("/admin/groups/999999").await.status, 404);
    assert_eq!(
        b.post("/admin/groups/999999/members", &[("user", &agent)])
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn admin_manages_mailboxes() {
    let app = spawn_app().await;
    let f = fixtures(&app);
    let mut b = admin_browser(&app).await;
    let g = f.group.to_string();

    let p = b
        .post(
            "/admin/mailboxes",
            &[
                ("address", "Sales@Example.com"),
                ("name", "Example Sales"),
                ("group", &g),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/mailboxes?done=created"));
    let sales = app
        .db
        .query(|c| {
            mailboxes::find_by_address(c, &EmailAddress::parse("sales@example.com").unwrap())
        })
        .unwrap()
        .expect("created");
    assert_eq!(sales.name, "Example Sales");
    assert_eq!(sales.group_id, Some(f.group));
    assert!(!sales.ack_enabled, "the box was not ticked");

    // Errors keep what was typed.
    let p = b
        .post(
            "/admin/mailboxes",
            &[("address", "nope"), ("name", ""), ("ack_enabled", "1")],
        )
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("value=\"nope\""));
    assert!(p.body.contains("is not an email address"));
    assert!(p.body.contains("a name is required"));
    assert!(p.body.contains("name=\"ack_enabled\" value=\"1\" checked"));
    let p = b
        .post(
            "/admin/mailboxes",
            &[("address", "HELP@example.com"), ("name", "Again")],
        )
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("already exists") && p.body.contains("value=\"Again\""));
    let p = b
        .post(
            "/admin/mailboxes",
            &[
                ("address", "x@example.com"),
                ("name", "X"),
                ("group", "999999"),
            ],
        )
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("does not exist"));
    assert_eq!(app.db.query(mailboxes::list).unwrap().len(), 2);

    // Edit.
    let path = format!("/admin/mailboxes/{}", sales.id);
    let p = b.get(&path).await;
    assert!(p.body.contains("value=\"sales@example.com\""));
    let p = b
        .post(
            &path,
            &[
                ("address", "deals@example.com"),
                ("name", "Deals"),
                ("group", ""),
                ("ack_enabled", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let m = app
        .db
        .query(|c| mailboxes::find(c, sales.id))
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            m.address.as_str(),
            m.name.as_str(),
            m.group_id,
            m.ack_enabled
        ),
        ("deals@example.com", "Deals", None, true)
    );
    let p = b
        .post(&path, &[("address", "help@example.com"), ("name", "Deals")])
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("already exists"));

    // Delete: refused while a ticket came in through it.
    app.db
        .write(|c| {
            ops::create(
                c,
                NewTicket {
                    subject: "Where is my parcel".into(),
                    body: Body::text("It did not arrive."),
                    requester: EmailAddress::parse("ann@example.com").unwrap(),
                    requester_name: Some("Ann".into()),
                    channel: Channel::Email,
                    priority: Priority::Normal,
                    group_id: None,
                    assignee_id: None,
                    mailbox_id: Some(f.mailbox),
                    actor: Actor::System,
                },
                now_ms(),
            )
        })
        .unwrap();
    let p = b
        .post(&format!("/admin/mailboxes/{}/delete", f.mailbox), &[])
        .await;
    assert_eq!(p.status, 409, "{}", p.body);
    assert!(p.body.contains("cannot be deleted") && p.body.contains("1 ticket(s)"));
    assert!(app
        .db
        .query(|c| mailboxes::find(c, f.mailbox))
        .unwrap()
        .is_some());

    let p = b.post(&format!("{path}/delete"), &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/mailboxes?done=deleted"));
    assert!(app
        .db
        .query(|c| mailboxes::find(c, sales.id))
        .unwrap()
        .is_none());
    assert_eq!(b.post(&format!("{path}/delete"), &[]).await.status, 404);
    assert_eq!(b.get(&path).await.status, 404);
}

#[tokio::test]
async fn admin_manages_canned_responses() {
    let app = spawn_app().await;
    let f = fixtures(&app);
    let mut b = admin_browser(&app).await;

    let p = b
        .post(
            "/admin/canned",
            &[("title", "Refund"), ("body", "Your refund is on its way.")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/canned?done=created"));
    let list = app.db.query(canned::list).unwrap();
    let refund = list.iter().find(|r| r.title == "Refund").expect("created");
    assert_eq!(refund.body, "Your refund is on its way.");

    let p = b
        .post(
            "/admin/canned",
            &[("title", " Greeting "), ("body", "Hi again")],
        )
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("already exists"));
    assert!(p.body.contains("Hi again</textarea>"));
    let p = b
        .post("/admin/canned", &[("title", ""), ("body", "Only a body")])
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("a title is required"));
    assert!(p.body.contains("Only a body</textarea>"));
    assert_eq!(app.db.query(canned::list).unwrap().len(), 2);

    let path = format!("/admin/canned/{}", refund.id);
    let p = b
        .post(&path, &[("title", "Refund sent"), ("body", "Sent today.")])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let r = app
        .db
        .query(|c| canned::find(c, refund.id))
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.title.as_str(), r.body.as_str()),
        ("Refund sent", "Sent today.")
    );
    let p = b
        .post(&path, &[("title", "Greeting"), ("body", "Typed text")])
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("already exists") && p.body.contains("Typed text</textarea>"));
    let p = b
        .post(&path, &[("title", "Refund sent"), ("body", " ")])
        .await;
    assert_form_again(&p);
    assert!(p.body.contains("the response text is required"));

    let p = b
        .post(&format!("/admin/canned/{}/delete", f.canned), &[])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/canned?done=deleted"));
    assert!(app
        .db
        .query(|c| canned::find(c, f.canned))
        .unwrap()
        .is_none());
    assert_eq!(
        b.post(&format!("/admin/canned/{}/delete", f.canned), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        b.get(&format!("/admin/canned/{}", f.canned)).await.status,
        404
    );
}

#[test]
fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let (db, _guard) = crate::helpers::test_db();
    let (x, _) = staff(&db, "x@example.com", Role::Admin, &[]);
    let (y, _) = staff(&db, "y@example.com", Role::Admin, &[]);
    for _ in 0..5 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let demote = |id: i64| {
            let (db, barrier) = (db.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                db.write(|c| {
                    people::update_user(
                        c,
                        id,
                        people::UserUpdate {
                            name: "demoted",
                            role: Role::Agent,
                            active: true,
                        },
                    )
                })
                .is_ok()
            })
        };
        let (a, b) = (demote(x), demote(y));
        let ok = [a.join().unwrap(), b.join().unwrap()];
        assert_eq!(ok.iter().filter(|o| **o).count(), 1, "{ok:?}");
        assert_eq!(db.query(people::count_admins).unwrap(), 1);
        // Both admins again for the next round.
        for id in [x, y] {
            db.write(|c| {
                people::update_user(
                    c,
                    id,
                    people::UserUpdate {
                        name: "admin",
                        role: Role::Admin,
                        active: true,
                    },
                )
            })
            .unwrap();
        }
    }
}
