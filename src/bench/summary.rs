//! The text under the cluster scenario's tables: how the configurations
//! compare, the many-machine figure worked out on paper, and an honest
//! note on why this machine cannot show it.

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

/// The comparisons, the paper figure and the note, for one size's rows
/// (3 nodes, 1 node, NATS, shared port, in that order when present).
pub fn summary(rows: &[&Row]) -> String {
    let mut out = String::new();
    let find = |f: &dyn Fn(&str) -> bool| rows.iter().copied().find(|r| f(r.name()));
    let cluster = find(&|n| n.ends_with(" nodes"));
    let alone = find(&|n| n == "1 node");
    let nats = find(&|n| n.starts_with("nats"));
    let shared = find(&|n| n.ends_with("on 1 port"));
    for other in [cluster, shared].into_iter().flatten() {
        if let Some(text) = alone.and_then(|alone| versus(other, alone)) {
            out.push_str(&text);
        }
    }
    // Latency: one offered rate for all, unless one could not keep up.
    let rates: Vec<(&str, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.name(), median(r, "latency_rate")?)))
        .collect();
    let same = rates.windows(2).all(|w| (w[0].1 - w[1].1).abs() < 0.5);
    match rates.as_slice() {
        [] => {}
        [(_, rate), ..] if same => {
            let _ = writeln!(out, "  latency at {} publishes/s for every row", si(*rate));
        }
        _ => {
            let each: Vec<String> = rates
                .iter()
                .map(|(n, r)| format!("{n} {}", si(*r)))
                .collect();
            let _ = writeln!(out, "  latency at publishes/s: {}", each.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "  probe: the subscribers on node 3, the publisher on node 1 (1 node, shared port: \
         every 3rd)"
    );
    // Broadcasts per bus message: the publisher's node packs a turn's
    // broadcasts into one (heartbeats, one a second, are in bus out too).
    let per_bus = cluster
        .and_then(|c| Some(median(c, "publishes_per_s")? / median(c, "bus_out_per_s")?))
        .filter(|b| b.is_finite() && *b >= 1.0);
    if let Some(per_bus) = per_bus {
        let _ = writeln!(
            out,
            "  the nodes packed {per_bus:.1} broadcasts per bus message at full speed"
        );
    }
    let busy = alone.and_then(|a| median(a, "server_busy"));
    if let Some(busy) = busy.filter(|&b| b < 0.85) {
        let _ = writeln!(
            out,
            "  (the lone node was busy {:.0}% of the time: the probe or the kernel set its figure)",
            busy * 100.0
        );
    }
    // The paper figure: a node's rate per core, times nodes, capped by
    // what every node must take in.
    let per_node: Vec<f64> = cluster
        .map(|c| NODE_CPU.iter().filter_map(|k| median(c, k)).collect())
        .unwrap_or_default();
    let intake = nats.and_then(|n| median(n, "publishes_per_s"));
    if let (false, Some(intake), Some(c)) = (per_node.is_empty(), intake, cluster) {
        let cpu = per_node.iter().sum::<f64>() / per_node.len() as f64;
        let nodes = 1e6 / cpu * NODES as f64;
        let n = c.size as f64;
        let packed = per_bus.unwrap_or(1.0);
        let cap = intake * packed * n;
        let _ = writeln!(
            out,
            "  on paper, {NODES} machines: a node delivers {} per second of its core ({cpu:.3} \
             s/M), × {NODES} = {};\n  capped by the intake every node takes: NATS moved {} \
             msgs/s to each subscriber here,\n  × {packed:.1} broadcasts per message × N={} = {} \
             (at 1 per message, as under light load: {}).\n  Figure: {} deliveries/s",
            si(1e6 / cpu),
            si(nodes),
            si(intake),
            c.size,
            si(cap),
            si(intake * n),
            si(nodes.min(cap)),
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    out.push_str(&paragraph(&format!(
        "Note: this machine has {cores} cores, shared by {NODES} evchat nodes, {NODES} NATS \
         servers and the probe, so the {NODES}-node row cannot show more deliveries than one \
         node: it shows what clustering costs here (the bus, NATS's CPU, the extra hop in the \
         probe's latency), not what it gives. What it gives needs a machine per node and is \
         derived on paper above: (per-node delivery rate) × nodes, where a node's rate is the \
         deliveries one core does at the CPU per delivery measured for the clustered nodes, \
         capped by the broadcast intake every node must take (NATS's msgs/s to each \
         subscriber, measured here, × the broadcasts a bus message carries × N). It assumes the network and NATS, on machines of \
         their own, keep up; this run cannot test that."
    )));
    out
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
    }
}
