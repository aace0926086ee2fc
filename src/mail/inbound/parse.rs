//! Raw bytes to what the pipeline needs: identifiers, sender, recipients,
//! the headers classification reads, the text and HTML a person reads, the
//! files a person would see, and a delivery report when there is one.

use std::borrow::Cow;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::html::html_to_text;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Addr, Encoding, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use super::charset;
use crate::people::EmailAddress;
use crate::tickets::attachments::NewAttachment;

/// Nested messages and multiparts deeper than this are kept as files.
const MAX_DEPTH: usize = 20;

#[derive(Debug, Clone)]
pub struct Sender {
    pub address: EmailAddress,
    pub name: Option<String>,
}

/// What a delivery-status notification (RFC 3464) says went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub recipient: Option<String>,
    pub action: Option<String>,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    /// Message-IDs of the mail that bounced, as far as the report shows it.
    pub original_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Parsed {
    /// With angle brackets, as stored in `messages.mail_message_id`.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub subject: String,
    pub from: Option<Sender>,
    /// To and Cc, in order, without repeats.
    pub recipients: Vec<EmailAddress>,
    /// Delivered-To / X-Original-To: where the MTA delivered it.
    pub delivered_to: Vec<EmailAddress>,
    /// Top-level headers: lower-cased name, unfolded raw value.
    pub headers: Vec<(String, String)>,
    /// Top-level MIME type, lower-cased (`text/plain` when absent).
    pub mime_type: String,
    pub report_type: Option<String>,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<NewAttachment>,
    pub report: Option<DeliveryReport>,
}

impl Parsed {
    /// The first value of a top-level header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    /// In-Reply-To then References newest first, without repeats: the order
    /// threading tries them in.
    pub fn thread_ids(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for id in self.in_reply_to.iter().chain(self.references.iter().rev()) {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
        out
    }
}

/// `<id>` for an id given with or without brackets; None when empty or
/// implausible.
pub fn bracket_id(id: &str) -> Option<String> {
    let inner = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    if inner.is_empty()
        || inner.len() > 900
        || inner.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    Some(format!("<{inner}>"))
}

fn ids_of(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => t.split_whitespace().filter_map(bracket_id).collect(),
        HeaderValue::TextList(list) => list.iter().filter_map(|t| bracket_id(t)).collect(),
        _ => Vec::new(),
    }
}

fn clean_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A sender from a parsed address: a display name equal to the address
/// (`"root@localhost" <root@localhost>`) is no name.
fn sender_of(addr: &Addr<'_>) -> Option<Sender> {
    let address = EmailAddress::parse(addr.address.as_deref()?).ok()?;
    let name = addr
        .name
        .as_deref()
        .map(clean_text)
        .map(|n| n.trim_matches(['"', '\'']).trim().to_string())
        .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(address.as_str()));
    Some(Sender { address, name })
}

/// Parses a raw message. Err is a reason to quarantine it.
pub fn parse(raw: &[u8]) -> Result<Parsed, String> {
    let fixed = charset::fix_headers(raw);
    let bytes: &[u8] = fixed.as_ref().map(|(b, _)| b.as_slice()).unwrap_or(raw);
    let msg = MessageParser::default()
        .parse(bytes)
        .ok_or("the mail has no headers")?;
    if msg.headers().is_empty() {
        return Err("the mail has no headers".into());
    }
    let headers: Vec<(String, String)> = msg
        .headers_raw()
        .map(|(n, v)| (n.to_ascii_lowercase(), clean_text(v)))
        .collect();
    let from = msg
        .from()
        .and_then(|a| a.iter().find_map(sender_of))
        .or_else(|| msg.sender().and_then(|a| a.iter().find_map(sender_of)))
        .or_else(|| msg.reply_to().and_then(|a| a.iter().find_map(sender_of)));
    let mut recipients: Vec<EmailAddress> = Vec::new();
    for addr in msg.all_to().chain(msg.all_cc()).flat_map(|a| a.iter()) {
        if let Some(e) = addr
            .address
            .as_deref()
            .and_then(|a| EmailAddress::parse(a).ok())
        {
            if !recipients.contains(&e) {
                recipients.push(e);
            }
        }
    }
    let delivered_to = headers
        .iter()
        .filter(|(n, _)| n == "delivered-to" || n == "x-original-to")
        .filter_map(|(_, v)| EmailAddress::parse(v.trim_matches(['<', '>'])).ok())
        .collect();
    let (mime_type, report_type) = match msg.root_part().content_type() {
        Some(ct) => (
            format!(
                "{}/{}",
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase()
            ),
            ct.attribute("report-type").map(|r| r.to_ascii_lowercase()),
        ),
        None => ("text/plain".to_string(), None),
    };
    let mut c = Collector {
        header_charset: fixed.as_ref().map(|(_, e)| *e),
        ..Collector::default()
    };
    c.walk(&msg, 0, 0);
    if mime_type == "multipart/report" && c.report.is_none() {
        c.report = Some(DeliveryReport::default());
    }
    let (text, html) = flatten(&c.segments);
    Ok(Parsed {
        message_id: msg.message_id().and_then(bracket_id),
        in_reply_to: ids_of(msg.in_reply_to()),
        references: ids_of(msg.references()),
        subject: msg.subject().map(clean_text).unwrap_or_default(),
        from,
        recipients,
        delivered_to,
        headers,
        mime_type,
        report_type,
        text,
        html,
        attachments: c.attachments,
        report: c.report,
    })
}

/// A piece of the readable body: a text part, an HTML part (with its text),
/// an alternative (both), or the header lines of a forwarded message.
#[derive(Debug, Default)]
struct Segment {
    text: String,
    html: Option<String>,
}

#[derive(Default)]
struct Collector {
    /// What undeclared 8-bit headers turned out to be in.
    header_charset: Option<&'static encoding_rs::Encoding>,
    segments: Vec<Segment>,
    attachments: Vec<NewAttachment>,
    report: Option<DeliveryReport>,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The text of all segments, and an HTML version when any segment has HTML
/// (the others shown as preformatted text, so nothing is hidden).
fn flatten(segments: &[Segment]) -> (String, Option<String>) {
    let text = segments
        .iter()
        .map(|s| s.text.trim_end())
        .filter(|t| !t.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let html = if segments.iter().all(|s| s.html.is_none()) {
        None
    } else if segments.len() == 1 {
        segments[0].html.clone()
    } else {
        Some(
            segments
                .iter()
                .filter(|s| s.html.is_some() || !s.text.trim().is_empty())
                .map(|s| match &s.html {
                    Some(h) => format!("<div>{h}</div>"),
                    None => format!("<pre>{}</pre>", escape_html(s.text.trim_end())),
                })
                .collect::<Vec<_>>()
                .join("\n<hr>\n"),
        )
    };
    (text, html)
}

/// The part's body bytes after its transfer encoding, as sent (before any
/// charset decoding).
fn raw_body<'a>(msg: &'a Message<'_>, part: &mail_parser::MessagePart<'_>) -> Cow<'a, [u8]> {
    let start = part.offset_body as usize;
    let end = (part.offset_end as usize).min(msg.raw_message.len());
    let bytes = &msg.raw_message[start.min(end)..end];
    match part.encoding {
        Encoding::QuotedPrintable => quoted_printable_decode(bytes)
            .map(Cow::Owned)
            .unwrap_or(Cow::Borrowed(bytes)),
        Encoding::Base64 => base64_decode(bytes)
            .map(Cow::Owned)
            .unwrap_or(Cow::Borrowed(bytes)),
        Encoding::None => Cow::Borrowed(bytes),
    }
}

fn is_uuencoded(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_transfer_encoding().is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "x-uuencode" | "uuencode" | "x-uue" | "uue"
        )
    })
}

/// Decodes the first uuencoded file in `text`: (file name, bytes).
pub fn uudecode(text: &[u8]) -> Option<(Option<String>, Vec<u8>)> {
    let text = String::from_utf8_lossy(text);
    let mut lines = text.lines();
    let header = lines.by_ref().find(|l| l.starts_with("begin "))?;
    let name = header
        .splitn(3, ' ')
        .nth(2)
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let mut out = Vec::new();
    for line in lines {
        if line.trim_end() == "end" {
            return Some((name, out));
        }
        let bytes = line.as_bytes();
        let Some(&first) = bytes.first() else {
            continue;
        };
        let n = (first.wrapping_sub(b' ') & 0x3f) as usize;
        if n == 0 {
            continue;
        }
        let val = |i: usize| {
            bytes
                .get(i)
                .map(|b| b.wrapping_sub(b' ') & 0x3f)
                .unwrap_or(0)
        };
        let mut got = 0;
        let mut i = 1;
        while got < n {
            let (a, b, c, d) = (val(i), val(i + 1), val(i + 2), val(i + 3));
            for byte in [(a << 2) | (b >> 4), (b << 4) | (c >> 2), (c << 6) | d] {
                if got < n {
                    out.push(byte);
                    got += 1;
                }
            }
            i += 4;
        }
    }
    None
}

fn extension(mime: &str) -> &'static str {
    match mime {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "message/rfc822" => "eml",
        _ => "bin",
    }
}

impl Collector {
    fn walk(&mut self, msg: &Message<'_>, id: usize, depth: usize) {
        let Some(part) = msg.parts.get(id) else {
            return;
        };
        let (ctype, subtype) = match part.content_type() {
            Some(ct) => (
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase(),
            ),
            None => ("text".to_string(), "plain".to_string()),
        };
        let mime = format!("{ctype}/{subtype}");
        let name = rfc2231_name(msg, part)
            .or_else(|| part.attachment_name().map(str::to_string))
            .map(|n| clean_text(&n))
            .filter(|n| !n.is_empty());
        let as_file = part
            .content_disposition()
            .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"));
        let content_id = part
            .content_id()
            .map(|c| c.trim().trim_matches(['<', '>']).to_string())
            .filter(|c| !c.is_empty());
        match &part.body {
            PartType::Multipart(children) if depth < MAX_DEPTH => {
                let children: Vec<usize> = children.iter().map(|c| *c as usize).collect();
                match subtype.as_str() {
                    "alternative" => self.alternative(msg, &children, depth),
                    _ => {
                        for c in children {
                            self.walk(msg, c, depth + 1);
                        }
                    }
                }
            }
            PartType::Multipart(_) => {}
            PartType::Message(nested) => {
                if let Some(r) = self.report.as_mut() {
                    r.original_ids
                        .extend(nested.message_id().and_then(bracket_id));
                }
                if name.is_some() || depth >= MAX_DEPTH {
                    // A forwarded mail sent as a file: kept as the file it is.
                    self.file(
                        name.unwrap_or_else(|| "message.eml".into()),
                        "message/rfc822",
                        nested.raw_message.to_vec(),
                        content_id,
                        false,
                    );
                } else {
                    // Shown inline, as mail clients do: its headers, its
                    // text, and its files counted with ours.
                    self.segments.push(Segment {
                        text: forwarded_header(nested),
                        html: None,
                    });
                    if !nested.parts.is_empty() {
                        self.walk(nested, 0, depth + 1);
                    }
                }
            }
            PartType::Text(_) | PartType::Html(_) if is_uuencoded(part) => {
                let raw = raw_body(msg, part);
                match uudecode(&raw) {
                    Some((uname, data)) => {
                        let fname = name.or(uname).unwrap_or_else(|| "attachment.bin".into());
                        let ct = if mime.starts_with("text/") {
                            "application/octet-stream".to_string()
                        } else {
                            mime
                        };
                        self.file(fname, &ct, data, content_id, false)
                    }
                    None => self.segments.push(Segment {
                        text: String::from_utf8_lossy(&raw).into_owned(),
                        html: None,
                    }),
                }
            }
            PartType::Text(t) | PartType::Html(t) => {
                let is_body_type = subtype == "plain" || subtype == "html";
                if subtype == "rfc822-headers" {
                    if let Some(r) = self.report.as_mut() {
                        r.original_ids.extend(find_message_ids(t));
                    }
                }
                if as_file || name.is_some() || !is_body_type && subtype != "rfc822-headers" {
                    let fname = name.unwrap_or_else(|| format!("{subtype}.{}", extension(&mime)));
                    self.file(
                        fname,
                        &mime,
                        raw_body(msg, part).into_owned(),
                        content_id,
                        false,
                    );
                    return;
                }
                let text = self.decode_text(msg, part, t);
                if subtype == "html" {
                    self.segments.push(Segment {
                        text: html_to_text(&text),
                        html: Some(text),
                    });
                } else {
                    self.segments.push(Segment { text, html: None });
                }
            }
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                if mime == "message/delivery-status" || mime == "message/global-delivery-status" {
                    let report = parse_delivery_status(&String::from_utf8_lossy(b));
                    let r = self.report.get_or_insert_with(DeliveryReport::default);
                    let ids = std::mem::take(&mut r.original_ids);
                    *r = DeliveryReport {
                        original_ids: ids,
                        ..report
                    };
                    return;
                }
                let (data, uname) = if is_uuencoded(part) {
                    match uudecode(b) {
                        Some((n, d)) => (d, n),
                        None => (b.to_vec(), None),
                    }
                } else {
                    (b.to_vec(), None)
                };
                let inline = !as_file
                    && (content_id.is_some() || matches!(part.body, PartType::InlineBinary(_)));
                let fname = name
                    .or(uname)
                    .unwrap_or_else(|| format!("{ctype}.{}", extension(&mime)));
                self.file(fname, &mime, data, content_id, inline);
            }
        }
    }

    /// Text of a text part; 8-bit bytes with no usable charset are guessed.
    fn decode_text(
        &self,
        msg: &Message<'_>,
        part: &mail_parser::MessagePart<'_>,
        t: &str,
    ) -> String {
        if !t.contains('\u{FFFD}') {
            return t.to_string();
        }
        let raw = raw_body(msg, part);
        if std::str::from_utf8(&raw).is_ok() {
            return t.to_string();
        }
        let declared = part
            .content_type()
            .and_then(|ct| ct.attribute("charset"))
            .map(str::to_string);
        charset::decode(&raw, declared.as_deref(), self.header_charset)
    }

    fn alternative(&mut self, msg: &Message<'_>, children: &[usize], depth: usize) {
        let mut plain: Option<String> = None;
        let mut html: Option<(String, String)> = None;
        for &c in children {
            let mut sub = Collector {
                header_charset: self.header_charset,
                report: self.report.take(),
                ..Collector::default()
            };
            sub.walk(msg, c, depth + 1);
            self.report = sub.report.take();
            self.attachments.append(&mut sub.attachments);
            let (t, h) = flatten(&sub.segments);
            match h {
                Some(h) if html.is_none() => html = Some((t, h)),
                None if plain.is_none() && !t.trim().is_empty() => plain = Some(t),
                _ => {}
            }
        }
        let seg = match (plain, html) {
            (Some(text), Some((_, h))) => Segment {
                text,
                html: Some(h),
            },
            (None, Some((text, h))) => Segment {
                text,
                html: Some(h),
            },
            (Some(text), None) => Segment { text, html: None },
            (None, None) => return,
        };
        self.segments.push(seg);
    }

    fn file(
        &mut self,
        filename: String,
        mime: &str,
        data: Vec<u8>,
        content_id: Option<String>,
        inline: bool,
    ) {
        self.attachments.push(NewAttachment {
            filename,
            content_type: mime.to_string(),
            content_id,
            inline,
            data,
        });
    }
}

/// A file name split into RFC 2231 continuations (`filename*0*=`,
/// `filename*1*=`, ...) decoded as one byte string in the charset the first
/// segment names. (Decoding each segment on its own breaks stateful
/// charsets such as ISO-2022-JP.) None when the name is not continued.
fn rfc2231_name(msg: &Message<'_>, part: &mail_parser::MessagePart<'_>) -> Option<String> {
    for header in ["content-disposition", "content-type"] {
        let h = part
            .headers
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(header))?;
        let (start, end) = (h.offset_start() as usize, h.offset_end() as usize);
        let raw = msg.raw_message.get(start..end)?;
        let value = String::from_utf8_lossy(raw).replace(['\r', '\n'], "");
        let param = if header == "content-type" {
            "name"
        } else {
            "filename"
        };
        if let Some(n) = continued_param(&value, param) {
            return Some(n);
        }
    }
    None
}

fn continued_param(value: &str, param: &str) -> Option<String> {
    let mut segments: Vec<(usize, bool, String)> = Vec::new();
    for p in value.split(';').skip(1) {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let Some(rest) = k.strip_prefix(param).and_then(|r| r.strip_prefix('*')) else {
            continue;
        };
        let (num, extended) = match rest.strip_suffix('*') {
            Some(n) => (n, true),
            None => (rest, false),
        };
        let Ok(n) = num.parse::<usize>() else {
            continue;
        };
        segments.push((n, extended, v.trim().trim_matches('"').to_string()));
    }
    if segments.len() < 2 {
        return None;
    }
    segments.sort_by_key(|s| s.0);
    let mut charset: Option<String> = None;
    let mut bytes = Vec::new();
    for (i, (_, extended, v)) in segments.iter().enumerate() {
        let mut v = v.as_str();
        if i == 0 && *extended {
            let mut parts = v.splitn(3, '\'');
            if let (Some(cs), Some(_lang), Some(rest)) = (parts.next(), parts.next(), parts.next())
            {
                charset = Some(cs.to_string());
                v = rest;
            }
        }
        if *extended {
            let b = v.as_bytes();
            let mut j = 0;
            while j < b.len() {
                if b[j] == b'%' && j + 2 < b.len() {
                    if let Some(x) = std::str::from_utf8(&b[j + 1..j + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        bytes.push(x);
                        j += 3;
                        continue;
                    }
                }
                bytes.push(b[j]);
                j += 1;
            }
        } else {
            bytes.extend_from_slice(v.as_bytes());
        }
    }
    let encoding = charset
        .as_deref()
        .and_then(charset::by_label)
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _) = encoding.decode_without_bom_handling(&bytes);
    Some(text.into_owned())
}

/// The lines a mail client shows above a forwarded message.
fn forwarded_header(m: &Message<'_>) -> String {
    let mut out = String::from("---------- Forwarded message ----------\n");
    let addr = |a: Option<&mail_parser::Address<'_>>| {
        a.map(|a| {
            a.iter()
                .map(|x| match (&x.name, &x.address) {
                    (Some(n), Some(e)) => format!("{n} <{e}>"),
                    (None, Some(e)) => e.to_string(),
                    (Some(n), None) => n.to_string(),
                    (None, None) => String::new(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    if let Some(f) = addr(m.from()) {
        out.push_str(&format!("From: {f}\n"));
    }
    if let Some(d) = m.date() {
        out.push_str(&format!("Date: {}\n", d.to_rfc822()));
    }
    if let Some(s) = m.subject() {
        out.push_str(&format!("Subject: {}\n", clean_text(s)));
    }
    if let Some(t) = addr(m.to()) {
        out.push_str(&format!("To: {t}\n"));
    }
    out
}

/// `<id>` tokens after `Message-ID:` lines in quoted headers.
pub fn find_message_ids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("message-id:") {
        let start = from + i + "message-id:".len();
        let rest = &text[start..];
        if let (Some(a), Some(b)) = (rest.find('<'), rest.find('>')) {
            if a < b && rest[..a].trim().is_empty() {
                out.extend(bracket_id(&rest[a..=b]));
            }
        }
        from = start;
    }
    out
}

/// The first failed recipient block of a message/delivery-status body.
fn parse_delivery_status(body: &str) -> DeliveryReport {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            fields.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        } else if line.trim().is_empty() {
            fields.push((String::new(), String::new()));
        }
    }
    // Recipient blocks are separated by empty lines; the first block is the
    // per-message one.
    let mut blocks: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for f in fields {
        if f.0.is_empty() {
            blocks.push(Vec::new());
        } else if let Some(b) = blocks.last_mut() {
            b.push(f);
        }
    }
    let get =
        |b: &[(String, String)], k: &str| b.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let after_type = |v: String| match v.split_once(';') {
        Some((_, rest)) => rest.trim().to_string(),
        None => v.trim().to_string(),
    };
    let recipients: Vec<&Vec<(String, String)>> = blocks
        .iter()
        .filter(|b| get(b, "final-recipient").is_some() || get(b, "original-recipient").is_some())
        .collect();
    let chosen = recipients
        .iter()
        .find(|b| get(b, "action").is_some_and(|a| a.eq_ignore_ascii_case("failed")))
        .or(recipients.first());
    match chosen {
        Some(b) => DeliveryReport {
            recipient: get(b, "final-recipient")
                .or_else(|| get(b, "original-recipient"))
                .map(after_type)
                .map(|r| r.trim_matches(['<', '>']).to_string()),
            action: get(b, "action"),
            status: get(b, "status"),
            diagnostic: get(b, "diagnostic-code").map(after_type),
            original_ids: Vec::new(),
        },
        None => DeliveryReport::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2231_continuations_decode_as_one() {
        let v = " inline;\tfilename*0*=ISO-2022-JP'ja'%1b$B%3f7$7$$%25F%25%2d%259%25H%1b%28B; filename*1*=%20; \
                 filename*2*=%1b$B%25I%25%2d%25e%25a%25s%25H%1b%28B; filename*3=.txt";
        assert_eq!(
            continued_param(v, "filename").as_deref(),
            Some("新しいテキスト ドキュメント.txt")
        );
        assert_eq!(
            continued_param(" attachment; filename=a.txt", "filename"),
            None
        );
    }

    #[test]
    fn uudecode_round_trip() {
        // "Cat" uuencoded.
        let (name, data) = uudecode(b"begin 644 cat.txt\n#0V%T\n`\nend\n").unwrap();
        assert_eq!(name.as_deref(), Some("cat.txt"));
        assert_eq!(data, b"Cat");
        assert!(uudecode(b"no file here").is_none());
    }

    #[test]
    fn ids_are_bracketed_and_checked() {
        assert_eq!(bracket_id("a@b").as_deref(), Some("<a@b>"));
        assert_eq!(bracket_id("<a@b>").as_deref(), Some("<a@b>"));
        assert_eq!(bracket_id("  "), None);
        assert_eq!(bracket_id("<a b@c>"), None);
        assert_eq!(
            find_message_ids("Subject: x\nMessage-Id: <1@x.org>\nmessage-id:  <2@y>\n"),
            vec!["<1@x.org>".to_string(), "<2@y>".to_string()]
        );
    }

    #[test]
    fn delivery_status_fields() {
        let r = parse_delivery_status(
            "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: RFC822; a@example.com\nAction: delayed\n\n\
             Final-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1\n  User unknown\n",
        );
        assert_eq!(r.recipient.as_deref(), Some("b@example.com"));
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(r.diagnostic.as_deref(), Some("550 5.1.1 User unknown"));
    }

    #[test]
    fn alternative_and_mixed_bodies() {
        let raw = b"From: Ann <ann@example.com>\nSubject: hi\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: multipart/alternative; boundary=Y\n\n\
--Y\nContent-Type: text/plain\n\nplain words\n--Y\nContent-Type: text/html\n\n<p>html <img src=\"cid:img1@x\"></p>\n--Y--\n\
--X\nContent-Type: image/png\nContent-ID: <img1@x>\nContent-Disposition: inline\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n\
--X\nContent-Type: application/octet-stream; name=\"data.bin\"\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 data.bin\n#0V%T\n`\nend\n--X--\n";
        let p = parse(raw).unwrap();
        assert_eq!(p.text, "plain words");
        assert!(p.html.as_deref().unwrap().contains("cid:img1@x"));
        assert_eq!(p.attachments.len(), 2, "{:?}", p.attachments);
        assert_eq!(p.attachments[0].content_id.as_deref(), Some("img1@x"));
        assert!(p.attachments[0].inline);
        assert_eq!(p.attachments[1].filename, "data.bin");
        assert_eq!(p.attachments[1].data, b"Cat");
        let s = p.from.unwrap();
        assert_eq!(
            (s.address.as_str(), s.name.as_deref()),
            ("ann@example.com", Some("Ann"))
        );
    }

    #[test]
    fn text_without_headers_has_no_sender() {
        // mail-parser reads anything; what matters is that no sender comes
        // out of it, so the pipeline quarantines it.
        let p = parse(b"Lorem ipsum dolor sit amet, consectetur adipisicing elit\nsed do\n");
        assert!(p.map(|p| p.from.is_none()).unwrap_or(true));
        assert!(parse(b"").is_err());
    }
}
