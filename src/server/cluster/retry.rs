//! JetStream calls that did not get an answer are asked again, within a
//! deadline, before a user is told the cluster is unavailable.
//!
//! A request times out, finds no responder or gets "other error" while a
//! stream elects a new leader (a NATS server died, or a fresh stream on a
//! busy machine has none yet); a few seconds later the same request works.
//! The calls retried here are the ones whose answers are decisions
//! (a claim won or lost, a name's last entry, held mail taken): the
//! callers turn those into `Ok`, so an `Err` is always "no answer", and
//! asking again is safe — a claim that went through unanswered is found
//! again as this run's own claim. This runs on the helper thread, never
//! on the loop; the connection that waits for it keeps its later input in
//! order, as for any claim.

use super::connect::JS_TIMEOUT;
use log::{debug, info};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The first pause between attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Runs `call` until it succeeds or `deadline` passes (each attempt gets
/// at most what is left, and at most [`JS_TIMEOUT`]); the last error if
/// none did.
pub(super) async fn retried<T, F, Fut>(
    what: &str,
    deadline: Instant,
    mut call: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1u32;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let error = match tokio::time::timeout(left.min(JS_TIMEOUT), call()).await {
            Ok(Ok(answer)) => {
                if attempt > 1 {
                    info!("{what}: answered at attempt {attempt}");
                }
                return Ok(answer);
            }
            Ok(Err(e)) => e,
            Err(_) => "timed out".to_owned(),
        };
        if Instant::now() + pause >= deadline {
            return Err(error);
        }
        debug!("{what}, attempt {attempt}: {error}; trying again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_call_that_fails_for_a_while_is_answered() {
        let tries = Cell::new(0);
        let answer = runtime().block_on(retried("test", Instant::now() + JS_TIMEOUT, || {
            tries.set(tries.get() + 1);
            let n = tries.get();
            async move {
                if n < 4 {
                    Err("no responders".to_owned())
                } else {
                    Ok(n)
                }
            }
        }));
        assert_eq!(answer, Ok(4));
    }

    #[test]
    fn a_call_that_never_answers_ends_at_the_deadline_with_its_error() {
        let deadline = Instant::now() + Duration::from_millis(300);
        let answer: Result<(), String> =
            runtime().block_on(retried("test", deadline, std::future::pending));
        assert_eq!(answer, Err("timed out".to_owned()));
        let refused: Result<(), String> = runtime().block_on(retried(
            "test",
            Instant::now() + Duration::from_millis(300),
            || async { Err("no responders".to_owned()) },
        ));
        assert_eq!(refused, Err("no responders".to_owned()));
    }
}
