//! Mail: identifiers now; inbound and outbound pipelines land with their issues.

pub mod message_id;
