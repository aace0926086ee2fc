//! End to end in a real headless Chromium driven over WebDriver: a customer
//! submits a request on the web form, an agent works it in the staff pages,
//! and the customer reads the answer in the portal after signing in by the
//! mailed link. Runs on SQLite by default and on PostgreSQL when
//! HELPDESK_TEST_DATABASE_URL is set, like the api suite. Needs Debian's
//! `chromium` and `chromium-driver` (CI installs them); without them the
//! test fails rather than skips.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

#[path = "browser/driver.rs"]
mod driver;

#[path = "browser/xss.rs"]
mod xss;

use std::panic::{resume_unwind, AssertUnwindSafe};

use anyhow::{ensure, Context, Result};
use diesel::prelude::*;
use driver::{check_accessibility, click_and_load, fill, text_of, Driver};
use fantoccini::{Client, Locator};
use futures_util::FutureExt;
use helpdesk::db::schema::outbox;
use helpdesk::db::Db;
use helpdesk::tickets::Role;
use helpers::{spawn_app, staff, TestApp, PASSWORD};

const AGENT: &str = "agent.e2e@example.com";
const CUSTOMER_NAME: &str = "Ann Example";
const CUSTOMER: &str = "ann.e2e@example.com";
const SUBJECT: &str = "Printer prints every page twice";
const BODY: &str = "Since Monday the printer on floor 3 prints each page twice.";
const REPLY: &str = "Please update the printer firmware to 2.4; that fixes it.";
const NOTE: &str = "INTERNAL ONLY: customer is on the legacy support plan.";

#[tokio::test]
async fn request_answered_by_an_agent_is_read_in_the_portal() {
    let driver = Driver::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let app = spawn_app().await;
    staff(&app.db, AGENT, Role::Agent, &["Support"]);
    let browser = driver.browser().await.unwrap_or_else(|e| panic!("{e:#}"));

    let outcome = AssertUnwindSafe(flow(&app, &browser)).catch_unwind().await;
    finish(&app, &browser, outcome).await;
}

/// Saves evidence of a failure, ends the browser and the server, then
/// reports the flow's outcome.
async fn finish(app: &TestApp, browser: &Client, outcome: std::thread::Result<Result<()>>) {
    let evidence = match &outcome {
        Ok(Ok(())) => None,
        _ => driver::save_evidence(browser, std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
            .await
            .map(|p| p.display().to_string()),
    };
    // Ends Chromium cleanly; the driver's drop kills whatever is left.
    let _ = browser.clone().close().await;
    // libpq must not be closing pooled connections on server threads while
    // the process exits (seen once: "double free or corruption" at exit).
    app.stop().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!(
            "{e:#}\n(screenshot and page source of the failure: {})",
            evidence.as_deref().unwrap_or("not saved")
        ),
        Err(panic) => resume_unwind(panic),
    }
}

#[tokio::test]
async fn hostile_text_and_html_render_inert_in_chromium() {
    let driver = Driver::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let app = spawn_app().await;
    staff(&app.db, xss::AGENT, Role::Admin, &["Support"]);
    let browser = driver.browser().await.unwrap_or_else(|e| panic!("{e:#}"));
    let outcome = AssertUnwindSafe(xss::flow(&app, &driver, &browser))
        .catch_unwind()
        .await;
    finish(&app, &browser, outcome).await;
}

fn url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.address)
}

fn css(s: &str) -> Locator<'_> {
    Locator::Css(s)
}

/// Opens `path` and fails clearly when the page lacks `marker` (an error
/// page, say), naming the title the browser shows instead.
async fn open(app: &TestApp, c: &Client, path: &str, marker: &str) -> Result<()> {
    c.goto(&url(app, path)).await?;
    if c.find(css(marker)).await.is_err() {
        let title = c.title().await.unwrap_or_default();
        anyhow::bail!("{path} has no {marker}: the browser shows {title:?}");
    }
    Ok(())
}

async fn flow(app: &TestApp, c: &Client) -> Result<()> {
    let id = customer_submits_request(app, c).await?;
    agent_answers(app, c, id).await?;
    customer_reads_answer_in_portal(app, c, id).await
}

/// The public request form; returns the ticket number it shows.
async fn customer_submits_request(app: &TestApp, c: &Client) -> Result<i64> {
    open(app, c, "/new", "#submit-request").await?;
    check_accessibility(c, "/new").await?;
    fill(c, "[name=name]", CUSTOMER_NAME).await?;
    fill(c, "[name=email]", CUSTOMER).await?;
    fill(c, "[name=subject]", SUBJECT).await?;
    fill(c, "[name=body]", BODY).await?;
    click_and_load(c, css("#submit-request"), "#submit-request").await?;
    let number = text_of(c, "#ticket-number").await?;
    number
        .trim()
        .trim_start_matches('#')
        .parse()
        .with_context(|| format!("#ticket-number reads {number:?}, not like \"#12\""))
}

async fn agent_answers(app: &TestApp, c: &Client, id: i64) -> Result<()> {
    c.goto(&url(app, "/login")).await?;
    check_accessibility(c, "/login").await?;
    fill(c, "[name=email]", AGENT).await?;
    fill(c, "[name=password]", PASSWORD).await?;
    click_and_load(
        c,
        css("form[action='/login'] button[type=submit]"),
        "the Sign in button",
    )
    .await?;
    let at = c.current_url().await?;
    ensure!(
        at.path() == "/tickets",
        "after sign-in the browser is at {at}"
    );

    c.goto(&url(app, "/tickets")).await?;
    check_accessibility(c, "the queue").await?;
    let link = format!("a[href='/tickets/{id}']");
    let subject = text_of(c, &link)
        .await
        .with_context(|| format!("the queue has no link to ticket {id}"))?;
    ensure!(
        subject == SUBJECT,
        "the queue shows ticket {id} as {subject:?}"
    );
    click_and_load(c, css(&link), "the ticket's link in the queue").await?;
    check_accessibility(c, "the ticket page").await?;
    let conversation = text_of(c, ".conversation").await?;
    ensure!(
        conversation.contains(BODY),
        "the ticket page does not show the request: {conversation}"
    );

    fill(c, "#reply-body", REPLY).await?;
    click_and_load(c, css("#send-reply"), "#send-reply").await?;
    let conversation = text_of(c, ".conversation").await?;
    ensure!(
        conversation.contains(REPLY),
        "the reply is not in the conversation: {conversation}"
    );

    fill(c, "#note-body", NOTE).await?;
    click_and_load(
        c,
        Locator::XPath("//button[normalize-space()='Add note']"),
        "the Add note button",
    )
    .await?;
    let conversation = text_of(c, ".conversation").await?;
    ensure!(
        conversation.contains(NOTE),
        "the agent does not see the note: {conversation}"
    );

    fill(c, "#escalate-reason", "Customer needs it today").await?;
    click_and_load(c, css("#escalate"), "#escalate").await?;
    let badge = text_of(c, "#ticket-escalation")
        .await
        .context("no escalation badge after escalating")?;
    ensure!(badge.contains("L1"), "escalation badge reads {badge:?}");

    click_and_load(c, css("#resolve"), "#resolve").await?;
    let status = text_of(c, "#ticket-status").await?;
    ensure!(status == "resolved", "status after Resolve is {status:?}");

    click_and_load(
        c,
        Locator::XPath("//header//button[normalize-space()='Sign out']"),
        "the Sign out button",
    )
    .await?;
    c.goto(&url(app, "/tickets")).await?;
    let at = c.current_url().await?;
    ensure!(
        at.path() == "/login",
        "after signing out /tickets still shows at {at}"
    );
    Ok(())
}

async fn customer_reads_answer_in_portal(app: &TestApp, c: &Client, id: i64) -> Result<()> {
    open(app, c, "/portal/login", "#send-link").await?;
    check_accessibility(c, "/portal/login").await?;
    fill(c, "[name=email]", CUSTOMER).await?;
    click_and_load(c, css("#send-link"), "#send-link").await?;

    let link = portal_link(&app.db, CUSTOMER)?;
    open(app, c, &link, "#confirm-sign-in").await?;
    click_and_load(c, css("#confirm-sign-in"), "#confirm-sign-in").await?;

    let page = format!("/portal/tickets/{id}");
    open(app, c, &page, "main h1").await?;
    check_accessibility(c, &page).await?;
    let main = text_of(c, "main").await?;
    ensure!(
        main.contains(BODY),
        "the portal does not show the request: {main}"
    );
    ensure!(
        main.contains(REPLY),
        "the portal does not show the agent's reply: {main}"
    );
    // Not merely hidden: the note must not reach the customer's browser at all.
    let source = c.source().await?;
    ensure!(
        !source.contains(NOTE),
        "the portal page contains the internal note"
    );
    Ok(())
}

/// The sign-in link from the newest portal mail to `email`, as a local path.
fn portal_link(db: &Db, email: &str) -> Result<String> {
    let body: Option<String> = db
        .query(|c| {
            outbox::table
                .filter(outbox::kind.eq("portal_link"))
                .filter(outbox::to_addrs.like(format!("%{email}%")))
                .order(outbox::id.desc())
                .select(outbox::body_text)
                .first(c)
        })
        .context("no portal_link mail in the outbox")?;
    let body = body.context("the portal_link mail has no text body")?;
    let start = body
        .find("/portal/auth?token=")
        .with_context(|| format!("no /portal/auth?token= link in the mail:\n{body}"))?;
    let link: String = body[start..]
        .chars()
        .take_while(|ch| !ch.is_whitespace() && !"<>\"'()".contains(*ch))
        .collect();
    // A link at the end of a sentence: the token itself never ends in these.
    Ok(link.trim_end_matches(['.', ',', ';', ':']).to_string())
}
