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
use super::rooms_store::RoomStores;
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
pub(super) const ATTEMPT: Duration = JS_TIMEOUT;

pub(super) struct Stores {
    pub names: kv::Store,
    pub known: kv::Store,
    pub mailbox: Mailbox,
    pub accounts: UsersBucket,
    pub rooms: RoomStores,
}

impl Stores {
    pub(super) async fn open(
        js: &jetstream::Context,
        settings: &ClusterSettings,
        deadline: Instant,
    ) -> Result<Stores, String> {
        until_answered(deadline, ATTEMPT, || Stores::open_once(js, settings)).await
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
            rooms: RoomStores::open(js, settings).await?,
        })
    }
}

/// Runs `call` — a step of a node's start — until JetStream answers it,
/// or until `deadline` (a minute after the start began), saying in the log
/// each time it asks again; one attempt may take up to `attempt` (a step
/// that waits on purpose, as claiming a node name held by a process that
/// may be dead does, needs longer than a JetStream call). An answer that
/// is a refusal is not asked again.
pub(super) async fn until_answered<T, F, Fut>(
    deadline: Instant,
    attempt: Duration,
    mut call: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut pause = Duration::from_millis(250);
    loop {
        let error = match tokio::time::timeout(attempt, call()).await {
            Ok(Ok(done)) => return Ok(done),
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

/// An answer asking again cannot change: JetStream has no room for the
/// streams as configured (`max_file_store` below `--held-bytes`, said
/// one way by a single server and another by a cluster), or another
/// process holds this node's name.
fn permanent(error: &str) -> bool {
    error.contains("insufficient storage") || error.contains("is in use by another process")
}
