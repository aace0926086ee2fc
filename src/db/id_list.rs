//! `column IN (ids)` in a form each backend prepares once.
//!
//! diesel's `eq_any` writes one placeholder per id on SQLite, so the SQL
//! changes with the list's length and diesel never caches such a statement:
//! SQLite parsed and planned it on every page (the queue's requester names,
//! its status counts, its CSAT follow-up count). With mail arriving, the
//! queue's first page held fifty requesters instead of a few, and the
//! statement's parse and bind work was a good part of why each page cost
//! 15-30 % more. Here SQLite gets the ids as one JSON text read by
//! `json_each`, a statement whose SQL never changes; PostgreSQL keeps
//! diesel's `= ANY($1)` (one array parameter, already cached).

use diesel::expression::{
    is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping,
};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Text};
use diesel::{ExpressionMethods, QueryResult};

use super::{AnyBackend, DbConn};

/// `column IN (ids)`, built by `id_in`.
#[derive(Debug, Clone)]
pub enum IdIn<C>
where
    C: Expression<SqlType = diesel::sql_types::BigInt>,
{
    /// SQLite: `column IN (SELECT value FROM json_each(?))`.
    Json { column: C, json: String },
    /// PostgreSQL: diesel's `column = ANY(?)`.
    Any(diesel::dsl::EqAny<C, Vec<i64>>),
}

/// `column IN (ids)` for the connection's backend. An empty list matches
/// nothing, as `eq_any` does.
pub fn id_in<C>(conn: &DbConn, column: C, ids: &[i64]) -> IdIn<C>
where
    C: Expression<SqlType = diesel::sql_types::BigInt> + ExpressionMethods,
{
    match conn {
        DbConn::Sqlite(_) => IdIn::Json {
            column,
            // Integers always serialize; were it ever to fail, the empty
            // text makes the query fail rather than match nothing.
            json: serde_json::to_string(ids).unwrap_or_default(),
        },
        DbConn::Postgres(_) => IdIn::Any(column.eq_any(ids.to_vec())),
    }
}

impl<C> Expression for IdIn<C>
where
    C: Expression<SqlType = diesel::sql_types::BigInt>,
{
    type SqlType = Bool;
}

impl<C> QueryId for IdIn<C>
where
    C: Expression<SqlType = diesel::sql_types::BigInt>,
{
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C> ValidGrouping<()> for IdIn<C>
where
    C: Expression<SqlType = diesel::sql_types::BigInt> + ValidGrouping<()>,
{
    type IsAggregate = is_aggregate::Never;
}

impl<C, QS> AppearsOnTable<QS> for IdIn<C>
where
    C: Expression<SqlType = diesel::sql_types::BigInt> + AppearsOnTable<QS>,
    diesel::dsl::EqAny<C, Vec<i64>>: AppearsOnTable<QS>,
{
}

impl<C, QS> SelectableExpression<QS> for IdIn<C>
where
    C: Expression<SqlType = diesel::sql_types::BigInt> + SelectableExpression<QS>,
    diesel::dsl::EqAny<C, Vec<i64>>: SelectableExpression<QS>,
{
}

impl<C> QueryFragment<AnyBackend> for IdIn<C>
where
    C: Expression<SqlType = diesel::sql_types::BigInt> + QueryFragment<AnyBackend>,
    diesel::dsl::EqAny<C, Vec<i64>>: QueryFragment<AnyBackend>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, AnyBackend>) -> QueryResult<()> {
        match self {
            IdIn::Json { column, json } => {
                out.push_sql("(");
                column.walk_ast(out.reborrow())?;
                out.push_sql(" IN (SELECT value FROM json_each(");
                out.push_bind_param::<Text, _>(json)?;
                out.push_sql(")))");
                Ok(())
            }
            IdIn::Any(e) => e.walk_ast(out),
        }
    }
}
