//! The SLA admin pages: calendars and policies. Their validation (422 with
//! the message on the page, nothing saved), edit round-trips, deletes, who
//! may use them, and that every change reaches open tickets' due times.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use helpdesk::sla::policy;
use helpdesk::tickets::Role;
use helpdesk::time::parse_rfc3339;
use serde_json::{json, Value};

use crate::helpers::{serde_html_form_encode, spawn_app, staff, Browser, Page, TestApp};

const OFFICE: [&str; 7] = [
    "09:00-17:00",
    "09:00-17:00",
    "09:00-17:00",
    "09:00-17:00",
    "09:00-17:00",
    "closed",
    "closed",
];
const HOUR_MS: i64 = 3_600_000;

async fn admin(app: &TestApp) -> Browser {
    let mut b = Browser::new(app);
    b.login("admin@example.com").await;
    // The signed-in session's CSRF token.
    b.get("/admin").await;
    b
}

type Fields = Vec<(&'static str, String)>;

fn refs(f: &Fields) -> Vec<(&str, &str)> {
    f.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

const DAY_FIELDS: [&str; 7] = ["day0", "day1", "day2", "day3", "day4", "day5", "day6"];

fn calendar_form(name: &str, tz: &str, days: [&str; 7], holidays: &str) -> Fields {
    let mut f: Fields = vec![
        ("name", name.into()),
        ("time_zone", tz.into()),
        ("holidays", holidays.into()),
    ];
    f.extend(
        DAY_FIELDS
            .iter()
            .zip(days)
            .map(|(k, v)| (*k, v.to_string())),
    );
    f
}

/// A default policy (no group), 24/7, normal first response `fr`,
/// escalation level and notify ticked as a browser would send them.
fn policy_form(name: &str, fr: &str) -> Fields {
    vec![
        ("name", name.into()),
        ("group", String::new()),
        ("calendar", String::new()),
        ("fr0", String::new()),
        ("fr1", fr.into()),
        ("fr2", String::new()),
        ("fr3", String::new()),
        ("res0", String::new()),
        ("res1", String::new()),
        ("res2", String::new()),
        ("res3", String::new()),
        ("breach_raise_level", "1".into()),
        ("breach_notify", "1".into()),
        ("breach_group", String::new()),
    ]
}

fn set(f: &mut Fields, key: &'static str, value: &str) {
    match f.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value.into(),
        None => f.push((key, value.into())),
    }
}

fn calendars(app: &TestApp) -> Vec<policy::CalendarRow> {
    app.db.query(policy::calendars).unwrap()
}

fn policies(app: &TestApp) -> Vec<policy::Policy> {
    app.db.query(policy::policies).unwrap()
}

fn group_id(app: &TestApp, name: &str) -> i64 {
    app.db
        .query(|c| helpdesk::people::find_group_by_name(c, name))
        .unwrap()
        .unwrap()
        .id
}

/// The id of the calendar (or policy) with this name.
fn created_id(app: &TestApp, name: &str, calendar: bool) -> i64 {
    if calendar {
        calendars(app)
            .into_iter()
            .find(|c| c.name == name)
            .unwrap()
            .id
    } else {
        policies(app)
            .into_iter()
            .find(|p| p.name == name)
            .unwrap()
            .id
    }
}

fn assert_refused(p: &Page, what: &str, message: &str, err_id: &str) {
    assert_eq!(p.status, 422, "{what}: {}", p.body);
    assert!(
        p.body.contains(message),
        "{what}: no {message:?} in {}",
        p.body
    );
    assert!(
        p.body.contains(&format!("id=\"{err_id}\"")),
        "{what}: no #{err_id}"
    );
    assert!(
        p.body.contains(&format!("aria-describedby=\"{err_id}\""))
            || p.body.contains(&format!(" {err_id}\"")),
        "{what}: #{err_id} is not tied to its input"
    );
}

async fn ticket(app: &TestApp, id: i64) -> Value {
    let (status, json) = app.get_json(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(status, 200, "{json}");
    json["ticket"].clone()
}

fn ms(v: &Value) -> i64 {
    parse_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}"))).unwrap()
}

#[tokio::test]
async fn admin_creates_lists_and_edits_a_calendar_and_a_policy() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;

    let p = b.get("/admin").await;
    assert!(p.body.contains("href=\"/admin/sla\""), "{}", p.body);
    assert!(p.body.contains("href=\"/admin/calendars\""));

    // A new calendar's form starts as office hours.
    let p = b.get("/admin/calendars").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("No calendars yet."));
    assert!(p
        .body
        .contains("id=\"cal-day0\" name=\"day0\" type=\"text\" value=\"09:00-17:00\""));
    assert!(p
        .body
        .contains("id=\"cal-day6\" name=\"day6\" type=\"text\" value=\"closed\""));
    assert!(p.body.contains("<label for=\"cal-day2\">Wednesday</label>"));
    assert!(p.body.contains("<option value=\"Europe/Berlin\">"));

    let mut days = OFFICE;
    days[2] = "9:00-12:00,13:00-17:00";
    let form = calendar_form(
        "Berlin office",
        "Europe/Berlin",
        days,
        "2026-12-25 Christmas\n\n2026-12-26",
    );
    let p = b.post("/admin/calendars", &refs(&form)).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/calendars?done=created"));
    let cal = created_id(&app, "Berlin office", true);
    let p = b.get("/admin/calendars?done=created").await;
    assert!(p.body.contains("Created."));
    assert!(p.body.contains(&format!("<tr data-calendar=\"{cal}\">")));
    assert!(p.body.contains("Europe/Berlin"));
    assert!(
        p.body.contains(
            "Mon–Tue 09:00-17:00; Wed 09:00-12:00, 13:00-17:00; Thu–Fri 09:00-17:00; Sat–Sun closed"
        ),
        "{}",
        p.body
    );
    assert!(p.body.contains("<td class=\"holidays\">2</td>"));
    assert!(p.body.contains("no policy"));

    // The edit form shows the stored values, normalised.
    let p = b.get(&format!("/admin/calendars/{cal}")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("value=\"Berlin office\""));
    assert!(p
        .body
        .contains("list=\"cal-tz-list\" value=\"Europe/Berlin\""));
    assert!(p
        .body
        .contains("name=\"day2\" type=\"text\" value=\"09:00-12:00, 13:00-17:00\""));
    assert!(p
        .body
        .contains("name=\"day5\" type=\"text\" value=\"closed\""));
    assert!(p
        .body
        .contains(">2026-12-25 Christmas\n2026-12-26</textarea>"));

    // A policy in a group, on that calendar, with every breach action.
    let support = group_id(&app, "Support");
    let p = b.get("/admin/sla").await;
    assert!(p.body.contains("No SLA policies yet"));
    assert!(p
        .body
        .contains("<option value=\"\" selected>Around the clock (24/7, UTC)</option>"));
    assert!(p.body.contains(
        "<option value=\"\" selected>Default: all groups without their own policy</option>"
    ));
    assert!(p.body.contains("e.g. 4h, 30m, 1h 30m; empty: no target"));
    // Defaults: raise the level and notify, leave the priority.
    assert!(p
        .body
        .contains("name=\"breach_raise_level\" value=\"1\" checked>"));
    assert!(p
        .body
        .contains("name=\"breach_notify\" value=\"1\" checked>"));
    assert!(p
        .body
        .contains("name=\"breach_raise_priority\" value=\"1\"><label"));

    let mut form = policy_form("Support hours", "4h");
    set(&mut form, "group", &support.to_string());
    set(&mut form, "calendar", &cal.to_string());
    set(&mut form, "res1", "1h 30m");
    set(&mut form, "fr3", "30");
    set(&mut form, "breach_raise_priority", "1");
    set(&mut form, "breach_group", &support.to_string());
    form.retain(|(k, _)| *k != "breach_notify");
    let p = b.post("/admin/sla", &refs(&form)).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/sla?done=sla_created"));
    let pid = created_id(&app, "Support hours", false);
    let stored = app
        .db
        .query(|c| policy::find_policy(c, pid))
        .unwrap()
        .unwrap();
    assert_eq!(stored.group_id, Some(support));
    assert_eq!(stored.calendar_id, Some(cal));
    assert!(stored.breach_raise_level && stored.breach_raise_priority && !stored.breach_notify);
    assert_eq!(stored.breach_group_id, Some(support));

    let p = b.get("/admin/sla?done=sla_created").await;
    assert!(
        p.body
            .contains("open tickets&#39; due times were recomputed")
            || p.body.contains("open tickets' due times were recomputed")
    );
    assert!(p.body.contains(&format!("<tr data-policy=\"{pid}\">")));
    assert!(p.body.contains("<td>Support</td>"));
    assert!(p.body.contains("<td>Berlin office</td>"));
    assert!(
        p.body
            .contains("Normal: first response 4h, resolution 1h 30m; Urgent: first response 30m"),
        "{}",
        p.body
    );
    // The calendar list names its policy now.
    let p = b.get("/admin/calendars").await;
    assert!(p.body.contains("<td>Support hours</td>"), "{}", p.body);

    let p = b.get(&format!("/admin/sla/{pid}")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("value=\"Support hours\""));
    assert!(p.body.contains(&format!(
        "<option value=\"{support}\" selected>Support</option>"
    )));
    assert!(p.body.contains(&format!(
        "<option value=\"{cal}\" selected>Berlin office</option>"
    )));
    assert!(p
        .body
        .contains("name=\"fr1\" type=\"text\" size=\"8\" value=\"4h\""));
    assert!(p
        .body
        .contains("name=\"res1\" type=\"text\" size=\"8\" value=\"1h 30m\""));
    assert!(p
        .body
        .contains("name=\"fr3\" type=\"text\" size=\"8\" value=\"30m\""));
    assert!(p
        .body
        .contains("name=\"fr0\" type=\"text\" size=\"8\" value=\"\""));
    assert!(p
        .body
        .contains("name=\"breach_raise_priority\" value=\"1\" checked>"));
    assert!(p.body.contains("name=\"breach_notify\" value=\"1\"><label"));

    // Edit: back to 24/7 as the default policy, nothing on a breach.
    let mut form = policy_form("Everyone", "2h");
    form.retain(|(k, _)| !k.starts_with("breach_raise") && *k != "breach_notify");
    let p = b.post(&format!("/admin/sla/{pid}"), &refs(&form)).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("/admin/sla/{pid}?done=sla_saved").as_str())
    );
    let stored = app
        .db
        .query(|c| policy::find_policy(c, pid))
        .unwrap()
        .unwrap();
    assert_eq!((stored.group_id, stored.calendar_id), (None, None));
    assert!(!stored.breach_raise_level && !stored.breach_raise_priority && !stored.breach_notify);
    let t = app.db.query(|c| policy::targets(c, pid)).unwrap();
    assert_eq!(t[1].first_response_minutes, Some(120));
    assert_eq!(t[1].resolution_minutes, None);
    assert_eq!(t[3], policy::Target::default());
    let p = b.get("/admin/sla").await;
    assert!(p.body.contains("Default for groups without their own"));
    assert!(p.body.contains("<td>24/7 (UTC)</td>"));

    // Edit the calendar.
    let form = calendar_form("Berlin", "Europe/Berlin", ["24h"; 7], "");
    let p = b
        .post(&format!("/admin/calendars/{cal}"), &refs(&form))
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = b.get(&format!("/admin/calendars/{cal}")).await;
    assert!(p.body.contains("value=\"Berlin\""));
    assert!(p
        .body
        .contains("name=\"day6\" type=\"text\" value=\"00:00-24:00\""));
    assert!(p.body.contains("></textarea>"));

    // Unknown ids.
    for path in ["/admin/calendars/999999", "/admin/sla/999999"] {
        assert_eq!(b.get(path).await.status, 404, "{path}");
        let p = b.post(&format!("{path}/delete"), &[]).await;
        assert_eq!(p.status, 404, "{path}/delete");
    }
    let p = b
        .post("/admin/sla/999999", &refs(&policy_form("Ghost", "1h")))
        .await;
    assert_eq!(p.status, 404);
    let p = b
        .post(
            "/admin/calendars/999999",
            &refs(&calendar_form("Ghost", "UTC", OFFICE, "")),
        )
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(policies(&app).len(), 1);
    assert_eq!(calendars(&app).len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn calendar_form_errors_are_422_on_the_field_and_save_nothing() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let ok = calendar_form("Office", "UTC", OFFICE, "");
    assert_eq!(b.post("/admin/calendars", &refs(&ok)).await.status, 303);
    let cal = created_id(&app, "Office", true);
    let before = calendars(&app);

    let with_day = |day: usize, text: &str| {
        let mut d = OFFICE;
        d[day] = text;
        calendar_form("Other", "UTC", d, "")
    };
    let cases: Vec<(&str, Fields, &str, &str)> = vec![
        (
            "bad time zone",
            calendar_form("Other", "Mars/Olympus", OFFICE, ""),
            "Mars/Olympus&#34; is not an IANA time zone",
            "cal-tz-err",
        ),
        (
            "bad hours text",
            with_day(1, "nine to five"),
            "is not a time range (HH:MM-HH:MM)",
            "cal-day1-err",
        ),
        (
            "bad time",
            with_day(0, "09:00-25:00"),
            "is not a time (HH:MM, 00:00 to 24:00)",
            "cal-day0-err",
        ),
        (
            "end before start",
            with_day(2, "17:00-09:00"),
            "17:00-09:00 ends before it starts",
            "cal-day2-err",
        ),
        (
            "overlapping intervals",
            with_day(3, "09:00-13:00, 12:00-17:00"),
            "09:00-13:00 overlaps 12:00-17:00",
            "cal-day3-err",
        ),
        (
            "no open hours",
            calendar_form("Other", "UTC", ["closed"; 7], ""),
            "the calendar is closed every day of the week",
            "cal-hours-err",
        ),
        (
            "bad holiday line",
            calendar_form(
                "Other",
                "UTC",
                OFFICE,
                "2026-12-24 Eve\nChristmas 2026-12-25",
            ),
            "line 2: Christmas is not a date (YYYY-MM-DD)",
            "cal-holidays-err",
        ),
        (
            "impossible holiday date",
            calendar_form("Other", "UTC", OFFICE, "2026-02-30"),
            "line 1: 2026-02-30 is not a date",
            "cal-holidays-err",
        ),
        (
            "holiday twice",
            calendar_form("Other", "UTC", OFFICE, "2026-01-01\n2026-01-01 again"),
            "line 2: 2026-01-01 is listed twice (first on line 1)",
            "cal-holidays-err",
        ),
        (
            "empty name",
            calendar_form("  ", "UTC", OFFICE, ""),
            "a name is required",
            "cal-name-err",
        ),
        (
            "duplicate name",
            calendar_form("Office", "UTC", OFFICE, ""),
            "a calendar named &#34;Office&#34; exists already",
            "cal-name-err",
        ),
    ];
    for (what, form, message, err_id) in &cases {
        let p = b.post("/admin/calendars", &refs(form)).await;
        assert_refused(&p, what, message, err_id);
        assert!(p.body.contains("The calendar was not created"), "{what}");
        // What was typed comes back.
        let tz = &form.iter().find(|(k, _)| *k == "time_zone").unwrap().1;
        assert!(
            p.body
                .contains(&format!("list=\"cal-tz-list\" value=\"{tz}\"")),
            "{what}"
        );
        assert_eq!(
            calendars(&app).len(),
            before.len(),
            "{what} saved something"
        );
    }
    // The same rules on edit; the stored row stays.
    for (what, form, message, err_id) in &cases {
        let mut form = form.clone();
        if *what == "duplicate name" {
            let other = calendar_form("Second", "UTC", OFFICE, "");
            assert_eq!(b.post("/admin/calendars", &refs(&other)).await.status, 303);
        } else {
            set(
                &mut form,
                "name",
                if *what == "empty name" { "" } else { "Office" },
            );
        }
        let target = if *what == "duplicate name" {
            created_id(&app, "Second", true)
        } else {
            cal
        };
        let p = b
            .post(&format!("/admin/calendars/{target}"), &refs(&form))
            .await;
        assert_refused(&p, &format!("edit: {what}"), message, err_id);
        assert!(p.body.contains("Nothing was saved"), "{what}");
    }
    let after = app
        .db
        .query(|c| policy::find_calendar(c, cal))
        .unwrap()
        .unwrap();
    assert_eq!(
        (after.name.as_str(), after.hours.as_str(), after.updated_at),
        (
            before[0].name.as_str(),
            before[0].hours.as_str(),
            before[0].updated_at
        )
    );
    app.stop().await;
}

#[tokio::test]
async fn policy_form_errors_are_422_on_the_field_and_save_nothing() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let support = group_id(&app, "Support");
    let p = b
        .post("/admin/sla", &refs(&policy_form("Default", "4h")))
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let mut grouped = policy_form("Support only", "1h");
    set(&mut grouped, "group", &support.to_string());
    assert_eq!(b.post("/admin/sla", &refs(&grouped)).await.status, 303);
    let default_id = created_id(&app, "Default", false);
    // A group without a policy, so each case below has one thing wrong.
    staff(&app.db, "sales@example.com", Role::Agent, &["Sales"]);
    let sales = group_id(&app, "Sales").to_string();

    let with = |pairs: &[(&'static str, &str)]| {
        let mut f = policy_form("Another", "4h");
        set(&mut f, "group", &sales);
        for (k, v) in pairs {
            set(&mut f, k, v);
        }
        f
    };
    let support_s = support.to_string();
    let cases: Vec<(&str, Fields, &str, &str)> = vec![
        (
            "bad duration",
            with(&[("fr1", "4 hours")]),
            "is not a duration",
            "sla-fr1-err",
        ),
        (
            "bad resolution",
            with(&[("res2", "1.5h")]),
            "is not a duration",
            "sla-res2-err",
        ),
        (
            "zero",
            with(&[("res0", "0m")]),
            "a target must be at least one minute",
            "sla-res0-err",
        ),
        (
            "too long",
            with(&[("fr3", "9000h")]),
            "a target is at most 366 days",
            "sla-fr3-err",
        ),
        (
            "no target at all",
            with(&[("fr1", "")]),
            "set at least one first-response or resolution target",
            "sla-targets-err",
        ),
        (
            "second default policy",
            with(&[("group", "")]),
            "&#34;Default&#34; is already the policy for groups without their own policy",
            "sla-group-err",
        ),
        (
            "second policy for a group",
            with(&[("group", &support_s)]),
            "&#34;Support only&#34; is already the policy for this group",
            "sla-group-err",
        ),
        (
            "unknown group",
            with(&[("group", "999999")]),
            "there is no group 999999",
            "sla-group-err",
        ),
        (
            "unknown calendar",
            with(&[("calendar", "999999")]),
            "there is no calendar 999999",
            "sla-calendar-err",
        ),
        (
            "unknown escalation group",
            with(&[("breach_group", "999999")]),
            "there is no group 999999",
            "sla-breach-group-err",
        ),
        (
            "non-numeric group",
            with(&[("group", "support")]),
            "&#34;support&#34; is not a choice from the list",
            "sla-group-err",
        ),
        (
            "non-numeric calendar",
            with(&[("calendar", "1; DROP TABLE")]),
            "is not a choice from the list",
            "sla-calendar-err",
        ),
        (
            "non-numeric escalation group",
            with(&[("breach_group", "x")]),
            "is not a choice from the list",
            "sla-breach-group-err",
        ),
        (
            "empty name",
            with(&[("name", " ")]),
            "a name is required",
            "sla-name-err",
        ),
        (
            "duplicate name",
            with(&[("name", "Default")]),
            "a policy named &#34;Default&#34; exists already",
            "sla-name-err",
        ),
    ];
    let count = policies(&app).len();
    for (what, form, message, err_id) in &cases {
        let p = b.post("/admin/sla", &refs(form)).await;
        assert_refused(&p, what, message, err_id);
        assert!(p.body.contains("The policy was not created"), "{what}");
        assert_eq!(policies(&app).len(), count, "{what} saved something");
    }
    // On edit, the default policy's own scope is not "taken" by itself.
    let p = b
        .post(
            &format!("/admin/sla/{default_id}"),
            &refs(&policy_form("Default", "3h")),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let mut bad = policy_form("Default", "3h");
    set(&mut bad, "fr1", "soon");
    set(&mut bad, "res1", "2h");
    let p = b
        .post(&format!("/admin/sla/{default_id}"), &refs(&bad))
        .await;
    assert_refused(&p, "edit", "is not a duration", "sla-fr1-err");
    assert!(p.body.contains("Nothing was saved"));
    // What was typed comes back.
    assert!(p
        .body
        .contains("name=\"fr1\" type=\"text\" size=\"8\" value=\"soon\""));
    assert!(p
        .body
        .contains("name=\"res1\" type=\"text\" size=\"8\" value=\"2h\""));
    let t = app.db.query(|c| policy::targets(c, default_id)).unwrap();
    assert_eq!(
        (t[1].first_response_minutes, t[1].resolution_minutes),
        (Some(180), None)
    );
    app.stop().await;
}

#[tokio::test]
async fn policy_changes_move_open_tickets_due_times() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let open = app.create_ticket("Printer on fire", Some("Support")).await;
    let done = app.create_ticket("Already sorted", Some("Support")).await;
    let (status, _) = app
        .post_json(&format!("/api/v1/tickets/{done}/resolve"), json!({}))
        .await;
    assert_eq!(status, 200);
    let t = ticket(&app, open).await;
    assert!(t["sla"].is_null(), "{t}");
    assert!(t["first_response_due_at"].is_null() && t["resolution_due_at"].is_null());
    let created = ms(&t["created_at"]);
    let resolved_before = ticket(&app, done).await;

    let p = b
        .post("/admin/sla", &refs(&policy_form("Standard", "4h")))
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let pid = created_id(&app, "Standard", false);
    let t = ticket(&app, open).await;
    assert_eq!(
        ms(&t["first_response_due_at"]),
        created + 4 * HOUR_MS,
        "{t}"
    );
    assert!(t["resolution_due_at"].is_null());
    assert_eq!(t["sla"]["policy"]["name"], "Standard", "{t}");
    assert_eq!(t["sla"]["policy"]["id"], pid);
    assert_eq!(
        ticket(&app, done).await,
        resolved_before,
        "resolved ticket changed"
    );
    let p = b.get("/admin/sla").await;
    assert!(p.body.contains("<td class=\"open\">1</td>"), "{}", p.body);

    let p = b
        .post(
            &format!("/admin/sla/{pid}"),
            &refs(&policy_form("Standard", "2h")),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let t = ticket(&app, open).await;
    assert_eq!(
        ms(&t["first_response_due_at"]),
        created + 2 * HOUR_MS,
        "{t}"
    );
    assert_eq!(ticket(&app, done).await, resolved_before);

    // On a calendar: editing the calendar moves the clock too. Open all
    // day, then the ticket's day and the next become holidays.
    let always = calendar_form("All day", "UTC", ["24h"; 7], "");
    assert_eq!(b.post("/admin/calendars", &refs(&always)).await.status, 303);
    let cal = created_id(&app, "All day", true);
    let mut on_cal = policy_form("Standard", "2h");
    set(&mut on_cal, "calendar", &cal.to_string());
    assert_eq!(
        b.post(&format!("/admin/sla/{pid}"), &refs(&on_cal))
            .await
            .status,
        303
    );
    let t = ticket(&app, open).await;
    assert_eq!(
        ms(&t["first_response_due_at"]),
        created + 2 * HOUR_MS,
        "{t}"
    );
    let day = DateTime::<Utc>::from_timestamp_millis(created)
        .unwrap()
        .date_naive();
    let next = day + Duration::days(1);
    let holidays = format!("{day} Closed\n{next}");
    let form = calendar_form("All day", "UTC", ["24h"; 7], &holidays);
    let p = b
        .post(&format!("/admin/calendars/{cal}"), &refs(&form))
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("/admin/calendars/{cal}?done=sla_saved").as_str())
    );
    let reopen = (day + Duration::days(2))
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp_millis();
    let t = ticket(&app, open).await;
    assert_eq!(ms(&t["first_response_due_at"]), reopen + 2 * HOUR_MS, "{t}");

    let p = b.post(&format!("/admin/sla/{pid}/delete"), &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/sla?done=sla_deleted"));
    assert!(policies(&app).is_empty());
    let t = ticket(&app, open).await;
    assert!(t["sla"].is_null(), "{t}");
    assert!(t["first_response_due_at"].is_null() && t["resolution_due_at"].is_null());
    let p = b.get("/admin/sla?done=sla_deleted").await;
    assert!(p.body.contains("No SLA policies yet"));
    app.stop().await;
}

#[tokio::test]
async fn a_calendar_in_use_cannot_be_deleted_an_unused_one_can() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    for name in ["Used", "Spare"] {
        let f = calendar_form(name, "Europe/Berlin", OFFICE, "");
        assert_eq!(b.post("/admin/calendars", &refs(&f)).await.status, 303);
    }
    let used = created_id(&app, "Used", true);
    let spare = created_id(&app, "Spare", true);
    let mut f = policy_form("Office hours", "8h");
    set(&mut f, "calendar", &used.to_string());
    assert_eq!(b.post("/admin/sla", &refs(&f)).await.status, 303);

    let p = b
        .post(&format!("/admin/calendars/{used}/delete"), &[])
        .await;
    assert_eq!(p.status, 409, "{}", p.body);
    assert!(
        p.body
            .contains("the calendar is used by Office hours; pick another calendar there first"),
        "{}",
        p.body
    );
    assert!(p.body.contains("role=\"alert\""));
    assert_eq!(calendars(&app).len(), 2);

    let p = b
        .post(&format!("/admin/calendars/{spare}/delete"), &[])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/calendars?done=deleted"));
    let left: Vec<i64> = calendars(&app).iter().map(|c| c.id).collect();
    assert_eq!(left, [used]);
    assert_eq!(
        b.get(&format!("/admin/calendars/{spare}")).await.status,
        404
    );
    app.stop().await;
}

/// A calendar and a policy, and every route of both pages with a body that
/// would change something.
async fn fixtures(app: &TestApp) -> (i64, i64, Vec<String>, Vec<(String, Fields)>) {
    let mut b = admin(app).await;
    let f = calendar_form("Office", "UTC", OFFICE, "");
    assert_eq!(b.post("/admin/calendars", &refs(&f)).await.status, 303);
    let cal = created_id(app, "Office", true);
    assert_eq!(
        b.post("/admin/sla", &refs(&policy_form("Standard", "4h")))
            .await
            .status,
        303
    );
    let pid = created_id(app, "Standard", false);
    let gets = vec![
        "/admin/calendars".into(),
        format!("/admin/calendars/{cal}"),
        "/admin/sla".into(),
        format!("/admin/sla/{pid}"),
    ];
    let posts = vec![
        (
            "/admin/calendars".into(),
            calendar_form("New", "UTC", OFFICE, ""),
        ),
        (
            format!("/admin/calendars/{cal}"),
            calendar_form("Renamed", "UTC", ["24h"; 7], ""),
        ),
        (format!("/admin/calendars/{cal}/delete"), Vec::new()),
        ("/admin/sla".into(), {
            let mut f = policy_form("New", "1h");
            set(&mut f, "group", &group_id(app, "Support").to_string());
            f
        }),
        (format!("/admin/sla/{pid}"), policy_form("Renamed", "1h")),
        (format!("/admin/sla/{pid}/delete"), Vec::new()),
    ];
    (cal, pid, gets, posts)
}

fn assert_untouched(app: &TestApp, cal: i64, pid: i64) {
    let cals = calendars(app);
    assert_eq!(cals.len(), 1);
    assert_eq!((cals[0].id, cals[0].name.as_str()), (cal, "Office"));
    let ps = policies(app);
    assert_eq!(ps.len(), 1);
    assert_eq!((ps[0].id, ps[0].name.as_str()), (pid, "Standard"));
    let t = app.db.query(|c| policy::targets(c, pid)).unwrap();
    assert_eq!(t[1].first_response_minutes, Some(240));
}

#[tokio::test]
async fn agents_get_403_on_every_sla_admin_route() {
    let app = spawn_app().await;
    let (cal, pid, gets, posts) = fixtures(&app).await;
    staff(&app.db, "agent@example.com", Role::Agent, &["Support"]);
    staff(&app.db, "manager@example.com", Role::Manager, &["Support"]);
    for email in ["agent@example.com", "manager@example.com"] {
        let mut b = Browser::new(&app);
        b.login(email).await;
        b.get("/tickets").await;
        for path in &gets {
            let p = b.get(path).await;
            assert_eq!(p.status, 403, "{email} GET {path}");
            assert!(p.body.contains("only admins"), "{email} GET {path}");
        }
        for (path, fields) in &posts {
            let p = b.post(path, &refs(fields)).await;
            assert_eq!(p.status, 403, "{email} POST {path}");
            // Refused as a non-admin, not for a bad token.
            assert!(p.body.contains("only admins"), "{email} POST {path}");
        }
    }
    assert_untouched(&app, cal, pid);
    app.stop().await;
}

#[tokio::test]
async fn sla_admin_posts_without_the_csrf_token_are_403() {
    let app = spawn_app().await;
    let (cal, pid, _, posts) = fixtures(&app).await;
    let mut b = admin(&app).await;
    for (path, fields) in &posts {
        let p = b
            .post_raw(path, serde_html_form_encode(&refs(fields)))
            .await;
        assert_eq!(p.status, 403, "POST {path} without csrf");
        assert!(p.body.contains("form has expired"), "{path}: {}", p.body);
        let mut forged = vec![("csrf", "forged")];
        forged.extend(refs(fields));
        let p = b.post_raw(path, serde_html_form_encode(&forged)).await;
        assert_eq!(p.status, 403, "POST {path} with a wrong csrf");
    }
    assert_untouched(&app, cal, pid);
    app.stop().await;
}
