//! Accounts in a cluster: the key-value bucket `evchat_users`, name →
//! argon2id hash. Every node watches it (history first) and swaps each new
//! state into the accounts the password thread checks against, so a user
//! added on any machine can log in on every node at once. The cluster has
//! accounts exactly when the bucket holds any.
//!
//! `evchat-server user add|del|list|import --cluster URL` edits the bucket
//! through [`admin`], a short-lived connection of its own.

use super::connect::{bucket, connect};
use super::rooms::ROOMS_BUCKET;
use super::rooms_store::leave_every_room;
use super::ClusterSettings;
use crate::protocol::names::same_name;
use crate::server::accounts::{SharedUsers, Users};
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures_util::StreamExt;
use log::{info, warn};
use std::sync::Arc;
use std::time::Duration;

pub const USERS: &str = "evchat_users";

pub(super) struct UsersBucket {
    store: kv::Store,
}

impl UsersBucket {
    pub(super) async fn open(js: &jetstream::Context, replicas: usize) -> Result<Self, String> {
        Ok(UsersBucket {
            store: bucket(js, USERS, replicas).await?,
        })
    }

    /// Keeps `shared` equal to the bucket, for as long as the node runs;
    /// `read` is told once it is first current.
    pub(super) async fn watch(self, shared: SharedUsers, read: tokio::sync::oneshot::Sender<()>) {
        let mut read = Some(read);
        let mut published = |users: &Users| {
            publish(&shared, users);
            if let Some(read) = read.take() {
                let _ = read.send(());
            }
        };
        loop {
            match self.store.watch_with_history(">").await {
                Ok(mut watch) => {
                    // Rebuilt from the full history after each restart.
                    let mut users = Users::default();
                    let mut current = false;
                    if self
                        .store
                        .status()
                        .await
                        .map(|s| s.values() == 0)
                        .unwrap_or(false)
                    {
                        published(&users);
                        current = true;
                    }
                    while let Some(Ok(entry)) = watch.next().await {
                        match (entry.operation, std::str::from_utf8(&entry.value)) {
                            (kv::Operation::Put, Ok(hash)) => {
                                users.set(&entry.key, hash.to_owned())
                            }
                            _ => {
                                users.remove(&entry.key);
                            }
                        }
                        current |= entry.delta == 0 || entry.seen_current;
                        if current {
                            published(&users);
                        }
                    }
                    warn!("the accounts watch ended; restarting it");
                }
                Err(e) => warn!("cannot watch the accounts bucket: {e}; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

fn publish(shared: &SharedUsers, users: &Users) {
    let count = users.names().count();
    if let Ok(mut slot) = shared.write() {
        if slot.names().count() != count {
            info!("accounts in the cluster: {count}");
            if let Some((first, other)) = users.clash() {
                warn!(
                    "the accounts {first} and {other} are one name (names are compared without \
                     case): a login as either is checked against {first}; remove one with \
                     `evchat-server user del <name> --cluster ...`"
                );
            }
        }
        *slot = Arc::new(users.clone());
    }
}

/// One edit of the accounts bucket.
pub enum Edit {
    Set { name: String, hash: String },
    Remove { name: String },
    List,
    Import(Users),
}

/// Carries out `edit` on the cluster's accounts; returns the names in the
/// bucket afterwards and whether the edit changed something.
pub fn admin(settings: &ClusterSettings, edit: Edit) -> Result<(Vec<String>, bool), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(async {
        let client = connect(settings, None).await?;
        let js = jetstream::new(client.clone());
        let store = bucket(&js, USERS, settings.replicas).await?;
        let failed = |e: &dyn std::fmt::Display| format!("cannot change the accounts: {e}");
        // Names are compared without case: an account is found, and
        // refused a second time, in any case.
        let mut accounts = Vec::new();
        if !matches!(edit, Edit::List) {
            let mut keys = store.keys().await.map_err(|e| failed(&e))?;
            while let Some(key) = keys.next().await {
                accounts.push(key.map_err(|e| failed(&e))?);
            }
        }
        let spelt = |name: &str| {
            accounts
                .iter()
                .find(|a| *a == name)
                .or_else(|| accounts.iter().find(|a| same_name(a, name)))
                .cloned()
        };
        let changed = match edit {
            Edit::List => false,
            Edit::Set { name, hash } => {
                if let Some(other) = spelt(&name).filter(|other| *other != name) {
                    return Err(format!(
                        "{other} is an account already, and names are compared without case: \
                         `user add {other}` changes its password; nothing was changed"
                    ));
                }
                store
                    .put(&name, Bytes::from(hash))
                    .await
                    .map_err(|e| failed(&e))?;
                true
            }
            Edit::Remove { name } => {
                let name = spelt(&name).unwrap_or(name);
                let there = store.get(&name).await.map_err(|e| failed(&e))?.is_some();
                if there {
                    store.delete(&name).await.map_err(|e| failed(&e))?;
                    // Gone for good: out of its rooms too.
                    let rooms = bucket(&js, ROOMS_BUCKET, settings.replicas).await?;
                    let left = leave_every_room(&rooms, &name).await;
                    let left =
                        left.map_err(|e| format!("cannot take {name} out of its rooms: {e}"))?;
                    if left > 0 {
                        info!("{name} left its {left} rooms");
                    }
                }
                there
            }
            Edit::Import(users) => {
                let clash = users
                    .names()
                    .find_map(|n| spelt(n).filter(|o| o != n).map(|o| (o, n)));
                if let Some((other, name)) = clash {
                    return Err(format!(
                        "{name} is {other}, an account of the cluster already, in another case \
                         (names are compared without case); nothing was imported"
                    ));
                }
                for name in users.names() {
                    let hash = users.hash_of(name).unwrap_or_default().to_owned();
                    store
                        .put(name, Bytes::from(hash))
                        .await
                        .map_err(|e| failed(&e))?;
                }
                true
            }
        };
        let mut names = Vec::new();
        if let Ok(mut keys) = store.keys().await {
            while let Some(Ok(key)) = keys.next().await {
                names.push(key);
            }
        }
        names.sort();
        let _ = client.flush().await;
        Ok((names, changed))
    })
}
