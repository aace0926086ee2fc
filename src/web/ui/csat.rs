//! The survey pages customers reach from the survey mail, without signing
//! in. A GET only shows a form (mail scanners fetch links: they must not
//! vote); the POST, with the visitor's CSRF token, records the rating. The
//! same for the opt-out link.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::forms::Form;
use super::session::Visitor;
use super::{blocking, html, Chrome, PageError, Reply};
use crate::tickets::csat::{self, Answer, Link, LinkView, MAX_COMMENT_CHARS};
use crate::tickets::ops::tagged_subject;
use crate::time::now_ms;
use crate::web::routes::{Access, Routes};
use crate::web::AppState;

pub fn routes(r: &mut Routes) {
    r.get(Access::Public, "/csat/{token}", show)
        .post(Access::Public, "/csat/{token}", rate)
        .get(Access::Public, "/csat/{token}/opt-out", opt_out_form)
        .post(Access::Public, "/csat/{token}/opt-out", opt_out);
}

pub struct Choice {
    pub value: i32,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "csat.html")]
struct SurveyPage {
    chrome: Chrome,
    /// Empty unless the form is shown.
    action: String,
    ticket: String,
    choices: Vec<Choice>,
    comment: String,
    max_comment: usize,
    error: Option<String>,
    /// A heading and sentence instead of the form.
    message: Option<(&'static str, String)>,
    opt_out_href: String,
}

#[derive(Template)]
#[template(path = "csat_opt_out.html")]
struct OptOutPage {
    chrome: Chrome,
    action: String,
    message: Option<(&'static str, String)>,
}

fn chrome(v: &Visitor, title: &str) -> Chrome {
    Chrome::new(title, &v.csrf).section("portal")
}

fn choices(selected: Option<i32>) -> Vec<Choice> {
    (1..=5)
        .rev()
        .map(|r| Choice {
            value: r,
            label: csat::rating_label(r),
            selected: Some(r) == selected,
        })
        .collect()
}

/// A rating as typed: 1 to 5, nothing else.
fn parse_rating(raw: Option<&str>) -> Option<i32> {
    raw.map(str::trim)
        .and_then(|r| r.parse::<i32>().ok())
        .filter(|r| (1..=5).contains(r))
}

fn ticket_label(v: &LinkView) -> String {
    tagged_subject(&v.subject, v.ticket_id)
}

fn message_page(
    v: &Visitor,
    status: StatusCode,
    title: &'static str,
    text: String,
) -> Result<Reply, PageError> {
    html(
        status,
        &SurveyPage {
            chrome: chrome(v, title),
            action: String::new(),
            ticket: String::new(),
            choices: Vec::new(),
            comment: String::new(),
            max_comment: MAX_COMMENT_CHARS,
            error: None,
            message: Some((title, text)),
            opt_out_href: String::new(),
        },
    )
}

fn unknown(v: &Visitor) -> Result<Reply, PageError> {
    message_page(
        v,
        StatusCode::NOT_FOUND,
        "This survey link is not valid",
        "The link may be incomplete: copy the whole address from the mail, or use the link in the newest survey mail.".into(),
    )
}

fn expired(v: &Visitor) -> Result<Reply, PageError> {
    message_page(
        v,
        StatusCode::GONE,
        "This survey has closed",
        format!(
            "Survey links work for {} days after we send them. Thank you anyway: if something is still wrong, just write to us.",
            csat::LINK_LIFETIME_DAYS
        ),
    )
}

fn already(v: &Visitor, status: StatusCode, view: &LinkView) -> Result<Reply, PageError> {
    let rating = view
        .rating
        .map(|r| format!(" ({r} of 5: {})", csat::rating_label(r)))
        .unwrap_or_default();
    message_page(
        v,
        status,
        "Thank you: your rating is already recorded",
        format!(
            "We already have your rating for {}{rating}. Each survey counts once.",
            ticket_label(view)
        ),
    )
}

fn form(
    v: &Visitor,
    status: StatusCode,
    token: &str,
    view: &LinkView,
    selected: Option<i32>,
    comment: String,
    error: Option<String>,
) -> Result<Reply, PageError> {
    html(
        status,
        &SurveyPage {
            chrome: chrome(v, "How did we do?"),
            action: format!("/csat/{token}"),
            ticket: ticket_label(view),
            choices: choices(selected),
            comment,
            max_comment: MAX_COMMENT_CHARS,
            error,
            message: None,
            opt_out_href: format!("/csat/{token}/opt-out"),
        },
    )
}

#[derive(Deserialize)]
struct RatingQuery {
    rating: Option<String>,
}

/// Shows the form with the clicked rating chosen; records nothing.
async fn show(
    state: web::Data<AppState>,
    v: Visitor,
    token: web::Path<String>,
    q: web::Query<RatingQuery>,
) -> Result<Reply, PageError> {
    let token = token.into_inner();
    let selected = parse_rating(q.rating.as_deref());
    let t = token.clone();
    let link = blocking(move || {
        state
            .db
            .query(|c| csat::check(c, &t, now_ms()))
            .map_err(PageError::from)
    })
    .await?;
    match link {
        Link::Open(view) => form(
            &v,
            StatusCode::OK,
            &token,
            &view,
            selected,
            String::new(),
            None,
        ),
        Link::Answered(view) => already(&v, StatusCode::OK, &view),
        Link::Expired => expired(&v),
        Link::Unknown => unknown(&v),
    }
}

#[derive(Deserialize)]
struct RatingForm {
    rating: Option<String>,
    comment: Option<String>,
}

enum Outcome {
    Answer(Answer),
    /// The form was not acceptable: what the link is, to show it again.
    Link(Link),
}

async fn rate(
    state: web::Data<AppState>,
    v: Visitor,
    token: web::Path<String>,
    f: Form<RatingForm>,
) -> Result<Reply, PageError> {
    let token = token.into_inner();
    let comment = f.0.comment.unwrap_or_default();
    let raw = f.0.rating;
    let rating = parse_rating(raw.as_deref());
    let problem = match (rating, raw.as_deref().map(str::trim)) {
        (None, None | Some("")) => Some("Choose a rating from 1 to 5.".to_string()),
        (None, Some(x)) => Some(format!("{x:?} is not a rating: choose one from 1 to 5.")),
        (Some(_), _) if comment.trim().chars().count() > MAX_COMMENT_CHARS => Some(format!(
            "A comment is at most {MAX_COMMENT_CHARS} characters."
        )),
        _ => None,
    };
    let (t, c, valid) = (token.clone(), comment.clone(), problem.is_none());
    let outcome = blocking(move || {
        let now = now_ms();
        match rating {
            Some(r) if valid => state
                .db
                .write(|conn| csat::answer(conn, &t, r, &c, now).map_err(PageError::from))
                .map(Outcome::Answer),
            _ => state
                .db
                .query(|conn| csat::check(conn, &t, now))
                .map_err(PageError::from)
                .map(Outcome::Link),
        }
    })
    .await?;
    match outcome {
        Outcome::Link(Link::Open(view)) => form(
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            &token,
            &view,
            rating,
            comment,
            problem,
        ),
        Outcome::Answer(Answer::Recorded { .. }) => message_page(
            &v,
            StatusCode::OK,
            "Thank you for your feedback",
            "Your rating is recorded. If you added a comment, the team will read it.".into(),
        ),
        // No second vote: the first answer stands.
        Outcome::Link(Link::Answered(view)) | Outcome::Answer(Answer::Already(view)) => {
            already(&v, StatusCode::CONFLICT, &view)
        }
        Outcome::Link(Link::Expired) | Outcome::Answer(Answer::Expired) => expired(&v),
        Outcome::Link(Link::Unknown) | Outcome::Answer(Answer::Unknown) => unknown(&v),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn opt_out_form(
    state: web::Data<AppState>,
    v: Visitor,
    token: web::Path<String>,
) -> Result<Reply, PageError> {
    let token = token.into_inner();
    let t = token.clone();
    let found = blocking(move || {
        state
            .db
            .query(|c| csat::check_opt_out(c, &t))
            .map_err(PageError::from)
    })
    .await?;
    match found {
        None => unknown(&v),
        Some(view) if view.customer_opted_out => opt_out_page(
            &v,
            None,
            Some((
                "You receive no surveys",
                "You already asked us not to send satisfaction surveys. Nothing more to do.".into(),
            )),
        ),
        Some(_) => opt_out_page(&v, Some(format!("/csat/{token}/opt-out")), None),
    }
}

async fn opt_out(
    state: web::Data<AppState>,
    v: Visitor,
    token: web::Path<String>,
    _f: Form<Empty>,
) -> Result<Reply, PageError> {
    let token = token.into_inner();
    let done = blocking(move || {
        state
            .db
            .write(|c| csat::opt_out(c, &token, now_ms()).map_err(PageError::from))
    })
    .await?;
    match done {
        None => unknown(&v),
        Some(_) => opt_out_page(
            &v,
            None,
            Some((
                "No more surveys",
                "We will not send you satisfaction surveys any more.".into(),
            )),
        ),
    }
}

fn opt_out_page(
    v: &Visitor,
    action: Option<String>,
    message: Option<(&'static str, String)>,
) -> Result<Reply, PageError> {
    html(
        StatusCode::OK,
        &OptOutPage {
            chrome: chrome(v, "Satisfaction surveys"),
            action: action.unwrap_or_default(),
            message,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_to_five_is_a_rating() {
        for (raw, want) in [
            (Some("1"), Some(1)),
            (Some(" 5 "), Some(5)),
            (Some("0"), None),
            (Some("6"), None),
            (Some("-1"), None),
            (Some("x"), None),
            (Some("4.5"), None),
            (Some("99999999999999999999"), None),
            (Some(""), None),
            (None, None),
        ] {
            assert_eq!(parse_rating(raw), want, "{raw:?}");
        }
        let c = choices(Some(4));
        assert_eq!(
            c.iter().map(|c| c.value).collect::<Vec<_>>(),
            [5, 4, 3, 2, 1]
        );
        assert!(c.iter().all(|x| x.selected == (x.value == 4)));
    }
}
