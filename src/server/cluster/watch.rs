//! Following a bucket, history first, through NATS servers dying: the
//! names bucket and the rooms bucket are both followed this way.

use super::bridge::ToLoop;
use super::FromCluster;
use async_nats::jetstream::kv::{self, WatchErrorKind};
use futures_util::StreamExt;
use log::warn;
use std::time::Duration;
use tokio::time::Instant;

/// Follows `bucket`, history first, restarting the watch when it breaks:
/// each entry goes to the loop as `news` makes it, after `reset` (the
/// loop then rebuilds its view from the full state) and followed, once the
/// history is complete, by `synced` — and `first_sync` is told, the first
/// time.
///
/// When the history is complete is decided by the stream's last sequence,
/// read after the watch started: the replay delivers each name's last
/// entry in sequence order, so an entry at or past it means every earlier
/// one has come. The entries' own `delta` cannot say it: under concurrent
/// claims it reaches 0 and grows again, and taking the history for
/// complete early made the loop drop every name still to come from `WHO`
/// (177 of 303 for seconds, in a login storm with a NATS server killed).
pub(super) async fn watch_bucket(
    bucket: kv::Store,
    what: &'static str,
    to_loop: ToLoop,
    news: impl Fn(kv::Entry) -> Option<FromCluster>,
    reset: impl Fn() -> FromCluster,
    synced: impl Fn() -> FromCluster,
    mut first_sync: Option<tokio::sync::oneshot::Sender<()>>,
) {
    let mut synced_now = |to_loop: &ToLoop| {
        to_loop.send(synced());
        if let Some(tell) = first_sync.take() {
            let _ = tell.send(());
        }
    };
    loop {
        // Asked again soon rather than waiting out the client's 5 s: while
        // JetStream elects leaders, a request sent a second later works.
        let watching = tokio::time::timeout(PROBE_EVERY, bucket.watch_with_history(">"));
        match watching
            .await
            .unwrap_or_else(|_| Err(WatchErrorKind::TimedOut.into()))
        {
            Ok(mut watch) => {
                to_loop.send(reset());
                // Unknown (no answer): never synced, so nothing is taken
                // for gone on this watch; names leave by their deletions.
                let mut history = match last_sequence(&bucket).await {
                    Ok(last) => History::up_to(last),
                    Err(e) => {
                        warn!("cannot read the {what} bucket's state ({e}): entries not seen again stay until deleted");
                        History::unknown()
                    }
                };
                if history.complete() {
                    synced_now(&to_loop);
                }
                let mut stall = Stall::new(history.last.unwrap_or(0));
                let mut probe = tokio::time::interval(PROBE_EVERY);
                loop {
                    let entry = tokio::select! {
                        entry = watch.next() => entry,
                        _ = probe.tick() => {
                            if stall.silent_since(Instant::now()) >= PROBE_EVERY {
                                if let Some(behind) = stall.probe(&bucket).await {
                                    warn!("the {what} watch stalled ({behind}); restarting it");
                                    break;
                                }
                            }
                            continue;
                        }
                    };
                    let Some(Ok(entry)) = entry else {
                        warn!("the {what} watch ended; restarting it");
                        break;
                    };
                    let revision = entry.revision;
                    stall.delivered(revision, Instant::now());
                    if let Some(item) = news(entry) {
                        to_loop.send(item);
                    }
                    if history.seen(revision) {
                        synced_now(&to_loop);
                    }
                }
            }
            Err(e) => warn!("cannot watch the {what} bucket: {e}; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The bucket stream's last sequence, asked afresh (`Store::status` only
/// says what it was when the bucket was opened).
async fn last_sequence(bucket: &kv::Store) -> Result<u64, String> {
    let info = bucket.stream.get_info().await.map_err(|e| e.to_string())?;
    Ok(info.state.last_sequence)
}

/// How often a silent watch is checked against the stream.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Whether a silent watch is alive. The watch's consumer lives on one NATS
/// server: when that server dies, the client notices only after missing
/// its heartbeats for 10 s, and names claimed meanwhile are missing here.
/// A watch that has delivered nothing for a while, on a stream that has
/// moved past what it delivered, is dead: it is restarted at once.
///
/// So is one that has delivered past the stream's last sequence. After a
/// NATS server is killed, the copies of the stream can number the same
/// entries differently (measured: a watch read revisions 6 ahead of the
/// leader's for the rest of a run). The client recreates a broken watch's
/// consumer from the last revision it delivered, in the numbering of
/// whichever copy serves it next: from one ahead, it skips the changes in
/// between — a name's deletion among them, which left the name in `WHO`
/// for good, as no later probe found the stream past the watch.
struct Stall {
    /// The last revision delivered (or the stream's last sequence when
    /// the watch began).
    seen: u64,
    since: Instant,
}

impl Stall {
    fn new(seen: u64) -> Stall {
        Stall {
            seen,
            since: Instant::now(),
        }
    }

    fn delivered(&mut self, revision: u64, now: Instant) {
        self.seen = self.seen.max(revision);
        self.since = now;
    }

    fn silent_since(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.since)
    }

    /// Asks the stream where it is: why the silent watch cannot be
    /// trusted, if it cannot. (No answer says nothing: the heartbeats
    /// still end a dead watch.)
    async fn probe(&self, bucket: &kv::Store) -> Option<String> {
        let last = tokio::time::timeout(PROBE_EVERY, last_sequence(bucket));
        let last = last.await.ok()?.ok()?;
        out_of_step(last, self.seen)
    }
}

/// Why a silent watch that has delivered up to `seen` is out of step with
/// a stream at `last`, if it is: a watch that has delivered everything
/// (every entry matches it) stands exactly at the stream's last sequence.
fn out_of_step(last: u64, seen: u64) -> Option<String> {
    match last.cmp(&seen) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => Some(format!("the bucket is at {last}, the watch at {seen}")),
        std::cmp::Ordering::Less => Some(format!(
            "the watch is at {seen}, past the bucket's last entry {last}: its copy numbers entries otherwise"
        )),
    }
}

/// How far a watch's replay of the bucket has come.
#[derive(Debug)]
struct History {
    /// The stream's last sequence when the watch began (`None`: unknown).
    last: Option<u64>,
    done: bool,
}

impl History {
    fn up_to(last: u64) -> History {
        History {
            last: Some(last),
            done: false,
        }
    }

    fn unknown() -> History {
        History {
            last: None,
            done: false,
        }
    }

    /// Complete before any entry (an empty bucket)?
    fn complete(&mut self) -> bool {
        self.seen(0)
    }

    /// An entry at `revision` came: true the once the replay is complete.
    /// On a copy of the stream numbered as the leader's, the entry at
    /// `last` comes before any past it; one past it first means the copy
    /// numbers entries otherwise (see [`Stall`]), and its replay cannot be
    /// told complete: nothing is taken for gone on this watch.
    fn seen(&mut self, revision: u64) -> bool {
        let Some(last) = self.last else { return false };
        if revision > last && !self.done {
            self.last = None;
            return false;
        }
        let first = revision == last && !self.done;
        self.done |= first;
        first
    }
}

#[cfg(test)]
mod tests {
    use super::{out_of_step, History};

    #[test]
    fn a_silent_watch_is_trusted_only_at_the_streams_last_sequence() {
        assert_eq!(out_of_step(7, 7), None);
        assert!(out_of_step(8, 7).is_some(), "behind");
        // Ahead: it reads a copy numbered otherwise, and a consumer
        // recreated from there skips what the stream has in between.
        assert!(out_of_step(7, 13).is_some(), "ahead");
    }

    #[test]
    fn the_history_is_complete_at_the_last_sequence_and_only_once() {
        let mut history = History::up_to(7);
        assert!(!history.complete());
        assert!(!history.seen(3));
        assert!(history.seen(7));
        assert!(!history.seen(9));
        let mut empty = History::up_to(0);
        assert!(empty.complete());
        assert!(!empty.seen(1));
        let mut unknown = History::unknown();
        assert!(!unknown.complete() && !unknown.seen(u64::MAX));
    }

    #[test]
    fn a_replay_numbered_past_the_streams_last_sequence_is_never_complete() {
        let mut ahead = History::up_to(7);
        assert!(!ahead.seen(5));
        // A copy that numbers entries otherwise: 7 may be another entry.
        assert!(!ahead.seen(9));
        assert!(!ahead.seen(7));
        assert!(!ahead.seen(12));
    }
}
