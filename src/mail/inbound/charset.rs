//! Charset guessing for 8-bit text that does not say what it is: raw bytes
//! in headers (RFC 5322 allows only ASCII there, old clients sent their
//! local charset anyway) and text bodies without a charset parameter.

use encoding_rs::Encoding;

/// The encoding named by a MIME charset label, when encoding_rs knows it.
pub fn by_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().trim_matches('"').as_bytes())
}

/// Decodes `bytes`: as UTF-8 when they are valid UTF-8, else with `hint`
/// (the charset the part declared) unless it is an ASCII or UTF-8 label or
/// unknown, else with `fallback` (what the message's headers turned out to
/// be in: one client wrote both), else with chardetng's guess.
pub fn decode(bytes: &[u8], hint: Option<&str>, fallback: Option<&'static Encoding>) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    // encoding_rs maps "us-ascii" to windows-1252; a declared US-ASCII says
    // nothing about which 8-bit charset was really used, so guess instead.
    let hinted = hint
        .filter(|l| !is_ascii_label(l))
        .and_then(by_label)
        .filter(|e| *e != encoding_rs::UTF_8);
    let encoding = hinted.or(fallback).unwrap_or_else(|| guess(bytes));
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

/// chardetng's best guess for `bytes` (never UTF-8 here: the caller tried it).
pub fn guess(bytes: &[u8]) -> &'static Encoding {
    let mut det = chardetng::EncodingDetector::new();
    det.feed(bytes, true);
    det.guess(None, false)
}

/// The raw message with its header block (up to the first empty line)
/// decoded to UTF-8 when it holds 8-bit bytes that are not UTF-8: with the
/// charset the top-level Content-Type declares, else chardetng's guess
/// over headers and body. None when the headers need nothing.
pub fn fix_headers(raw: &[u8]) -> Option<(Vec<u8>, &'static Encoding)> {
    let end = header_end(raw);
    let head = &raw[..end];
    if head.is_ascii() || std::str::from_utf8(head).is_ok() {
        return None;
    }
    let hint = declared_charset(head);
    let hinted = hint
        .as_deref()
        .filter(|l| !is_ascii_label(l))
        .and_then(by_label)
        .filter(|e| *e != encoding_rs::UTF_8);
    // Only the header lines with 8-bit bytes: the rest is ASCII noise, and
    // bodies often mix charsets (quoted UTF-8 in a Latin-1 reply).
    let encoding = hinted.unwrap_or_else(|| {
        let sample: Vec<u8> = head
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_ascii())
            .flat_map(|l| l.iter().copied().chain([b'\n']))
            .collect();
        guess(&sample)
    });
    let (text, _, _) = encoding.decode(head);
    let mut out = text.into_owned().into_bytes();
    out.extend_from_slice(&raw[end..]);
    Some((out, encoding))
}

fn is_ascii_label(label: &str) -> bool {
    let l = label.trim().trim_matches('"').to_ascii_lowercase();
    matches!(
        l.as_str(),
        "us-ascii" | "ascii" | "ansi_x3.4-1968" | "utf-8" | "utf8"
    )
}

/// Where the header block ends (just before the empty line), or the whole
/// input when there is none.
pub fn header_end(raw: &[u8]) -> usize {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\n' {
            let rest = &raw[i + 1..];
            if rest.starts_with(b"\n") || rest.starts_with(b"\r\n") {
                return i + 1;
            }
        }
        i += 1;
    }
    raw.len()
}

/// The charset parameter of the top-level Content-Type in a header block.
fn declared_charset(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let mut in_ct = false;
    let mut value = String::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if in_ct {
                value.push_str(line);
            }
            continue;
        }
        if in_ct {
            break;
        }
        if let Some((name, v)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-type") {
                in_ct = true;
                value.push_str(v);
            }
        }
    }
    let lower = value.to_ascii_lowercase();
    let i = lower.find("charset=")? + "charset=".len();
    let rest = &value[i..];
    let cs: String = rest
        .trim_start_matches('"')
        .chars()
        .take_while(|c| !matches!(c, '"' | ';' | ' ' | '\t' | '\r' | '\n'))
        .collect();
    (!cs.is_empty()).then_some(cs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_stays_and_hints_win() {
        assert_eq!(decode("grüß".as_bytes(), None, None), "grüß");
        assert_eq!(decode(b"gr\xfc\xdf", Some("iso-8859-1"), None), "grüß");
        assert_eq!(
            decode(
                b"\xf4\xe5\xf3\xf4",
                Some("us-ascii"),
                Some(encoding_rs::KOI8_R)
            ),
            "ТЕСТ"
        );
    }

    #[test]
    fn undeclared_koi8_and_latin1_are_guessed() {
        let raw = b"From: x@example.com\nSubject: \xd4\xc5\xd3\xd4 \xd4\xc5\xd3\xd4\n\n\xf4\xe5\xf3\xf4\n";
        let (fixed, _) = fix_headers(raw).unwrap();
        let s = String::from_utf8_lossy(&fixed);
        assert!(s.contains("Subject: тест тест"), "{s}");

        let raw = b"From: Wilhelmsen H\xe5vard <hw@example.net>\nContent-Type: text/plain; charset=\"iso-8859-1\"\n\nHi\n";
        let s = String::from_utf8(fix_headers(raw).unwrap().0).unwrap();
        assert!(s.contains("Wilhelmsen Håvard"), "{s}");
        assert!(fix_headers(b"Subject: plain\n\nbody \xff").is_none());
    }
}
