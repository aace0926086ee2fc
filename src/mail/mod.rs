//! Mail: identifiers, HTML sanitizing, the inbound pipeline and its
//! sources (MTA pipe, maildir); the outbox sender (outbound).

pub mod inbound;
pub mod message_id;
pub mod outbound;
pub mod outbox;
pub mod sanitize;
pub mod sources;
pub mod subject_tag;

/// The header every mail we send carries, with our mail domain as value
/// (`X-Helpdesk-Loop: support.example.com`). Inbound mail that carries it
/// with our domain is our own coming back (an auto-responder echoing it,
/// a forwarding loop) and is dropped with a log line.
pub const LOOP_HEADER: &str = "X-Helpdesk-Loop";
