//! Held mail handed out a window at a time.
//!
//! A login takes its mail in windows: at most [`WINDOW_MESSAGES`] messages
//! and about [`WINDOW_BYTES`] bytes, followed by a `PING`; the next window
//! is fetched only once the client has answered it (the hub asks, in the
//! same job that acknowledges the window before). So however much is held,
//! a node has one window of it in memory and in the client's queue at a
//! time, and JetStream never has more of a mailbox handed out and
//! unacknowledged than two windows (the one read is acknowledged while the
//! next is on its way) — far under its limit of 1000 per consumer, past
//! which it hands out no more.
//!
//! Pulls that fail for a moment — the consumer deleted under the pull (the
//! last acknowledgement deletes it), or moved while JetStream restarts or
//! elects — are tried again for up to 8 s, not reported to the
//! client as the cluster being unavailable. A pull nobody answers (a
//! consumer whose leader is not elected yet) counts as such a failure
//! after [`JS_TIMEOUT`]: it would otherwise wait for ever.

use super::connect::JS_TIMEOUT;
use super::mailbox::{entry_seq, mailbox_consumer, mailbox_subject, Mailbox, ACK_WAIT};
use super::HeldMail;
use async_nats::jetstream::consumer::{pull, AckPolicy, Consumer};
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use log::{debug, warn};
use std::time::Duration;
use tokio::time::Instant;

/// The most messages in one window.
pub const WINDOW_MESSAGES: usize = 256;
/// About the most bytes in one window (it holds at least one message,
/// whatever its size): well under `--max-queue`, which the window counts
/// against.
pub const WINDOW_BYTES: usize = 1 << 20;
/// Entries pulled from JetStream at once: what a pull brings past the
/// window's bytes is given back, so a pull is small.
const PULL: usize = 32;
/// How long a window's fetch keeps trying through failures of a moment.
const PATIENCE: Duration = Duration::from_secs(8);

/// A window being filled.
#[derive(Default)]
struct Window {
    messages: Vec<jetstream::Message>,
    frames: Vec<bytes::Bytes>,
    bytes: usize,
    /// More is held after it.
    more: bool,
}

impl Window {
    fn is_full(&self) -> bool {
        self.messages.len() >= WINDOW_MESSAGES || self.bytes >= WINDOW_BYTES
    }
}

impl Mailbox {
    /// Takes the next window of the mail held for `name`, in order, to be
    /// acknowledged later; `None` when nothing is held.
    pub(super) async fn fetch(&self, name: &str) -> Result<Option<HeldMail>, String> {
        let deadline = Instant::now() + PATIENCE;
        let mut pause = Duration::from_millis(50);
        loop {
            // Most logins have no mail: one lookup, and no consumer made.
            let window = match self.has_mail(name).await {
                Ok(true) => self.window(name).await,
                Ok(false) => Ok(None),
                Err(e) => Err(e),
            };
            match window {
                Ok(window) => return Ok(window),
                Err(e) if Instant::now() + pause < deadline => {
                    debug!("fetching the mail held for {name}: {e}; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One try at the next window: an error only if it got nothing.
    async fn window(&self, name: &str) -> Result<Option<HeldMail>, String> {
        let consumer = self.consumer(name).await?;
        let mut window = Window::default();
        loop {
            let want = PULL.min(WINDOW_MESSAGES - window.messages.len());
            let pulled = match self.pull(&consumer, want, &mut window).await {
                Ok(pulled) => pulled,
                Err(e) if window.messages.is_empty() => return Err(e),
                Err(e) => {
                    // What it has is delivered; the rest comes next window.
                    debug!("pulling the mail held for {name}: {e}");
                    window.more = true;
                    break;
                }
            };
            // A short pull: JetStream has handed out all it holds.
            if pulled < want || window.is_full() || !window.more {
                break;
            }
        }
        if window.messages.is_empty() {
            return Ok(None);
        }
        let Window {
            messages,
            frames,
            more,
            ..
        } = window;
        let ticket = self.keep(name, messages);
        Ok(Some(HeldMail {
            ticket,
            frames,
            more,
        }))
    }

    /// Pulls up to `want` entries into `window`, with their bodies; what
    /// does not fit is given back, in order, to come first next time.
    /// Returns how many entries JetStream handed out.
    async fn pull(
        &self,
        consumer: &Consumer<pull::Config>,
        want: usize,
        window: &mut Window,
    ) -> Result<usize, String> {
        let mut batch = consumer
            .fetch()
            .max_messages(want)
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        let (mut entries, mut cut_short) = (Vec::new(), None);
        loop {
            let Ok(next) = tokio::time::timeout(JS_TIMEOUT, batch.next()).await else {
                cut_short = Some("no answer to the pull".to_owned());
                break;
            };
            let Some(message) = next else { break };
            match message {
                Ok(message) => entries.push(message),
                Err(e) => {
                    // What came before the error is taken, in order.
                    cut_short = Some(e.to_string());
                    break;
                }
            }
        }
        let mut failed = None;
        let pulled = entries.len();
        // The bodies, asked for all at once: one round trip, not one each.
        let bodies = entries.iter().map(|entry| async move {
            let seq = entry_seq(&entry.payload)?;
            Some(self.bodies.get_raw_message(seq).await)
        });
        let bodies = futures_util::future::join_all(bodies).await;
        for (message, body) in entries.into_iter().zip(bodies) {
            // Messages still held after this one.
            window.more = message.info().map_or(true, |i| i.pending > 0);
            if window.is_full() || failed.is_some() {
                give_back(&message).await;
                window.more = true;
                continue;
            }
            match body {
                None => {
                    warn!(
                        "held mail entry {:?} is not a number; dropping it",
                        message.payload
                    );
                    let _ = message.ack().await;
                }
                Some(Ok(body))
                    if window.bytes + body.payload.len() > WINDOW_BYTES
                        && !window.frames.is_empty() =>
                {
                    give_back(&message).await;
                    window.bytes = WINDOW_BYTES;
                    window.more = true;
                }
                Some(Ok(body)) => {
                    window.bytes += body.payload.len();
                    window.frames.push(body.payload);
                    window.messages.push(message);
                }
                Some(Err(e)) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {
                    warn!("held mail points at a missing message; dropping it");
                    let _ = message.ack().await;
                }
                Some(Err(e)) => {
                    // Not lost: given back, with the rest of the pull.
                    give_back(&message).await;
                    failed = Some(e.to_string());
                }
            }
        }
        match failed.or(cut_short) {
            Some(e) if window.messages.is_empty() => Err(e),
            Some(_) => {
                window.more = true;
                Ok(pulled)
            }
            None => Ok(pulled),
        }
    }

    /// The durable consumer of `name`'s mailbox, made if need be.
    async fn consumer(&self, name: &str) -> Result<Consumer<pull::Config>, String> {
        self.entries
            .get_or_create_consumer(
                &mailbox_consumer(name),
                pull::Config {
                    durable_name: Some(mailbox_consumer(name)),
                    filter_subject: mailbox_subject(name),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: ACK_WAIT,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())
    }
}

/// Offers an entry again at once: JetStream hands out what was given back
/// before anything new, in the order it was given back.
async fn give_back(message: &jetstream::Message) {
    let _ = message.ack_with(AckKind::Nak(None)).await;
}
