//! The sync state of one folder of one account (table `imap_folders`).

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::schema::imap_folders;
use crate::db::{Db, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderState {
    pub uidvalidity: i64,
    /// Every message up to this UID is committed.
    pub last_uid: i64,
    /// Every message up to this UID is also marked/moved/deleted.
    pub acked_uid: i64,
}

impl FolderState {
    pub fn fresh(uidvalidity: i64) -> FolderState {
        FolderState {
            uidvalidity,
            last_uid: 0,
            acked_uid: 0,
        }
    }
}

pub fn load(db: &Db, account: &str, folder: &str) -> Result<Option<FolderState>, DbError> {
    db.query(|c| {
        imap_folders::table
            .filter(imap_folders::account.eq(account))
            .filter(imap_folders::folder.eq(folder))
            .select((
                imap_folders::uidvalidity,
                imap_folders::last_uid,
                imap_folders::acked_uid,
            ))
            .first::<(i64, i64, i64)>(c)
            .optional()
    })
    .map(|row| {
        row.map(|(uidvalidity, last_uid, acked_uid)| FolderState {
            uidvalidity,
            last_uid,
            acked_uid,
        })
    })
}

/// Writes the state (its own small transaction, after the batch's commit).
pub fn save(
    db: &Db,
    account: &str,
    folder: &str,
    state: FolderState,
    now: i64,
) -> Result<(), DbError> {
    let update = |c: &mut crate::db::DbConn| {
        diesel::update(
            imap_folders::table
                .filter(imap_folders::account.eq(account))
                .filter(imap_folders::folder.eq(folder)),
        )
        .set((
            imap_folders::uidvalidity.eq(state.uidvalidity),
            imap_folders::last_uid.eq(state.last_uid),
            imap_folders::acked_uid.eq(state.acked_uid),
            imap_folders::updated_at.eq(now),
        ))
        .execute(c)
    };
    db.write(|c| -> Result<(), DbError> {
        if update(c)? > 0 {
            return Ok(());
        }
        let inserted = c.transaction(|c| {
            diesel::insert_into(imap_folders::table)
                .values((
                    imap_folders::account.eq(account),
                    imap_folders::folder.eq(folder),
                    imap_folders::uidvalidity.eq(state.uidvalidity),
                    imap_folders::last_uid.eq(state.last_uid),
                    imap_folders::acked_uid.eq(state.acked_uid),
                    imap_folders::updated_at.eq(now),
                ))
                .execute(c)
        });
        match inserted {
            Ok(_) => Ok(()),
            // Another process inserted it meanwhile (PostgreSQL): update that.
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                update(c)?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    })
}
