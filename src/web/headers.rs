//! Headers every answer carries unless its handler set its own (attachment
//! downloads send a stricter, sandboxing policy). The policy allows script,
//! style, fonts and images from our own origin only: no inline script or
//! event handler runs even if one got past escaping and sanitizing, remote
//! images in mail (tracking pixels) do not load, and no other site can
//! frame our pages or receive our forms.

use actix_web::middleware::DefaultHeaders;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn defaults() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
}
