//! The flood scenario: does one client flooding the server starve the
//! others?
//!
//! evchat reads at most a fixed budget from one socket per loop turn so a
//! flooding client cannot starve the others. This scenario puts that to the
//! test: one client floods ([`flooder`](super::flooder)) while a pair of
//! ordinary users does round trips ([`pair`](super::pair)) and N bystanders
//! sit logged in, receiving what a broadcast flood fans out. It reports
//! what the pair feels (message and PING latency, p50/p99/max) and what the
//! flooder achieved (frames per second processed). Redis and NATS get the
//! nearest load their protocols allow (see [`Flood`]).
//!
//! Counts are exact, as in the other scenarios: every receiver must get
//! exactly the flood frames meant for it, the pair's every message and
//! PONG, and evchat's own `deliveries` and `frames_in` counters must agree
//! with the probe's. Nothing here is timed except the figures reported.

use super::fleet::{bench_name, Fleet};
use super::flooder::{Flood, FloodCounts, FloodResult, Flooder};
use super::pair::{Pair, PairCounts, PairResult};
use super::phase::STALL;
use super::procstat;
use super::scenario::{server_stats, settle, Run, Sample, Settings, Stats, PATIENCE};
use super::wire::{Decoder, Item, Target};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Connects, logs in (or subscribes) as `name`, waits for the barrier's
/// answer and returns the connection non-blocking, with its decoder.
fn join(
    target: Target,
    addr: SocketAddr,
    name: &str,
    subscribe: bool,
) -> Result<(TcpStream, Decoder), String> {
    let fail = |e: std::io::Error| format!("set-up of {name} failed: {e}");
    let mut stream = TcpStream::connect(addr).map_err(fail)?;
    stream.set_nodelay(true).map_err(fail)?;
    stream.set_read_timeout(Some(PATIENCE)).map_err(fail)?;
    let mut hello = Vec::new();
    if subscribe {
        target.subscribe(name, &mut hello);
    } else {
        target.publisher(name, &mut hello);
    }
    stream.write_all(&hello).map_err(fail)?;
    let mut decoder = Decoder::new(target);
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    let mut ponged = false;
    while !ponged {
        let n = stream.read(&mut buf).map_err(fail)?;
        if n == 0 {
            return Err(format!("set-up of {name} failed: the server closed"));
        }
        seen.extend_from_slice(&buf[..n]);
        decoder.feed(&buf[..n], |item| ponged |= item == Item::Pong);
    }
    // evchat answers a refused LOGIN (a name in use, say) with ERR, and the
    // barrier after it with PONG all the same.
    if let Some(err) = String::from_utf8_lossy(&seen)
        .lines()
        .find(|l| l.starts_with("ERR ") || l.starts_with("-ERR"))
    {
        return Err(format!("set-up of {name} failed: {err}"));
    }
    stream.set_nonblocking(true).map_err(fail)?;
    Ok((stream, decoder))
}

/// Says goodbye and closes.
fn leave(target: Target, stream: &TcpStream) {
    let mut quit = Vec::new();
    target.quit(&mut quit);
    let _ = super::fleet::write_retrying(stream, &quit);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Waits until `count()` reaches `want`, failing when it stops moving.
fn await_count(what: &str, want: u64, count: impl Fn() -> u64) -> Result<(), String> {
    let mut last = count();
    let mut moved = Instant::now();
    while last < want {
        std::thread::sleep(Duration::from_millis(1));
        let now = count();
        if now != last {
            (last, moved) = (now, Instant::now());
        } else if moved.elapsed() > STALL {
            return Err(format!("stalled: {what} has {now} of {want} messages"));
        }
    }
    Ok(())
}

fn exact(what: &str, got: u64, want: u64) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what} got {got} messages, expected {want}"))
    }
}

/// Runs the flood scenario once: N bystanders, a pair, a flooder.
pub fn run(r: Run, flood: Flood, s: &Settings) -> Result<Sample, String> {
    let Run {
        n,
        target,
        addr,
        pid,
        ..
    } = r;
    let (fleet, users) = super::scenario::bystanders(target, addr, n, s)?;
    let (flooder, pair) = sides(target, addr, n, flood, s)?;
    let before = server_stats(target, addr)?;
    let cpu0 = pid.and_then(procstat::cpu_seconds);
    let probe0 = procstat::cpu_seconds(std::process::id());
    let started = Instant::now();
    // The pair starts once the flood is under way (or over, if small).
    let under_way = (16 * super::phase::BATCH).min(s.messages.unwrap_or(u64::MAX));
    let (flooded, paired) = side_by_side(flooder, pair, &fleet, n, under_way)?;
    let probe_cpu = procstat::cpu_seconds(std::process::id()).zip(probe0);
    let server_cpu = pid.and_then(procstat::cpu_seconds).zip(cpu0);
    let elapsed = started.elapsed().as_secs_f64();
    let (frames, rounds) = (flooded.frames, paired.round_trips);
    if let (Some(before), Some(after)) = (before, server_stats(target, addr)?) {
        server_agrees(flood, n, (frames, rounds), before, after)?;
    }
    for stream in flooded.streams.iter().chain([&paired.a, &paired.b]) {
        leave(target, stream);
    }
    fleet.close();
    settle(target, addr, users);
    let mut sample = figures(&flooded, &paired);
    if let Some((after, before)) = server_cpu {
        sample.insert("server_busy", (after - before) / elapsed);
    }
    if let Some((after, before)) = probe_cpu {
        sample.insert("probe_busy", (after - before) / elapsed);
    }
    Ok(sample)
}

/// The flooder and the pair, connected and logged in after the `n`
/// bystanders.
fn sides(
    target: Target,
    addr: SocketAddr,
    n: usize,
    flood: Flood,
    s: &Settings,
) -> Result<(Flooder, Pair), String> {
    // Names after the bystanders': A, B, the flooder, the sink.
    let names: Vec<String> = (n..n + 4).map(bench_name).collect();
    // Only evchat delivers a private flood to the flooder itself: a
    // subscribed Redis connection cannot publish, and NATS is told not to
    // echo.
    let self_msg = target == Target::Evchat;
    let a = join(target, addr, &names[0], false)?;
    let b = join(target, addr, &names[1], true)?;
    let stream = join(target, addr, &names[2], false)?;
    let sink = match (flood, self_msg) {
        (Flood::Msg, false) => Some(join(target, addr, &names[3], true)?),
        _ => None,
    };
    let to = names[if sink.is_some() { 3 } else { 2 }].clone();
    // A delivered frame is the payload and about 40 bytes of framing; 6 MiB
    // of them in flight keeps every receiver's backlog under evchat's
    // default --max-queue (8 MiB), so nobody is cut for being slow.
    let frame = s.payload as u64 + 40;
    let window = match flood {
        Flood::Pong => None,
        _ => Some(s.window.unwrap_or((6 << 20) / frame)),
    };
    let flooder = Flooder {
        target,
        flood,
        stream,
        sink,
        to,
        payload: s.payload,
        cap: s.messages,
        window,
    };
    let pair = Pair {
        target,
        a,
        b,
        b_name: names[1].clone(),
        payload: s.payload,
        round_trips: s.round_trips,
        duration: Duration::from_secs_f64(s.flood_seconds),
    };
    Ok((flooder, pair))
}

/// Runs the flooder and, once it has sent `under_way` frames, the pair,
/// each on its own thread, until both are done and every receiver's count
/// is checked ([`finish`]). A side that fails stops the other, and the
/// wait for them; its failure says more than the checks it made fail.
fn side_by_side(
    flooder: Flooder,
    pair: Pair,
    fleet: &Fleet,
    n: usize,
    under_way: u64,
) -> Result<(FloodResult, PairResult), String> {
    let (flood, target) = (flooder.flood, flooder.target);
    let evchat = target == Target::Evchat;
    let pair_counts = PairCounts::default();
    let flood_counts = FloodCounts::default();
    let (checked, flooded, paired) = std::thread::scope(|scope| {
        let (pc, fc, shared) = (&pair_counts, &flood_counts, &fleet.shared);
        // The slowest receiver of the flood, for the flooder's window.
        let progress = move || match flood {
            Flood::Say => {
                let pair = if evchat {
                    pc.a_flood.load(Ordering::Acquire)
                } else {
                    u64::MAX
                }
                .min(pc.b_flood.load(Ordering::Acquire));
                if n > 0 {
                    pair.min(shared.min_received())
                } else {
                    pair
                }
            }
            _ => fc.returned.load(Ordering::Acquire),
        };
        let stop = move || pc.sending_done.load(Ordering::Acquire);
        let flooding = scope.spawn(move || {
            let result = flooder.run(fc, stop, progress);
            fc.failed.store(result.is_err(), Ordering::Release);
            result
        });
        while fc.sent.load(Ordering::Acquire) < under_way
            && !fc.finished.load(Ordering::Acquire)
            && !flooding.is_finished()
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        let pairing = scope.spawn(move || {
            let result = pair.run(pc);
            if result.is_err() {
                pc.failed.store(true, Ordering::Release);
                pc.sending_done.store(true, Ordering::Release);
            }
            result
        });
        let checked = finish(flood, n, target, fleet, fc, pc);
        fc.quit.store(true, Ordering::Release);
        pc.quit.store(true, Ordering::Release);
        let flooded = flooding.join().map_err(|_| "flooder panicked".to_owned());
        let paired = pairing.join().map_err(|_| "pair panicked".to_owned());
        (checked, flooded, paired)
    });
    let flooded = flooded??;
    let paired = paired??;
    checked?;
    Ok((flooded, paired))
}

/// evchat's own counters, `before` and `after` the run, must agree with
/// the probe's `frames` flooded and round trips.
fn server_agrees(
    flood: Flood,
    n: usize,
    (frames, rounds): (u64, u64),
    before: Stats,
    after: Stats,
) -> Result<(), String> {
    // The flood, the flooder's barrier, a MSG and a PING per round trip,
    // the QUIT of the first STATS connection and the second STATS.
    let frames_in = frames + 1 + 2 * rounds + 2;
    let fanout = match flood {
        Flood::Say => n as u64 + 2,
        Flood::Msg => 1,
        Flood::Pong => 0,
    };
    let deliveries = frames * fanout + rounds;
    if after.frames_in - before.frames_in != frames_in
        || after.deliveries - before.deliveries != deliveries
    {
        return Err(format!(
            "server counted {} frames in and {} deliveries, the probe expected {frames_in} and {deliveries}",
            after.frames_in - before.frames_in,
            after.deliveries - before.deliveries
        ));
    }
    Ok(())
}

/// What the pair felt and what the flood achieved.
fn figures(flooded: &FloodResult, paired: &PairResult) -> Sample {
    let mut sample = Sample::new();
    let figures = [
        (["msg_p50_us", "msg_p99_us", "msg_max_us"], &paired.msg),
        (["ping_p50_us", "ping_p99_us", "ping_max_us"], &paired.ping),
    ];
    for ([p50, p99, max], h) in figures {
        sample.insert(p50, h.value_at_quantile(0.5) as f64);
        sample.insert(p99, h.value_at_quantile(0.99) as f64);
        sample.insert(max, h.max() as f64);
    }
    let frames = flooded.frames;
    sample.insert("round_trips", paired.round_trips as f64);
    sample.insert("flood_frames", frames as f64);
    sample.insert("flood_duration_s", flooded.seconds);
    if flooded.seconds > 0.0 {
        sample.insert("flood_frames_per_s", frames as f64 / flooded.seconds);
    }
    sample
}

/// Waits for the flood and the pair to end, then checks every receiver's
/// count of flood messages.
fn finish(
    flood: Flood,
    n: usize,
    target: Target,
    fleet: &Fleet,
    fc: &FloodCounts,
    pc: &PairCounts,
) -> Result<(), String> {
    let failed = || fc.failed.load(Ordering::Acquire) || pc.failed.load(Ordering::Acquire);
    let hang = |what: &str, done: &dyn Fn() -> bool| -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        while !done() {
            if failed() {
                return Err("the probe failed".into());
            }
            if Instant::now() > deadline {
                return Err(format!("{what} did not end within {PATIENCE:?}"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    };
    hang("the flood", &|| fc.finished.load(Ordering::Acquire))?;
    hang("the pair's last round trip", &|| {
        pc.complete.load(Ordering::Acquire)
    })?;
    let frames = fc.sent.load(Ordering::Acquire);
    let say = flood == Flood::Say;
    let per = |yes: bool| if yes { frames } else { 0 };
    let shared = &fleet.shared;
    if say && n > 0 {
        await_count("a bystander", frames, || shared.min_received())?;
    }
    let a_gets = say && target == Target::Evchat;
    await_count("user A", per(a_gets), || pc.a_flood.load(Ordering::Acquire))?;
    await_count("user B", per(say), || pc.b_flood.load(Ordering::Acquire))?;
    let back = flood == Flood::Msg;
    await_count("the flooder", per(back), || {
        fc.returned.load(Ordering::Acquire)
    })?;
    // A short grace for a surplus to show, then exact counts.
    std::thread::sleep(Duration::from_millis(20));
    exact("a bystander", shared.max_received(), per(say && n > 0))?;
    exact(
        "the bystanders",
        shared.total_received(),
        per(say) * n as u64,
    )?;
    exact("user A", pc.a_flood.load(Ordering::Acquire), per(a_gets))?;
    exact("user B", pc.b_flood.load(Ordering::Acquire), per(say))?;
    exact(
        "the flooder",
        fc.returned.load(Ordering::Acquire),
        per(back),
    )
}
