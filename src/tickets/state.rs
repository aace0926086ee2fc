//! The lifecycle rules, as pure functions: which action is legal in which
//! status, and what status follows. The store code in `ops` only applies them.

use super::types::{EventKind, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CustomerMessage,
    /// A public reply; `then` is the status the agent chose (open, pending, resolved).
    AgentReply {
        then: Option<Status>,
    },
    Note,
    AutoMessage,
    Assign,
    SetPriority,
    Escalate,
    Resolve,
    Reopen,
    Close,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::CustomerMessage => "add a customer message to",
            Action::AgentReply { .. } => "reply to",
            Action::Note => "add a note to",
            Action::AutoMessage => "send an automatic message on",
            Action::Assign => "assign",
            Action::SetPriority => "change the priority of",
            Action::Escalate => "escalate",
            Action::Resolve => "resolve",
            Action::Reopen => "reopen",
            Action::Close => "close",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {} a ticket that is {status}", action.name())]
    NotAllowed { action: Action, status: Status },
    #[error("a reply can leave the ticket open, pending or resolved, not {0}")]
    BadReplyStatus(Status),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The action applies to this ticket; its status becomes `to`.
    Stay { to: Status },
    /// The ticket is closed: the message opens a new ticket linked to it.
    FollowUp,
}

pub fn apply(status: Status, action: Action) -> Result<Outcome, TransitionError> {
    use Status::*;
    let refuse = || TransitionError::NotAllowed { action, status };
    let to = match action {
        Action::CustomerMessage => match status {
            New => New,
            Open | Pending | Resolved => Open,
            Closed => return Ok(Outcome::FollowUp),
        },
        Action::AgentReply { then } => {
            if status == Closed {
                return Err(refuse());
            }
            match then {
                None if status == New => Open,
                None => status,
                Some(s @ (Open | Pending | Resolved)) => s,
                Some(other) => return Err(TransitionError::BadReplyStatus(other)),
            }
        }
        Action::Note => status,
        Action::AutoMessage => status,
        Action::Assign | Action::SetPriority => match status {
            Closed => return Err(refuse()),
            s => s,
        },
        Action::Escalate => match status {
            Resolved | Closed => return Err(refuse()),
            s => s,
        },
        Action::Resolve => match status {
            New | Open | Pending => Resolved,
            Resolved | Closed => return Err(refuse()),
        },
        Action::Reopen => match status {
            Resolved | Closed => Open,
            New | Open | Pending => return Err(refuse()),
        },
        Action::Close => match status {
            Resolved => Closed,
            _ => return Err(refuse()),
        },
    };
    Ok(Outcome::Stay { to })
}

/// The status event a move from `from` to `to` records: `reopened` when a
/// resolved or closed ticket goes back to open (METRICS.md), otherwise
/// `status_changed`; nothing when the status stays.
pub fn status_event(from: Status, to: Status) -> Option<EventKind> {
    if from == to {
        None
    } else if matches!(from, Status::Resolved | Status::Closed) && to == Status::Open {
        Some(EventKind::Reopened)
    } else {
        Some(EventKind::StatusChanged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn to(status: Status, action: Action) -> Result<Status, TransitionError> {
        match apply(status, action)? {
            Outcome::Stay { to } => Ok(to),
            Outcome::FollowUp => panic!("unexpected follow-up"),
        }
    }

    fn refused(status: Status, action: Action) -> bool {
        matches!(
            apply(status, action),
            Err(TransitionError::NotAllowed { .. })
        )
    }

    #[test]
    fn customer_message() {
        let a = Action::CustomerMessage;
        assert_eq!(to(New, a), Ok(New));
        assert_eq!(to(Open, a), Ok(Open));
        assert_eq!(to(Pending, a), Ok(Open));
        assert_eq!(to(Resolved, a), Ok(Open));
        assert_eq!(apply(Closed, a), Ok(Outcome::FollowUp));
    }

    #[test]
    fn agent_reply_default_status() {
        let a = Action::AgentReply { then: None };
        assert_eq!(to(New, a), Ok(Open));
        assert_eq!(to(Open, a), Ok(Open));
        assert_eq!(to(Pending, a), Ok(Pending));
        assert_eq!(to(Resolved, a), Ok(Resolved));
        assert!(refused(Closed, a));
    }

    #[test]
    fn agent_reply_chosen_status() {
        for from in [New, Open, Pending, Resolved] {
            for then in [Open, Pending, Resolved] {
                assert_eq!(to(from, Action::AgentReply { then: Some(then) }), Ok(then));
            }
            for then in [New, Closed] {
                assert_eq!(
                    apply(from, Action::AgentReply { then: Some(then) }),
                    Err(TransitionError::BadReplyStatus(then))
                );
            }
        }
        assert!(refused(Closed, Action::AgentReply { then: Some(Open) }));
    }

    #[test]
    fn notes_and_auto_messages_never_change_status() {
        for s in Status::ALL {
            assert_eq!(to(*s, Action::Note), Ok(*s));
            assert_eq!(to(*s, Action::AutoMessage), Ok(*s));
        }
    }

    #[test]
    fn assign_and_priority_everywhere_but_closed() {
        for a in [Action::Assign, Action::SetPriority] {
            for s in [New, Open, Pending, Resolved] {
                assert_eq!(to(s, a), Ok(s));
            }
            assert!(refused(Closed, a));
        }
    }

    #[test]
    fn escalate_only_active_tickets() {
        for s in [New, Open, Pending] {
            assert_eq!(to(s, Action::Escalate), Ok(s));
        }
        assert!(refused(Resolved, Action::Escalate));
        assert!(refused(Closed, Action::Escalate));
    }

    #[test]
    fn resolve() {
        for s in [New, Open, Pending] {
            assert_eq!(to(s, Action::Resolve), Ok(Resolved));
        }
        assert!(refused(Resolved, Action::Resolve));
        assert!(refused(Closed, Action::Resolve));
    }

    #[test]
    fn reopen() {
        assert_eq!(to(Resolved, Action::Reopen), Ok(Open));
        assert_eq!(to(Closed, Action::Reopen), Ok(Open));
        for s in [New, Open, Pending] {
            assert!(refused(s, Action::Reopen));
        }
    }

    #[test]
    fn close_only_resolved() {
        assert_eq!(to(Resolved, Action::Close), Ok(Closed));
        for s in [New, Open, Pending, Closed] {
            assert!(refused(s, Action::Close));
        }
    }

    #[test]
    fn status_events() {
        assert_eq!(status_event(Open, Open), None);
        assert_eq!(status_event(New, Open), Some(EventKind::StatusChanged));
        assert_eq!(status_event(Pending, Open), Some(EventKind::StatusChanged));
        assert_eq!(status_event(Resolved, Open), Some(EventKind::Reopened));
        assert_eq!(status_event(Closed, Open), Some(EventKind::Reopened));
        assert_eq!(
            status_event(Resolved, Closed),
            Some(EventKind::StatusChanged)
        );
    }

    #[test]
    fn error_messages_read_well() {
        let e = apply(Closed, Action::Resolve).unwrap_err();
        assert_eq!(e.to_string(), "cannot resolve a ticket that is closed");
    }
}
