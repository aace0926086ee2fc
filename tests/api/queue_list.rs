//! The queue's listing equals a plain filter and sort of every ticket, page
//! after page through the cursor, for each scope and filter combination:
//! on SQLite the default view is merged from index ranges (one per scope
//! part and status), every other view and PostgreSQL scan one index.
//! The pages are read as the queue reads them (`query::queue_page`, which
//! on PostgreSQL reads the default view in one snapshot with each
//! statement planned once).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use helpdesk::db::schema::tickets;
use helpdesk::db::{Backend, Db, DbError};
use helpdesk::import::{import_file, Options};
use helpdesk::tickets::model::Ticket;
use helpdesk::tickets::query::{self, Filter, ListQuery, Scope, Sort};
use helpdesk::tickets::{Priority, Role, Status};

use crate::helpers::{group_id, staff, test_db};
use crate::import::write_file;

const TICKETS: i64 = 240;

/// Tickets in three groups and none, then their status, priority, assignee
/// and update time set by a fixed pattern (with ties on `updated_at`).
fn seed(db: &Db, agents: &[i64]) {
    let groups = ["Support", "Sales", "Billing"];
    let lines: Vec<String> = (0..TICKETS)
        .map(|i| {
            let group = match i % 4 {
                3 => String::new(),
                g => format!(r#""group": "{}","#, groups[g as usize]),
            };
            // Three tickets per requester, updated at the same time (see
            // below), so pages hold them together: each must be named.
            let c = i % 80;
            format!(
                r#"{{"external_id": "Q-{i}", "subject": "Ticket {i}", "channel": "email", "priority": "normal", {group} "requester": {{"email": "c{c}@example.com", "name": "Customer {c}"}}, "created_at": "2026-01-05T09:00:00Z", "body": "Hello.", "events": []}}"#
            )
        })
        .collect();
    let file = write_file(&lines);
    let opts = Options {
        batch_size: 50,
        progress: false,
        writers: None,
    };
    import_file(db, file.path(), &opts, |n, m| panic!("line {n}: {m}")).unwrap();
    let ids: Vec<i64> = db
        .query(|c| {
            tickets::table
                .select(tickets::id)
                .order(tickets::id)
                .load(c)
        })
        .unwrap();
    db.write(|c| -> Result<(), helpdesk::db::DbError> {
        for (n, id) in ids.iter().enumerate() {
            let n = n as i64;
            let status = Status::ALL[(n * 7 % 5) as usize];
            let priority = Priority::ALL[(n * 3 % 4) as usize];
            let assignee = (n % 3 != 0).then(|| agents[(n % agents.len() as i64) as usize]);
            diesel::update(tickets::table.find(id))
                .set((
                    tickets::status.eq(status.as_str()),
                    tickets::priority.eq(priority.as_str()),
                    tickets::assignee_id.eq(assignee),
                    // Every value three times: the id must break the ties.
                    tickets::updated_at.eq(1_767_225_600_000 + (n * 37 % 80) * 1000),
                ))
                .execute(c)?;
        }
        Ok(())
    })
    .unwrap();
}

/// What the page walk must return: the scope and filters applied to every
/// ticket one by one, newest update first.
fn expected(all: &[Ticket], q: &ListQuery) -> Vec<i64> {
    let mut v: Vec<&Ticket> = all
        .iter()
        .filter(|t| match &q.scope {
            Scope::All => true,
            Scope::Agent { user_id, group_ids } => {
                t.group_id.is_none_or(|g| group_ids.contains(&g)) || t.assignee_id == Some(*user_id)
            }
        })
        .filter(|t| q.statuses.is_empty() || q.statuses.iter().any(|s| s.as_str() == t.status))
        .filter(|t| {
            q.priorities.is_empty() || q.priorities.iter().any(|p| p.as_str() == t.priority)
        })
        .filter(|t| match q.group {
            None => true,
            Some(Filter::None) => t.group_id.is_none(),
            Some(Filter::Is(g)) => t.group_id == Some(g),
        })
        .filter(|t| match q.assignee {
            None => true,
            Some(Filter::None) => t.assignee_id.is_none(),
            Some(Filter::Is(a)) => t.assignee_id == Some(a),
        })
        .collect();
    v.sort_by_key(|t| std::cmp::Reverse((t.updated_at, t.id)));
    v.iter().map(|t| t.id).collect()
}

/// Every page of `q` through the cursor, concatenated.
fn walk(db: &Db, q: &ListQuery) -> Vec<i64> {
    let mut q = q.clone();
    let mut out = Vec::new();
    for _ in 0..=TICKETS {
        let (rows, next, _) = db.read(|c| query::queue_page(c, &q)).unwrap();
        assert!(rows.len() as i64 <= q.limit);
        for r in &rows {
            // Both ways of listing name the requester: the merged one in
            // its statement, the scan in a lookup after.
            let n: i64 = r.ticket.subject["Ticket ".len()..].parse().unwrap();
            assert_eq!(
                r.requester,
                format!("Customer {}", n % 80),
                "{}",
                r.ticket.id
            );
        }
        out.extend(rows.iter().map(|r| r.ticket.id));
        match next {
            Some(c) => q.after = Some(c),
            None => return out,
        }
    }
    panic!("the cursor never ended");
}

#[test]
fn listing_equals_a_plain_filter_for_every_scope_and_filter() {
    let (db, _g) = test_db();
    let (bob, _) = staff(&db, "bob@example.com", Role::Agent, &["Support"]);
    let (eve, _) = staff(&db, "eve@example.com", Role::Agent, &["Sales", "Billing"]);
    let (ned, _) = staff(&db, "ned@example.com", Role::Agent, &[]);
    seed(&db, &[bob, eve, ned]);
    let all: Vec<Ticket> = db
        .query(|c| tickets::table.select(Ticket::as_select()).load(c))
        .unwrap();
    let group = |name: &str| group_id(&db, name);
    let (support, sales) = (group("Support"), group("Sales"));
    let scopes = [
        Scope::All,
        Scope::Agent {
            user_id: bob,
            group_ids: vec![support],
        },
        Scope::Agent {
            user_id: eve,
            group_ids: vec![sales, group("Billing"), sales],
        },
        Scope::Agent {
            user_id: ned,
            group_ids: vec![],
        },
    ];
    let active = vec![Status::New, Status::Open, Status::Pending];
    let mut checked = 0;
    for scope in &scopes {
        for statuses in [
            active.clone(),
            vec![],
            vec![Status::Resolved],
            Status::ALL.to_vec(),
        ] {
            for (group_filter, assignee_filter, priorities) in [
                (None, None, vec![]),
                (Some(Filter::Is(support)), None, vec![]),
                (Some(Filter::None), Some(Filter::Is(bob)), vec![]),
                (
                    None,
                    Some(Filter::None),
                    vec![Priority::High, Priority::Low],
                ),
            ] {
                for limit in [7, 50] {
                    let mut q = ListQuery::new(scope.clone());
                    q.statuses = statuses.clone();
                    q.group = group_filter;
                    q.assignee = assignee_filter;
                    q.priorities = priorities.clone();
                    q.limit = limit;
                    q.sort = Sort::Updated;
                    let want = expected(&all, &q);
                    assert_eq!(walk(&db, &q), want, "{q:?}");
                    checked += want.len();
                }
            }
        }
    }
    // The combinations are not all empty: the comparison saw real pages.
    assert!(checked > 1000, "only {checked} tickets compared");
}

#[derive(QueryableByName, Debug)]
struct PlanUse {
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = BigInt)]
    custom_plans: i64,
}

/// PostgreSQL plans a prepared statement anew on each of its first five
/// executions, and on every one after while a plan for the values bound
/// looks cheaper than one for any value, which the merged listing always
/// did at a million tickets: the default view's statements must run with
/// one plan from the first page on.
#[test]
fn the_default_view_is_planned_once_on_postgres() {
    let (db, _g) = test_db();
    if db.backend() != Backend::Postgres {
        eprintln!("PostgreSQL only: its pass runs this");
        return;
    }
    let (bob, _) = staff(&db, "bob@example.com", Role::Agent, &["Support"]);
    seed(&db, &[bob]);
    let mut q = ListQuery::new(Scope::Agent {
        user_id: bob,
        group_ids: vec![group_id(&db, "Support")],
    });
    q.statuses = vec![Status::New, Status::Open, Status::Pending];
    q.limit = 7;
    let plans: Vec<PlanUse> = db
        .read(|c| -> Result<_, DbError> {
            let ids =
                |rows: &[query::QueueRow]| rows.iter().map(|r| r.ticket.id).collect::<Vec<_>>();
            let first = ids(&query::queue_page(c, &q)?.0);
            assert_eq!(first.len(), 7, "a full page");
            for _ in 0..7 {
                assert_eq!(ids(&query::queue_page(c, &q)?.0), first, "the same page");
            }
            // pg_prepared_statements is the session's: this connection's.
            Ok(diesel::sql_query(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements",
            )
            .load(c)?)
        })
        .unwrap();
    let listing = plans
        .iter()
        .find(|p| p.statement.contains(" UNION ALL (SELECT"))
        .expect("the merged listing was prepared");
    let counts = plans
        .iter()
        .find(|p| p.statement.contains("ticket_counts"))
        .expect("the tab counts were prepared");
    for p in [listing, counts] {
        assert_eq!((p.generic_plans, p.custom_plans), (8, 0), "{p:?}");
    }
}
