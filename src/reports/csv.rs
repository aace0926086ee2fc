//! The report as CSV: one `metric,value` row per scalar figure, dotted
//! names, an empty value for null.

use super::{Rate, Report, Stats};

/// Quotes a field when it holds a comma, quote or line break (RFC 4180).
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn stats(rows: &mut Vec<(String, String)>, prefix: &str, s: &Stats) {
    let pairs = [
        ("median_s", num(s.median_s)),
        ("mean_s", num(s.mean_s)),
        ("p90_s", num(s.p90_s)),
        ("business_median_s", num(s.business_median_s)),
        ("business_mean_s", num(s.business_mean_s)),
        ("business_p90_s", num(s.business_p90_s)),
    ];
    for (k, v) in pairs {
        rows.push((format!("{prefix}.{k}"), v));
    }
}

/// The rows, in the JSON's order.
pub fn rows(r: &Report) -> Vec<(String, String)> {
    let mut rows = Rows(Vec::new());
    rows.push("from", r.from.clone());
    rows.push("to", r.to.clone());
    rows.push("tz", r.tz.clone());
    rows.push("volume.created", r.volume.created.to_string());
    rows.push("volume.resolved", r.volume.resolved.to_string());
    for (c, n) in r.volume.by_channel.rows() {
        rows.push(&format!("volume.by_channel.{c}"), n.to_string());
    }
    rows.push("first_response.count", r.first_response.count.to_string());
    rows.push(
        "first_response.pending",
        r.first_response.pending.to_string(),
    );
    stats(&mut rows.0, "first_response", &r.first_response.stats);
    rows.push("resolution.count", r.resolution.count.to_string());
    stats(&mut rows.0, "resolution", &r.resolution.stats);
    rows.rate("fcr", &r.fcr);
    rows.push("backlog.at", r.backlog.at.clone());
    rows.push("backlog.open", r.backlog.open.to_string());
    let a = &r.backlog.by_age;
    for (k, v) in [
        ("lt_1d", a.lt_1d),
        ("d1_3", a.d1_3),
        ("d3_7", a.d3_7),
        ("gt_7d", a.gt_7d),
    ] {
        rows.push(&format!("backlog.by_age.{k}"), v.to_string());
    }
    for d in &r.backlog.daily {
        rows.push(&format!("backlog.daily.{}", d.date), d.open.to_string());
    }
    rows.rate("reopen", &r.reopen);
    rows.rate("escalation", &r.escalation);
    rows.push("interactions_per_ticket", num(r.interactions_per_ticket));
    for (name, m) in [
        ("sla.first_response", &r.sla.first_response),
        ("sla.resolution", &r.sla.resolution),
    ] {
        rows.push(&format!("{name}.met"), m.met.to_string());
        rows.push(&format!("{name}.missed"), m.missed.to_string());
        rows.push(&format!("{name}.rate"), num(m.rate));
    }
    let c = &r.csat;
    rows.push("csat.sent", c.sent.to_string());
    rows.push("csat.responses", c.responses.to_string());
    rows.push("csat.score", num(c.score));
    rows.push("csat.average", num(c.average));
    rows.push("csat.response_rate", num(c.response_rate));
    rows.0
}

struct Rows(Vec<(String, String)>);

impl Rows {
    fn push(&mut self, k: &str, v: String) {
        self.0.push((k.to_string(), v));
    }

    fn rate(&mut self, name: &str, rate: &Rate) {
        self.push(&format!("{name}.eligible"), rate.eligible.to_string());
        self.push(&format!("{name}.count"), rate.count.to_string());
        self.push(&format!("{name}.rate"), num(rate.rate));
    }
}

/// The CSV text, with a header line.
pub fn render(r: &Report) -> String {
    let mut out = String::from("metric,value\r\n");
    for (k, v) in rows(r) {
        out.push_str(&field(&k));
        out.push(',');
        out.push_str(&field(&v));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
