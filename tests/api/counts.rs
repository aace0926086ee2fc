//! The queue's status counts come from counters the database keeps
//! (`ticket_counts`, triggers): after creating, assigning, moving between
//! groups, resolving, reopening, importing and deleting tickets, they equal
//! a plain count of the tickets, for every scope.

use diesel::prelude::*;
use helpdesk::db::schema::tickets;
use helpdesk::db::{Db, DbError};
use helpdesk::tickets::query::{tab_counts, Scope};
use helpdesk::tickets::Role;
use serde_json::json;

use crate::helpers::{group_id, spawn_app, staff};

/// Tickets per status in the scope, counted row by row.
fn counted(db: &Db, scope: &Scope) -> Vec<(String, i64)> {
    let rows: Vec<(String, Option<i64>, Option<i64>)> = db
        .query(|c| {
            tickets::table
                .select((tickets::status, tickets::group_id, tickets::assignee_id))
                .load(c)
        })
        .unwrap();
    let mut out: Vec<(String, i64)> = Vec::new();
    for (status, group, assignee) in rows {
        let visible = match scope {
            Scope::All => true,
            Scope::Agent { user_id, group_ids } => {
                group.is_none_or(|g| group_ids.contains(&g)) || assignee == Some(*user_id)
            }
        };
        if visible {
            match out.iter_mut().find(|(s, _)| *s == status) {
                Some((_, n)) => *n += 1,
                None => out.push((status, 1)),
            }
        }
    }
    out.sort();
    out
}

fn kept(db: &Db, scope: &Scope) -> Vec<(String, i64)> {
    let counts = db.query(|c| tab_counts(c, scope)).unwrap();
    assert_eq!(counts.follow_ups, 0, "no surveys here");
    let mut v = counts.per_status;
    v.retain(|(_, n)| *n != 0);
    v.sort();
    v
}

#[tokio::test]
async fn status_counts_follow_every_change() {
    let app = spawn_app().await;
    let (bob, _) = staff(&app.db, "bob@example.com", Role::Agent, &["Support"]);
    let (eve, _) = staff(&app.db, "eve@example.com", Role::Agent, &["Sales"]);
    let mut ids = Vec::new();
    for (i, group) in ["Support", "Sales", "Support", "Sales", "Support"]
        .iter()
        .enumerate()
    {
        ids.push(app.create_ticket(&format!("Ticket {i}"), Some(group)).await);
    }
    ids.push(app.create_ticket("No group", None).await);
    let post = |path: String, body: serde_json::Value| {
        let app = &app;
        async move {
            let (status, j) = app.post_json(&path, body).await;
            assert!(status < 300, "{path}: {status} {j}");
        }
    };
    post(
        format!("/api/v1/tickets/{}/assign", ids[1]),
        json!({"agent": "eve@example.com"}),
    )
    .await;
    post(
        format!("/api/v1/tickets/{}/assign", ids[0]),
        json!({"group": "Sales"}),
    )
    .await;
    post(format!("/api/v1/tickets/{}/resolve", ids[2]), json!({})).await;
    post(format!("/api/v1/tickets/{}/resolve", ids[3]), json!({})).await;
    post(format!("/api/v1/tickets/{}/reopen", ids[3]), json!({})).await;
    post(format!("/api/v1/tickets/{}/resolve", ids[4]), json!({})).await;
    post(format!("/api/v1/tickets/{}/close", ids[4]), json!({})).await;

    // Imported tickets count too (bulk inserts).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let line = |id: &str, group: &str, status: &str| {
        json!({"external_id": id, "subject": id, "channel": "email", "group": group,
            "requester": {"email": "imp@example.com"}, "created_at": "2026-01-05T09:00:00Z",
            "events": [{"at": "2026-01-05T10:00:00Z", "type": "status_changed", "to": status}]})
        .to_string()
    };
    std::fs::write(
        &path,
        [
            line("I1", "Support", "pending"),
            line("I2", "Billing", "resolved"),
            line("I3", "Sales", "open"),
        ]
        .join("\n"),
    )
    .unwrap();
    let opts = helpdesk::import::Options {
        progress: false,
        ..Default::default()
    };
    helpdesk::import::import_file(&app.db, &path, &opts, |n, m| panic!("{n}: {m}")).unwrap();

    // A deleted ticket leaves the counts.
    app.db
        .write(|c| {
            diesel::delete(tickets::table.find(ids[5]))
                .execute(c)
                .map_err(DbError::from)
        })
        .unwrap();

    let support = group_id(&app.db, "Support");
    let sales = group_id(&app.db, "Sales");
    let scopes = [
        Scope::All,
        Scope::Agent {
            user_id: bob,
            group_ids: vec![support],
        },
        Scope::Agent {
            user_id: bob,
            group_ids: vec![support, sales],
        },
        // Her Sales ticket is visible to her through the assignment alone.
        Scope::Agent {
            user_id: eve,
            group_ids: vec![support],
        },
        Scope::Agent {
            user_id: -1,
            group_ids: vec![],
        },
    ];
    for scope in &scopes {
        assert_eq!(kept(&app.db, scope), counted(&app.db, scope), "{scope:?}");
    }
    // The figures themselves, for the admin: 8 tickets after the deletion.
    let all = kept(&app.db, &Scope::All);
    assert_eq!(all.iter().map(|(_, n)| n).sum::<i64>(), 8, "{all:?}");
    app.stop().await;
}
