//! Every answer carries the Content-Security-Policy that forbids inline
//! script, and the headers that stop sniffing and framing; attachment
//! downloads keep their own, stricter policy.

use crate::helpers::spawn_app;

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

#[tokio::test]
async fn every_answer_forbids_inline_script_and_framing() {
    let app = spawn_app().await;
    // Pages, redirects, errors, assets and the API, signed in or not.
    for (path, token) in [
        ("/login", ""),
        ("/", ""),
        ("/tickets", ""),
        ("/no/such/page", ""),
        ("/new", ""),
        ("/static/app.js", ""),
        ("/healthz", ""),
        ("/api/v1/tickets", app.token.as_str()),
        ("/api/v1/tickets", "wrong"),
    ] {
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap());
        assert_eq!(csp, Some(POLICY), "{path} ({})", r.status());
        assert!(!POLICY.contains("unsafe-inline") && !POLICY.contains("unsafe-eval"));
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
        assert_eq!(h.get("referrer-policy").unwrap(), "same-origin", "{path}");
    }
    app.stop().await;
}
