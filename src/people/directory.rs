//! Staff, groups and who is in which group, as one copy per process.
//!
//! Most staff pages need them (the queue's and the ticket page's menus,
//! the agent's scope) and they change rarely, so reading them on every
//! page was three statements of eight on the queue. Every change to
//! `users`, `groups` or `group_members` bumps the store's
//! `directory_version` in its own transaction (triggers, so a change made
//! by another process counts too), and the session's statement reads that
//! counter: a page whose copy is at least as new reads none of them, and
//! one that sees a newer counter loads a new copy first.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use diesel::prelude::*;

use super::{Group, User};
use crate::db::schema::{directory_version, group_members};
use crate::db::{Db, DbConn, DbError};

/// A snapshot, at least as new as the counter it is labelled with.
#[derive(Debug)]
pub struct Directory {
    version: i64,
    /// Every staff user, as `list_staff` orders them.
    pub staff: Vec<User>,
    /// Every group, as `list_groups` orders them.
    pub groups: Vec<Group>,
    /// user id → their group ids, ascending.
    memberships: HashMap<i64, Vec<i64>>,
}

impl Directory {
    /// Reads the counter first, then the rows: rows read after it hold at
    /// least every change it counts, so the copy is never labelled newer
    /// than it is (a change committed in between makes the next page that
    /// sees it load again).
    pub fn load(conn: &mut DbConn) -> QueryResult<Directory> {
        let version = current_version(conn)?;
        let staff = super::list_staff(conn)?;
        let groups = super::list_groups(conn)?;
        let pairs: Vec<(i64, i64)> = group_members::table
            .select((group_members::user_id, group_members::group_id))
            .order((group_members::user_id, group_members::group_id))
            .load(conn)?;
        let mut memberships: HashMap<i64, Vec<i64>> = HashMap::new();
        for (user, group) in pairs {
            memberships.entry(user).or_default().push(group);
        }
        Ok(Directory {
            version,
            staff,
            groups,
            memberships,
        })
    }

    /// The groups `user_id` is a member of, ascending.
    pub fn group_ids_of(&self, user_id: i64) -> Vec<i64> {
        self.memberships.get(&user_id).cloned().unwrap_or_default()
    }
}

/// The store's counter (0 if its row is missing: then every copy is
/// loaded anew, never trusted for longer than it should be).
pub fn current_version(conn: &mut DbConn) -> QueryResult<i64> {
    Ok(directory_version::table
        .select(directory_version::n)
        .first::<i64>(conn)
        .optional()?
        .unwrap_or(0))
}

/// The process's copy.
#[derive(Debug, Default)]
pub struct DirectoryCache {
    current: RwLock<Option<Arc<Directory>>>,
}

impl DirectoryCache {
    /// A copy at least as new as `seen` (the counter a statement of the
    /// caller's read), loaded from `db` only when the kept one is older.
    pub fn at_least(&self, db: &Db, seen: i64) -> Result<Arc<Directory>, DbError> {
        if let Some(d) = self.kept().filter(|d| d.version >= seen && seen > 0) {
            return Ok(d);
        }
        let fresh = Arc::new(db.query(Directory::load)?);
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_none_or(|c| c.version < fresh.version) {
            *current = Some(fresh.clone());
        }
        Ok(fresh)
    }

    fn kept(&self) -> Option<Arc<Directory>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
