//! The two measured phases of a run.
//!
//! - Throughput: publishers send as fast as flow control allows — never
//!   more than a window of messages ahead of the slowest receiver — so the
//!   figure is the server's steady state, not how much the socket buffers
//!   can swallow.
//! - Latency: an open-loop schedule at a fixed rate. Each payload carries
//!   its *intended* send time, so a stall delays every message scheduled
//!   behind it and shows in the percentiles (no coordinated omission).
//!
//! Both end only when every receiver has its exact count; a shortfall or a
//! surplus fails the run.

use super::fleet::{new_histogram, Fleet};
use super::procstat;
use hdrhistogram::Histogram;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages per write: publishers batch as any real client would.
pub const BATCH: u64 = 256;
/// A run with no delivery progress for this long has failed.
pub const STALL: Duration = Duration::from_secs(15);

/// Who sends what in a run.
pub struct Plan {
    /// For each sender: its socket, and where its messages go, in turn
    /// (none: broadcasts; one private recipient; or rooms, one message to
    /// each in a round).
    pub senders: Vec<(Arc<TcpStream>, Vec<String>)>,
    /// Messages each sender sends (a whole number of rounds).
    pub per_sender: u64,
    /// Messages each sender sends in a round (1, or its rooms).
    pub sends_per_round: u64,
    /// Messages each receiver gets per round (publishers for fanout, N-1
    /// for mesh, 1 for private, rooms each user is in for rooms).
    pub per_receiver_per_round: u64,
    /// Receivers being counted.
    pub receivers: u64,
    pub payload: usize,
    /// Most messages publishers may be ahead of the slowest receiver.
    pub window: u64,
}

impl Plan {
    fn expected(&self, per_sender: u64) -> u64 {
        per_sender / self.sends_per_round.max(1) * self.per_receiver_per_round
    }

    /// Where sender `s` sends its message number `i`.
    fn to(&self, s: usize, i: u64) -> Option<&str> {
        let targets = &self.senders[s].1;
        let at = i.checked_rem(targets.len() as u64)?;
        targets.get(at as usize).map(String::as_str)
    }
}

/// `n` rounded up to whole rounds of `per_round`.
pub fn whole_rounds(n: u64, per_round: u64) -> u64 {
    n.div_ceil(per_round.max(1)) * per_round.max(1)
}

/// Figures of one throughput phase.
#[derive(Debug, Clone)]
pub struct Throughput {
    pub deliveries: u64,
    pub publishes: u64,
    pub wire_bytes: u64,
    pub seconds: f64,
    pub server_cpu: Option<f64>,
    pub probe_cpu: Option<f64>,
}

/// Figures of one latency phase, in microseconds.
#[derive(Debug, Clone)]
pub struct Latency {
    pub rate: f64,
    pub samples: u64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// What each reader thread's connections saw (receiver `i` is read by
    /// thread `i % readers`), for a cluster's per-node latency.
    pub by_reader: Vec<Histogram<u64>>,
}

/// Fills `payload` as `<kind>:<seq>:<ns>:` padded with `x`.
pub fn fill(payload: &mut [u8], kind: u8, seq: u64, ns: u64) {
    use std::io::Write;
    payload.fill(b'x');
    let mut cursor = std::io::Cursor::new(&mut payload[..]);
    let _ = write!(cursor, "{}:{seq}:{ns}:", kind as char);
}

/// Waits until every receiver has `base + expected` deliveries, then checks
/// that no receiver got more and that the totals add up.
fn await_deliveries(
    fleet: &Fleet,
    plan: &Plan,
    base: u64,
    base_total: u64,
    expected: u64,
) -> Result<(), String> {
    let shared = &fleet.shared;
    let mut last = shared.total_received();
    let mut last_change = Instant::now();
    while shared.min_received() < base + expected {
        if let Some(why) = shared.broken() {
            return Err(why);
        }
        let now_total = shared.total_received();
        if now_total != last {
            last = now_total;
            last_change = Instant::now();
        } else if last_change.elapsed() > STALL {
            return Err(format!(
                "stalled: slowest receiver has {} of {expected} messages (total {} of {})",
                shared.min_received().saturating_sub(base),
                now_total - base_total,
                expected * plan.receivers
            ));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let got = shared.total_received() - base_total;
    let max = shared.max_received() - base;
    if max != expected || got != expected * plan.receivers {
        return Err(format!(
            "wrong delivery count: expected {expected} per receiver ({} in all), \
             got up to {max} per receiver ({got} in all)",
            expected * plan.receivers
        ));
    }
    Ok(())
}

/// Publishes everything as fast as the window allows and times it.
pub fn throughput(fleet: &Fleet, plan: &Plan, server: Option<u32>) -> Result<Throughput, String> {
    let shared = &fleet.shared;
    let (base, base_total, base_bytes) = (
        shared.min_received(),
        shared.total_received(),
        shared.bytes_received(),
    );
    let senders = plan.senders.len() as u64;
    let total = senders * plan.per_sender;
    let expected = plan.expected(plan.per_sender);
    let probe = std::process::id();
    // To the nanosecond: evchat's phase lasts a fraction of a second, a few
    // clock ticks of server CPU, too coarse to compare two transports by.
    let (server_cpu0, probe_cpu0) = (
        server.and_then(procstat::cpu_seconds_fine),
        procstat::cpu_seconds_fine(probe),
    );
    let start = Instant::now();
    let mut sent = vec![0u64; plan.senders.len()];
    let mut published = 0u64;
    let mut next = 0;
    let mut buf = Vec::with_capacity(64 << 10);
    let mut payload = vec![b'x'; plan.payload];
    let mut waited = Instant::now();
    while published < total {
        let progress = shared.min_received().saturating_sub(base);
        // Publishing `published` messages moves receivers by
        // published * per_round / (senders * sends_per_round); stay
        // within the window.
        let allowed = (u128::from(progress + plan.window)
            * u128::from(senders * plan.sends_per_round.max(1))
            / u128::from(plan.per_receiver_per_round.max(1)))
        .min(u128::from(total)) as u64;
        if published >= allowed {
            if waited.elapsed() > STALL {
                return Err(format!("stalled at {published} of {total} publishes"));
            }
            // The window holds milliseconds of traffic; a short sleep costs
            // nothing, while yielding in a loop steals the server's core.
            std::thread::sleep(Duration::from_micros(50));
            continue;
        }
        waited = Instant::now();
        let mut budget = allowed - published;
        for _ in 0..plan.senders.len() {
            let s = next;
            next = (next + 1) % plan.senders.len();
            let k = (plan.per_sender - sent[s]).min(BATCH).min(budget);
            if k == 0 {
                continue;
            }
            buf.clear();
            for j in 0..k {
                fill(&mut payload, b'T', sent[s] + j, 0);
                let to = plan.to(s, sent[s] + j);
                fleet.publish(to, &payload, &mut buf);
            }
            fleet
                .send(&plan.senders[s].0, &buf)
                .map_err(|e| format!("publish failed: {e}"))?;
            sent[s] += k;
            published += k;
            budget -= k;
            if budget == 0 {
                break;
            }
        }
    }
    await_deliveries(fleet, plan, base, base_total, expected)?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu =
        |pid: Option<u32>, before: Option<f64>| Some(procstat::cpu_seconds_fine(pid?)? - before?);
    Ok(Throughput {
        deliveries: expected * plan.receivers,
        publishes: total,
        wire_bytes: shared.bytes_received() - base_bytes,
        seconds,
        server_cpu: cpu(server, server_cpu0),
        probe_cpu: cpu(Some(probe), probe_cpu0),
    })
}

/// Publishes on an open-loop schedule of `rate` publishes per second for
/// about `duration`, and reports delivery latency.
pub fn latency(
    fleet: &Fleet,
    plan: &Plan,
    rate: f64,
    duration: Duration,
) -> Result<Latency, String> {
    let shared = &fleet.shared;
    let _ = shared.take_latency();
    let (base, base_total) = (shared.min_received(), shared.total_received());
    let senders = plan.senders.len() as u64;
    // Whole rounds, so every sender sends the same number of messages; as
    // many as the rate asks for over the whole duration.
    let per_sender = whole_rounds(
        ((rate * duration.as_secs_f64()) as u64 / senders).max(1),
        plan.sends_per_round,
    );
    let total = per_sender * senders;
    let interval_ns = 1e9 / rate;
    let start_ns = u64::try_from(shared.epoch.elapsed().as_nanos()).unwrap_or(0) + 1_000_000;
    let intended = |i: u64| start_ns + (i as f64 * interval_ns) as u64;
    let mut published = 0u64;
    let mut batches: Vec<Vec<u8>> = vec![Vec::new(); plan.senders.len()];
    let mut payload = vec![b'x'; plan.payload];
    while published < total {
        let now = u64::try_from(shared.epoch.elapsed().as_nanos()).unwrap_or(0);
        let next_due = intended(published);
        if next_due > now {
            // Sleep, never spin: on a small machine a spinning probe steals
            // the server's core. Oversleeping delays the next sends, and
            // their intended times make that count as latency, alike for
            // every target.
            std::thread::sleep(Duration::from_nanos(next_due - now));
            continue;
        }
        // Everything due by now goes out, each with its own intended time.
        while published < total && intended(published) <= now {
            let s = (published % senders) as usize;
            fill(&mut payload, b'L', published, intended(published));
            let to = plan.to(s, published / senders);
            fleet.publish(to, &payload, &mut batches[s]);
            published += 1;
        }
        for (s, batch) in batches.iter_mut().enumerate() {
            if !batch.is_empty() {
                fleet
                    .send(&plan.senders[s].0, batch)
                    .map_err(|e| format!("publish failed: {e}"))?;
                batch.clear();
            }
        }
    }
    await_deliveries(fleet, plan, base, base_total, plan.expected(per_sender))?;
    let by_reader: Vec<Histogram<u64>> = shared
        .latency
        .iter()
        .map(|h| {
            std::mem::replace(
                &mut *h.lock().unwrap_or_else(|p| p.into_inner()),
                new_histogram(),
            )
        })
        .collect();
    let mut h = new_histogram();
    for r in &by_reader {
        let _ = h.add(r);
    }
    Ok(Latency {
        rate,
        samples: h.len(),
        p50: h.value_at_quantile(0.50),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        by_reader,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn payloads_are_fixed_size_and_tagged() {
        let mut p = vec![0u8; 24];
        super::fill(&mut p, b'L', 7, 123456);
        assert_eq!(&p, b"L:7:123456:xxxxxxxxxxxxx");
    }
}
