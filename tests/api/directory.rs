//! The server's copy of the staff, groups and memberships
//! (`people::directory`): every kind of change bumps the store's counter,
//! and a change made outside the server (here straight through the store,
//! and by the CLI binary, another process) shows on the very next page.

use diesel::prelude::*;
use helpdesk::db::{DbConn, DbError};
use helpdesk::people::{self, directory};
use helpdesk::tickets::Role;

use crate::cli::{helpdesk, run_with_stdin};
use crate::helpers::{group_id, spawn_app, staff, Browser, TestApp};

/// A change straight through the store, as another process would make it.
fn change<T>(app: &TestApp, f: impl FnOnce(&mut DbConn) -> QueryResult<T>) -> T {
    app.db.write(|c| f(c).map_err(DbError::from)).unwrap()
}

fn version(app: &TestApp) -> i64 {
    app.db.query(directory::current_version).unwrap()
}

#[tokio::test]
async fn every_change_to_staff_groups_or_members_bumps_the_counter() {
    let app = spawn_app().await;
    let mut last = version(&app);
    assert!(last > 0, "the counter starts above 0");
    let mut bumped = |what: &str| {
        let now = version(&app);
        assert!(
            now > last,
            "{what} did not bump the counter ({last} → {now})"
        );
        last = now;
    };

    let (agent, _) = staff(&app.db, "agent@example.com", Role::Agent, &[]);
    bumped("a new user");
    let billing = app
        .db
        .write(|c| -> Result<_, people::PeopleError> {
            people::find_or_create_group(c, "Billing", 1)
        })
        .unwrap()
        .0
        .id;
    bumped("a new group");
    change(&app, |c| people::add_member(c, billing, agent));
    bumped("a new membership");
    app.db
        .write(|c| -> Result<_, people::PeopleError> {
            people::rename_group(c, billing, "Invoices")
        })
        .unwrap();
    bumped("a renamed group");
    change(&app, |c| people::remove_member(c, billing, agent));
    bumped("a removed membership");
    change(&app, |c| {
        use helpdesk::db::schema::users;
        diesel::update(users::table.find(agent))
            .set(users::name.eq("Renamed Agent"))
            .execute(c)
    });
    bumped("a renamed user");

    // A read changes nothing.
    app.db.query(people::list_staff).unwrap();
    assert_eq!(version(&app), last);
    app.stop().await;
}

#[tokio::test]
async fn a_membership_removed_outside_the_server_closes_the_group_at_once() {
    let app = spawn_app().await;
    let (agent, _) = staff(&app.db, "agent@example.com", Role::Agent, &["Billing"]);
    let id = app.create_ticket("Invoice twice", Some("Billing")).await;
    let mut b = Browser::new(&app);
    b.login("agent@example.com").await;
    let page = b.get(&format!("/tickets/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(b.get("/tickets").await.body.contains("Invoice twice"));

    // Not through the server: its copy learns of it from the counter.
    let billing = group_id(&app.db, "Billing");
    assert!(change(&app, |c| people::remove_member(c, billing, agent)));
    let page = b.get(&format!("/tickets/{id}")).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(!b.get("/tickets").await.body.contains("Invoice twice"));

    change(&app, |c| people::add_member(c, billing, agent));
    assert_eq!(b.get(&format!("/tickets/{id}")).await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_user_added_by_the_cli_is_in_the_menus_of_the_next_page() {
    let app = spawn_app().await;
    let id = app.create_ticket("Who takes this?", Some("Support")).await;
    let mut b = Browser::new(&app);
    b.login("admin@example.com").await;
    let before = b.get(&format!("/tickets/{id}")).await;
    assert!(!before.body.contains("Zed Newcomer"));
    assert!(!b.get("/tickets").await.body.contains("Zed Newcomer"));

    // Another process: the binary itself.
    let dir = tempfile::tempdir().unwrap();
    let mut add = helpdesk(dir.path(), Some(&app.db_url));
    add.args([
        "user",
        "add",
        "--email",
        "zed@example.com",
        "--name",
        "Zed Newcomer",
        "--role",
        "agent",
        "--group",
        "Night shift",
    ]);
    let (code, _, stderr) = run_with_stdin(add, "a long enough password\n");
    assert_eq!(code, 0, "{stderr}");

    let after = b.get(&format!("/tickets/{id}")).await;
    assert!(
        after.body.contains("Zed Newcomer"),
        "not in the assignee menu"
    );
    assert!(after.body.contains("Night shift"), "not in the group menu");
    let queue = b.get("/tickets").await;
    assert!(
        queue.body.contains("Zed Newcomer"),
        "not in the queue's menu"
    );
    assert!(queue.body.contains("Night shift"));
    app.stop().await;
}
