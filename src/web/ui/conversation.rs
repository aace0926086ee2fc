//! A ticket's conversation as a page shows it: sanitized HTML or text with
//! quoted replies collapsed, attachments, and delivery state of our mail.
//! Shared by the agents' ticket page and the customer portal.

use std::collections::HashMap;

use super::fmt;
use crate::db::DbConn;
use crate::mail::{outbox, sanitize};
use crate::tickets::attachments::{self, Attachment};
use crate::tickets::{query, Message, MessageKind, Ticket};
use crate::web::api::views::Names;

pub struct AttachmentView {
    pub id: i64,
    pub filename: String,
    pub size: String,
    pub href: String,
}

pub struct MessageView {
    pub id: i64,
    pub kind: String,
    pub kind_label: &'static str,
    pub author: String,
    pub when: String,
    pub when_title: String,
    /// Sanitized HTML (safe to emit as is), when the message had HTML.
    pub html: Option<String>,
    pub text: String,
    pub quoted: Option<String>,
    pub attachments: Vec<AttachmentView>,
    /// Delivery of our outgoing mail: (text, class).
    pub delivery: Option<(String, &'static str)>,
}

/// Where quoted text begins: an "On … wrote:" / "-----Original Message-----"
/// line, or a run of `>` lines that lasts to the end.
pub fn split_quoted(text: &str) -> (String, Option<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let is_quote = |l: &str| l.trim_start().starts_with('>');
    let is_header = |l: &str| {
        let t = l.trim();
        (t.starts_with("On ") && t.ends_with("wrote:"))
            || t.starts_with("-----Original Message-----")
            || t.starts_with("-------- Original Message")
    };
    let mut start = None;
    for (i, l) in lines.iter().enumerate() {
        if is_header(l)
            || (is_quote(l)
                && lines[i..]
                    .iter()
                    .all(|x| is_quote(x) || x.trim().is_empty()))
        {
            start = Some(i);
            break;
        }
    }
    match start {
        Some(i) if i > 0 && lines[..i].iter().any(|l| !l.trim().is_empty()) => (
            lines[..i].join("\n").trim_end().to_string(),
            Some(lines[i..].join("\n")),
        ),
        _ => (text.trim_end().to_string(), None),
    }
}

fn kind_label(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Customer => "Customer",
        MessageKind::Agent => "Reply",
        MessageKind::Note => "Internal note",
        MessageKind::Auto => "Automatic mail",
    }
}

/// The messages of `ticket` in order, their authors named from the store
/// (the customer portal, which keeps no copy of the staff); `public_only`
/// leaves out internal notes (the customer's view).
pub fn build_named(
    conn: &mut DbConn,
    ticket: &Ticket,
    public_only: bool,
    smtp_configured: bool,
) -> diesel::QueryResult<Vec<MessageView>> {
    let messages = query::messages(conn, ticket.id)?;
    let names = Names::load(
        conn,
        messages.iter().filter_map(|m| m.author_user_id).collect(),
        messages
            .iter()
            .filter_map(|m| m.author_customer_id)
            .collect(),
        Default::default(),
    )?;
    build(conn, ticket, messages, &names, public_only, smtp_configured)
}

/// `messages` (the ticket's, in order) as the page shows them, their
/// authors named from `names`, which must hold every author (the agents'
/// ticket page names them with the rest of the page in one lookup).
pub fn build(
    conn: &mut DbConn,
    ticket: &Ticket,
    messages: Vec<Message>,
    names: &Names,
    public_only: bool,
    smtp_configured: bool,
) -> diesel::QueryResult<Vec<MessageView>> {
    let mut files: HashMap<i64, Vec<Attachment>> = HashMap::new();
    for a in attachments::of_ticket(conn, ticket.id)? {
        files.entry(a.message_id).or_default().push(a);
    }
    let states: HashMap<i64, (String, Option<String>)> =
        outbox::states_for_ticket(conn, ticket.id)?
            .into_iter()
            .filter_map(|(m, s, e)| m.map(|m| (m, (s, e))))
            .collect();
    Ok(messages
        .into_iter()
        .filter(|m| !(public_only && m.kind() == MessageKind::Note))
        .map(|m| {
            let kind = m.kind();
            let author = match kind {
                // Ours; an automatic mail that came in has its sender.
                MessageKind::Auto if m.author_customer_id.is_none() => "Helpdesk".to_string(),
                _ => names
                    .person_ref(m.author_user_id, m.author_customer_id)
                    .map(|p| {
                        if public_only || p.kind == "agent" {
                            p.name.clone()
                        } else {
                            format!("{} <{}>", p.name, p.email)
                        }
                    })
                    .unwrap_or_else(|| "Unknown".into()),
            };
            let (text, quoted) = split_quoted(&m.body_text);
            let delivery = (!public_only).then(|| states.get(&m.id)).flatten().map(
                |(status, err)| match status.as_str() {
                    "sent" => ("Sent".to_string(), "ok"),
                    "failed" => (
                        format!(
                            "Delivery failed{}",
                            err.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
                        ),
                        "breached",
                    ),
                    _ if !smtp_configured => (
                        "Queued: no SMTP server is configured, so it has not been sent".into(),
                        "warning",
                    ),
                    _ => ("Queued for sending".into(), "warning"),
                },
            );
            MessageView {
                id: m.id,
                kind_label: kind_label(kind),
                kind: m.kind.clone(),
                author,
                when: fmt::datetime(m.created_at),
                when_title: crate::time::format_ms(m.created_at),
                html: m.body_html.as_deref().map(sanitize::html),
                text,
                quoted,
                attachments: files
                    .remove(&m.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| AttachmentView {
                        href: format!(
                            "/attachments/{}/{}",
                            a.id,
                            super::forms::url_encode(&a.filename)
                        ),
                        id: a.id,
                        size: a.human_size(),
                        filename: a.filename,
                    })
                    .collect(),
                delivery,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_tail_is_split_off() {
        let (v, q) = split_quoted("Thanks!\n\nOn Mon, Ann wrote:\n> help\n> me");
        assert_eq!(v, "Thanks!");
        assert!(q.unwrap().starts_with("On Mon"));
        let (v, q) = split_quoted("Yes\n> earlier\n>\n> more\n");
        assert_eq!(v, "Yes");
        assert!(q.is_some());
        // Inline quoting followed by new text is not collapsed.
        let (v, q) = split_quoted("> question\nanswer");
        assert_eq!(v, "> question\nanswer");
        assert!(q.is_none());
        // A message that is only a quote stays visible.
        assert!(split_quoted("> all quote").1.is_none());
    }
}
