//! CSRF tokens: an HMAC, under a key derived from the server secret, of the
//! browser's session cookie (or, before sign-in, of a random per-browser
//! seed cookie). A page from another site cannot read either cookie, so it
//! cannot forge the token; binding it to the session means a token seen by
//! one person is useless in another person's browser.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The form field every POST carries.
pub const FIELD: &str = "csrf";

#[derive(Clone)]
pub struct CsrfKey(Vec<u8>);

impl CsrfKey {
    pub fn derive(secret: &[u8]) -> CsrfKey {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"helpdesk csrf key v1");
        CsrfKey(mac.finalize().into_bytes().to_vec())
    }

    fn mac(&self, seed: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(seed.as_bytes());
        mac
    }

    pub fn token(&self, seed: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(seed).finalize().into_bytes())
    }

    /// Constant-time check of a submitted token.
    pub fn verify(&self, seed: &str, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token.trim()) {
            Ok(tag) => self.mac(seed).verify_slice(&tag).is_ok(),
            Err(_) => false,
        }
    }
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_to_seed_and_key() {
        let k = CsrfKey::derive(b"secret");
        let t = k.token("seed-a");
        assert!(k.verify("seed-a", &t));
        assert!(!k.verify("seed-b", &t));
        assert!(!k.verify("seed-a", ""));
        assert!(!k.verify("seed-a", "not base64 !"));
        assert!(!CsrfKey::derive(b"other").verify("seed-a", &t));
    }
}
