//! The buckets and streams a node works with, opened (made when missing)
//! at start.
//!
//! JetStream may not answer yet when a node starts: a fresh cluster is
//! still electing its first leaders (several nodes started at once on a
//! busy machine met `timed out`), or the NATS servers are short of their
//! quorum until one more comes up. The node asks again, saying so in its
//! log, for up to [`START_PATIENCE`] before it gives up; it does not listen
//! for users meanwhile.

use super::bridge::{KNOWN, NAMES};
use super::connect::{bucket, JS_TIMEOUT};
use super::mailbox::Mailbox;
use super::users::UsersBucket;
use super::ClusterSettings;
use async_nats::jetstream::{self, kv};
use log::warn;
use std::time::Duration;
use tokio::time::Instant;

/// How long a starting node waits for JetStream to answer.
pub const START_PATIENCE: Duration = Duration::from_secs(60);
/// The longest one attempt may take: what it made stays made, and the
/// next attempt finds it.
const ATTEMPT: Duration = JS_TIMEOUT;

pub(super) struct Stores {
    pub names: kv::Store,
    pub known: kv::Store,
    pub mailbox: Mailbox,
    pub accounts: UsersBucket,
}

impl Stores {
    pub(super) async fn open(
        js: &jetstream::Context,
        settings: &ClusterSettings,
    ) -> Result<Stores, String> {
        let deadline = Instant::now() + START_PATIENCE;
        let mut pause = Duration::from_millis(250);
        loop {
            let attempt = tokio::time::timeout(ATTEMPT, Stores::open_once(js, settings));
            let error = match attempt.await {
                Ok(Ok(stores)) => return Ok(stores),
                Ok(Err(e)) => e,
                Err(_) => "JetStream did not answer".to_owned(),
            };
            if Instant::now() + pause >= deadline || permanent(&error) {
                return Err(error);
            }
            warn!("{error}; asking JetStream again (for up to {START_PATIENCE:?} in all)");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    async fn open_once(
        js: &jetstream::Context,
        settings: &ClusterSettings,
    ) -> Result<Stores, String> {
        Ok(Stores {
            names: bucket(js, NAMES, settings.replicas).await?,
            known: bucket(js, KNOWN, settings.replicas).await?,
            mailbox: Mailbox::open(js, settings).await?,
            accounts: UsersBucket::open(js, settings.replicas).await?,
        })
    }
}

/// An error asking again cannot cure: JetStream has no room for the
/// streams as configured (`max_file_store` below `--held-bytes`).
fn permanent(error: &str) -> bool {
    error.contains("insufficient storage")
}
