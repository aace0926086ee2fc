//! Reads: one ticket with its conversation and history, and the queue.

use diesel::prelude::*;

use super::model::{Event, Message, QueueTicket, Ticket};
use super::types::Status;
use crate::db::id_list::id_in;
use crate::db::schema::{
    csat_surveys, customers, events, messages, participants, ticket_counts, tickets,
};
use crate::db::{AnyBackend, DbConn};
use crate::people::Customer;

diesel::define_sql_function! {
    /// Portable case folding for search (SQLite and PostgreSQL both have `lower`).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub fn ticket(conn: &mut DbConn, id: i64) -> QueryResult<Option<Ticket>> {
    tickets::table
        .find(id)
        .select(Ticket::as_select())
        .first(conn)
        .optional()
}

pub fn messages(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<Message>> {
    messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .order((messages::created_at, messages::id))
        .select(Message::as_select())
        .load(conn)
}

/// The history in the order it happened (id breaks ties within a millisecond).
pub fn events(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<Event>> {
    events::table
        .filter(events::ticket_id.eq(ticket_id))
        .order((events::at, events::id))
        .select(Event::as_select())
        .load(conn)
}

pub fn participants(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<Customer>> {
    participants::table
        .inner_join(customers::table)
        .filter(participants::ticket_id.eq(ticket_id))
        .order(participants::created_at)
        .select(Customer::as_select())
        .load(conn)
}

/// A customer's own tickets (as requester or CC'd participant), newest
/// update first.
pub fn customer_tickets(
    conn: &mut DbConn,
    customer_id: i64,
    limit: i64,
) -> QueryResult<Vec<Ticket>> {
    let cc = participants::table
        .filter(participants::customer_id.eq(customer_id))
        .select(participants::ticket_id);
    tickets::table
        .filter(
            tickets::requester_id
                .eq(customer_id)
                .or(tickets::id.eq_any(cc)),
        )
        .order((tickets::updated_at.desc(), tickets::id.desc()))
        .limit(limit)
        .select(Ticket::as_select())
        .load(conn)
}

/// Which tickets a reader may see.
#[derive(Debug, Clone)]
pub enum Scope {
    All,
    /// An agent: tickets of their groups, without a group, or assigned to them.
    Agent {
        user_id: i64,
        group_ids: Vec<i64>,
    },
}

/// What a staff user may see: agents their groups' tickets (and unassigned-group
/// ones and their own), managers and admins everything.
pub fn scope_for(conn: &mut DbConn, user: &crate::people::User) -> QueryResult<Scope> {
    scope_with(user, || crate::people::group_ids_of(conn, user.id))
}

/// `scope_for`, from a copy of the directory instead of the store.
pub fn scope_in(
    user: &crate::people::User,
    directory: &crate::people::directory::Directory,
) -> Scope {
    let Ok(scope) = scope_with(user, || {
        Ok::<_, std::convert::Infallible>(directory.group_ids_of(user.id))
    });
    scope
}

/// An agent sees their groups (read only for agents); managers and admins see all.
fn scope_with<E>(
    user: &crate::people::User,
    group_ids: impl FnOnce() -> Result<Vec<i64>, E>,
) -> Result<Scope, E> {
    Ok(match user.role() {
        super::Role::Agent => Scope::Agent {
            user_id: user.id,
            group_ids: group_ids()?,
        },
        super::Role::Manager | super::Role::Admin => Scope::All,
    })
}

/// A staff user's view of one ticket id.
pub enum Access {
    Missing,
    /// It exists, outside the reader's groups.
    Denied,
    Granted(Box<Ticket>),
}

pub fn staff_access(conn: &mut DbConn, scope: &Scope, id: i64) -> QueryResult<Access> {
    Ok(match ticket(conn, id)? {
        None => Access::Missing,
        Some(t) if scope.allows(&t) => Access::Granted(Box::new(t)),
        Some(_) => Access::Denied,
    })
}

/// A customer sees the tickets they requested or are CC'd on.
pub fn customer_can_see(conn: &mut DbConn, t: &Ticket, customer_id: i64) -> QueryResult<bool> {
    Ok(t.requester_id == customer_id || is_participant(conn, t.id, customer_id)?)
}

pub fn is_participant(conn: &mut DbConn, ticket_id: i64, customer_id: i64) -> QueryResult<bool> {
    Ok(participants::table
        .find((ticket_id, customer_id))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

impl Scope {
    pub fn allows(&self, t: &Ticket) -> bool {
        match self {
            Scope::All => true,
            Scope::Agent { user_id, group_ids } => {
                t.assignee_id == Some(*user_id) || t.group_id.is_none_or(|g| group_ids.contains(&g))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter<T> {
    Is(T),
    None,
}

/// Queue orders. Each has one integer sort key (so one keyset cursor shape
/// serves them all); the id breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Last update, newest first (the default, and the index the queue uses).
    #[default]
    Updated,
    /// Creation, newest first.
    Created,
    /// Priority, most urgent first; then last update.
    Priority,
    /// SLA due time, soonest first; tickets without a due time last.
    Due,
}

impl Sort {
    pub const ALL: &'static [Sort] = &[Sort::Updated, Sort::Created, Sort::Priority, Sort::Due];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Updated => "updated",
            Sort::Created => "created",
            Sort::Priority => "priority",
            Sort::Due => "due",
        }
    }

    pub fn parse(s: &str) -> Option<Sort> {
        Sort::ALL.iter().copied().find(|x| x.as_str() == s)
    }

    fn ascending(self) -> bool {
        self == Sort::Due
    }

    /// The key as SQL (integers and column names only: nothing from input).
    fn sql(self) -> &'static str {
        match self {
            Sort::Updated => "tickets.updated_at",
            Sort::Created => "tickets.created_at",
            Sort::Priority => {
                "(CASE tickets.priority WHEN 'urgent' THEN 3 WHEN 'high' THEN 2 \
                 WHEN 'normal' THEN 1 ELSE 0 END) * 10000000000000 + tickets.updated_at"
            }
            Sort::Due => {
                "COALESCE(CASE WHEN tickets.first_responded_at IS NULL \
                 THEN tickets.first_response_due_at END, tickets.resolution_due_at, \
                 9000000000000000000)"
            }
        }
    }

    /// The cursor of the page after the one `t` ends.
    pub fn cursor_after(self, t: &QueueTicket) -> Cursor {
        Cursor {
            key: self.key_of(t),
            id: t.id,
        }
    }

    /// The same key computed from a row, for the next page's cursor.
    pub fn key_of(self, t: &QueueTicket) -> i64 {
        match self {
            Sort::Updated => t.updated_at,
            Sort::Created => t.created_at,
            Sort::Priority => {
                let rank = match t.priority() {
                    super::Priority::Urgent => 3,
                    super::Priority::High => 2,
                    super::Priority::Normal => 1,
                    super::Priority::Low => 0,
                };
                rank * 10_000_000_000_000 + t.updated_at
            }
            Sort::Due => t
                .first_responded_at
                .is_none()
                .then_some(t.first_response_due_at)
                .flatten()
                .or(t.resolution_due_at)
                .unwrap_or(9_000_000_000_000_000_000),
        }
    }
}

/// Position after the last row of a page: the sort key, then the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.key, self.id)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let (k, i) = s.split_once('.')?;
        Some(Cursor {
            key: k.parse().ok()?,
            id: i.parse().ok()?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub scope: Scope,
    pub statuses: Vec<Status>,
    pub priorities: Vec<super::Priority>,
    pub group: Option<Filter<i64>>,
    pub assignee: Option<Filter<i64>>,
    pub text: Option<String>,
    pub sort: Sort,
    pub after: Option<Cursor>,
    pub limit: i64,
    /// Only tickets rated 1 or 2 that nobody has followed up yet.
    pub csat_follow_up: bool,
}

impl ListQuery {
    /// Everything the scope allows, newest update first.
    pub fn new(scope: Scope) -> ListQuery {
        ListQuery {
            scope,
            statuses: Vec::new(),
            priorities: Vec::new(),
            group: None,
            assignee: None,
            text: None,
            sort: Sort::Updated,
            after: None,
            limit: 50,
            csat_follow_up: false,
        }
    }
}

/// Escapes LIKE wildcards so a search for "100%" means the literal text.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn scoped(
    conn: &DbConn,
    scope: &Scope,
) -> tickets::BoxedQuery<'static, <DbConn as diesel::Connection>::Backend> {
    let mut query = tickets::table.into_boxed();
    if let Scope::Agent { user_id, group_ids } = scope {
        query = query.filter(
            id_in(conn, tickets::group_id.assume_not_null(), group_ids)
                .or(tickets::group_id.is_null())
                .or(tickets::assignee_id.eq(*user_id)),
        );
    }
    query
}

/// One page of the queue and the cursor of the next page, if any.
pub fn list(conn: &mut DbConn, q: &ListQuery) -> QueryResult<(Vec<Ticket>, Option<Cursor>)> {
    let limit = q.limit.clamp(1, 500);
    let mut rows = match merged_arms(q) {
        Some(arms) => list_merged(conn, q, &arms, limit + 1)?,
        None => list_scan(conn, q, limit + 1)?,
    };
    let next = next_page(&mut rows, limit, |t| {
        q.sort.cursor_after(&QueueTicket::from(t.clone()))
    });
    Ok((rows, next))
}

/// A row of the queue: the ticket and its requester's name.
pub struct QueueRow {
    pub ticket: QueueTicket,
    pub requester: String,
}

/// A queue page: its rows, the next page's cursor and the tab counts.
/// When the listing is merged from index ranges (`list_merged`, the
/// default view), all of it is read in one snapshot with each statement
/// planned once on PostgreSQL (`db::with_generic_plans`): its plan is the
/// same for every agent and status, and planning it cost four times its
/// execution; the requesters' names come with the rows. Other views keep
/// a plan per execution (a text search or a scan may well want one) and
/// look the names up after.
pub fn queue_page(
    conn: &mut DbConn,
    q: &ListQuery,
) -> Result<(Vec<QueueRow>, Option<Cursor>, TabCounts), crate::db::DbError> {
    let limit = q.limit.clamp(1, 500);
    match merged_arms(q) {
        Some(arms) => crate::db::with_generic_plans(conn, |c| {
            let mut rows = named_rows(c, q, &arms, limit + 1)?;
            let next = next_page(&mut rows, limit, |r| q.sort.cursor_after(&r.ticket));
            Ok((rows, next, tab_counts(c, &q.scope)?))
        }),
        None => {
            let mut tickets: Vec<QueueTicket> = list_scan(conn, q, limit + 1)?
                .into_iter()
                .map(QueueTicket::from)
                .collect();
            let next = next_page(&mut tickets, limit, |t| q.sort.cursor_after(t));
            let rows = with_requesters(conn, tickets)?;
            Ok((rows, next, tab_counts(conn, &q.scope)?))
        }
    }
}

/// The tickets with their requesters' names, in one lookup (none for an
/// empty page).
fn with_requesters(conn: &mut DbConn, tickets: Vec<QueueTicket>) -> QueryResult<Vec<QueueRow>> {
    let mut names = std::collections::HashMap::new();
    if !tickets.is_empty() {
        let ids: Vec<i64> = tickets.iter().map(|t| t.requester_id).collect();
        names = customers::table
            .filter(id_in(conn, customers::id, &ids))
            .select((customers::id, customers::name))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
    }
    Ok(tickets
        .into_iter()
        .map(|ticket| QueueRow {
            requester: names.get(&ticket.requester_id).cloned().unwrap_or_default(),
            ticket,
        })
        .collect())
}

/// Cuts the look-ahead row `list_*` read past the page (`limit + 1`) and
/// returns the cursor of the page after, if there is one.
fn next_page<R>(rows: &mut Vec<R>, limit: i64, cursor: impl Fn(&R) -> Cursor) -> Option<Cursor> {
    if rows.len() as i64 <= limit {
        return None;
    }
    rows.truncate(limit as usize);
    rows.last().map(cursor)
}

/// The filters every way of listing shares: all but the scope, the
/// statuses and the cursor.
fn filtered(
    q: &ListQuery,
    mut query: tickets::BoxedQuery<'static, <DbConn as diesel::Connection>::Backend>,
) -> tickets::BoxedQuery<'static, <DbConn as diesel::Connection>::Backend> {
    if !q.priorities.is_empty() {
        let p: Vec<&str> = q.priorities.iter().map(|p| p.as_str()).collect();
        query = query.filter(tickets::priority.eq_any(p));
    }
    match q.group {
        Some(Filter::Is(g)) => query = query.filter(tickets::group_id.eq(g)),
        Some(Filter::None) => query = query.filter(tickets::group_id.is_null()),
        None => {}
    }
    match q.assignee {
        Some(Filter::Is(a)) => query = query.filter(tickets::assignee_id.eq(a)),
        Some(Filter::None) => query = query.filter(tickets::assignee_id.is_null()),
        None => {}
    }
    if q.csat_follow_up {
        query = query.filter(tickets::id.eq_any(follow_up_ids()));
    }
    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = like_pattern(text);
        let in_messages = messages::table
            .filter(messages::ticket_id.eq(tickets::id))
            .filter(
                lower(messages::body_text)
                    .like(pattern.clone())
                    .escape('\\'),
            )
            .select(messages::id);
        query = query.filter(
            lower(tickets::subject)
                .like(pattern)
                .escape('\\')
                .or(diesel::dsl::exists(in_messages)),
        );
    }
    query
}

/// Any order, any filter: one query walking the sort order's index and
/// testing the scope's OR on each entry until a page is found.
fn list_scan(conn: &mut DbConn, q: &ListQuery, n: i64) -> QueryResult<Vec<Ticket>> {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    let mut query = filtered(q, scoped(conn, &q.scope));
    if !q.statuses.is_empty() {
        let s: Vec<&str> = q.statuses.iter().map(|s| s.as_str()).collect();
        query = query.filter(tickets::status.eq_any(s));
    }
    let key = q.sort.sql();
    let (cmp, dir) = if q.sort.ascending() {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    if let Some(c) = q.after {
        // Integers only are formatted into the SQL: the cursor was parsed as i64.
        query = query.filter(sql::<Bool>(&format!(
            "(({key}) {cmp} {k} OR (({key}) = {k} AND tickets.id {cmp} {id}))",
            k = c.key,
            id = c.id
        )));
    }
    query
        .select(Ticket::as_select())
        .order(sql::<diesel::sql_types::BigInt>(&format!(
            "{key} {dir}, tickets.id {dir}"
        )))
        .limit(n)
        .load(conn)
}

/// A part of a scope that one index range holds in the default order.
#[derive(Debug, Clone)]
enum Part {
    Any,
    Group(i64),
    NoGroup,
    /// Assigned to the agent and in a group that is not theirs (their own
    /// groups' and group-less tickets are in the other parts).
    MineElsewhere {
        user_id: i64,
        group_ids: Vec<i64>,
    },
}

/// At most this many index ranges are merged; past it one scan is cheaper.
const MAX_ARMS: usize = 24;

/// The arms of a merged listing: each part of the scope in each status.
struct Arms {
    parts: Vec<Part>,
    /// Sorted, without repeats.
    statuses: Vec<Status>,
}

impl Arms {
    /// The statuses are exactly the active ones (the queue's default tab).
    fn all_active(&self) -> bool {
        let active: Vec<Status> = Status::ALL
            .iter()
            .copied()
            .filter(|s| s.is_active())
            .collect();
        self.statuses.len() == active.len() && active.iter().all(|s| self.statuses.contains(s))
    }
}

/// The arms (scope part × status) of the default view, when it can be
/// merged from them: newest update first, a status filter (the queue's
/// tabs), no text search. The arms are disjoint and together hold exactly
/// what the scan would test.
fn merged_arms(q: &ListQuery) -> Option<Arms> {
    if q.sort != Sort::Updated || q.text.is_some() {
        return None;
    }
    // Without a status filter no index range is in update order within a
    // group (status sits between them); the scan skips only other groups'
    // tickets there, a few per page.
    if q.statuses.is_empty() {
        return None;
    }
    let mut statuses = q.statuses.clone();
    statuses.sort_by_key(|s| s.as_str());
    statuses.dedup();
    let parts = match &q.scope {
        Scope::All => vec![Part::Any],
        Scope::Agent { user_id, group_ids } => {
            let mut groups = group_ids.clone();
            groups.sort_unstable();
            groups.dedup();
            let mut parts: Vec<Part> = groups.iter().map(|g| Part::Group(*g)).collect();
            parts.push(Part::NoGroup);
            parts.push(Part::MineElsewhere {
                user_id: *user_id,
                group_ids: groups,
            });
            parts
        }
    };
    if parts.len() * statuses.len() > MAX_ARMS {
        return None;
    }
    Some(Arms { parts, statuses })
}

type Arm = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Select<tickets::table, (tickets::updated_at, tickets::id)>,
    AnyBackend,
>;

/// One arm of `NewestOf`: a boxed diesel query when the view has filters,
/// else written out directly (`LeanArm`).
enum ArmSql {
    Boxed(Arm),
    Lean(LeanArm),
}

impl ArmSql {
    fn walk_ast<'b>(
        &'b self,
        out: diesel::query_builder::AstPass<'_, 'b, AnyBackend>,
    ) -> QueryResult<()> {
        use diesel::query_builder::QueryFragment;
        match self {
            ArmSql::Boxed(arm) => <Arm as QueryFragment<AnyBackend>>::walk_ast(arm, out),
            ArmSql::Lean(arm) => arm.walk_ast(out),
        }
    }
}

/// An arm of the default view and the status tabs (no filter but the
/// scope part, the status and the cursor), written as static SQL with its
/// values bound. Diesel builds a statement's SQL on every execution to
/// find it among the prepared ones; through the boxed query that was
/// 0.2 M instructions of the queue page's 1.8 M (callgrind), for text that
/// never changes. The same predicates as `newest_of`'s boxed arms.
struct LeanArm {
    status: ArmStatus,
    part: Part,
    after: Option<Cursor>,
}

/// The statuses of a `LeanArm`.
enum ArmStatus {
    One(&'static str),
    /// new, open and pending, written as the partial indexes of migration
    /// `queue_active_indexes` state it: PostgreSQL uses a partial index in
    /// a generic plan only when the query's own text implies its predicate.
    Active,
}

impl LeanArm {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, AnyBackend>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Text};
        out.push_sql("SELECT tickets.updated_at, tickets.id FROM tickets WHERE ");
        match &self.status {
            ArmStatus::One(status) => {
                out.push_sql("tickets.status = ");
                out.push_bind_param::<Text, _>(status)?;
            }
            ArmStatus::Active => out.push_sql(ACTIVE_STATUSES_SQL),
        }
        match &self.part {
            Part::Any => {}
            Part::Group(g) => {
                out.push_sql(" AND tickets.group_id = ");
                out.push_bind_param::<BigInt, _>(g)?;
            }
            Part::NoGroup => out.push_sql(" AND tickets.group_id IS NULL"),
            Part::MineElsewhere { user_id, group_ids } => {
                out.push_sql(" AND tickets.assignee_id = ");
                out.push_bind_param::<BigInt, _>(user_id)?;
                out.push_sql(" AND tickets.group_id IS NOT NULL");
                for g in group_ids {
                    out.push_sql(" AND tickets.group_id <> ");
                    out.push_bind_param::<BigInt, _>(g)?;
                }
            }
        }
        if let Some(c) = &self.after {
            out.push_sql(" AND tickets.updated_at <= ");
            out.push_bind_param::<BigInt, _>(&c.key)?;
            out.push_sql(" AND (tickets.updated_at < ");
            out.push_bind_param::<BigInt, _>(&c.key)?;
            out.push_sql(" OR tickets.id < ");
            out.push_bind_param::<BigInt, _>(&c.id)?;
            out.push_sql(")");
        }
        Ok(())
    }
}

/// The predicate of migration `queue_active_indexes`' partial indexes,
/// character for character.
const ACTIVE_STATUSES_SQL: &str = "tickets.status IN ('new', 'open', 'pending')";

/// `arm UNION ALL arm … ORDER BY updated_at DESC, id DESC LIMIT n`: each
/// arm reads an index in (group or assignee, status, updated) order (on
/// PostgreSQL's active tab, a partial index in (group or assignee,
/// updated) order), and
/// both databases merge them lazily (SQLite's ordered compound select,
/// PostgreSQL's Merge Append), so the page costs about the entries it
/// returns, in one statement. Diesel cannot union a variable number of
/// boxed queries, hence this node; it is cached by its SQL like any boxed
/// query, and its SQL varies only with the shape of the arms (and, on
/// PostgreSQL, the page size).
struct NewestOf {
    arms: Vec<ArmSql>,
    limit: i64,
    /// PostgreSQL: each arm in parentheses with its own ORDER BY and LIMIT
    /// (it reads a union's arms in index order only so; without, it sorts
    /// every ticket of each arm), and the limits as literals (`push_limit`).
    /// SQLite allows neither and needs neither.
    postgres: bool,
}

impl diesel::query_builder::QueryId for NewestOf {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for NewestOf {
    type SqlType = (diesel::sql_types::BigInt, diesel::sql_types::BigInt);
}

impl diesel::query_builder::QueryFragment<AnyBackend> for NewestOf {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, AnyBackend>,
    ) -> QueryResult<()> {
        // A lone arm takes the final ORDER BY itself (PostgreSQL refuses a
        // second one after a parenthesized select).
        let own_order = self.postgres && self.arms.len() > 1;
        for (i, arm) in self.arms.iter().enumerate() {
            if i > 0 {
                out.push_sql(" UNION ALL ");
            }
            if own_order {
                out.push_sql("(");
            }
            arm.walk_ast(out.reborrow())?;
            if own_order {
                out.push_sql(" ORDER BY updated_at DESC, id DESC");
                self.push_limit(out.reborrow())?;
                out.push_sql(")");
            }
        }
        out.push_sql(" ORDER BY 1 DESC, 2 DESC");
        self.push_limit(out)
    }
}

impl NewestOf {
    /// PostgreSQL gets the limit as a literal: with a bound one, the generic
    /// plan of the prepared statement is costed as if it read a tenth of
    /// every arm, so PostgreSQL planned the statement anew on every
    /// execution (0.5-0.75 ms of the backend's CPU, more than running it). With
    /// the literal it keeps one plan per page size. SQLite needs neither
    /// (its plans ignore bound values, `db::configure_sqlite`).
    fn push_limit<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, AnyBackend>,
    ) -> QueryResult<()> {
        if self.postgres {
            out.push_sql(&format!(" LIMIT {}", self.limit));
            Ok(())
        } else {
            out.push_sql(" LIMIT ");
            out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.limit)
        }
    }
}

/// The rows of the tickets `NewestOf` picks, in one statement (so one
/// snapshot without a transaction, and one round trip on PostgreSQL); in
/// no particular order. `S` is the select clause's type (the rows' SQL
/// types); `columns` is its SQL, written once (`select_sql`): diesel walks
/// a select clause three times per execution (to decide it may be cached,
/// to write the SQL it finds the prepared statement by, to bind), quoting
/// each identifier through `str::replace`, which for the queue's columns
/// cost more than the rest of the statement. `from` may join to `tickets`.
struct RowsOf<S> {
    select: std::marker::PhantomData<S>,
    columns: &'static str,
    from: &'static str,
    newest: NewestOf,
}

impl<S> diesel::query_builder::QueryId for RowsOf<S> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<S: Expression> diesel::query_builder::Query for RowsOf<S> {
    type SqlType = S::SqlType;
}

impl<S> diesel::query_builder::QueryFragment<AnyBackend> for RowsOf<S> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, AnyBackend>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT ");
        out.push_sql(self.columns);
        out.push_sql(self.from);
        out.push_sql(" WHERE tickets.id IN (SELECT id FROM (");
        self.newest.walk_ast(out.reborrow())?;
        out.push_sql(") AS newest)");
        Ok(())
    }
}

impl<S> RunQueryDsl<DbConn> for RowsOf<S> {}

/// A select clause's SQL as diesel writes it (for PostgreSQL, whose
/// double-quoted identifiers SQLite reads too). Column lists bind nothing.
fn select_sql<S: diesel::query_builder::QueryFragment<diesel::pg::Pg>>(select: S) -> String {
    use diesel::query_builder::QueryBuilder;
    let mut out = diesel::pg::PgQueryBuilder::new();
    match select.to_sql(&mut out, &diesel::pg::Pg) {
        Ok(()) => out.finish(),
        // Never for a list of columns; an empty list fails the statement
        // loudly rather than selecting something else.
        Err(_) => String::new(),
    }
}

/// The default view merged from index ranges (see `NewestOf`). At a
/// million tickets the scan tests hundreds of entries against the scope's
/// OR to find a page; the merge reads about what it returns.
fn list_merged(conn: &mut DbConn, q: &ListQuery, arms: &Arms, n: i64) -> QueryResult<Vec<Ticket>> {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let mut rows: Vec<Ticket> = RowsOf::<diesel::dsl::AsSelect<Ticket, AnyBackend>> {
        select: std::marker::PhantomData,
        columns: COLUMNS.get_or_init(|| select_sql(Ticket::as_select())),
        from: " FROM tickets",
        newest: newest_of(conn, q, arms, n),
    }
    .load(conn)?;
    rows.sort_unstable_by_key(|t| std::cmp::Reverse((t.updated_at, t.id)));
    Ok(rows)
}

/// The queue's columns and each ticket's requester's name, merged as
/// `list_merged`, in one statement.
fn named_rows(conn: &mut DbConn, q: &ListQuery, arms: &Arms, n: i64) -> QueryResult<Vec<QueueRow>> {
    type Select<DB> = (
        diesel::dsl::AsSelect<QueueTicket, DB>,
        diesel::dsl::Nullable<customers::name>,
    );
    fn select<DB: diesel::backend::Backend>() -> Select<DB>
    where
        QueueTicket: Selectable<DB>,
    {
        (QueueTicket::as_select(), customers::name.nullable())
    }
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let rows: Vec<(QueueTicket, Option<String>)> = RowsOf::<Select<AnyBackend>> {
        select: std::marker::PhantomData,
        columns: COLUMNS.get_or_init(|| select_sql(select::<diesel::pg::Pg>())),
        from: " FROM tickets LEFT JOIN customers ON customers.id = tickets.requester_id",
        newest: newest_of(conn, q, arms, n),
    }
    .load(conn)?;
    let mut rows: Vec<QueueRow> = rows
        .into_iter()
        .map(|(ticket, name)| QueueRow {
            ticket,
            requester: name.unwrap_or_default(),
        })
        .collect();
    rows.sort_unstable_by_key(|r| std::cmp::Reverse((r.ticket.updated_at, r.ticket.id)));
    Ok(rows)
}

/// The arms of the merged listing, as one `NewestOf`.
fn newest_of(conn: &DbConn, q: &ListQuery, arms: &Arms, n: i64) -> NewestOf {
    let mut newest = NewestOf {
        arms: Vec::with_capacity(arms.parts.len() * arms.statuses.len()),
        limit: n,
        postgres: matches!(conn, DbConn::Postgres(_)),
    };
    // Lean arms only where `filtered` would add nothing. Every field is
    // named, so a filter added to `ListQuery` must be placed here too.
    let ListQuery {
        scope: _,
        statuses: _,
        priorities,
        group,
        assignee,
        text,
        sort: _,
        after: _,
        limit: _,
        csat_follow_up,
    } = q;
    let lean = priorities.is_empty()
        && group.is_none()
        && assignee.is_none()
        && !csat_follow_up
        && text.is_none();
    // PostgreSQL keeps each part's active tickets in update order in an
    // index of their own (migration `queue_active_indexes`): one arm per
    // part instead of one per part and status. Not for `Part::Any` (an
    // admin's scope), which has no such index.
    let one_arm_per_part = lean && newest.postgres && arms.all_active();
    for part in &arms.parts {
        if one_arm_per_part && !matches!(part, Part::Any) {
            newest.arms.push(ArmSql::Lean(LeanArm {
                status: ArmStatus::Active,
                part: part.clone(),
                after: q.after,
            }));
            continue;
        }
        for status in &arms.statuses {
            newest.arms.push(arm_of(q, lean, part, *status));
        }
    }
    newest
}

/// One arm of `newest_of`: `part` in `status`, lean when `lean`.
fn arm_of(q: &ListQuery, lean: bool, part: &Part, status: Status) -> ArmSql {
    if lean {
        return ArmSql::Lean(LeanArm {
            status: ArmStatus::One(status.as_str()),
            part: part.clone(),
            after: q.after,
        });
    }
    let mut arm =
        filtered(q, tickets::table.into_boxed()).filter(tickets::status.eq(status.as_str()));
    arm = match part {
        Part::Any => arm,
        Part::Group(g) => arm.filter(tickets::group_id.eq(*g)),
        Part::NoGroup => arm.filter(tickets::group_id.is_null()),
        Part::MineElsewhere { user_id, group_ids } => {
            arm = arm
                .filter(tickets::assignee_id.eq(*user_id))
                .filter(tickets::group_id.is_not_null());
            // One `<>` per group rather than `NOT IN (…)`: diesel does
            // not cache a statement with a variable IN list on SQLite.
            for g in group_ids {
                arm = arm.filter(tickets::group_id.ne(*g));
            }
            arm
        }
    };
    if let Some(c) = q.after {
        // `updated_at <= key` first, so the index seeks to the cursor.
        arm = arm.filter(
            tickets::updated_at
                .le(c.key)
                .and(tickets::updated_at.lt(c.key).or(tickets::id.lt(c.id))),
        );
    }
    ArmSql::Boxed(arm.select((tickets::updated_at, tickets::id)))
}

/// Surveys rated 1 or 2 that nobody has followed up yet.
type FollowUps = diesel::dsl::Filter<
    diesel::dsl::Filter<csat_surveys::table, diesel::dsl::LtEq<csat_surveys::rating, i32>>,
    diesel::dsl::IsNull<csat_surveys::followed_up_at>,
>;

/// The tickets of the CSAT follow-up view, as a subquery.
fn follow_up_ids() -> diesel::dsl::Select<FollowUps, csat_surveys::ticket_id> {
    csat_surveys::table
        .filter(csat_surveys::rating.le(2))
        .filter(csat_surveys::followed_up_at.is_null())
        .select(csat_surveys::ticket_id)
}

/// The marker of the CSAT follow-up count among `tab_counts`' rows (no
/// status is spelled with a `*`).
const FOLLOW_UP_ROW: &str = "*csat";

/// The queue's tab counts within a scope: tickets per status, and those on
/// the CSAT follow-up view. One statement (a round trip and an executor
/// start fewer on PostgreSQL): the per-status rows come from the counters
/// the database keeps per group, assignee and status (`ticket_counts`,
/// maintained by triggers) rather than counting tickets; the follow-up
/// count is the scope's tickets with a survey rated 1 or 2 that nobody
/// has followed up yet.
pub fn tab_counts(conn: &mut DbConn, scope: &Scope) -> QueryResult<TabCounts> {
    let agent = match scope {
        Scope::All => None,
        Scope::Agent { user_id, group_ids } => Some(AgentScope {
            user_id: *user_id,
            counted_groups: id_in(conn, ticket_counts::group_id, group_ids),
            ticket_groups: id_in(conn, tickets::group_id.assume_not_null(), group_ids),
        }),
    };
    let rows: Vec<(String, i64)> = TabCountsSql { agent }.load(conn)?;
    let mut counts = TabCounts::default();
    for (status, n) in rows {
        if status == FOLLOW_UP_ROW {
            counts.follow_ups += n;
            continue;
        }
        match counts.per_status.iter_mut().find(|(s, _)| *s == status) {
            Some((_, total)) => *total += n,
            None => counts.per_status.push((status, n)),
        }
    }
    Ok(counts)
}

/// An agent's scope as `TabCountsSql` binds it.
struct AgentScope {
    user_id: i64,
    counted_groups: crate::db::id_list::IdIn<ticket_counts::group_id>,
    ticket_groups: crate::db::id_list::IdIn<diesel::dsl::AssumeNotNull<tickets::group_id>>,
}

/// `tab_counts`' statement, written out: the counters' rows, then the
/// follow-up count under `FOLLOW_UP_ROW`. As diesel queries (boxed, for
/// the scope's optional filter) its SQL was built three times per page;
/// here it is text with the scope's values bound. The scope's predicate
/// is `scoped`'s (their groups, no group, assigned to them); the counters
/// store no group and unassigned as 0.
struct TabCountsSql {
    /// None: every ticket (an admin's scope).
    agent: Option<AgentScope>,
}

impl diesel::query_builder::QueryId for TabCountsSql {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for TabCountsSql {
    type SqlType = (diesel::sql_types::Text, diesel::sql_types::BigInt);
}

impl diesel::query_builder::QueryFragment<AnyBackend> for TabCountsSql {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, AnyBackend>,
    ) -> QueryResult<()> {
        use diesel::sql_types::BigInt;
        out.push_sql(
            "SELECT ticket_counts.status, ticket_counts.n FROM ticket_counts \
             WHERE ticket_counts.n <> 0",
        );
        if let Some(a) = &self.agent {
            out.push_sql(" AND (ticket_counts.group_id = 0 OR ");
            a.counted_groups.walk_ast(out.reborrow())?;
            out.push_sql(" OR ticket_counts.assignee_id = ");
            out.push_bind_param::<BigInt, _>(&a.user_id)?;
            out.push_sql(")");
        }
        out.push_sql(" UNION ALL SELECT '");
        out.push_sql(FOLLOW_UP_ROW);
        out.push_sql("', COUNT(*) FROM tickets WHERE ");
        if let Some(a) = &self.agent {
            out.push_sql("(");
            a.ticket_groups.walk_ast(out.reborrow())?;
            out.push_sql(" OR tickets.group_id IS NULL OR tickets.assignee_id = ");
            out.push_bind_param::<BigInt, _>(&a.user_id)?;
            out.push_sql(") AND ");
        }
        out.push_sql(
            "tickets.id IN (SELECT csat_surveys.ticket_id FROM csat_surveys \
             WHERE csat_surveys.rating <= 2 AND csat_surveys.followed_up_at IS NULL)",
        );
        Ok(())
    }
}

impl RunQueryDsl<DbConn> for TabCountsSql {}

/// What `tab_counts` found.
#[derive(Debug, Default, PartialEq)]
pub struct TabCounts {
    /// Tickets per status, statuses without tickets left out.
    pub per_status: Vec<(String, i64)>,
    /// Tickets on the CSAT follow-up view.
    pub follow_ups: i64,
}

impl TabCounts {
    pub fn of(&self, status: &str) -> i64 {
        self.per_status
            .iter()
            .find(|(s, _)| s == status)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }

    pub fn total(&self) -> i64 {
        self.per_status.iter().map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL picks the active-status indexes for the default tab only
    /// if the arms state their predicate; were the two to drift apart, it
    /// would sort every active ticket of a group instead, and no result
    /// would change.
    #[test]
    fn active_arms_state_the_partial_indexes_predicate() {
        let migration =
            include_str!("../../migrations/postgres/2027-02-05-000001_queue_active_indexes/up.sql");
        let predicate = ACTIVE_STATUSES_SQL.replace("tickets.", "");
        assert_eq!(migration.matches(&predicate).count(), 3, "{migration}");
        let active: Vec<&str> = Status::ALL
            .iter()
            .filter(|s| s.is_active())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(
            ACTIVE_STATUSES_SQL,
            format!("tickets.status IN ('{}')", active.join("', '"))
        );
    }

    #[test]
    fn cursor_round_trip_and_garbage() {
        let c = Cursor {
            key: 1_700_000_000_123,
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("nonsense"), None);
        assert_eq!(Cursor::decode("1.x"), None);
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("100%_A"), "%100\\%\\_a%");
    }
}

/// A bounce recorded against a ticket.
#[derive(Debug, Clone, Queryable)]
pub struct DeliveryFailure {
    pub id: i64,
    pub recipient: Option<String>,
    pub status: Option<String>,
    pub diagnostic: String,
    pub created_at: i64,
}

/// The delivery failures of a ticket, newest first.
pub fn delivery_failures(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<DeliveryFailure>> {
    use crate::db::schema::delivery_failures as df;
    df::table
        .filter(df::ticket_id.eq(ticket_id))
        .order((df::created_at.desc(), df::id.desc()))
        .select((
            df::id,
            df::recipient,
            df::status,
            df::diagnostic,
            df::created_at,
        ))
        .load(conn)
}
