//! A database for a fuzzing process: SQLite in a temporary directory
//! (in memory-backed /dev/shm where there is one, so durable commits cost
//! little), created once and shared by every input.

use std::sync::OnceLock;

use helpdesk::db::Db;

pub struct World {
    pub db: Db,
    pub dir: tempfile::TempDir,
}

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
        let db = Db::connect(&url).expect("the fuzzing database");
        World { db, dir }
    })
}
