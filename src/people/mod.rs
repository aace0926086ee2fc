//! Staff users, customers and groups.

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
    let id: i64 = diesel::insert_into(users::table)
        .values((
            users::email.eq(new.email.as_str()),
            users::name.eq(name),
            users::role.eq(new.role.as_str()),
            users::password_hash.eq(new.password_hash),
            users::active.eq(true),
            users::created_at.eq(at),
        ))
        .returning(users::id)
        .get_result(conn)?;
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

pub fn count_admins(conn: &mut DbConn) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::password_hash.is_not_null())
        .count()
        .get_result(conn)
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

pub fn find_or_create_group(
    conn: &mut DbConn,
    name: &str,
    at: i64,
) -> Result<(Group, bool), PeopleError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(PeopleError::Invalid {
            field: "group",
            message: "a group name is 1 to 100 characters".into(),
        });
    }
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
