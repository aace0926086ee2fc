//! What every page shows around its content: the navigation for who is
//! signed in, the CSRF token for its forms, a notice after an action, and
//! the versioned asset URLs.

use super::assets;
use crate::people::{Customer, User};
use crate::tickets::Role;

pub struct Chrome {
    pub title: String,
    pub csrf: String,
    pub staff_name: Option<String>,
    pub customer_name: Option<String>,
    pub is_manager: bool,
    pub is_admin: bool,
    pub notice: Option<&'static str>,
    /// Which top-level section to mark as current.
    pub section: &'static str,
}

impl Chrome {
    pub fn new(title: impl Into<String>, csrf: &str) -> Chrome {
        Chrome {
            title: title.into(),
            csrf: csrf.to_string(),
            staff_name: None,
            customer_name: None,
            is_manager: false,
            is_admin: false,
            notice: None,
            section: "",
        }
    }

    pub fn staff(mut self, user: &User) -> Chrome {
        self.staff_name = Some(user.name.clone());
        self.is_manager = matches!(user.role(), Role::Manager | Role::Admin);
        self.is_admin = user.role() == Role::Admin;
        self
    }

    pub fn customer(mut self, c: &Customer) -> Chrome {
        self.customer_name = Some(c.name.clone());
        self
    }

    pub fn section(mut self, s: &'static str) -> Chrome {
        self.section = s;
        self
    }

    /// The notice for a `?done=` code set by the action that redirected here.
    pub fn notice(mut self, code: Option<&str>) -> Chrome {
        self.notice = code.and_then(notice_text);
        self
    }

    pub fn css(&self) -> &'static str {
        assets::url("app.css")
    }

    pub fn js(&self) -> &'static str {
        assets::url("app.js")
    }

    pub fn current(&self, s: &str) -> &'static str {
        if self.section == s {
            "page"
        } else {
            "false"
        }
    }
}

/// Fixed texts, so a link cannot put words on our page.
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "reply" => "Reply queued for sending.",
        "reply_resolved" => "Reply queued and ticket resolved.",
        "note" => "Internal note added.",
        "assign" => "Assignment saved.",
        "priority" => "Priority changed.",
        "escalate" => "Ticket escalated.",
        "resolve" => "Ticket resolved.",
        "reopen" => "Ticket reopened.",
        "close" => "Ticket closed.",
        "unchanged" => "Nothing changed.",
        "csat_done" => "Follow-up recorded; the ticket left the CSAT follow-up view.",
        "bulk" => "Selected tickets updated.",
        "saved" => "Saved.",
        "deleted" => "Deleted.",
        "created" => "Created.",
        "sla_created" => "Policy created; open tickets' due times were recomputed.",
        "sla_saved" => "Saved; open tickets' due times were recomputed.",
        "sla_deleted" => "Policy deleted; open tickets' due times were recomputed.",
        "member_added" => "Member added.",
        "member_removed" => "Member removed.",
        "password_changed" => "Password changed. Sign in again with the new password.",
        "signed_out" => "You are signed out.",
        "sent" => "Message sent.",
        "signed_in" => "You are signed in.",
        "retried" => "The mail was processed and has left the quarantine.",
        "retry_failed" => {
            "The mail could not be processed again; it stays in the quarantine with the new error."
        }
        "follow_up" => {
            "That request was closed, so your message opened this new request, linked to it."
        }
        _ => return None,
    })
}
