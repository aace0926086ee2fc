//! Both migration folders must yield the same tables and columns (names,
//! type families, nullability), and both must match `schema.rs`.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use helpdesk::db::schema;
use helpdesk::db::{Db, DbConn};

use crate::helpers::{postgres_url, test_db};

type Columns = BTreeMap<String, BTreeMap<String, (String, bool)>>;

#[derive(QueryableByName)]
struct Col {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = BigInt)]
    not_null: i64,
}

fn family(sql_type: &str) -> String {
    match sql_type.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "integer",
        "text" => "text",
        "boolean" => "bool",
        "blob" | "bytea" => "blob",
        other => other,
    }
    .to_string()
}

fn columns(db: &Db) -> Columns {
    let rows: Vec<Col> = db
        .query(|c| -> QueryResult<Vec<Col>> {
            match c {
                DbConn::Sqlite(c) => diesel::sql_query(
                    "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
                     CAST(p.\"notnull\" OR p.pk > 0 AS BIGINT) AS not_null \
                     FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                     AND m.name <> '__diesel_schema_migrations'",
                )
                .load(c),
                DbConn::Postgres(c) => diesel::sql_query(
                    "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                     data_type::text AS data_type, \
                     CAST(CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END AS BIGINT) AS not_null \
                     FROM information_schema.columns WHERE table_schema = 'public' \
                     AND table_name <> '__diesel_schema_migrations'",
                )
                .load(c),
            }
        })
        .expect("read catalog");
    let mut out = Columns::new();
    for r in rows {
        out.entry(r.table_name)
            .or_default()
            .insert(r.column_name, (family(&r.data_type), r.not_null != 0));
    }
    out
}

/// Column names per table as `schema.rs` declares them.
fn schema_rs() -> BTreeMap<String, Vec<String>> {
    macro_rules! tables {
        ($($t:ident),* $(,)?) => {
            vec![$((
                stringify!($t).to_string(),
                diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                    &schema::$t::table.select(schema::$t::all_columns),
                )
                .to_string(),
            )),*]
        };
    }
    let rendered = tables!(
        users,
        customers,
        groups,
        group_members,
        mailboxes,
        tickets,
        participants,
        raw_mails,
        messages,
        blobs,
        attachments,
        events,
        outbox,
        api_tokens,
        settings,
        sessions,
        login_failures,
        portal_links,
        canned_responses,
        quarantine,
        delivery_failures,
        imap_folders,
        notification_prefs,
        calendars,
        sla_policies,
        sla_targets,
        csat_surveys,
        ticket_facts,
        ticket_counts,
        directory_version,
    );
    assert_eq!(
        rendered.len(),
        schema::TABLES.len(),
        "schema::TABLES and this list differ"
    );
    rendered
        .into_iter()
        .map(|(table, sql)| {
            let list = sql
                .split(" FROM ")
                .next()
                .unwrap()
                .trim_start_matches("SELECT ");
            let cols = list
                .split(", ")
                .map(|c| c.rsplit('.').next().unwrap().trim_matches('`').to_string())
                .collect();
            (table, cols)
        })
        .collect()
}

fn assert_matches_schema_rs(actual: &Columns, backend: &str) {
    let expected = schema_rs();
    let actual_names: BTreeMap<String, Vec<String>> = actual
        .iter()
        .map(|(t, cols)| (t.clone(), cols.keys().cloned().collect()))
        .collect();
    let expected_sorted: BTreeMap<String, Vec<String>> = expected
        .into_iter()
        .map(|(t, mut c)| {
            c.sort();
            (t, c)
        })
        .collect();
    assert_eq!(
        actual_names, expected_sorted,
        "{backend} migrations differ from schema.rs"
    );
}

#[test]
fn migrations_match_schema_rs() {
    let (db, _guard) = test_db();
    let cols = columns(&db);
    assert_matches_schema_rs(&cols, db.backend().as_str());
}

#[test]
fn sqlite_and_postgres_migrations_agree() {
    let Some(_) = postgres_url() else {
        eprintln!("HELPDESK_TEST_DATABASE_URL unset: the PostgreSQL comparison runs in the PostgreSQL pass");
        return;
    };
    let (pg, _pg_guard) = test_db();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::connect(&format!("sqlite://{}", dir.path().join("h.db").display())).unwrap();
    let (a, b) = (columns(&sqlite), columns(&pg));
    assert_eq!(a, b, "SQLite and PostgreSQL schemas differ");
    assert_matches_schema_rs(&b, "postgres");
}

#[test]
fn migrating_twice_is_a_no_op() {
    let (url, _guard) = crate::helpers::fresh_database_url();
    Db::connect(&url).unwrap();
    let again = Db::connect(&url).unwrap();
    assert!(!columns(&again).is_empty());
}
