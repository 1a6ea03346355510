//! Medians over rounds, printed as one table and optionally as JSON.

use super::scenario::{Kind, Sample};
use super::wire::Target;
use std::fmt::Write as _;

/// Every round of one scenario, size and target.
#[derive(Debug)]
pub struct Row {
    pub kind: Kind,
    pub size: usize,
    pub target: Target,
    pub samples: Vec<Sample>,
    pub peak_rss_kib: Option<u64>,
    /// Set when a run failed; a failed row gives no figures.
    pub error: Option<String>,
}

/// Median, min and max of one figure over rounds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Row {
    pub fn new(kind: Kind, size: usize, target: Target) -> Row {
        Row {
            kind,
            size,
            target,
            samples: Vec::new(),
            peak_rss_kib: None,
            error: None,
        }
    }

    pub fn spread(&self, key: &str) -> Option<Spread> {
        let mut values: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.get(key).copied())
            .collect();
        if values.is_empty() || self.error.is_some() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        let median = if values.len() % 2 == 1 {
            values[mid]
        } else {
            (values[mid - 1] + values[mid]) / 2.0
        };
        Some(Spread {
            median,
            min: values[0],
            max: values[values.len() - 1],
        })
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notices: Vec<String>,
}

/// `21.3M`, `950k`, `12.0`.
fn si(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// The columns shown for each kind of scenario: (key, heading).
fn columns(kind: Kind) -> &'static [(&'static str, &'static str)] {
    match kind {
        Kind::Fanout | Kind::Mesh | Kind::Private => &[
            ("deliveries_per_s", "deliveries/s"),
            ("mb_per_s", "MB/s"),
            ("p50_us", "p50 µs"),
            ("p99_us", "p99 µs"),
            ("p999_us", "p99.9 µs"),
            ("server_cpu_s_per_m", "srv CPU s/M"),
            ("server_busy", "srv busy"),
            ("probe_busy", "probe busy"),
        ],
        Kind::Connect => &[
            ("connections_per_s", "conns/s"),
            ("server_cpu_ms_per_conn", "srv CPU ms/conn"),
        ],
        Kind::Idle => &[("rss_kib_per_conn", "KiB/conn"), ("rss_mib", "RSS MiB")],
    }
}

impl Report {
    pub fn notice(&mut self, text: String) {
        if !self.notices.contains(&text) {
            self.notices.push(text);
        }
    }

    pub fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.error.is_some())
    }

    /// The table: medians with min–max, and evchat's ratios to each peer.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for notice in &self.notices {
            let _ = writeln!(out, "note: {notice}");
        }
        let mut groups: Vec<(Kind, usize)> = Vec::new();
        for r in &self.rows {
            if !groups.contains(&(r.kind, r.size)) {
                groups.push((r.kind, r.size));
            }
        }
        for (kind, size) in groups {
            let rows: Vec<&Row> = self
                .rows
                .iter()
                .filter(|r| r.kind == kind && r.size == size)
                .collect();
            let _ = writeln!(
                out,
                "\n{} N={size} (median of {} rounds, min–max)",
                kind.name(),
                rows.first().map_or(0, |r| r.samples.len())
            );
            let mut head = format!("  {:<7}", "target");
            for (_, title) in columns(kind) {
                let _ = write!(head, " {title:>22}");
            }
            let _ = writeln!(out, "{head} {:>9}", "peak RSS");
            for row in &rows {
                let _ = write!(out, "  {:<7}", row.target.name());
                if let Some(e) = &row.error {
                    let _ = writeln!(out, " FAILED: {e}");
                    continue;
                }
                for (key, _) in columns(kind) {
                    let cell = match row.spread(key) {
                        Some(s) if key.ends_with("busy") => format!("{:.0}%", s.median * 100.0),
                        Some(s) => format!("{} ({}–{})", si(s.median), si(s.min), si(s.max)),
                        None => "-".into(),
                    };
                    let _ = write!(out, " {cell:>22}");
                }
                let rss = row
                    .peak_rss_kib
                    .map_or("-".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0));
                let _ = writeln!(out, " {rss:>9}");
            }
            let _ = write!(out, "{}", ratios(kind, &rows));
        }
        out
    }

    pub fn json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let keys: std::collections::BTreeSet<&str> =
                    r.samples.iter().flat_map(|s| s.keys().copied()).collect();
                let figures: serde_json::Map<String, serde_json::Value> = keys
                    .into_iter()
                    .filter_map(|k| Some((k.to_owned(), serde_json::to_value(r.spread(k)?).ok()?)))
                    .collect();
                serde_json::json!({
                    "scenario": r.kind, "size": r.size, "target": r.target,
                    "rounds": r.samples.len(), "figures": figures,
                    "samples": r.samples, "peak_rss_kib": r.peak_rss_kib, "error": r.error,
                })
            })
            .collect();
        serde_json::json!({ "notices": self.notices, "rows": rows })
    }
}

/// `evchat vs redis: 5.1× deliveries/s, 0.12× server CPU per delivery`.
fn ratios(kind: Kind, rows: &[&Row]) -> String {
    let mut out = String::new();
    let Some(ev) = rows.iter().find(|r| r.target == Target::Evchat) else {
        return out;
    };
    let (main, main_name) = columns(kind)[0];
    for peer in rows.iter().filter(|r| r.target != Target::Evchat) {
        let ratio = |key: &str| Some(ev.spread(key)?.median / peer.spread(key)?.median);
        let mut parts = Vec::new();
        if let Some(r) = ratio(main) {
            parts.push(format!("{r:.2}× {main_name}"));
        }
        if let Some(r) = ratio("server_cpu_s_per_m") {
            parts.push(format!("{r:.2}× server CPU per delivery"));
        }
        if let Some(r) = ratio("p99_us") {
            parts.push(format!("{r:.2}× p99 latency"));
        }
        if !parts.is_empty() {
            let _ = writeln!(
                out,
                "  evchat vs {}: {}",
                peer.target.name(),
                parts.join(", ")
            );
        }
    }
    if let Some(busy) = ev.spread("server_busy") {
        if busy.median < 0.85 {
            let _ = writeln!(
                out,
                "  (evchat's server was busy {:.0}% of the time: the probe or the kernel, not the server, set this figure)",
                busy.median * 100.0
            );
        }
    }
    out
}
