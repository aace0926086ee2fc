//! Reaching an IMAP server: TCP, then TLS (implicit or STARTTLS, through
//! rustls with the webpki roots plus an optional CA file) or, on request,
//! none; the greeting; LOGIN; the capabilities we use.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::imap_proto::{Response, Status};
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use super::account::{ImapAccount, Tls};
use super::ImapError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// The most one command may take (a fetch of a whole batch included).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// A plain or TLS connection, one type for the IMAP client.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Plain(_) => "Stream::Plain",
            Stream::Tls(_) => "Stream::Tls",
        })
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub type Session = async_imap::Session<Stream>;

/// A logged-in session and what the server offers.
pub struct Connected {
    pub session: Session,
    pub idle: bool,
    pub move_: bool,
    pub uidplus: bool,
    /// The `move:` target was created (or found) on this connection.
    pub target_ready: bool,
}

/// Runs one IMAP command with the command timeout; the error as text.
pub async fn timed<T, F>(fut: F) -> Result<T, String>
where
    F: Future<Output = async_imap::error::Result<T>>,
{
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", COMMAND_TIMEOUT.as_secs())),
    }
}

fn tls_config(account: &ImapAccount) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &account.ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("ca_file {}: no certificate in it", path.display()));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        }
    }
    // ring, chosen explicitly: no process-wide default provider to set up.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn start_tls(account: &ImapAccount, tcp: TcpStream) -> Result<Stream, String> {
    let config = tls_config(account)?;
    let name = ServerName::try_from(account.host().to_string())
        .map_err(|e| format!("{:?} is not a host name for TLS: {e}", account.host()))?;
    let tls = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| "no TLS handshake within 20 s".to_string())?
    .map_err(|e| format!("TLS: {e}"))?;
    Ok(Stream::Tls(Box::new(tls)))
}

/// Reads the server's first line: OK (or PREAUTH) to go on, BYE to stop.
async fn greeting(client: &mut async_imap::Client<Stream>) -> Result<(), String> {
    let first = tokio::time::timeout(CONNECT_TIMEOUT, client.read_response())
        .await
        .map_err(|_| "no greeting from the server within 20 s".to_string())?
        .map_err(|e| format!("reading the greeting: {e}"))?
        .ok_or("the server closed the connection before its greeting")?;
    match first.parsed() {
        Response::Data {
            status: Status::Ok | Status::PreAuth,
            ..
        } => Ok(()),
        Response::Data {
            status, outcome, ..
        } => Err(format!(
            "the server refused the connection: {status:?} {}",
            outcome.information.as_deref().unwrap_or("")
        )),
        _ => Err("the server's greeting is not IMAP".into()),
    }
}

/// Connects, secures and logs in, as the account says.
pub async fn connect(account: &ImapAccount) -> Result<Connected, ImapError> {
    let fail = |message: String| ImapError::Connect {
        account: account.to_string(),
        message,
    };
    if account.sends_password_in_clear() {
        tracing::warn!(account = %account, "tls=none to a host that is not loopback: the password crosses the network in the clear");
    }
    let addr = (account.host(), account.port);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| fail("no connection within 20 s".into()))?
        .map_err(|e| fail(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let client = match account.tls {
        Tls::Implicit => {
            let mut client = async_imap::Client::new(start_tls(account, tcp).await.map_err(fail)?);
            greeting(&mut client).await.map_err(fail)?;
            client
        }
        Tls::None => {
            let mut client = async_imap::Client::new(Stream::Plain(tcp));
            greeting(&mut client).await.map_err(fail)?;
            client
        }
        Tls::StartTls => {
            let mut client = async_imap::Client::new(Stream::Plain(tcp));
            greeting(&mut client).await.map_err(fail)?;
            timed(client.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(|e| {
                    fail(format!(
                        "the server does not do STARTTLS ({e}); use imaps:// or, for a server on loopback, tls=none"
                    ))
                })?;
            let Stream::Plain(tcp) = client.into_inner() else {
                return Err(fail("STARTTLS on a TLS connection".into()));
            };
            // No greeting after STARTTLS.
            async_imap::Client::new(start_tls(account, tcp).await.map_err(fail)?)
        }
    };
    let mut session = match tokio::time::timeout(
        COMMAND_TIMEOUT,
        client.login(&account.user, account.password()),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err((e, _))) => {
            return Err(ImapError::Login {
                account: account.to_string(),
                message: e.to_string(),
            })
        }
        Err(_) => return Err(fail("no answer to LOGIN".into())),
    };
    let caps = timed(session.capabilities())
        .await
        .map_err(|e| ImapError::Server {
            account: account.to_string(),
            message: format!("CAPABILITY: {e}"),
        })?;
    Ok(Connected {
        idle: caps.has_str("IDLE"),
        move_: caps.has_str("MOVE"),
        uidplus: caps.has_str("UIDPLUS"),
        target_ready: false,
        session,
    })
}

/// A folder name as IMAP wants it: modified UTF-7 (RFC 3501 5.1.3).
pub fn mutf7(name: &str) -> String {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::IMAP_MUTF7,
        base64::engine::general_purpose::NO_PAD,
    );
    let mut out = String::with_capacity(name.len());
    let mut wide: Vec<u16> = Vec::new();
    let flush = |wide: &mut Vec<u16>, out: &mut String| {
        if !wide.is_empty() {
            let bytes: Vec<u8> = wide.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&engine.encode(bytes));
            out.push('-');
            wide.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut wide, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            wide.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut wide, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::mutf7;

    #[test]
    fn folder_names_in_modified_utf7() {
        assert_eq!(mutf7("INBOX"), "INBOX");
        assert_eq!(mutf7("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(mutf7("A&B"), "A&-B");
        assert_eq!(mutf7("Входящие"), "&BBIERQQ+BDQETwRJBDgENQ-");
        assert_eq!(
            mutf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
    }
}
