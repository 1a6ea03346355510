//! Medians over rounds, printed as narrow tables and optionally as JSON.
//!
//! Each scenario's figures are split into small tables of at most three
//! ranged columns (throughput; latency; cost), so the output fits 100
//! columns; the JSON keeps every figure of every round.

use super::columns::{compared, tables, Col, Show, Table};
use super::scenario::{Kind, Sample};
use super::transport::Transport;
use super::wire::Target;
use std::fmt::Write as _;

/// Every round of one scenario, size and target.
#[derive(Debug)]
pub struct Row {
    pub kind: Kind,
    pub size: usize,
    pub target: Target,
    /// How the receivers connected.
    pub transport: Transport,
    pub samples: Vec<Sample>,
    pub peak_rss_kib: Option<u64>,
    /// Set when a run failed; a failed row gives no figures.
    pub error: Option<String>,
    /// What the row is, when not just its target (cluster: `3 nodes`).
    pub label: Option<String>,
    /// What its group of rows measured, when `N=<size>` does not say it
    /// all (rooms: `100×100, 1000 users in 10 rooms each, 1 publisher`).
    pub group: Option<String>,
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
            transport: Transport::Line,
            samples: Vec::new(),
            peak_rss_kib: None,
            error: None,
            label: None,
            group: None,
        }
    }

    /// The row with receivers over `transport` (named `evchat ws` for ws,
    /// `evchat irc` for IRC).
    pub fn over(mut self, transport: Transport) -> Row {
        self.transport = transport;
        if transport != Transport::Line {
            let name = format!("{} {}", self.target.name(), transport.name());
            self.label = Some(name);
        }
        self
    }

    /// The row's name in the tables.
    pub fn name(&self) -> &str {
        self.label.as_deref().unwrap_or(self.target.name())
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

/// `21.3M`, `950k`, `12.0`: at most 7 characters.
pub(super) fn si(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}") // counts and microseconds are whole
    } else {
        format!("{v:.3}")
    }
}

fn cell(row: &Row, col: &Col, ranges: bool) -> String {
    let (key, _, show) = *col;
    if show == Show::PeakRss {
        return row
            .peak_rss_kib
            .map_or("-".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0));
    }
    match (row.spread(key), show) {
        (None, _) => "-".into(),
        (Some(s), Show::Percent) => format!("{:.0}%", s.median * 100.0),
        (Some(s), _) if ranges => format!("{} ({}–{})", si(s.median), si(s.min), si(s.max)),
        (Some(s), _) => si(s.median),
    }
}

/// One table: label and target names left in a column `first` wide, cells
/// right-aligned, each column as wide as its widest entry.
fn render(out: &mut String, table: &Table, rows: &[&Row], ranges: bool, first: usize) {
    let (label, cols) = *table;
    let ok: Vec<&&Row> = rows.iter().filter(|r| r.error.is_none()).collect();
    let cells: Vec<Vec<String>> = ok
        .iter()
        .map(|r| cols.iter().map(|c| cell(r, c, ranges)).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, (_, head, _))| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([head.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut line = format!("  {label:<first$}");
    for ((_, head, _), w) in cols.iter().zip(&widths) {
        let _ = write!(line, "  {head:>w$}");
    }
    let _ = writeln!(out, "{line}");
    for (row, cells) in ok.iter().zip(&cells) {
        let mut line = format!("  {:<first$}", row.name());
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(line, "  {c:>w$}");
        }
        let _ = writeln!(out, "{line}");
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

    /// The tables: medians (with min–max over several rounds), and evchat's
    /// ratios to each peer.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for notice in &self.notices {
            let _ = writeln!(out, "note: {notice}");
        }
        let mut groups: Vec<(Kind, usize, Option<&str>)> = Vec::new();
        for r in &self.rows {
            let group = (r.kind, r.size, r.group.as_deref());
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        for (kind, size, group) in groups {
            let rows: Vec<&Row> = self
                .rows
                .iter()
                .filter(|r| r.kind == kind && r.size == size && r.group.as_deref() == group)
                .collect();
            let rounds = rows.iter().map(|r| r.samples.len()).max().unwrap_or(0);
            let how = match rounds {
                0 => "no round completed".to_owned(),
                1 => "1 round".to_owned(),
                n => format!("median of {n} rounds, min–max"),
            };
            let what = group.map_or_else(|| format!("N={size}"), str::to_owned);
            let _ = writeln!(out, "\n{} {what} ({how})", kind.name());
            for row in rows.iter().filter(|r| r.error.is_some()) {
                let e = row.error.as_deref().unwrap_or_default();
                let _ = writeln!(out, "  {:<7} FAILED: {e}", row.name());
            }
            if rows.iter().any(|r| r.error.is_none()) {
                // One width for the first column of all of a group's tables.
                let first = tables(kind)
                    .iter()
                    .map(|(label, _)| label.chars().count())
                    .chain(rows.iter().map(|r| r.name().chars().count()))
                    .max()
                    .unwrap_or(0);
                for table in tables(kind) {
                    render(&mut out, table, &rows, rounds > 1, first);
                }
            }
            let _ = match kind {
                Kind::Cluster => write!(out, "{}", super::summary::summary(&rows)),
                _ => write!(out, "{}", ratios(kind, &rows)),
            };
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
                    "scenario": r.kind, "size": r.size, "target": r.target, "label": r.label,
                    "group": r.group,
                    "transport": r.transport,
                    "rounds": r.samples.len(), "figures": figures,
                    "samples": r.samples, "peak_rss_kib": r.peak_rss_kib, "error": r.error,
                })
            })
            .collect();
        serde_json::json!({ "notices": self.notices, "rows": rows })
    }
}

/// `evchat vs redis: 5.10× deliveries/s, 0.12× server CPU per delivery`:
/// evchat against each peer over the same transport, and each server's
/// WebSocket or IRC row against its own line row (`evchat ws vs evchat`).
fn ratios(kind: Kind, rows: &[&Row]) -> String {
    let mut out = String::new();
    let find = |target: Target, transport: Transport| {
        rows.iter()
            .find(|r| r.target == target && r.transport == transport)
    };
    let mut pairs: Vec<(&Row, &Row)> = Vec::new();
    for transport in [Transport::Line, Transport::Ws, Transport::Irc] {
        if let Some(ev) = find(Target::Evchat, transport) {
            pairs.extend(
                rows.iter()
                    .filter(|r| r.target != Target::Evchat && r.transport == transport)
                    .map(|peer| (*ev, *peer)),
            );
        }
    }
    for other in rows.iter().filter(|r| r.transport != Transport::Line) {
        if let Some(line) = find(other.target, Transport::Line) {
            pairs.push((*other, *line));
        }
    }
    for (a, b) in pairs {
        let ratio = |key: &str| Some(a.spread(key)?.median / b.spread(key)?.median);
        let parts: Vec<String> = compared(kind)
            .iter()
            .filter_map(|(key, words)| Some(format!("{:.2}× {words}", ratio(key)?)))
            .collect();
        if !parts.is_empty() {
            let _ = writeln!(out, "  {} vs {}: {}", a.name(), b.name(), parts.join(", "));
        }
    }
    let throughput = matches!(
        kind,
        Kind::Fanout | Kind::Mesh | Kind::Private | Kind::Rooms
    );
    for ev in rows
        .iter()
        .filter(|r| r.target == Target::Evchat && throughput)
    {
        if let Some(busy) = ev.spread("server_busy").filter(|b| b.median < 0.85) {
            let _ = writeln!(
                out,
                "  ({}'s server was busy {:.0}% of the time: the probe or the kernel,\n   \
                 not the server, set this figure)",
                ev.name(),
                busy.median * 100.0
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report whose every figure has the widest spelling `si` makes.
    fn widest(rounds: usize) -> Report {
        let kinds = [Kind::Fanout, Kind::Connect, Kind::Idle, Kind::Cluster];
        let mut report = Report::default();
        for kind in kinds {
            // Fanout also with WebSocket rows, after the line rows.
            let mut systems: Vec<(Target, Transport)> =
                [Target::Evchat, Target::Redis, Target::Nats]
                    .map(|t| (t, Transport::Line))
                    .to_vec();
            if kind == Kind::Fanout {
                systems.extend([Target::Evchat, Target::Nats].map(|t| (t, Transport::Ws)));
                systems.extend([Target::Evchat, Target::Inspircd].map(|t| (t, Transport::Irc)));
            }
            for (target, transport) in systems {
                let mut row = Row::new(kind, 10000, target).over(transport);
                if kind == Kind::Cluster {
                    row.label = Some(format!("{} on 1 port", target.name().len()));
                }
                for _ in 0..rounds {
                    let mut s = Sample::new();
                    for (_, cols) in tables(kind) {
                        for (key, _, _) in *cols {
                            s.insert(key, 999.99e6);
                        }
                    }
                    row.samples.push(s);
                }
                row.peak_rss_kib = Some(99_999_999);
                report.rows.push(row);
            }
        }
        report
    }

    #[test]
    fn websocket_rows_are_set_beside_their_line_rows_and_each_other() {
        let text = widest(3).table();
        for pair in [
            "evchat vs nats: 1.00×",
            "evchat ws vs nats ws: 1.00×",
            "evchat ws vs evchat: 1.00×",
            "nats ws vs nats: 1.00×",
            "evchat irc vs inspircd irc: 1.00×",
            "evchat irc vs evchat: 1.00×",
        ] {
            assert!(text.contains(pair), "{pair}: {text}");
        }
        assert!(!text.contains("evchat ws vs redis"), "{text}");
        assert!(!text.contains("inspircd irc vs"), "{text}");
        let json = widest(1).json();
        assert_eq!(json["rows"][3]["transport"], "ws");
        assert_eq!(json["rows"][3]["label"], "evchat ws");
    }

    #[test]
    fn tables_fit_100_columns() {
        for rounds in [1, 3] {
            let text = widest(rounds).table();
            for line in text.lines() {
                assert!(line.chars().count() <= 100, "{}: {line}", line.len());
            }
            assert!(text.contains("throughput"), "{text}");
        }
    }

    #[test]
    fn one_round_shows_no_ranges() {
        let one = widest(1).table();
        assert!(one.contains("(1 round)"), "{one}");
        assert!(!one.contains('–'), "{one}");
        let three = widest(3).table();
        assert!(three.contains("median of 3 rounds, min–max"), "{three}");
        assert!(three.contains("(999.99M–999.99M)"), "{three}");
    }

    #[test]
    fn failed_rows_say_why_and_show_no_figures() {
        let mut report = widest(1);
        report.rows[0].error = Some("stalled".into());
        let text = report.table();
        assert!(text.contains("evchat  FAILED: stalled"), "{text}");
        assert!(report.failed());
    }
}
