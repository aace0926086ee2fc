//! Cross-site scripting payloads in every place a stranger's text reaches a
//! page: a mail's HTML body, its subject, the sender's name and an
//! attachment's name; the web form's fields; an agent's reply and note.
//! Each page is opened in Chromium twice over: first with the page's
//! Content-Security-Policy bypassed (so escaping and sanitizing alone must
//! make every payload inert), then with it in force (which must block an
//! inline script even when one is put into the page).

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use fantoccini::Client;
use helpdesk::config::Config;
use helpdesk::mail::inbound::{self, Ingest, Outcome};
use helpdesk::time::now_ms;
use serde_json::{json, Value};

use super::driver::{click_and_load, fill, Driver};
use super::helpers::{signer, TestApp, PASSWORD};
use super::{css, open, portal_link, url};

const MAIL_CUSTOMER: &str = "xss.mail@example.com";
const FORM_CUSTOMER: &str = "xss.form@example.com";
pub const AGENT: &str = "agent.xss@example.com";

/// Every payload, if it ever ran, sets `window.__xss` (or opens an alert).
const HTML_BODY: &str = r#"<p>Hello, my device is broken.</p>
<script>window.__xss='script'</script>
<img src=x onerror="window.__xss='img onerror'">
<svg onload="window.__xss='svg onload'"><script>window.__xss='svg script'</script></svg>
<details open ontoggle="window.__xss='details ontoggle'"><summary>s</summary>d</details>
<a href="javascript:window.__xss='javascript link'">a link</a>
<a href="jav&#x09;ascript:window.__xss='tab link'">a tab link</a>
<a href="data:text/html,<script>alert(1)</script>">a data link</a>
<iframe srcdoc="<script>parent.__xss='srcdoc'</script>"></iframe>
<object data="javascript:window.__xss='object'"></object><embed src="javascript:window.__xss='embed'">
<form action="javascript:window.__xss='form'"><button formaction="javascript:window.__xss='formaction'">b</button></form>
<noscript><p title="</noscript><img src=x onerror=window.__xss='noscript mxss'>"></noscript>
<svg></p><style><a id="</style><img src=1 onerror=window.__xss='svg style mxss'>"></svg>
<math><mtext><table><mglyph><style><img src=x onerror=window.__xss='math mxss'></style></mglyph></table></mtext></math>
<div style="background:url(javascript:window.__xss='css url')">styled</div>
<style>@import url(http://127.0.0.1:9/evil.css); body{background:url(javascript:window.__xss='style')}</style>
<base href="http://127.0.0.1:9/"><meta http-equiv="refresh" content="0;url=javascript:window.__xss='refresh'">
<input autofocus onfocus="window.__xss='onfocus'">
<video><source onerror="window.__xss='video'"></video>
<body onload="window.__xss='body onload'"><p onclick="alert(1)">click</p>
"#;

/// For text fields: subjects, names, form fields, replies.
const TEXT: &str = r#"<script>window.__xss='text script'</script>"><img src=x onerror=window.__xss='text img'> javascript:alert(1) <svg/onload=alert(1)>"#;
const FILE_NAME: &str = "<img src=x onerror=window.__xss='filename'>.txt";

/// What the page's DOM holds that could run script or style it: anything
/// found here came from a payload, whether or not a browser would run it.
const DOM_CHECK: &str = r#"
const found = [];
if (window.__xss !== undefined) found.push('a payload ran: ' + window.__xss);
const urlAttrs = ['href', 'src', 'action', 'formaction', 'data', 'xlink:href', 'background', 'poster', 'srcset'];
for (const el of document.querySelectorAll('*')) {
  const tag = el.tagName.toLowerCase();
  for (const a of el.attributes) {
    const n = a.name.toLowerCase();
    const v = a.value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
    if (n.startsWith('on')) found.push('handler ' + n + ' on <' + tag + '>');
    if (n === 'style' || n === 'srcdoc') found.push(n + ' on <' + tag + '>');
    if (urlAttrs.includes(n) && /^(javascript|vbscript|data):/.test(v) && !/^data:image\/(png|gif|jpeg|webp);/.test(v))
      found.push(n + '=' + a.value.slice(0, 40) + ' on <' + tag + '>');
  }
  if (['iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'style', 'link', 'meta'].includes(tag)
      && !el.closest('head'))
    found.push('<' + tag + '> in the body');
}
for (const s of document.scripts) {
  if (!s.src || !s.src.startsWith(location.origin + '/static/')) found.push('script ' + (s.src || s.text.slice(0, 40)));
}
for (const m of document.querySelectorAll('head meta[http-equiv], head base')) found.push(m.outerHTML.slice(0, 80));
return found;
"#;

/// Inserts an inline script into the page; true when it ran.
const INLINE_RUNS: &str = r#"
const s = document.createElement('script');
s.textContent = 'window.__inlineRan = true;';
document.body.appendChild(s);
return window.__inlineRan === true;
"#;

pub async fn flow(app: &TestApp, driver: &Driver, c: &Client) -> Result<()> {
    let mail_ticket = ingest_hostile_mail(app)?;
    bypass_csp(driver, c, true).await?;
    ensure_inline_runs(c, app, true).await?;

    let form_ticket = submit_form(app, c).await?;
    check(c, &format!("/new → #{form_ticket}"), false).await?;

    agent_signs_in(app, c).await?;
    visit(app, c, "/tickets").await?;
    visit(app, c, &format!("/tickets/{mail_ticket}")).await?;
    // The agent's own text, as a reply (mailed to the customer) and a note.
    fill(c, "#reply-body", TEXT).await?;
    click_and_load(c, css("#send-reply"), "#send-reply").await?;
    check(c, "the ticket after the reply", true).await?;
    fill(c, "#note-body", TEXT).await?;
    click_and_load(
        c,
        fantoccini::Locator::XPath("//button[normalize-space()='Add note']"),
        "the Add note button",
    )
    .await?;
    check(c, "the ticket after the note", true).await?;
    visit(app, c, &format!("/tickets/{form_ticket}")).await?;
    visit(app, c, "/admin/quarantine").await?;
    click_and_load(
        c,
        fantoccini::Locator::XPath("//header//button[normalize-space()='Sign out']"),
        "the Sign out button",
    )
    .await?;

    customer_signs_in(app, c, MAIL_CUSTOMER).await?;
    visit(app, c, "/portal").await?;
    visit(app, c, &format!("/portal/tickets/{mail_ticket}")).await?;

    // With the policy in force, an inline script put into the page by any
    // means does not run.
    bypass_csp(driver, c, false).await?;
    visit(app, c, &format!("/portal/tickets/{mail_ticket}")).await?;
    ensure_inline_runs(c, app, false).await
}

fn ingest_hostile_mail(app: &TestApp) -> Result<i64> {
    let config = Config::from_sources(None, |k| {
        (k == "HELPDESK_SUPPORT_ADDRESS").then(|| "help@support.example.com".to_string())
    })?;
    let ctx = Ingest::new(signer(), &config, None).load_mailboxes(&app.db)?;
    let name = TEXT.replace('"', "'");
    let raw = format!(
        "From: \"{name}\" <{MAIL_CUSTOMER}>\r\nTo: help@support.example.com\r\n\
         Subject: {TEXT}\r\nMessage-ID: <xss@hostile.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n\
         --x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{HTML_BODY}\r\n\
         --x\r\nContent-Type: text/plain; name=\"{FILE_NAME}\"\r\n\
         Content-Disposition: attachment; filename=\"{FILE_NAME}\"\r\n\r\nlog\r\n--x--\r\n"
    );
    match inbound::ingest(&app.db, &ctx, raw.as_bytes(), now_ms())? {
        Outcome::NewTicket { ticket_id, .. } => Ok(ticket_id),
        other => bail!("the hostile mail became {other:?}, not a ticket"),
    }
}

/// Turns the Content-Security-Policy off (or on again) for the browser's
/// tab, through chromedriver's DevTools passthrough.
async fn bypass_csp(driver: &Driver, c: &Client, on: bool) -> Result<()> {
    let session = c.session_id().await?.context("no WebDriver session id")?;
    let r = reqwest::Client::new()
        .post(format!("{}/session/{session}/goog/cdp/execute", driver.url))
        .json(&json!({"cmd": "Page.setBypassCSP", "params": {"enabled": on}}))
        .send()
        .await?;
    ensure!(
        r.status().is_success(),
        "Page.setBypassCSP: {}",
        r.text().await?
    );
    Ok(())
}

async fn ensure_inline_runs(c: &Client, app: &TestApp, expected: bool) -> Result<()> {
    if expected {
        c.goto(&url(app, "/login")).await?;
    }
    let ran = c.execute(INLINE_RUNS, vec![]).await?;
    ensure!(
        ran == Value::Bool(expected),
        "an inline script {} with the policy {}",
        if expected { "did not run" } else { "ran" },
        if expected { "bypassed" } else { "in force" }
    );
    Ok(())
}

async fn visit(app: &TestApp, c: &Client, path: &str) -> Result<()> {
    open(app, c, path, "main").await?;
    check(c, path, path != "/admin/quarantine").await
}

/// Fails when an alert is open or the DOM holds anything a payload put in.
/// With `shows_payload`, the page must show the payload as text (else the
/// check would prove nothing).
async fn check(c: &Client, page: &str, shows_payload: bool) -> Result<()> {
    // Handlers that would fire late (image errors, toggles) get their chance.
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Ok(text) = c.get_alert_text().await {
        bail!("{page}: a payload opened an alert ({text:?})");
    }
    let found: Vec<String> = serde_json::from_value(c.execute(DOM_CHECK, vec![]).await?)?;
    ensure!(found.is_empty(), "{page}: {}", found.join("; "));
    let html = c.source().await?;
    ensure!(
        !shows_payload || html.contains("img src=x onerror"),
        "{page} does not show the payloads as text: the test would prove nothing"
    );
    Ok(())
}

async fn submit_form(app: &TestApp, c: &Client) -> Result<i64> {
    open(app, c, "/new", "#submit-request").await?;
    fill(
        c,
        "[name=name]",
        "Form <b onmouseover=alert(1)>Customer</b>",
    )
    .await?;
    fill(c, "[name=email]", FORM_CUSTOMER).await?;
    fill(c, "[name=subject]", TEXT).await?;
    fill(c, "[name=body]", TEXT).await?;
    click_and_load(c, css("#submit-request"), "#submit-request").await?;
    let number = super::driver::text_of(c, "#ticket-number").await?;
    number
        .trim()
        .trim_start_matches('#')
        .parse()
        .with_context(|| format!("#ticket-number reads {number:?}"))
}

async fn agent_signs_in(app: &TestApp, c: &Client) -> Result<()> {
    open(app, c, "/login", "form[action='/login']").await?;
    fill(c, "[name=email]", AGENT).await?;
    fill(c, "[name=password]", PASSWORD).await?;
    click_and_load(
        c,
        css("form[action='/login'] button[type=submit]"),
        "the Sign in button",
    )
    .await
}

async fn customer_signs_in(app: &TestApp, c: &Client, email: &str) -> Result<()> {
    open(app, c, "/portal/login", "#send-link").await?;
    fill(c, "[name=email]", email).await?;
    click_and_load(c, css("#send-link"), "#send-link").await?;
    let link = portal_link(&app.db, email)?;
    open(app, c, &link, "#confirm-sign-in").await?;
    click_and_load(c, css("#confirm-sign-in"), "#confirm-sign-in").await
}
