//! The progress bar on stderr: elapsed time and an estimate of the time
//! left, so a long `all --compare` run says how long it will take.
//!
//! Runs differ in length by orders of magnitude (fanout of 10 against 10000
//! subscribers), so the bar counts estimated seconds of work, not runs, and
//! the estimate of what is left is scaled by how long the finished runs
//! really took against their estimates. When stderr is not a terminal (a
//! pipe, a CI log) the bar is hidden and draws nothing; lines printed
//! through [`Progress::println`] still reach stderr.

use super::scenario::{Kind, Settings};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A rough guess of one run's length in seconds; only its proportions
/// matter, since [`Progress`] rescales it by what finished runs took.
pub fn estimate(kind: Kind, n: usize, s: &Settings) -> f64 {
    let n = n as f64;
    // Logging in n users sends about n²/2 presence notices.
    let set_up = 0.2 + n * 3e-4 + n * n * 2e-8;
    match kind {
        Kind::Fanout | Kind::Mesh | Kind::Private | Kind::Rooms => {
            let deliveries = s
                .messages
                .map_or(5e6, |m| m as f64 * n * s.publishers as f64);
            set_up + deliveries / 10e6 + s.latency_seconds
        }
        // Set-up and logins in a cluster are slower; about 5 M/s.
        Kind::Cluster => {
            let deliveries = s.messages.map_or(3e6, |m| m as f64 * n);
            2.0 * set_up + deliveries / 5e6 + s.latency_seconds
        }
        Kind::Connect => 0.2 + n / 5000.0,
        Kind::Idle => set_up,
        // A round trip takes a millisecond or so on a fair server.
        Kind::FloodSay | Kind::FloodMsg | Kind::FloodPong => {
            set_up + (s.round_trips as f64 * 1e-3).min(s.flood_seconds) + 0.5
        }
    }
}

/// What the time estimate is made from.
#[derive(Debug, Default)]
struct Tally {
    /// Estimated seconds of every run still to come or done.
    total: f64,
    /// Estimated and actual seconds of the finished runs.
    done_estimate: f64,
    done_actual: f64,
    /// The run under way: its estimate and start.
    current: Option<(f64, Instant)>,
}

impl Tally {
    /// Seconds left, with the estimates scaled by actual ÷ estimated so far.
    fn left(&self, now: Instant) -> f64 {
        let scale = if self.done_estimate > 0.0 {
            self.done_actual / self.done_estimate
        } else {
            1.0
        };
        let (current, running) = self
            .current
            .map_or((0.0, 0.0), |(e, t)| (e, (now - t).as_secs_f64()));
        let after = (self.total - self.done_estimate - current).max(0.0) * scale;
        after + (current * scale - running).max(0.0)
    }
}

/// The bar and its tally.
pub struct Progress {
    bar: ProgressBar,
    tally: Arc<Mutex<Tally>>,
}

/// Milliseconds of estimated work: the bar's unit.
fn units(seconds: f64) -> u64 {
    (seconds * 1000.0) as u64
}

fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

impl Progress {
    /// A bar for runs whose estimates add up to `total` seconds.
    pub fn new(total: f64) -> Progress {
        let tally = Arc::new(Mutex::new(Tally {
            total,
            ..Tally::default()
        }));
        if !std::io::stderr().is_terminal() {
            return Progress {
                bar: ProgressBar::hidden(),
                tally,
            };
        }
        let bar = ProgressBar::new(units(total).max(1));
        let shared = Arc::clone(&tally);
        let style = ProgressStyle::with_template(
            "{bar:24} {elapsed_precise} elapsed, about {left} left  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "left",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let tally = shared.lock().unwrap_or_else(|p| p.into_inner());
                let _ = w.write_str(&clock(tally.left(Instant::now())));
            },
        );
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_secs(1));
        Progress { bar, tally }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A run of `estimate` seconds starts; `what` says which.
    pub fn start(&self, estimate: f64, what: String) {
        self.tally().current = Some((estimate, Instant::now()));
        self.bar.set_message(what);
    }

    /// The run under way has ended.
    pub fn finish_run(&self) {
        let done = {
            let mut t = self.tally();
            if let Some((estimate, started)) = t.current.take() {
                t.done_estimate += estimate;
                t.done_actual += started.elapsed().as_secs_f64();
            }
            t.done_estimate
        };
        self.bar.set_position(units(done));
    }

    /// Runs of `estimate` seconds in all will not happen after all.
    pub fn skip(&self, estimate: f64) {
        let total = {
            let mut t = self.tally();
            t.total = (t.total - estimate).max(t.done_estimate);
            t.total
        };
        self.bar.set_length(units(total).max(1));
    }

    /// Prints a line on stderr above the bar (also when the bar is hidden).
    pub fn println(&self, text: &str) {
        self.bar.suspend(|| eprintln!("{text}"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_scales_estimates_by_what_runs_took() {
        let start = Instant::now();
        let mut t = Tally {
            total: 10.0,
            ..Tally::default()
        };
        assert_eq!(t.left(start), 10.0);
        // The first 2 estimated seconds took 4: everything takes twice as long.
        t.done_estimate = 2.0;
        t.done_actual = 4.0;
        assert_eq!(t.left(start), 16.0);
        // A run of 1 estimated second, under way for 0.5 s of its expected 2.
        t.current = Some((1.0, start));
        let left = t.left(start + Duration::from_millis(500));
        assert!((left - 15.5).abs() < 1e-9, "{left}");
        // Overrunning the current run never makes the time left negative.
        assert_eq!(t.left(start + Duration::from_secs(100)), 14.0);
    }

    #[test]
    fn clock_reads_hours_minutes_seconds() {
        assert_eq!(clock(3725.4), "1:02:05");
        assert_eq!(clock(59.6), "0:01:00");
    }
}
