//! A headless Chromium behind chromedriver, for the end-to-end test. The
//! driver runs as our child in its own process group, so dropping `Driver`
//! also ends the Chromium it started, even when the test panicked.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long a page may take to load after a click before the test fails.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    names.iter().find_map(|n| find_in_path(n))
}

pub struct Driver {
    child: Child,
    pub url: String,
    log: PathBuf,
    // Chromium's profile; removed after the driver (and so the browser) ended.
    _profile: tempfile::TempDir,
    _logs: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver on a free loopback port and waits until it is
    /// ready. Fails (never skips) when it is not installed: CI installs it.
    pub async fn start() -> Result<Driver> {
        let Some(chromedriver) = program("HELPDESK_CHROMEDRIVER", &["chromedriver"]) else {
            bail!(
                "chromedriver is not installed, so the browser test cannot run: \
                 install Debian's `chromium` and `chromium-driver` packages \
                 (apt-get install -y chromium chromium-driver, as .ci/run does) \
                 or point HELPDESK_CHROMEDRIVER at a chromedriver binary"
            );
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for chromedriver")?
            .port();
        let logs = tempfile::tempdir()?;
        let log = logs.path().join("chromedriver.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", chromedriver.display()))?;
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _profile: tempfile::tempdir()?,
            _logs: logs,
        };
        driver.wait_ready().await?;
        Ok(driver)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "chromedriver exited ({status}) before it was ready:\n{}",
                    self.log()
                );
            }
            let ready = http
                .get(format!("{}/status", self.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if let Ok(r) = ready {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == json!(true) {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "chromedriver did not answer on {} within 30 s:\n{}",
                    self.url,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new browser session: headless, with a fresh profile, and with every
    /// background service off (this machine's network is closed, and the
    /// test's traffic must stay on 127.0.0.1).
    pub async fn browser(&self) -> Result<Client> {
        let profile = self._profile.path().display().to_string();
        let mut options = json!({
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,1000",
                format!("--user-data-dir={profile}"),
            ],
        });
        if let Some(bin) = program("HELPDESK_CHROMIUM", &["chromium", "chromium-browser"]) {
            options["binary"] = json!(bin.display().to_string());
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .with_context(|| format!("opening a Chromium session:\n{}", self.log()))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started.
        let pid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clicks `target` and waits until the page it leads to has loaded: a marker
/// set on the old document must be gone, so an element of the old page is
/// never mistaken for the result.
pub async fn click_and_load(c: &Client, target: Locator<'_>, what: &str) -> Result<()> {
    c.execute("window.__e2eOldPage = true;", vec![]).await?;
    c.find(target)
        .await
        .with_context(|| format!("finding {what}"))?
        .click()
        .await
        .with_context(|| format!("clicking {what}"))?;
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        // Errors while the new page replaces the old one are expected.
        let done = c
            .execute(
                "return !window.__e2eOldPage && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if matches!(done, Ok(Value::Bool(true))) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no new page loaded within {PAGE_TIMEOUT:?} after clicking {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Types into the field found by `css` (after clearing it).
pub async fn fill(c: &Client, css: &str, text: &str) -> Result<()> {
    let field = c
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("finding field {css}"))?;
    field.clear().await.ok();
    field
        .send_keys(text)
        .await
        .with_context(|| format!("typing into {css}"))
}

/// The visible text of the element found by `css`.
pub async fn text_of(c: &Client, css: &str) -> Result<String> {
    c.find(Locator::Css(css))
        .await
        .with_context(|| format!("finding {css}"))?
        .text()
        .await
        .with_context(|| format!("reading {css}"))
}

/// An accessibility smoke check run in the page: every visible form control
/// has a label (label[for], a wrapping label, aria-label or a resolvable
/// aria-labelledby), every label[for] points at an element, ids are unique,
/// and headings start at h1 and never skip a level. Returns the problems.
const A11Y_SCRIPT: &str = r#"
const problems = [];
const short = (el) => el.outerHTML.slice(0, 160);
for (const el of document.querySelectorAll('input, select, textarea')) {
  if (el.type === 'hidden' || el.closest('[hidden]')) continue;
  const byLabel = el.labels && el.labels.length > 0;
  const byAria = (el.getAttribute('aria-label') || '').trim() !== '';
  const by = (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean);
  const byRef = by.length > 0 && by.every((id) => document.getElementById(id));
  if (!byLabel && !byAria && !byRef) problems.push('control without a label: ' + short(el));
  const described = (el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
  for (const id of described) {
    if (!document.getElementById(id)) problems.push('aria-describedby points nowhere: ' + short(el));
  }
}
for (const l of document.querySelectorAll('label[for]')) {
  if (!document.getElementById(l.htmlFor)) problems.push('label for a missing id: ' + short(l));
}
const seen = new Map();
for (const el of document.querySelectorAll('[id]')) {
  if (seen.has(el.id)) problems.push('duplicate id "' + el.id + '"');
  seen.set(el.id, true);
}
let level = 0;
for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
  const n = Number(h.tagName[1]);
  if (level === 0 && n !== 1) problems.push('first heading is not h1: ' + short(h));
  if (level > 0 && n > level + 1) problems.push('heading skips a level: ' + short(h));
  level = n;
}
if (!document.documentElement.lang) problems.push('html has no lang');
return problems;
"#;

/// Fails with the list of problems the accessibility check found on the
/// current page.
pub async fn check_accessibility(c: &Client, page: &str) -> Result<()> {
    let found = c
        .execute(A11Y_SCRIPT, vec![])
        .await
        .with_context(|| format!("running the accessibility check on {page}"))?;
    let problems: Vec<String> = serde_json::from_value(found)?;
    if !problems.is_empty() {
        bail!(
            "accessibility problems on {page}:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// Saves a screenshot and the page source next to the build output, for a
/// failed run; returns where.
pub async fn save_evidence(c: &Client, dir: &Path) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let png = dir.join("browser-failure.png");
    if let Ok(bytes) = c.screenshot().await {
        std::fs::write(&png, bytes).ok()?;
    }
    if let Ok(html) = c.source().await {
        std::fs::write(dir.join("browser-failure.html"), html).ok()?;
    }
    Some(png)
}
