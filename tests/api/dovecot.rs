//! A real Dovecot for the IMAP tests: its own config, users, maildirs,
//! certificate and ports in a temp dir, started as a child process
//! (`dovecot -F -c CONF`) and stopped on drop. Missing Dovecot is a test
//! FAILURE, not a skip: CI installs it (`dovecot-imapd`, see .ci/run).

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use tokio::net::TcpStream as AsyncTcp;

pub const PASSWORD: &str = "s3cret pass";
pub const USERS: &[&str] = &["support", "billing", "sales", "keyword"];

pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Plain IMAP (STARTTLS offered).
    pub port: u16,
    /// IMAP over TLS from the first byte.
    pub tls_port: u16,
    /// The server's self-signed certificate (PEM), to trust as a CA.
    pub ca_file: PathBuf,
    uid: u32,
    gid: u32,
}

fn find_dovecot() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join("dovecot"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the IMAP tests need Dovecot and it is not installed: \
                 apt-get install dovecot-imapd (.ci/run installs it)"
            )
        })
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The uid/gid of the user named `name` in /etc/passwd.
pub(crate) fn passwd_ids(name: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn passwd_name(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[2] == uid.to_string()).then(|| f[0].to_string())
    })
}

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

impl Dovecot {
    pub fn start() -> Dovecot {
        Self::start_with("")
    }

    /// With extra lines for dovecot.conf.
    pub fn start_with(extra_conf: &str) -> Dovecot {
        let bin = find_dovecot();
        // A free port can be taken by another test before Dovecot binds it.
        for attempt in 1.. {
            match Self::try_start(&bin, extra_conf) {
                Ok(d) => return d,
                Err(logs) if attempt < 3 && logs.contains("Address already in use") => continue,
                Err(logs) => panic!("cannot start dovecot:\n{logs}"),
            }
        }
        unreachable!()
    }

    fn try_start(bin: &Path, extra_conf: &str) -> Result<Dovecot, String> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        // The mail user must be able to reach its home in here.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let probe = root.join("probe");
        std::fs::write(&probe, b"").unwrap();
        let meta = std::fs::metadata(&probe).unwrap();
        let (me_uid, me_gid) = (meta.uid(), meta.gid());
        // Dovecot never reads mail as root: as root, the mail user is
        // `nobody`; otherwise everything runs as the current user.
        let (uid, gid, service_users) = if me_uid == 0 {
            let (u, g) = passwd_ids("nobody").unwrap_or((65534, 65534));
            (u, g, String::new())
        } else {
            let name = passwd_name(me_uid)
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| me_uid.to_string());
            (
                me_uid,
                me_gid,
                format!(
                    "default_login_user = {name}\ndefault_internal_user = {name}\ndefault_internal_group = {name}\n"
                ),
            )
        };
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .unwrap();
        let ca_file = root.join("cert.pem");
        std::fs::write(&ca_file, cert.cert.pem()).unwrap();
        std::fs::write(root.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
        let mut passwd = String::new();
        for u in USERS {
            let home = root.join("home").join(u);
            passwd.push_str(&format!(
                "{u}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{}\n",
                home.display()
            ));
        }
        std::fs::write(root.join("passwd"), passwd).unwrap();
        let (port, tls_port) = (free_port(), free_port());
        let instance = format!(
            "helpdesk-test-{}-{}",
            std::process::id(),
            INSTANCES.fetch_add(1, Ordering::Relaxed)
        );
        let r = root.display();
        let conf = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
instance_name = {instance}
log_path = {r}/dovecot.log
{service_users}first_valid_uid = 1
last_valid_uid = 0
first_valid_gid = 1
ssl = yes
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
# New files in Maildir/new wake IDLE quickly even without inotify.
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {r}/passwd
}}
userdb {{
  driver = passwd-file
  args = {r}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
{extra_conf}
"#
        );
        std::fs::write(root.join("dovecot.conf"), conf).unwrap();
        let mut d = Dovecot {
            child: None,
            port,
            tls_port,
            ca_file,
            uid,
            gid,
            dir,
        };
        for u in USERS {
            d.ensure_maildir(&d.maildir(u));
        }
        let stderr = std::fs::File::create(root.join("stderr.log")).unwrap();
        let child = Command::new(bin)
            .arg("-F")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        d.child = Some(child);
        d.wait_ready()?;
        Ok(d)
    }

    fn logs(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!("{}{}", read("stderr.log"), read("dovecot.log"))
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!("dovecot exited ({status}):\n{}", self.logs()));
            }
            if let Ok(s) = TcpStream::connect(("127.0.0.1", self.port)) {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("* OK") {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "dovecot does not answer on {}:\n{}",
                    self.port,
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("home").join(user).join("Maildir")
    }

    fn ensure_maildir(&self, md: &Path) {
        let home = md.parent().unwrap();
        for p in [home.to_path_buf(), md.to_path_buf()]
            .into_iter()
            .chain(["new", "cur", "tmp"].map(|s| md.join(s)))
        {
            std::fs::create_dir_all(&p).unwrap();
            std::os::unix::fs::chown(&p, Some(self.uid), Some(self.gid)).unwrap();
        }
    }

    /// Delivers a mail the way an MTA's local delivery does: into tmp/,
    /// then renamed into new/ (`seen`: straight into cur/ with the S flag,
    /// as if another client had read it already).
    pub fn deliver(&self, user: &str, raw: &[u8], seen: bool) {
        static N: AtomicUsize = AtomicUsize::new(0);
        let md = self.maildir(user);
        let name = format!(
            "{}.M{}P{}.test",
            1_700_000_000 + N.load(Ordering::Relaxed),
            N.fetch_add(1, Ordering::Relaxed),
            std::process::id()
        );
        let tmp = md.join("tmp").join(&name);
        std::fs::write(&tmp, raw).unwrap();
        std::os::unix::fs::chown(&tmp, Some(self.uid), Some(self.gid)).unwrap();
        let dest = if seen {
            md.join("cur").join(format!("{name}:2,S"))
        } else {
            md.join("new").join(&name)
        };
        std::fs::rename(&tmp, dest).unwrap();
    }

    /// A plain-text URL for `helpdesk` (loopback: tls=none is fine).
    pub fn url(&self, user: &str, folder: &str, query: &str) -> String {
        let pass = PASSWORD.replace(' ', "%20");
        let sep = if query.is_empty() { "" } else { "&" };
        format!(
            "imap://{user}:{pass}@127.0.0.1:{}/{folder}?tls=none{sep}{query}",
            self.port
        )
    }

    /// An IMAP client of our own (plain), as "another client" would be.
    pub fn client(&self, user: &str) -> Client {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let port = self.port;
        let session = rt.block_on(async move {
            let tcp = AsyncTcp::connect(("127.0.0.1", port)).await.unwrap();
            let mut c = async_imap::Client::new(tcp);
            c.read_response().await.unwrap().unwrap();
            c.login(user, PASSWORD).await.map_err(|(e, _)| e).unwrap()
        });
        Client { rt, session }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM lets the master stop its children; SIGKILL only if stuck.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// One message as another client sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub uid: u32,
    pub flags: Vec<String>,
    pub message_id: Option<String>,
}

impl Seen {
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

pub struct Client {
    rt: tokio::runtime::Runtime,
    session: async_imap::Session<AsyncTcp>,
}

fn flag_name(f: &async_imap::types::Flag<'_>) -> String {
    use async_imap::types::Flag;
    match f {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(c) => c.to_string(),
    }
}

pub fn message_id_of(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("message-id")
                .then(|| v.trim().to_string())
        })
}

impl Client {
    /// Every message in `folder`, by UID, with flags and Message-ID.
    pub fn list(&mut self, folder: &str) -> Vec<Seen> {
        let s = &mut self.session;
        self.rt.block_on(async {
            let mb = s.select(folder).await.unwrap();
            if mb.exists == 0 {
                return Vec::new();
            }
            let fetched: Vec<_> = s
                .uid_fetch("1:*", "(UID FLAGS BODY.PEEK[])")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            let mut out: Vec<Seen> = fetched
                .iter()
                .filter_map(|f| {
                    Some(Seen {
                        uid: f.uid?,
                        flags: f.flags().map(|fl| flag_name(&fl)).collect(),
                        message_id: message_id_of(f.body()?),
                    })
                })
                .collect();
            out.sort_by_key(|m| m.uid);
            out
        })
    }

    pub fn uidvalidity(&mut self, folder: &str) -> u32 {
        let s = &mut self.session;
        self.rt
            .block_on(async { s.select(folder).await.unwrap().uid_validity.unwrap() })
    }

    /// `UID STORE set change` in `folder`, e.g. `+FLAGS (\Seen)`.
    pub fn store(&mut self, folder: &str, set: &str, change: &str) {
        let s = &mut self.session;
        self.rt.block_on(async {
            s.select(folder).await.unwrap();
            let _: Vec<_> = s
                .uid_store(set, change)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
        })
    }

    pub fn create(&mut self, folder: &str) {
        let s = &mut self.session;
        self.rt.block_on(async { s.create(folder).await.unwrap() })
    }

    pub fn delete(&mut self, folder: &str) {
        let s = &mut self.session;
        self.rt.block_on(async {
            // A folder cannot be deleted while selected.
            let _ = s.select("INBOX").await;
            s.delete(folder).await.unwrap()
        })
    }

    pub fn append(&mut self, folder: &str, raw: &[u8]) {
        let s = &mut self.session;
        self.rt
            .block_on(async { s.append(folder, None, None, raw).await.unwrap() })
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let s = &mut self.session;
        let _ = self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), s.logout()).await });
    }
}
