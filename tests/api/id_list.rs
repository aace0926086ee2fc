//! `db::id_list::id_in`: the rows `eq_any` finds, in one prepared statement
//! whatever the list's length (diesel never caches `eq_any` on SQLite).

use std::sync::{Arc, Mutex};

use diesel::connection::{Connection, InstrumentationEvent};
use diesel::prelude::*;
use helpdesk::db::id_list::id_in;
use helpdesk::db::schema::groups;
use helpdesk::db::DbError;

use crate::helpers::test_db;

#[test]
fn id_in_finds_what_eq_any_finds_in_one_prepared_statement() {
    let (db, _guard) = test_db();
    let ids: Vec<i64> = db
        .write(|c| {
            (0..5)
                .map(|i| {
                    helpdesk::people::find_or_create_group(c, &format!("Group {i}"), 0)
                        .map(|(g, _)| g.id)
                })
                .collect::<Result<Vec<i64>, _>>()
                .map_err(|e| DbError::Unavailable(e.to_string()))
        })
        .unwrap();

    let mut conn = db.conn().unwrap();
    let cached = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = cached.clone();
    conn.set_instrumentation(move |e: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::CacheQuery { sql, .. } = e {
            sink.lock().unwrap().push(sql.to_string());
        }
    });
    let lists = [
        vec![],
        vec![ids[0]],
        ids.clone(),
        vec![ids[1], ids[1], 999_999],
        ids[2..].to_vec(),
        (1..=300).collect(),
    ];
    for list in &lists {
        let mut got: Vec<i64> = groups::table
            .filter(id_in(&conn, groups::id, list))
            .select(groups::id)
            .load(&mut *conn)
            .unwrap();
        let mut want: Vec<i64> = groups::table
            .filter(groups::id.eq_any(list.clone()))
            .select(groups::id)
            .load(&mut *conn)
            .unwrap();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "ids {list:?}");
    }
    // SQLite: `json_each`, one statement for every length (eq_any's are
    // never cached there); PostgreSQL: `= ANY`, which both share.
    let statements: Vec<String> = cached
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.contains("json_each") || s.contains("ANY"))
        .cloned()
        .collect();
    assert_eq!(statements.len(), 1, "{statements:?}");
}
