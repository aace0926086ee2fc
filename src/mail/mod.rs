//! Mail: identifiers and HTML sanitizing now; the inbound and outbound
//! pipelines land with their issues.

pub mod message_id;
pub mod outbox;
pub mod sanitize;
