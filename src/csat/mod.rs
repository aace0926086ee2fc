//! Satisfaction surveys outside the ticket domain: the link key, the survey
//! mail and the job that sends surveys and reminders (`tickets::csat` holds
//! the rules and the store changes).

pub mod job;
pub mod mail;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Signs survey links: a link's token is an HMAC of its survey under a key
/// derived from the server secret, so the job can put the same link in the
/// reminder while the store keeps only the token's hash.
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl LinkKey {
    pub fn derive(secret: &[u8]) -> LinkKey {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"helpdesk csat link key v1");
        LinkKey(mac.finalize().into_bytes().to_vec())
    }

    /// The token of survey `id` (created at `created_at`).
    pub fn token(&self, id: i64, created_at: i64) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("csat:{id}:{created_at}").as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_depend_on_key_and_survey() {
        let k = LinkKey::derive(b"secret");
        let t = k.token(1, 1000);
        assert_eq!(t, k.token(1, 1000), "the reminder gets the same link");
        assert_ne!(t, k.token(2, 1000));
        assert_ne!(t, k.token(1, 1001));
        assert_ne!(t, LinkKey::derive(b"other").token(1, 1000));
        assert_eq!(t.len(), 43);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
