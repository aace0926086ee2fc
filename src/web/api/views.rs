//! The JSON shapes of tickets, messages and events. Names of people and
//! groups are looked up in bulk for a whole page.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{customers, groups, users};
use crate::db::DbConn;
use crate::tickets::{query, Event, Message, Ticket};
use crate::time::format_ms;

#[derive(Serialize, Clone)]
pub struct PersonRef {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: i64,
    pub email: String,
    pub name: String,
}

#[derive(Serialize, Clone)]
pub struct GroupRef {
    pub id: i64,
    pub name: String,
}

#[derive(Serialize)]
pub struct TicketView {
    pub id: i64,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub channel: String,
    pub escalation_level: i32,
    pub group: Option<GroupRef>,
    pub assignee: Option<PersonRef>,
    pub requester: Option<PersonRef>,
    pub external_id: Option<String>,
    pub parent_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    pub first_responded_at: Option<String>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    pub first_response_due_at: Option<String>,
    pub resolution_due_at: Option<String>,
    /// The SLA policy and its clocks; null when no policy applies.
    pub sla: Option<SlaView>,
}

#[derive(Serialize)]
pub struct SlaView {
    pub policy: GroupRef,
    pub clocks: Vec<ClockJson>,
}

#[derive(Serialize)]
pub struct ClockJson {
    pub target: &'static str,
    /// ok, warning, breached, paused, met or missed.
    pub state: &'static str,
    pub due_at: Option<String>,
    /// Business seconds left (negative: overdue by) for running and paused clocks.
    pub remaining_business_s: Option<i64>,
}

#[derive(Serialize)]
pub struct MessageView {
    pub id: i64,
    pub kind: String,
    pub author: Option<PersonRef>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub mail_message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub created_at: String,
}

#[derive(Serialize)]
pub struct EventView {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: String,
    pub actor: Option<PersonRef>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub data: serde_json::Value,
}

#[derive(Serialize)]
pub struct DetailView {
    pub ticket: TicketView,
    pub participants: Vec<PersonRef>,
    pub messages: Vec<MessageView>,
    pub events: Vec<EventView>,
}

/// Names for the ids a set of rows mentions.
#[derive(Default)]
pub(crate) struct Names {
    pub users: HashMap<i64, PersonRef>,
    pub customers: HashMap<i64, PersonRef>,
    pub groups: HashMap<i64, GroupRef>,
    /// Policies, loaded only when a row has one (`with_sla`).
    pub sla: Option<crate::sla::policy::Book>,
    pub now: i64,
}

impl Names {
    pub fn load(
        conn: &mut DbConn,
        user_ids: HashSet<i64>,
        customer_ids: HashSet<i64>,
        group_ids: HashSet<i64>,
    ) -> QueryResult<Names> {
        use crate::db::id_list::id_in;
        let mut n = Names {
            now: crate::time::now_ms(),
            ..Names::default()
        };
        if !user_ids.is_empty() {
            let ids: Vec<i64> = user_ids.into_iter().collect();
            for (id, email, name) in users::table
                .filter(id_in(conn, users::id, &ids))
                .select((users::id, users::email, users::name))
                .load::<(i64, String, String)>(conn)?
            {
                n.users.insert(
                    id,
                    PersonRef {
                        kind: "agent",
                        id,
                        email,
                        name,
                    },
                );
            }
        }
        if !customer_ids.is_empty() {
            let ids: Vec<i64> = customer_ids.into_iter().collect();
            for (id, email, name) in customers::table
                .filter(id_in(conn, customers::id, &ids))
                .select((customers::id, customers::email, customers::name))
                .load::<(i64, String, String)>(conn)?
            {
                n.customers.insert(
                    id,
                    PersonRef {
                        kind: "customer",
                        id,
                        email,
                        name,
                    },
                );
            }
        }
        if !group_ids.is_empty() {
            let ids: Vec<i64> = group_ids.into_iter().collect();
            for (id, name) in groups::table
                .filter(id_in(conn, groups::id, &ids))
                .select((groups::id, groups::name))
                .load::<(i64, String)>(conn)?
            {
                n.groups.insert(id, GroupRef { id, name });
            }
        }
        Ok(n)
    }

    /// Every staff user and group named from `directory`, and the
    /// customers `customer_ids` from the store: one statement.
    pub fn load_in(
        conn: &mut DbConn,
        directory: &crate::people::directory::Directory,
        customer_ids: HashSet<i64>,
    ) -> QueryResult<Names> {
        let mut n = Names::load(conn, HashSet::new(), customer_ids, HashSet::new())?;
        for u in &directory.staff {
            let person = PersonRef {
                kind: "agent",
                id: u.id,
                email: u.email.clone(),
                name: u.name.clone(),
            };
            n.users.insert(u.id, person);
        }
        for g in &directory.groups {
            let group = GroupRef {
                id: g.id,
                name: g.name.clone(),
            };
            n.groups.insert(g.id, group);
        }
        Ok(n)
    }

    pub fn person(&self, user: Option<i64>, customer: Option<i64>) -> Option<PersonRef> {
        self.person_ref(user, customer).cloned()
    }

    /// `person` without the copy (a page naming hundreds of authors needs
    /// only their names).
    pub fn person_ref(&self, user: Option<i64>, customer: Option<i64>) -> Option<&PersonRef> {
        user.and_then(|id| self.users.get(&id))
            .or_else(|| customer.and_then(|id| self.customers.get(&id)))
    }

    /// Loads the SLA policies when any of `rows` is timed by one.
    pub fn with_sla(mut self, conn: &mut DbConn, rows: &[Ticket]) -> QueryResult<Names> {
        if rows.iter().any(|t| t.sla_policy_id.is_some()) {
            self.sla = Some(crate::sla::policy::Book::load(conn)?);
        }
        Ok(self)
    }

    fn sla_of(&self, t: &Ticket) -> Option<SlaView> {
        let rules = self.sla.as_ref()?.by_id(t.sla_policy_id?)?;
        Some(SlaView {
            policy: GroupRef {
                id: rules.policy.id,
                name: rules.policy.name.clone(),
            },
            clocks: crate::tickets::sla::view(t, Some(rules), self.now)
                .into_iter()
                .map(|v| ClockJson {
                    target: v.target.as_str(),
                    state: v.state.as_str(),
                    due_at: v.due_at.map(format_ms),
                    remaining_business_s: v.remaining_ms.map(|ms| ms / 1000),
                })
                .collect(),
        })
    }

    fn ticket(&self, t: Ticket) -> TicketView {
        TicketView {
            sla: self.sla_of(&t),
            id: t.id,
            status: t.status,
            priority: t.priority,
            channel: t.channel,
            escalation_level: t.escalation_level,
            group: t.group_id.and_then(|g| self.groups.get(&g).cloned()),
            assignee: self.person(t.assignee_id, None),
            requester: self.person(None, Some(t.requester_id)),
            subject: t.subject,
            external_id: t.external_id,
            parent_id: t.parent_id,
            created_at: format_ms(t.created_at),
            updated_at: format_ms(t.updated_at),
            first_responded_at: t.first_responded_at.map(format_ms),
            resolved_at: t.resolved_at.map(format_ms),
            closed_at: t.closed_at.map(format_ms),
            first_response_due_at: t.first_response_due_at.map(format_ms),
            resolution_due_at: t.resolution_due_at.map(format_ms),
        }
    }
}

pub(crate) fn ids_of(tickets: &[Ticket]) -> (HashSet<i64>, HashSet<i64>, HashSet<i64>) {
    (
        tickets.iter().filter_map(|t| t.assignee_id).collect(),
        tickets.iter().map(|t| t.requester_id).collect(),
        tickets.iter().filter_map(|t| t.group_id).collect(),
    )
}

pub fn tickets(conn: &mut DbConn, rows: Vec<Ticket>) -> QueryResult<Vec<TicketView>> {
    let (u, c, g) = ids_of(&rows);
    let names = Names::load(conn, u, c, g)?.with_sla(conn, &rows)?;
    Ok(rows.into_iter().map(|t| names.ticket(t)).collect())
}

pub fn ticket(conn: &mut DbConn, t: Ticket) -> QueryResult<TicketView> {
    let (u, c, g) = ids_of(std::slice::from_ref(&t));
    Ok(Names::load(conn, u, c, g)?
        .with_sla(conn, std::slice::from_ref(&t))?
        .ticket(t))
}

pub fn detail(conn: &mut DbConn, t: Ticket) -> QueryResult<DetailView> {
    let messages: Vec<Message> = query::messages(conn, t.id)?;
    let events: Vec<Event> = query::events(conn, t.id)?;
    let participants = query::participants(conn, t.id)?;
    let (mut u, mut c, g) = ids_of(std::slice::from_ref(&t));
    u.extend(messages.iter().filter_map(|m| m.author_user_id));
    u.extend(events.iter().filter_map(|e| e.actor_user_id));
    c.extend(messages.iter().filter_map(|m| m.author_customer_id));
    c.extend(events.iter().filter_map(|e| e.actor_customer_id));
    let names = Names::load(conn, u, c, g)?.with_sla(conn, std::slice::from_ref(&t))?;
    Ok(DetailView {
        participants: participants
            .into_iter()
            .map(|p| PersonRef {
                kind: "customer",
                id: p.id,
                email: p.email,
                name: p.name,
            })
            .collect(),
        messages: messages
            .into_iter()
            .map(|m| MessageView {
                id: m.id,
                author: names.person(m.author_user_id, m.author_customer_id),
                kind: m.kind,
                body_text: m.body_text,
                body_html: m.body_html,
                mail_message_id: m.mail_message_id,
                in_reply_to: m.mail_in_reply_to,
                created_at: format_ms(m.created_at),
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| EventView {
                id: e.id,
                actor: names.person(e.actor_user_id, e.actor_customer_id),
                kind: e.kind,
                at: format_ms(e.at),
                from: e.from_value,
                to: e.to_value,
                data: serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
        ticket: names.ticket(t),
    })
}
