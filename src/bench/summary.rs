//! The text under the cluster scenario's tables: how the configurations
//! compare, the many-machine figure worked out on paper, and a note on why
//! this machine cannot show it. What each line means is in docs/CLUSTER.md,
//! "The figures under the tables".

use super::bed::{NODES, NODE_CPU};
use super::report::{si, Row};
use std::fmt::Write as _;

fn median(row: &Row, key: &str) -> Option<f64> {
    row.spread(key).map(|s| s.median)
}

/// `0.41× deliveries/s, 2.3× server CPU per delivery, 5.2× p99`.
fn versus(a: &Row, b: &Row) -> Option<String> {
    let figures = [
        ("deliveries_per_s", "deliveries/s"),
        ("server_cpu_s_per_m", "CPU per delivery (NATS's in)"),
        ("p99_us", "probe p99"),
    ];
    let parts: Vec<String> = figures
        .iter()
        .filter_map(|(key, words)| {
            let ratio = median(a, key)? / median(b, key)?;
            ratio.is_finite().then(|| format!("{ratio:.2}× {words}"))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("  {} vs {}: {}\n", a.name(), b.name(), parts.join(", ")))
}

/// Words wrapped to 96 columns, indented by two.
fn paragraph(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(" ");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 96 {
            let _ = writeln!(out, "{line}");
            line = String::from(" ");
        }
        line.push(' ');
        line.push_str(word);
    }
    let _ = writeln!(out, "{line}");
    out
}

/// The rows of one size, by configuration (each when present).
struct Configs<'a> {
    cluster: Option<&'a Row>,
    alone: Option<&'a Row>,
    nats: Option<&'a Row>,
    shared: Option<&'a Row>,
}

impl<'a> Configs<'a> {
    fn find(rows: &[&'a Row]) -> Configs<'a> {
        let find = |f: &dyn Fn(&str) -> bool| rows.iter().copied().find(|r| f(r.name()));
        Configs {
            cluster: find(&|n| n.ends_with(" nodes")),
            alone: find(&|n| n == "1 node"),
            nats: find(&|n| n.starts_with("nats")),
            shared: find(&|n| n.ends_with("on 1 port")),
        }
    }
}

/// The comparisons, the paper figure and the note, for one size's rows
/// (3 nodes, 1 node, NATS, shared port, in that order when present).
pub fn summary(rows: &[&Row]) -> String {
    let c = Configs::find(rows);
    let mut out = String::new();
    for other in [c.cluster, c.shared].into_iter().flatten() {
        if let Some(text) = c.alone.and_then(|alone| versus(other, alone)) {
            out.push_str(&text);
        }
    }
    out.push_str(&latency_rates(rows));
    let _ = writeln!(
        out,
        "  probe: the subscribers on node 3, the publisher on node 1 (1 node, shared port: \
         every 3rd)"
    );
    // Broadcasts per bus message: the publisher's node packs a turn's
    // broadcasts into one (heartbeats, one a second, are in bus out too).
    let per_bus = c
        .cluster
        .and_then(|c| Some(median(c, "publishes_per_s")? / median(c, "bus_out_per_s")?))
        .filter(|b| b.is_finite() && *b >= 1.0);
    if let Some(per_bus) = per_bus {
        let _ = writeln!(
            out,
            "  the nodes packed {per_bus:.1} broadcasts per bus message at full speed"
        );
    }
    let busy = c.alone.and_then(|a| median(a, "server_busy"));
    if let Some(busy) = busy.filter(|&b| b < 0.85) {
        let _ = writeln!(
            out,
            "  (the lone node was busy {:.0}% of the time: the probe or the kernel set its figure)",
            busy * 100.0
        );
    }
    out.push_str(&on_paper(&c, per_bus));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    out.push_str(&paragraph(&format!(
        "Note: this machine has {cores} cores, shared by {NODES} evchat nodes, {NODES} NATS \
         servers and the probe: the {NODES}-node row shows what clustering costs here, not \
         what it gives (docs/CLUSTER.md, \"The cluster bench\")."
    )));
    out
}

/// At which rate latency was measured: one for all, unless one
/// configuration could not keep up.
fn latency_rates(rows: &[&Row]) -> String {
    let rates: Vec<(&str, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.name(), median(r, "latency_rate")?)))
        .collect();
    let same = rates.windows(2).all(|w| (w[0].1 - w[1].1).abs() < 0.5);
    match rates.as_slice() {
        [] => String::new(),
        [(_, rate), ..] if same => {
            format!("  latency at {} publishes/s for every row\n", si(*rate))
        }
        _ => {
            let each: Vec<String> = rates
                .iter()
                .map(|(n, r)| format!("{n} {}", si(*r)))
                .collect();
            format!("  latency at publishes/s: {}\n", each.join(", "))
        }
    }
}

/// The paper figure: a node's rate per core, times nodes, capped by what
/// every node must take in (`per_bus` broadcasts per bus message).
fn on_paper(c: &Configs<'_>, per_bus: Option<f64>) -> String {
    let per_node: Vec<f64> = c
        .cluster
        .map(|c| NODE_CPU.iter().filter_map(|k| median(c, k)).collect())
        .unwrap_or_default();
    let intake = c.nats.and_then(|n| median(n, "publishes_per_s"));
    let (false, Some(intake), Some(cluster)) = (per_node.is_empty(), intake, c.cluster) else {
        return String::new();
    };
    let cpu = per_node.iter().sum::<f64>() / per_node.len() as f64;
    let nodes = 1e6 / cpu * NODES as f64;
    let n = cluster.size as f64;
    let packed = per_bus.unwrap_or(1.0);
    let cap = intake * packed * n;
    format!(
        "  on paper, {NODES} machines: a node delivers {} per second of its core ({cpu:.3} \
         s/M), × {NODES} = {};\n  capped by the intake every node takes: NATS moved {} \
         msgs/s to each subscriber here,\n  × {packed:.1} broadcasts per message × N={} = {} \
         (at 1 per message, as under light load: {}).\n  Figure: {} deliveries/s\n",
        si(1e6 / cpu),
        si(nodes),
        si(intake),
        cluster.size,
        si(cap),
        si(intake * n),
        si(nodes.min(cap)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::scenario::{Kind, Sample};
    use crate::bench::wire::Target;

    fn row(label: &str, figures: &[(&'static str, f64)]) -> Row {
        let mut row = Row::new(Kind::Cluster, 10000, Target::Evchat);
        row.label = Some(label.into());
        row.samples
            .push(figures.iter().copied().collect::<Sample>());
        row
    }

    #[test]
    fn works_the_paper_figure_out_in_100_columns() {
        let wide = 999.99e6;
        let rows = [
            row(
                "3 nodes",
                &[
                    ("deliveries_per_s", wide),
                    ("publishes_per_s", 2000.0),
                    ("bus_out_per_s", 10.0),
                    ("server_cpu_s_per_m", 0.04),
                    ("n1_cpu_s_per_m", 0.02),
                    ("n2_cpu_s_per_m", 0.03),
                    ("n3_cpu_s_per_m", 0.04),
                    ("latency_rate", 500.0),
                ],
            ),
            row(
                "1 node",
                &[("deliveries_per_s", wide), ("server_cpu_s_per_m", 0.02)],
            ),
            row("nats ×3", &[("publishes_per_s", 1000.0)]),
            row("12 on 1 port", &[("deliveries_per_s", wide)]),
        ];
        let refs: Vec<&Row> = rows.iter().collect();
        let text = summary(&refs);
        for line in text.lines() {
            assert!(line.chars().count() <= 100, "{line}");
        }
        // 1e6 / 0.03 s/M per node, × 3 = 100M; the cap: 1000 msgs/s × 200
        // broadcasts per message × 10000 = 2G.
        assert!(text.contains("× 3 = 100.00M"), "{text}");
        assert!(
            text.contains("× 200.0 broadcasts per message × N=10000 = 2.00G"),
            "{text}"
        );
        assert!(text.contains("Figure: 100.00M deliveries/s"), "{text}");
        assert!(
            text.contains("3 nodes vs 1 node: 1.00× deliveries/s, 2.00× CPU"),
            "{text}"
        );
        assert!(
            text.contains("latency at 500 publishes/s for every row"),
            "{text}"
        );
        // The note is short and says where the long story is.
        let note = &text[text.find("Note: this machine has").expect(&text)..];
        assert!(note.lines().count() <= 3, "{note}");
        assert!(note.contains("docs/CLUSTER.md"), "{note}");
    }
}
