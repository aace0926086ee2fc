//! The survey mail and its reminder: text and HTML from askama templates,
//! five one-click rating links and an opt-out link. The ticket keeps a copy
//! of the text with the links left out (they are personal to the customer).

use askama::Template;

use crate::tickets::csat::{rating_label, LINK_LIFETIME_DAYS};
use crate::tickets::ops::tagged_subject;
use crate::tickets::Ticket;

pub struct Choice {
    pub rating: i32,
    pub label: &'static str,
    pub url: String,
}

#[derive(Template)]
#[template(path = "mail/csat.txt")]
struct Text<'a> {
    headline: &'a str,
    reminder: bool,
    choices: &'a [Choice],
    opt_out: &'a str,
    days: u64,
}

#[derive(Template)]
#[template(path = "mail/csat.html")]
struct Html<'a> {
    headline: &'a str,
    reminder: bool,
    choices: &'a [Choice],
    opt_out: &'a str,
    days: u64,
}

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The text as the ticket shows it, without the personal links.
    pub history: String,
}

/// Where a link token's pages are.
pub fn link(base_url: &str, token: &str) -> String {
    format!("{}/csat/{token}", base_url.trim_end_matches('/'))
}

fn choices(base: &str) -> Vec<Choice> {
    (1..=5)
        .rev()
        .map(|r| Choice {
            rating: r,
            label: rating_label(r),
            url: format!("{base}?rating={r}"),
        })
        .collect()
}

pub fn render(
    base_url: &str,
    token: &str,
    ticket: &Ticket,
    reminder: bool,
) -> Result<Rendered, askama::Error> {
    let headline = format!(
        "How did we do on {}?",
        tagged_subject(&ticket.subject, ticket.id)
    );
    let base = link(base_url, token);
    let opt_out = format!("{base}/opt-out");
    let list = choices(&base);
    let text = Text {
        headline: &headline,
        reminder,
        choices: &list,
        opt_out: &opt_out,
        days: LINK_LIFETIME_DAYS,
    }
    .render()?;
    let html = Html {
        headline: &headline,
        reminder,
        choices: &list,
        opt_out: &opt_out,
        days: LINK_LIFETIME_DAYS,
    }
    .render()?;
    // The same text, each link replaced by a mark.
    let hidden = choices("[personal link]");
    let history = Text {
        headline: &headline,
        reminder,
        choices: &hidden,
        opt_out: "[personal opt-out link]",
        days: LINK_LIFETIME_DAYS,
    }
    .render()?;
    let subject = if reminder {
        format!("Reminder: {headline}")
    } else {
        headline.clone()
    };
    Ok(Rendered {
        subject,
        text,
        html,
        history,
    })
}
