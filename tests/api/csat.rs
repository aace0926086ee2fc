//! Satisfaction surveys: scheduling on resolution, the survey job with a
//! controlled clock (`tick` takes `now`), the survey and opt-out pages
//! (prefetch-safe GETs, CSRF, expired, reused and tampered links), the
//! low-rating follow-up, reminders, and two jobs at once.

use diesel::prelude::*;
use helpdesk::csat::job::{self, Settings};
use helpdesk::csat::LinkKey;
use helpdesk::db::schema::{csat_surveys, customers, events, messages, outbox, tickets};
use helpdesk::db::{Db, DbError};
use helpdesk::people::{self, EmailAddress};
use helpdesk::tickets::csat::{self, Survey, SurveyRow};
use helpdesk::tickets::{ops, Actor, Body, Channel, NewTicket, Priority, Role, Status};
use helpdesk::time::now_ms;
use serde_json::Value;

use crate::helpers::{signer, spawn_app, staff, test_db, Browser, TestApp, SECRET};

const MIN: i64 = 60_000;
const H: i64 = 60 * MIN;
const DAY: i64 = 24 * H;
const ON: Survey = Survey {
    enabled: true,
    delay_ms: 24 * H,
};

fn settings(base_url: &str) -> Settings {
    Settings {
        signer: signer(),
        key: LinkKey::derive(SECRET),
        base_url: base_url.into(),
        reminder_ms: 3 * DAY,
    }
}

fn group(db: &Db, name: &str) -> i64 {
    db.write(|c| people::find_or_create_group(c, name, now_ms()))
        .map(|(g, _)| g.id)
        .unwrap()
}

/// A ticket from `email` in group Support, opened at `at`.
fn open_from(db: &Db, email: &str, at: i64) -> i64 {
    let g = group(db, "Support");
    let new = NewTicket {
        subject: "Printer on fire".into(),
        body: Body::text("It is on fire."),
        requester: EmailAddress::parse(email).unwrap(),
        requester_name: Some("Ann".into()),
        channel: Channel::Email,
        priority: Priority::Normal,
        group_id: Some(g),
        assignee_id: None,
        mailbox_id: None,
        actor: Actor::System,
    };
    db.write(|c| ops::create(c, new, at)).unwrap().ticket_id
}

fn answer_it(db: &Db, id: i64, agent: i64, at: i64) {
    db.write(|c| {
        ops::reply(
            c,
            &signer(),
            id,
            agent,
            Body::text("Unplug it."),
            None,
            Survey::OFF,
            at,
        )
    })
    .unwrap();
}

/// An answered ticket (not yet resolved) from ann@example.com.
fn answered(db: &Db, agent: i64, at: i64) -> i64 {
    let id = open_from(db, "ann@example.com", at);
    answer_it(db, id, agent, at + MIN);
    id
}

fn resolve(db: &Db, id: i64, agent: i64, survey: Survey, at: i64) {
    db.write(|c| ops::resolve(c, id, Actor::Agent(agent), survey, at))
        .unwrap();
}

fn agent(db: &Db) -> i64 {
    staff(db, "bob@example.com", Role::Agent, &["Support"]).0
}

fn survey(db: &Db, id: i64) -> Option<SurveyRow> {
    db.query(|c| csat::for_ticket(c, id)).unwrap()
}

struct OutRow {
    ticket_id: Option<i64>,
    to: String,
    cc: String,
    subject: String,
    text: Option<String>,
    html: Option<String>,
}

fn outbox_of(db: &Db, kind: &str) -> Vec<OutRow> {
    db.query(|c| {
        outbox::table
            .filter(outbox::kind.eq(kind))
            .order(outbox::id)
            .select((
                outbox::ticket_id,
                outbox::to_addrs,
                outbox::cc_addrs,
                outbox::subject,
                outbox::body_text,
                outbox::body_html,
            ))
            .load::<(
                Option<i64>,
                String,
                String,
                String,
                Option<String>,
                Option<String>,
            )>(c)
    })
    .unwrap()
    .into_iter()
    .map(|(ticket_id, to, cc, subject, text, html)| OutRow {
        ticket_id,
        to,
        cc,
        subject,
        text,
        html,
    })
    .collect()
}

fn kinds(db: &Db, id: i64) -> Vec<String> {
    events_of(db, id).into_iter().map(|e| e.0).collect()
}

/// (type, to, data, actor customer) of every event, oldest first.
fn events_of(db: &Db, id: i64) -> Vec<(String, Option<String>, Value, Option<i64>)> {
    db.query(|c| {
        events::table
            .filter(events::ticket_id.eq(id))
            .order((events::at, events::id))
            .select((
                events::kind,
                events::to_value,
                events::data,
                events::actor_customer_id,
            ))
            .load::<(String, Option<String>, String, Option<i64>)>(c)
    })
    .unwrap()
    .into_iter()
    .map(|(k, to, d, cu)| (k, to, serde_json::from_str(&d).unwrap(), cu))
    .collect()
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

/// The token of the first survey link in a mail text.
fn token_in(text: &str) -> String {
    let i = text.find("/csat/").expect("a survey link") + "/csat/".len();
    text[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[test]
fn resolving_schedules_and_the_job_sends_when_due() {
    let (db, _g) = test_db();
    let agent = agent(&db);
    let t0 = now_ms();
    let id = answered(&db, agent, t0);
    db.write(|c| -> Result<bool, helpdesk::tickets::TicketError> {
        let email = EmailAddress::parse("cc@example.com").unwrap();
        let cc = people::find_or_create_customer(c, &email, None, t0)?;
        ops::add_participant(c, id, cc.id, t0)
    })
    .unwrap();
    resolve(&db, id, agent, ON, t0 + H);
    let s = survey(&db, id).expect("scheduled");
    assert_eq!(s.state, "scheduled");
    assert_eq!(s.due_at, t0 + H + 24 * H);
    assert!(s.token_hash.is_none());

    let set = settings("https://help.example.com");
    let before = job::tick(&db, t0 + 24 * H, &set).unwrap();
    assert_eq!(before.sent, 0);
    assert!(outbox_of(&db, "csat_survey").is_empty());

    let due = t0 + 25 * H;
    let tick = job::tick(&db, due, &set).unwrap();
    assert_eq!(tick.sent, 1);
    let rows = outbox_of(&db, "csat_survey");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.ticket_id, Some(id));
    assert_eq!(row.to, "ann@example.com");
    assert_eq!(
        row.cc, "",
        "the requester's survey, not the CC'd customers'"
    );
    assert!(row
        .subject
        .contains(&format!("How did we do on [#{id}] Printer on fire?")));
    let text = row.text.as_deref().unwrap();
    let token = token_in(text);
    assert_eq!(token.len(), 43);
    for r in 1..=5 {
        let link = format!("https://help.example.com/csat/{token}?rating={r}");
        assert!(text.contains(&link), "{link} in {text}");
        assert!(row.html.as_deref().unwrap().contains(&link), "HTML: {link}");
    }
    assert!(text.contains(&format!("https://help.example.com/csat/{token}/opt-out")));
    assert!(text.contains("1 - Very dissatisfied") && text.contains("5 - Very satisfied"));

    let ev = events_of(&db, id);
    let auto: Vec<_> = ev.iter().filter(|e| e.0 == "auto_message").collect();
    assert_eq!(auto.len(), 1);
    assert_eq!(auto[0].2["purpose"], "csat_survey");
    assert_eq!(count(&kinds(&db, id), "csat_sent"), 1);

    let s = survey(&db, id).unwrap();
    assert_eq!(s.state, "sent");
    assert_eq!(s.sent_at, Some(due));
    assert_eq!(s.expires_at, Some(due + csat::LINK_LIFETIME_MS));
    let hash = s.token_hash.unwrap();
    assert_ne!(hash, token, "only the hash is stored");
    // The copy on the ticket has no personal link.
    let bodies: Vec<String> = db
        .query(|c| {
            messages::table
                .filter(messages::ticket_id.eq(id))
                .select(messages::body_text)
                .load(c)
        })
        .unwrap();
    assert!(bodies.iter().any(|b| b.contains("How did we do")));
    assert!(bodies.iter().all(|b| !b.contains(&token)));

    assert_eq!(job::tick(&db, due + H, &set).unwrap().sent, 0, "sent once");
    assert_eq!(outbox_of(&db, "csat_survey").len(), 1);
}

#[test]
fn delay_zero_sends_on_the_next_pass_and_a_resolving_reply_schedules() {
    let (db, _g) = test_db();
    let agent = agent(&db);
    let t0 = now_ms();
    let id = open_from(&db, "ann@example.com", t0);
    let zero = Survey {
        enabled: true,
        delay_ms: 0,
    };
    db.write(|c| {
        ops::reply(
            c,
            &signer(),
            id,
            agent,
            Body::text("Done."),
            Some(Status::Resolved),
            zero,
            t0 + MIN,
        )
    })
    .unwrap();
    assert_eq!(survey(&db, id).unwrap().due_at, t0 + MIN);
    let tick = job::tick(&db, t0 + MIN, &settings("http://x")).unwrap();
    assert_eq!(tick.sent, 1);
}

#[test]
fn reopened_before_due_is_cancelled_and_never_surveyed_again() {
    let (db, _g) = test_db();
    let agent = agent(&db);
    let t0 = now_ms();
    let id = answered(&db, agent, t0);
    resolve(&db, id, agent, ON, t0 + H);
    db.write(|c| ops::reopen(c, id, Actor::Agent(agent), t0 + 2 * H))
        .unwrap();
    let set = settings("http://x");
    let tick = job::tick(&db, t0 + 30 * H, &set).unwrap();
    assert_eq!((tick.sent, tick.cancelled), (0, 1));
    assert_eq!(survey(&db, id).unwrap().state, "cancelled");
    resolve(&db, id, agent, ON, t0 + 31 * H);
    assert_eq!(job::tick(&db, t0 + 80 * H, &set).unwrap().sent, 0);
    assert!(outbox_of(&db, "csat_survey").is_empty());
    assert_eq!(count(&kinds(&db, id), "csat_sent"), 0);
}

#[test]
fn one_survey_per_ticket_however_often_it_is_resolved() {
    let (db, _g) = test_db();
    let agent = agent(&db);
    let t0 = now_ms();
    let id = answered(&db, agent, t0);
    let set = settings("http://x");
    resolve(&db, id, agent, ON, t0 + H);
    assert_eq!(job::tick(&db, t0 + 26 * H, &set).unwrap().sent, 1);
    db.write(|c| ops::reopen(c, id, Actor::Agent(agent), t0 + 27 * H))
        .unwrap();
    resolve(&db, id, agent, ON, t0 + 28 * H);
    assert_eq!(job::tick(&db, t0 + 60 * H, &set).unwrap().sent, 0);
    assert_eq!(outbox_of(&db, "csat_survey").len(), 1);
}

#[test]
fn no_survey_when_opted_out_unanswered_or_off() {
    let (db, _g) = test_db();
    let agent = agent(&db);
    let t0 = now_ms();
    // Closed without any agent reply (spam, no contact).
    let silent = open_from(&db, "ann@example.com", t0);
    resolve(&db, silent, agent, ON, t0 + H);
    assert!(survey(&db, silent).is_none());
    // Surveys off.
    let off = answered(&db, agent, t0);
    resolve(&db, off, agent, Survey::OFF, t0 + H);
    assert!(survey(&db, off).is_none());
    // The customer opted out.
    let carl = open_from(&db, "carl@example.com", t0);
    answer_it(&db, carl, agent, t0 + MIN);
    db.write(|c| {
        diesel::update(customers::table.filter(customers::email.eq("carl@example.com")))
            .set(customers::csat_opt_out.eq(true))
            .execute(c)
            .map_err(DbError::from)
    })
    .unwrap();
    resolve(&db, carl, agent, ON, t0 + H);
    assert!(survey(&db, carl).is_none());
    // Agent-opened tickets have a customer too: they are surveyed.
    let g = group(&db, "Support");
    let new = NewTicket {
        subject: "We noticed".into(),
        body: Body::text("Your printer is on fire."),
        requester: EmailAddress::parse("dan@example.com").unwrap(),
        requester_name: None,
        channel: Channel::Agent,
        priority: Priority::Normal,
        group_id: Some(g),
        assignee_id: None,
        mailbox_id: None,
        actor: Actor::Agent(agent),
    };
    let by_agent = db.write(|c| ops::create(c, new, t0)).unwrap().ticket_id;
    answer_it(&db, by_agent, agent, t0 + MIN);
    resolve(&db, by_agent, agent, ON, t0 + H);
    assert!(survey(&db, by_agent).is_some());
    assert_eq!(
        job::tick(&db, t0 + 30 * H, &settings("http://x"))
            .unwrap()
            .sent,
        1
    );
}

#[test]
fn one_reminder_after_n_days_never_two_none_after_an_answer() {
    let (db, _g) = test_db();
    let agent = agent(&db);
    let t0 = now_ms();
    let quiet = answered(&db, agent, t0);
    let rated = answered(&db, agent, t0);
    resolve(&db, quiet, agent, ON, t0);
    resolve(&db, rated, agent, ON, t0);
    let set = settings("http://x");
    let sent_at = t0 + 24 * H;
    assert_eq!(job::tick(&db, sent_at, &set).unwrap().sent, 2);
    let surveys = outbox_of(&db, "csat_survey");
    let token_of = |t: i64| {
        token_in(
            surveys
                .iter()
                .find(|r| r.ticket_id == Some(t))
                .and_then(|r| r.text.as_deref())
                .unwrap(),
        )
    };
    let rated_token = token_of(rated);
    let answer = db
        .write(|c| csat::answer(c, &rated_token, 4, "", sent_at + H))
        .unwrap();
    assert!(matches!(answer, csat::Answer::Recorded { low: false, .. }));

    assert_eq!(
        job::tick(&db, sent_at + 3 * DAY - 1, &set)
            .unwrap()
            .reminded,
        0
    );
    assert_eq!(job::tick(&db, sent_at + 3 * DAY, &set).unwrap().reminded, 1);
    let reminders = outbox_of(&db, "csat_reminder");
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].ticket_id, Some(quiet));
    let text = reminders[0].text.as_deref().unwrap();
    assert_eq!(token_in(text), token_of(quiet), "the same link");
    assert!(reminders[0].subject.starts_with("Reminder: "));
    assert_eq!(job::tick(&db, sent_at + 4 * DAY, &set).unwrap().reminded, 0);
    assert_eq!(
        job::tick(&db, sent_at + 20 * DAY, &set).unwrap().reminded,
        0
    );
    assert_eq!(outbox_of(&db, "csat_reminder").len(), 1);
    assert_eq!(
        count(&kinds(&db, quiet), "csat_sent"),
        1,
        "a reminder is no new survey"
    );

    // Reminders off.
    let (db2, _g2) = test_db();
    let agent2 = staff(&db2, "bob@example.com", Role::Agent, &["Support"]).0;
    let t = answered(&db2, agent2, t0);
    resolve(&db2, t, agent2, ON, t0);
    let off = Settings {
        reminder_ms: 0,
        ..settings("http://x")
    };
    job::tick(&db2, sent_at, &off).unwrap();
    assert_eq!(
        job::tick(&db2, sent_at + 10 * DAY, &off).unwrap().reminded,
        0
    );
}

#[test]
fn two_jobs_at_once_send_each_survey_once() {
    let (db, _g) = test_db();
    let agent = agent(&db);
    let t0 = now_ms();
    let zero = Survey {
        enabled: true,
        delay_ms: 0,
    };
    let ids: Vec<i64> = (0..30)
        .map(|i| {
            let id = open_from(&db, &format!("c{i}@example.com"), t0);
            answer_it(&db, id, agent, t0 + MIN);
            resolve(&db, id, agent, zero, t0 + 2 * MIN);
            id
        })
        .collect();
    let set = settings("http://x");
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (db, set) = (db.clone(), set.clone());
            std::thread::spawn(move || job::tick(&db, t0 + H, &set).unwrap())
        })
        .collect();
    let sent: usize = threads.into_iter().map(|t| t.join().unwrap().sent).sum();
    assert_eq!(sent, 30);
    assert_eq!(outbox_of(&db, "csat_survey").len(), 30);
    for id in ids {
        assert_eq!(count(&kinds(&db, id), "csat_sent"), 1, "ticket {id}");
    }
}

// ---- the pages ------------------------------------------------------------

/// A ticket of the app's database with its survey sent; returns (ticket, token).
fn sent_survey(app: &TestApp, agent: i64, email: &str) -> (i64, String) {
    let t0 = now_ms();
    let id = open_from(&app.db, email, t0 - 2 * DAY);
    answer_it(&app.db, id, agent, t0 - 2 * DAY + MIN);
    resolve(&app.db, id, agent, ON, t0 - 2 * DAY + 2 * MIN);
    job::tick(&app.db, t0, &settings(&app.address)).unwrap();
    let row = outbox_of(&app.db, "csat_survey")
        .into_iter()
        .find(|r| r.ticket_id == Some(id))
        .expect("survey mail");
    (id, token_in(row.text.as_deref().unwrap()))
}

fn received(db: &Db, id: i64) -> Vec<(Option<String>, Value, Option<i64>)> {
    events_of(db, id)
        .into_iter()
        .filter(|e| e.0 == "csat_received")
        .map(|e| (e.1, e.2, e.3))
        .collect()
}

#[tokio::test]
async fn a_prefetched_get_never_votes_and_a_post_records_once() {
    let app = spawn_app().await;
    let agent = staff(&app.db, "bob@example.com", Role::Agent, &["Support"]).0;
    let (id, token) = sent_survey(&app, agent, "ann@example.com");
    let mut b = Browser::new(&app);
    for r in 1..=5 {
        let p = b.get(&format!("/csat/{token}?rating={r}")).await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(
            p.body.contains(&format!(
                "id=\"rating-{r}\" name=\"rating\" value=\"{r}\" checked"
            )),
            "rating {r} preselected"
        );
    }
    // Odd query values show the form without a choice.
    for q in ["", "?rating=0", "?rating=x", "?rating=6"] {
        let p = b.get(&format!("/csat/{token}{q}")).await;
        assert_eq!(p.status, 200);
        assert!(!p.body.contains(" checked"), "{q}");
    }
    // A scanner with its own client (no cookies) fetches too.
    let r = reqwest::get(app.url(&format!("/csat/{token}?rating=1")))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(received(&app.db, id).is_empty(), "a GET recorded a vote");
    assert_eq!(survey(&app.db, id).unwrap().state, "sent");

    // CSRF: without the token, and with another browser's token.
    let p = b
        .post_raw(&format!("/csat/{token}"), "rating=5".into())
        .await;
    assert_eq!(p.status, 403);
    let mut other = Browser::new(&app);
    other.get(&format!("/csat/{token}")).await;
    let foreign = other.csrf.clone();
    let p = b
        .post_raw(
            &format!("/csat/{token}"),
            format!("csrf={foreign}&rating=5"),
        )
        .await;
    assert_eq!(p.status, 403);
    assert!(received(&app.db, id).is_empty());

    for bad in ["0", "6", "x", ""] {
        let p = b
            .post(
                &format!("/csat/{token}"),
                &[("rating", bad), ("comment", "kept")],
            )
            .await;
        assert_eq!(p.status, 422, "rating {bad:?}");
        assert!(p.body.contains("id=\"csat-form\"") && p.body.contains(">kept</textarea>"));
    }
    assert!(received(&app.db, id).is_empty());

    let p = b
        .post(
            &format!("/csat/{token}"),
            &[("rating", "5"), ("comment", "Fast and friendly")],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("Thank you"));
    let got = received(&app.db, id);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.as_deref(), Some("5"));
    assert_eq!(got[0].1["rating"], 5);
    assert_eq!(got[0].1["comment"], "Fast and friendly");
    let ann: i64 = app
        .db
        .query(|c| {
            tickets::table
                .find(id)
                .select(tickets::requester_id)
                .first(c)
        })
        .unwrap();
    assert_eq!(got[0].2, Some(ann), "recorded as the customer's");
    let notes: Vec<(String, Option<i64>)> = app
        .db
        .query(|c| {
            messages::table
                .filter(messages::ticket_id.eq(id))
                .filter(messages::kind.eq("note"))
                .select((messages::body_text, messages::author_customer_id))
                .load(c)
        })
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].0.contains("Fast and friendly"));
    assert_eq!(notes[0].1, Some(ann));
    let s = survey(&app.db, id).unwrap();
    assert_eq!((s.state.as_str(), s.rating), ("answered", Some(5)));
    assert!(!s.needs_follow_up());

    // Reused: the second vote is refused and changes nothing.
    let p = b
        .post(
            &format!("/csat/{token}"),
            &[("rating", "1"), ("comment", "x")],
        )
        .await;
    assert_eq!(p.status, 409);
    assert!(p.body.contains("already recorded"));
    assert_eq!(received(&app.db, id).len(), 1);
    assert_eq!(survey(&app.db, id).unwrap().rating, Some(5));
    let p = b.get(&format!("/csat/{token}?rating=1")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("already recorded") && !p.body.contains("csat-form"));
    assert!(outbox_of(&app.db, "notify_csat_low").is_empty());
    app.stop().await;
}

#[tokio::test]
async fn tampered_and_expired_links_are_refused() {
    let app = spawn_app().await;
    let agent = staff(&app.db, "bob@example.com", Role::Agent, &["Support"]).0;
    let (id, token) = sent_survey(&app, agent, "ann@example.com");
    let mut b = Browser::new(&app);
    // A valid page first, for the browser's CSRF token.
    b.get(&format!("/csat/{token}")).await;
    let mut chars: Vec<char> = token.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    for t in [tampered.as_str(), "short", &"x".repeat(500)] {
        let p = b.get(&format!("/csat/{t}?rating=5")).await;
        assert_eq!(p.status, 404, "{t}");
        assert!(p.body.contains("not valid"));
        let p = b.post(&format!("/csat/{t}"), &[("rating", "5")]).await;
        assert_eq!(p.status, 404);
        assert_eq!(b.get(&format!("/csat/{t}/opt-out")).await.status, 404);
    }
    assert!(received(&app.db, id).is_empty());

    // Expired: the link's time is up.
    b.get(&format!("/csat/{token}")).await;
    app.db
        .write(|c| {
            diesel::update(csat_surveys::table.filter(csat_surveys::ticket_id.eq(id)))
                .set(csat_surveys::expires_at.eq(now_ms() - 1))
                .execute(c)
                .map_err(DbError::from)
        })
        .unwrap();
    let p = b.get(&format!("/csat/{token}?rating=4")).await;
    assert_eq!(p.status, 410);
    assert!(p.body.contains("closed") && !p.body.contains("csat-form"));
    let p = b.post(&format!("/csat/{token}"), &[("rating", "4")]).await;
    assert_eq!(p.status, 410);
    assert!(received(&app.db, id).is_empty());
    assert_eq!(survey(&app.db, id).unwrap().state, "sent");
    app.stop().await;
}

#[tokio::test]
async fn a_low_rating_notifies_the_managers_and_waits_for_follow_up() {
    let app = spawn_app().await;
    let agent = staff(&app.db, "bob@example.com", Role::Agent, &["Support"]).0;
    staff(&app.db, "mia@example.com", Role::Manager, &["Support"]);
    staff(&app.db, "max@example.com", Role::Manager, &["Billing"]);
    let (id, token) = sent_survey(&app, agent, "ann@example.com");
    let mut b = Browser::new(&app);
    b.get(&format!("/csat/{token}?rating=1")).await;
    let p = b
        .post(
            &format!("/csat/{token}"),
            &[("rating", "1"), ("comment", "Took a week.")],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let notices = outbox_of(&app.db, "notify_csat_low");
    let to: Vec<&str> = notices.iter().map(|n| n.to.as_str()).collect();
    assert_eq!(to, ["mia@example.com"], "the group's managers only");
    assert!(notices[0].subject.contains(&format!("[#{id}]")));
    assert!(notices[0].text.as_deref().unwrap().contains("1 of 5"));

    let mut staff_b = Browser::new(&app);
    staff_b.login("bob@example.com").await;
    let view = staff_b.get("/tickets?status=all&csat=low").await;
    assert_eq!(view.status, 200);
    assert!(view.body.contains(&format!("data-ticket=\"{id}\"")));
    assert!(view.body.contains("CSAT follow-up"));
    let tab = "CSAT follow-up <span class=\"count\">";
    assert!(
        view.body.contains(&format!("{tab}1</span>")),
        "{}",
        view.body
    );
    let page = staff_b.get(&format!("/tickets/{id}")).await;
    assert!(page.body.contains("Rated 1 of 5"));
    assert!(page.body.contains("Took a week."));
    assert!(page.body.contains("id=\"csat-follow-up-done\""));
    // The follow-up button needs the CSRF token too.
    let p = staff_b
        .post_raw(&format!("/tickets/{id}/csat-done"), String::new())
        .await;
    assert_eq!(p.status, 403);
    let p = staff_b.post(&format!("/tickets/{id}/csat-done"), &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let view = staff_b.get("/tickets?csat=low").await;
    assert!(!view.body.contains(&format!("data-ticket=\"{id}\"")));
    assert!(
        view.body.contains(&format!("{tab}0</span>")),
        "{}",
        view.body
    );
    let page = staff_b.get(&format!("/tickets/{id}")).await;
    assert!(page.body.contains("Followed up by"));
    assert!(!page.body.contains("id=\"csat-follow-up-done\""));
    assert_eq!(
        count(&kinds(&app.db, id), "note"),
        2,
        "comment and follow-up"
    );

    // A ticket of a group without managers reaches every manager.
    let lonely = app
        .db
        .write(|c| people::find_or_create_group(c, "Lonely", now_ms()))
        .unwrap()
        .0
        .id;
    let (other, token2) = sent_survey(&app, agent, "eve@example.com");
    app.db
        .write(|c| {
            diesel::update(tickets::table.find(other))
                .set(tickets::group_id.eq(lonely))
                .execute(c)
                .map_err(DbError::from)
        })
        .unwrap();
    b.get(&format!("/csat/{token2}")).await;
    b.post(&format!("/csat/{token2}"), &[("rating", "2")]).await;
    let mut to: Vec<String> = outbox_of(&app.db, "notify_csat_low")
        .into_iter()
        .skip(1)
        .map(|n| n.to)
        .collect();
    to.sort();
    assert_eq!(to, ["max@example.com", "mia@example.com"]);
    app.stop().await;
}

#[tokio::test]
async fn the_opt_out_link_asks_first_and_then_stops_surveys() {
    let app = spawn_app().await;
    let agent = staff(&app.db, "bob@example.com", Role::Agent, &["Support"]).0;
    let (_, token) = sent_survey(&app, agent, "ann@example.com");
    let opted = |db: &Db| -> bool {
        db.query(|c| {
            customers::table
                .filter(customers::email.eq("ann@example.com"))
                .select(customers::csat_opt_out)
                .first(c)
        })
        .unwrap()
    };
    let mut b = Browser::new(&app);
    let p = b.get(&format!("/csat/{token}/opt-out")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("id=\"csat-confirm-opt-out\""));
    assert!(!opted(&app.db), "a GET opted out");
    let p = b
        .post_raw(&format!("/csat/{token}/opt-out"), String::new())
        .await;
    assert_eq!(p.status, 403);
    assert!(!opted(&app.db));
    let p = b.post(&format!("/csat/{token}/opt-out"), &[]).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("No more surveys"));
    assert!(opted(&app.db));
    let p = b.get(&format!("/csat/{token}/opt-out")).await;
    assert!(p.body.contains("already asked"));
    // Her next resolved ticket gets no survey.
    let t0 = now_ms();
    let next = open_from(&app.db, "ann@example.com", t0);
    answer_it(&app.db, next, agent, t0 + MIN);
    resolve(&app.db, next, agent, ON, t0 + 2 * MIN);
    assert!(survey(&app.db, next).is_none());
    app.stop().await;
}

#[tokio::test]
async fn resolving_in_the_app_follows_the_configuration() {
    let app = crate::helpers::spawn_app_with(&[("HELPDESK_CSAT_DELAY_HOURS", "0")]).await;
    let agent = staff(&app.db, "bob@example.com", Role::Agent, &["Support"]).0;
    let t0 = now_ms();
    let id = answered(&app.db, agent, t0);
    let r = app
        .post(
            &format!("/api/v1/tickets/{id}/resolve"),
            &app.token,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let s = survey(&app.db, id).expect("scheduled by the API");
    assert!(s.due_at <= now_ms(), "delay 0");
    app.stop().await;

    let app = crate::helpers::spawn_app_with(&[("HELPDESK_CSAT_ENABLED", "false")]).await;
    let agent = staff(&app.db, "bob@example.com", Role::Agent, &["Support"]).0;
    let id = answered(&app.db, agent, t0);
    let r = app
        .post(
            &format!("/api/v1/tickets/{id}/resolve"),
            &app.token,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(survey(&app.db, id).is_none());
    app.stop().await;
}

#[tokio::test]
async fn the_sender_delivers_the_survey_as_generated_mail_then_forgets_the_links() {
    use helpdesk::mail::outbound::{EmailTransport, Sender};
    use std::sync::{Arc, Mutex};
    let (db, _g) = test_db();
    let agent = agent(&db);
    let t0 = now_ms() - 2 * DAY;
    let id = answered(&db, agent, t0);
    resolve(&db, id, agent, ON, t0 + H);
    job::tick(&db, now_ms(), &settings("https://help.example.com")).unwrap();
    let token = token_in(outbox_of(&db, "csat_survey")[0].text.as_deref().unwrap());
    let sent = Arc::new(Mutex::new(Vec::new()));
    let config = crate::outbound::config_for("help@support.example.com");
    let s = Sender::new(db.clone(), EmailTransport::Memory(sent.clone()), &config);
    s.drain().await.unwrap();
    let mails = sent.lock().unwrap().clone();
    let survey_mail = mails
        .iter()
        .map(|m| String::from_utf8_lossy(&m.raw).to_string())
        .find(|m| m.contains("How did we do"))
        .expect("the survey went out");
    assert!(survey_mail.contains("Auto-Submitted: auto-generated"));
    assert!(survey_mail.contains("To: ann@example.com"));
    assert!(survey_mail.contains("text/html"));
    let row = &outbox_of(&db, "csat_survey")[0];
    assert!(
        row.text.is_none() && row.html.is_none(),
        "links kept after sending"
    );
    // The link still works: its hash is all the store needs.
    let check = db.query(|c| csat::check(c, &token, now_ms())).unwrap();
    assert!(matches!(check, csat::Link::Open(_)));
}

/// `serve` runs the survey job on its own: a survey due now goes out.
#[test]
fn serve_sends_due_surveys() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let (url, _g) = crate::helpers::fresh_database_url();
    let db = Db::connect(&url).unwrap();
    let agent = agent(&db);
    let t0 = now_ms() - 2 * DAY;
    let id = answered(&db, agent, t0);
    resolve(&db, id, agent, ON, t0 + H);
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .current_dir(dir.path())
        .arg("serve")
        .env_remove("HELPDESK_CONFIG")
        .env_remove("HELPDESK_MAILDIRS")
        .env_remove("HELPDESK_SMTP_URL")
        .env("HELPDESK_LISTEN", "127.0.0.1:0")
        .env("HELPDESK_DATABASE_URL", &url)
        .env("HELPDESK_BASE_URL", "https://help.example.com")
        .env("HELPDESK_SECRET", "serve test secret")
        .env("HELPDESK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while outbox_of(&db, "csat_survey").is_empty() {
        assert!(Instant::now() < deadline, "no survey sent by serve");
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = outbox_of(&db, "csat_survey")[0].text.clone().unwrap();
    assert!(text.contains("https://help.example.com/csat/"));
    assert_eq!(count(&kinds(&db, id), "csat_sent"), 1);
    std::thread::sleep(Duration::from_millis(1000));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}
