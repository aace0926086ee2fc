//! Credentials: argon2id passwords and hashed API bearer tokens.

pub mod password;
pub mod tokens;
