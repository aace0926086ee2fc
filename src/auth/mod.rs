//! Credentials: argon2id passwords, hashed API bearer tokens, browser
//! sessions, customers' sign-in links, and sign-in rate limits.

pub mod password;
pub mod portal_links;
pub mod ratelimit;
pub mod sessions;
pub mod tokens;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

/// 256 random bits, URL-safe: session cookies, sign-in links, CSRF seeds.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
