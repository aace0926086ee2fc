//! The ticket vocabulary, stored as text and parsed at the edges.

use std::fmt;
use std::str::FromStr;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        concat!("{:?} is not a ", $what, " (expected one of: {})"),
                        s,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

text_enum!(
    /// Lifecycle: new → open → pending → resolved → closed.
    Status, "status" {
        New => "new",
        Open => "open",
        Pending => "pending",
        Resolved => "resolved",
        Closed => "closed",
    }
);

text_enum!(Priority, "priority" {
    Low => "low",
    Normal => "normal",
    High => "high",
    Urgent => "urgent",
});

text_enum!(Channel, "channel" {
    Email => "email",
    Web => "web",
    Agent => "agent",
    Api => "api",
    Import => "import",
});

text_enum!(
    /// Event types of METRICS.md: the reports read nothing else.
    EventKind, "event type" {
        Created => "created",
        CustomerMessage => "customer_message",
        AgentReply => "agent_reply",
        Note => "note",
        AutoMessage => "auto_message",
        StatusChanged => "status_changed",
        Reopened => "reopened",
        Escalated => "escalated",
        Assigned => "assigned",
        PriorityChanged => "priority_changed",
        SlaBreached => "sla_breached",
        CsatSent => "csat_sent",
        CsatReceived => "csat_received",
    }
);

text_enum!(MessageKind, "message kind" {
    Customer => "customer",
    Agent => "agent",
    Note => "note",
    Auto => "auto",
});

text_enum!(Role, "role" {
    Agent => "agent",
    Manager => "manager",
    Admin => "admin",
});

text_enum!(SlaTarget, "SLA target" {
    FirstResponse => "first_response",
    Resolution => "resolution",
});

impl Status {
    /// Counted in the backlog.
    pub fn is_active(self) -> bool {
        matches!(self, Status::New | Status::Open | Status::Pending)
    }
}

/// Who made a change; recorded on the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Agent(i64),
    Customer(i64),
    System,
}

impl Actor {
    pub fn user_id(self) -> Option<i64> {
        match self {
            Actor::Agent(id) => Some(id),
            _ => None,
        }
    }

    pub fn customer_id(self) -> Option<i64> {
        match self {
            Actor::Customer(id) => Some(id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_clear_errors() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
        }
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), *k);
        }
        let err = "solved".parse::<Status>().unwrap_err();
        assert!(
            err.contains("not a status") && err.contains("resolved"),
            "{err}"
        );
        assert_eq!(
            serde_json::from_str::<Priority>("\"urgent\"").unwrap(),
            Priority::Urgent
        );
        assert!(serde_json::from_str::<Priority>("\"asap\"").is_err());
    }
}
