//! Our own Message-IDs carry the ticket number and an HMAC of it, so a reply
//! that references one threads into that ticket, and a forged reference
//! (someone guessing ids) cannot attach mail to another ticket.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in the id: 96 bits, plenty against guessing.
const MAC_LEN: usize = 12;

#[derive(Clone)]
pub struct MessageIdSigner {
    key: Vec<u8>,
    domain: String,
}

impl std::fmt::Debug for MessageIdSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageIdSigner")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl MessageIdSigner {
    pub fn new(secret: &[u8], domain: &str) -> Self {
        MessageIdSigner {
            key: secret.to_vec(),
            domain: domain.to_string(),
        }
    }

    /// The host part of our Message-IDs (also the value of our loop header).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(payload.as_bytes());
        mac
    }

    /// `<hd.{ticket}.{nonce}.{mac}@{domain}>`, unique per call.
    pub fn generate(&self, ticket_id: i64) -> String {
        let mut nonce = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = format!("{ticket_id}.{}", hex::encode(nonce));
        let tag = self.mac(&payload).finalize().into_bytes();
        format!(
            "<hd.{payload}.{}@{}>",
            hex::encode(&tag[..MAC_LEN]),
            self.domain
        )
    }

    /// The ticket a Message-ID of ours names, if its signature holds.
    pub fn verify(&self, message_id: &str) -> Option<i64> {
        let inner = message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let (left, _domain) = inner.rsplit_once('@')?;
        let mut parts = left.split('.');
        let (Some("hd"), Some(ticket), Some(nonce), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let ticket_id: i64 = ticket.parse().ok()?;
        let tag = hex::decode(tag).ok()?;
        self.mac(&format!("{ticket}.{nonce}"))
            .verify_truncated_left(&tag)
            .ok()
            .filter(|_| tag.len() == MAC_LEN)?;
        Some(ticket_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_ids_verify_and_forgeries_do_not() {
        let s = MessageIdSigner::new(b"secret one", "support.example.com");
        let id = s.generate(42);
        assert!(
            id.starts_with("<hd.42.") && id.ends_with("@support.example.com>"),
            "{id}"
        );
        assert_eq!(s.verify(&id), Some(42));
        assert_ne!(s.generate(42), id, "ids must be unique");

        let forged = id.replacen("hd.42.", "hd.43.", 1);
        assert_eq!(s.verify(&forged), None);
        let other_key = MessageIdSigner::new(b"secret two", "support.example.com");
        assert_eq!(other_key.verify(&id), None);
        assert_eq!(s.verify("<random@example.com>"), None);
        assert_eq!(s.verify("<hd.1.00.00@x>"), None);
    }
}
