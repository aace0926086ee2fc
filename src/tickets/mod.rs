//! The ticket domain: the one place that changes tickets (`ops`), the
//! lifecycle rules (`state`), reads (`query`) and bulk import (`import`).

pub mod attachments;
pub mod csat;
pub mod import;
pub mod model;
pub mod notify;
pub mod ops;
pub mod query;
pub mod sla;
pub mod state;
mod types;

pub use model::{Event, Message, QueueTicket, Ticket};
pub use ops::{Assignment, Body, NewTicket, Posted};
pub use types::{Actor, Channel, EventKind, MessageKind, Priority, Role, SlaTarget, Status};

#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error("ticket {0} not found")]
    NotFound(i64),
    #[error("ticket {ticket_id}: {source}")]
    Transition {
        ticket_id: i64,
        source: state::TransitionError,
    },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Store(#[from] crate::db::DbError),
}
