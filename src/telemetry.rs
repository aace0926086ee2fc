//! Logging with `tracing`: text by default, JSON with `HELPDESK_LOG_FORMAT=json`.
//! The filter comes from `HELPDESK_LOG` (then `RUST_LOG`), default `info`.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let mut filter = std::env::var("HELPDESK_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // The IMAP client traces every line it sends, LOGIN and its password
    // included: never let that through.
    if let Ok(quiet) = "async_imap=info".parse() {
        filter = filter.add_directive(quiet);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The span around each HTTP request. Unlike the default it records the
/// path without its query string: sign-in links carry their secret there;
/// survey links carry theirs in the path, which is logged without it.
pub struct RequestSpan;

/// The path as logged: a survey link's token replaced by a mark.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/csat/") {
        Some(rest) => {
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            format!("/csat/<token>{tail}").into()
        }
        None => path.into(),
    }
}

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %loggable_path(request.path()),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(res) => res.response().status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
        // An access log line at debug level, inside the request's span.
        span.in_scope(|| tracing::debug!(status, "request done"));
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn survey_tokens_stay_out_of_the_log() {
        assert_eq!(loggable_path("/csat/abcDEF123"), "/csat/<token>");
        assert_eq!(loggable_path("/csat/abc/opt-out"), "/csat/<token>/opt-out");
        assert_eq!(loggable_path("/tickets/5"), "/tickets/5");
    }
}
