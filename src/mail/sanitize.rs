//! HTML from mail is hostile until cleaned: ammonia keeps the structure a
//! person needs to read a message and drops scripts, styles, event handlers,
//! forms and frames. Links open without a referrer.

use std::sync::OnceLock;

fn cleaner() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.link_rel(Some("noopener noreferrer nofollow"))
            .url_schemes(["http", "https", "mailto", "cid"].into_iter().collect());
        b
    })
}

/// Sanitized HTML, safe to put in a page as is.
pub fn html(input: &str) -> String {
    cleaner().clean(input).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_script_and_handlers_keeps_text() {
        let out = html(
            "<p onclick=\"x()\">Hi <b>there</b></p><script>alert(1)</script>\
             <a href=\"javascript:alert(1)\">x</a><img src=x onerror=alert(1)>\
             <style>p{}</style><iframe src=//evil></iframe>",
        );
        assert!(out.contains("<b>there</b>"), "{out}");
        for bad in [
            "script",
            "onclick",
            "javascript:",
            "onerror",
            "iframe",
            "<style",
        ] {
            assert!(!out.contains(bad), "{bad} survived: {out}");
        }
    }

    #[test]
    fn links_get_a_safe_rel() {
        let out = html("<a href=\"https://example.com\">x</a>");
        assert!(
            out.contains("rel=\"noopener noreferrer nofollow\""),
            "{out}"
        );
    }
}
