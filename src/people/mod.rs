//! Staff users, customers and groups.

pub mod directory;
mod email;

pub use email::EmailAddress;

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::schema::{customers, group_members, groups, users};
use crate::db::DbConn;
use crate::tickets::Role;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub active: bool,
    pub created_at: i64,
}

impl User {
    pub fn role(&self) -> Role {
        // The column has a CHECK constraint; agent is the least privilege anyway.
        self.role.parse().unwrap_or(Role::Agent)
    }

    pub fn can_login(&self) -> bool {
        self.active && self.password_hash.is_some()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = groups)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error("a staff user with email {0} already exists")]
    UserExists(String),
    #[error("a group named {0:?} already exists")]
    GroupExists(String),
    #[error("staff user {0} not found")]
    UserNotFound(i64),
    #[error("group {0} not found")]
    GroupNotFound(i64),
    #[error("{0} is the last active admin: make another user an admin first, or nobody could manage this help desk")]
    LastAdmin(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Store(#[from] crate::db::DbError),
}

pub struct NewStaff<'a> {
    pub email: &'a EmailAddress,
    pub name: &'a str,
    pub role: Role,
    /// None: the user exists (e.g. imported) but cannot sign in.
    pub password_hash: Option<String>,
}

pub fn create_user(conn: &mut DbConn, new: NewStaff<'_>, at: i64) -> Result<User, PeopleError> {
    let name = new.name.trim();
    if name.is_empty() {
        return Err(PeopleError::Invalid {
            field: "name",
            message: "a name is required".into(),
        });
    }
    if find_user_by_email(conn, new.email)?.is_some() {
        return Err(PeopleError::UserExists(new.email.to_string()));
    }
    // In a savepoint: a concurrent request (PostgreSQL) may take the address
    // first, and that must read as "exists", not abort the transaction.
    let inserted = conn.transaction(|c| {
        diesel::insert_into(users::table)
            .values((
                users::email.eq(new.email.as_str()),
                users::name.eq(name),
                users::role.eq(new.role.as_str()),
                users::password_hash.eq(new.password_hash),
                users::active.eq(true),
                users::created_at.eq(at),
            ))
            .returning(users::id)
            .get_result::<i64>(c)
    });
    let id = match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(PeopleError::UserExists(new.email.to_string()))
        }
        other => other?,
    };
    Ok(find_user(conn, id)?.ok_or(diesel::result::Error::NotFound)?)
}

pub fn find_user_by_email(conn: &mut DbConn, email: &EmailAddress) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email.as_str()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_user(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Admins who can sign in (active, with a password): the people who can
/// manage the help desk.
pub fn count_admins(conn: &mut DbConn) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::active.eq(true))
        .filter(users::password_hash.is_not_null())
        .count()
        .get_result(conn)
}

/// What an admin may change about a staff user (not the email: it is the
/// sign-in name and what mail threading knows them by).
pub struct UserUpdate<'a> {
    pub name: &'a str,
    pub role: Role,
    pub active: bool,
}

/// Changes name, role and active flag. Refuses a change that would leave no
/// admin able to sign in.
pub fn update_user(
    conn: &mut DbConn,
    id: i64,
    change: UserUpdate<'_>,
) -> Result<User, PeopleError> {
    let name = change.name.trim();
    if name.is_empty() {
        return Err(PeopleError::Invalid {
            field: "name",
            message: "a name is required".into(),
        });
    }
    let user = find_user(conn, id)?.ok_or(PeopleError::UserNotFound(id))?;
    let stays_admin = change.role == Role::Admin && change.active;
    if !stays_admin {
        ensure_other_admin(conn, &user)?;
    }
    diesel::update(users::table.find(id))
        .set((
            users::name.eq(name),
            users::role.eq(change.role.as_str()),
            users::active.eq(change.active),
        ))
        .execute(conn)?;
    find_user(conn, id)?.ok_or(PeopleError::UserNotFound(id))
}

/// Err(LastAdmin) when `user` is an admin who can sign in and no other is.
/// On PostgreSQL the admins' rows stay locked until commit, so two admins
/// demoting each other at once cannot both pass. (SQLite's IMMEDIATE
/// transaction already serializes writers.)
fn ensure_other_admin(conn: &mut DbConn, user: &User) -> Result<(), PeopleError> {
    if !(user.role() == Role::Admin && user.can_login()) {
        return Ok(());
    }
    let q = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::active.eq(true))
        .filter(users::password_hash.is_not_null())
        // One lock order for everyone, so two such transactions wait, not deadlock.
        .order(users::id)
        .select(users::id);
    let admins: Vec<i64> = match conn {
        DbConn::Postgres(pg) => q.for_update().load(pg)?,
        sqlite => q.load(sqlite)?,
    };
    if admins.iter().any(|&a| a != user.id) {
        Ok(())
    } else {
        Err(PeopleError::LastAdmin(user.name.clone()))
    }
}

/// Sets (or, with None, removes) the password hash. The caller ends the
/// user's sessions (`auth::sessions::delete_for_user`).
pub fn set_password(conn: &mut DbConn, id: i64, hash: Option<String>) -> Result<(), PeopleError> {
    let n = diesel::update(users::table.find(id))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    if n == 0 {
        return Err(PeopleError::UserNotFound(id));
    }
    Ok(())
}

/// An agent known only by email (import): created without login rights.
pub fn find_or_create_agent(conn: &mut DbConn, email: &EmailAddress, at: i64) -> QueryResult<i64> {
    if let Some(user) = find_user_by_email(conn, email)? {
        return Ok(user.id);
    }
    diesel::insert_into(users::table)
        .values((
            users::email.eq(email.as_str()),
            users::name.eq(email.local_part()),
            users::role.eq(Role::Agent.as_str()),
            users::password_hash.eq(None::<String>),
            users::active.eq(true),
            users::created_at.eq(at),
        ))
        .returning(users::id)
        .get_result(conn)
}

/// The customer with this address, if we know one (never creates one).
pub fn find_customer_by_email(
    conn: &mut DbConn,
    email: &EmailAddress,
) -> QueryResult<Option<Customer>> {
    customers::table
        .filter(customers::email.eq(email.as_str()))
        .select(Customer::as_select())
        .first(conn)
        .optional()
}

pub fn find_customer(conn: &mut DbConn, id: i64) -> QueryResult<Option<Customer>> {
    customers::table
        .find(id)
        .select(Customer::as_select())
        .first(conn)
        .optional()
}

/// Customers are identified by email; a name given later does not overwrite one we have.
pub fn find_or_create_customer(
    conn: &mut DbConn,
    email: &EmailAddress,
    name: Option<&str>,
    at: i64,
) -> QueryResult<Customer> {
    if let Some(c) = customers::table
        .filter(customers::email.eq(email.as_str()))
        .select(Customer::as_select())
        .first(conn)
        .optional()?
    {
        return Ok(c);
    }
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(email.local_part());
    // In a savepoint: on PostgreSQL a concurrent request may create the same
    // customer first, and the unique violation must not abort our transaction.
    let inserted = conn.transaction(|c| {
        diesel::insert_into(customers::table)
            .values((
                customers::email.eq(email.as_str()),
                customers::name.eq(name),
                customers::created_at.eq(at),
            ))
            .returning(customers::id)
            .get_result(c)
    });
    let id = match inserted {
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            return customers::table
                .filter(customers::email.eq(email.as_str()))
                .select(Customer::as_select())
                .first(conn)
        }
        other => other?,
    };
    Ok(Customer {
        id,
        email: email.to_string(),
        name: name.to_string(),
        created_at: at,
    })
}

/// Resolves many customers at once (import): returns email → id, creating the missing ones.
pub fn customers_by_email(
    conn: &mut DbConn,
    wanted: &[(&EmailAddress, &str)],
    at: i64,
) -> QueryResult<HashMap<String, i64>> {
    let emails: Vec<&str> = wanted.iter().map(|(e, _)| e.as_str()).collect();
    let mut found: HashMap<String, i64> = HashMap::new();
    for chunk in emails.chunks(5000) {
        found.extend(
            customers::table
                .filter(customers::email.eq_any(chunk))
                .select((customers::email, customers::id))
                .load::<(String, i64)>(conn)?,
        );
    }
    let mut missing: Vec<(&str, &str)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (email, name) in wanted {
        if !found.contains_key(email.as_str()) && seen.insert(email.as_str()) {
            let name = if name.trim().is_empty() {
                email.local_part()
            } else {
                name.trim()
            };
            missing.push((email.as_str(), name));
        }
    }
    for chunk in missing.chunks(2000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(email, name)| {
                (
                    customers::email.eq(*email),
                    customers::name.eq(*name),
                    customers::created_at.eq(at),
                )
            })
            .collect();
        let insert = diesel::insert_into(customers::table)
            .values(rows)
            .returning((customers::email, customers::id));
        found.extend(crate::on_backend!(conn, |c| insert.get_results::<(String, i64)>(c))?);
    }
    Ok(found)
}

pub fn find_group_by_name(conn: &mut DbConn, name: &str) -> QueryResult<Option<Group>> {
    groups::table
        .filter(groups::name.eq(name.trim()))
        .select(Group::as_select())
        .first(conn)
        .optional()
}

pub fn find_group(conn: &mut DbConn, id: i64) -> QueryResult<Option<Group>> {
    groups::table
        .find(id)
        .select(Group::as_select())
        .first(conn)
        .optional()
}

/// A trimmed group name of 1 to 100 characters.
fn group_name<'a>(name: &'a str, field: &'static str) -> Result<&'a str, PeopleError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(PeopleError::Invalid {
            field,
            message: "a group name is 1 to 100 characters".into(),
        });
    }
    Ok(name)
}

pub fn find_or_create_group(
    conn: &mut DbConn,
    name: &str,
    at: i64,
) -> Result<(Group, bool), PeopleError> {
    let name = group_name(name, "group")?;
    if let Some(g) = find_group_by_name(conn, name)? {
        return Ok((g, false));
    }
    let id = diesel::insert_into(groups::table)
        .values((groups::name.eq(name), groups::created_at.eq(at)))
        .returning(groups::id)
        .get_result(conn)?;
    Ok((
        Group {
            id,
            name: name.to_string(),
            created_at: at,
        },
        true,
    ))
}

/// A new group; an existing name is an error (unlike `find_or_create_group`).
pub fn create_group(conn: &mut DbConn, name: &str, at: i64) -> Result<Group, PeopleError> {
    let name = group_name(name, "name")?;
    let (group, created) = conn
        .transaction(|c| find_or_create_group(c, name, at))
        .map_err(|e| match e {
            PeopleError::Db(d) if is_unique_violation(&d) => {
                PeopleError::GroupExists(name.to_string())
            }
            other => other,
        })?;
    if !created {
        return Err(PeopleError::GroupExists(name.to_string()));
    }
    Ok(group)
}

pub fn rename_group(conn: &mut DbConn, id: i64, name: &str) -> Result<Group, PeopleError> {
    let name = group_name(name, "name")?;
    let group = find_group(conn, id)?.ok_or(PeopleError::GroupNotFound(id))?;
    if group.name == name {
        return Ok(group);
    }
    if find_group_by_name(conn, name)?.is_some() {
        return Err(PeopleError::GroupExists(name.to_string()));
    }
    let renamed = conn.transaction(|c| {
        diesel::update(groups::table.find(id))
            .set(groups::name.eq(name))
            .execute(c)
    });
    match renamed {
        Err(e) if is_unique_violation(&e) => Err(PeopleError::GroupExists(name.to_string())),
        other => {
            other?;
            Ok(Group {
                name: name.to_string(),
                ..group
            })
        }
    }
}

/// Members of a group, by name.
pub fn group_members(conn: &mut DbConn, group_id: i64) -> QueryResult<Vec<User>> {
    group_members::table
        .inner_join(users::table)
        .filter(group_members::group_id.eq(group_id))
        .order((users::name, users::id))
        .select(User::as_select())
        .load(conn)
}

/// group id → number of members (groups without members are absent).
pub fn member_counts(conn: &mut DbConn) -> QueryResult<HashMap<i64, i64>> {
    Ok(group_members::table
        .group_by(group_members::group_id)
        .select((group_members::group_id, diesel::dsl::count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect())
}

/// user id → names of their groups, sorted (the staff list).
pub fn group_names_by_user(conn: &mut DbConn) -> QueryResult<HashMap<i64, Vec<String>>> {
    let rows: Vec<(i64, String)> = group_members::table
        .inner_join(groups::table)
        .order(groups::name)
        .select((group_members::user_id, groups::name))
        .load(conn)?;
    let mut by_user: HashMap<i64, Vec<String>> = HashMap::new();
    for (user, group) in rows {
        by_user.entry(user).or_default().push(group);
    }
    Ok(by_user)
}

/// Makes the user a member of exactly `group_ids`.
pub fn set_groups(conn: &mut DbConn, user_id: i64, group_ids: &[i64]) -> Result<(), PeopleError> {
    for &g in group_ids {
        if find_group(conn, g)?.is_none() {
            return Err(PeopleError::Invalid {
                field: "groups",
                message: format!("group {g} does not exist (any more); reload the page"),
            });
        }
    }
    diesel::delete(
        group_members::table
            .filter(group_members::user_id.eq(user_id))
            .filter(group_members::group_id.ne_all(group_ids)),
    )
    .execute(conn)?;
    for &g in group_ids {
        add_member(conn, g, user_id)?;
    }
    Ok(())
}

/// Whether the membership existed.
pub fn remove_member(conn: &mut DbConn, group_id: i64, user_id: i64) -> QueryResult<bool> {
    let n = diesel::delete(group_members::table.find((group_id, user_id))).execute(conn)?;
    Ok(n > 0)
}

pub fn add_member(conn: &mut DbConn, group_id: i64, user_id: i64) -> QueryResult<()> {
    let exists = group_members::table
        .find((group_id, user_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        diesel::insert_into(group_members::table)
            .values((
                group_members::group_id.eq(group_id),
                group_members::user_id.eq(user_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn group_ids_of(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<i64>> {
    group_members::table
        .filter(group_members::user_id.eq(user_id))
        .select(group_members::group_id)
        .load(conn)
}

pub fn is_member(conn: &mut DbConn, group_id: i64, user_id: i64) -> QueryResult<bool> {
    Ok(group_members::table
        .find((group_id, user_id))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// Every staff user, active first, by name (assignment menus, admin list).
pub fn list_staff(conn: &mut DbConn) -> QueryResult<Vec<User>> {
    users::table
        .order((users::active.desc(), users::name, users::id))
        .select(User::as_select())
        .load(conn)
}

pub fn list_groups(conn: &mut DbConn) -> QueryResult<Vec<Group>> {
    groups::table
        .order(groups::name)
        .select(Group::as_select())
        .load(conn)
}
