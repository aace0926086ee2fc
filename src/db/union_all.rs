//! `first UNION ALL second` for `DbConn`: diesel's `union_all` needs a
//! concrete backend, and the connection type spanning SQLite and
//! PostgreSQL is not one. Both arms must be plain selects (no ORDER BY or
//! LIMIT of their own), which both databases accept unparenthesized.

use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

use super::{AnyBackend, DbConn};

pub struct UnionAll<A, B> {
    first: A,
    second: B,
}

/// Both arms' rows in one statement, in no particular order.
pub fn union_all<A, B>(first: A, second: B) -> UnionAll<A, B>
where
    A: Query,
    B: Query<SqlType = A::SqlType>,
{
    UnionAll { first, second }
}

impl<A, B> QueryId for UnionAll<A, B> {
    type QueryId = ();
    // Cached by its SQL, like a boxed query.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<A: Query, B> Query for UnionAll<A, B> {
    type SqlType = A::SqlType;
}

impl<A, B> QueryFragment<AnyBackend> for UnionAll<A, B>
where
    A: QueryFragment<AnyBackend>,
    B: QueryFragment<AnyBackend>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, AnyBackend>) -> QueryResult<()> {
        self.first.walk_ast(out.reborrow())?;
        out.push_sql(" UNION ALL ");
        self.second.walk_ast(out)
    }
}

impl<A, B> RunQueryDsl<DbConn> for UnionAll<A, B> {}
