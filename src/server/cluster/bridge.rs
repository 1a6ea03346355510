//! The helper thread that owns the NATS client.
//!
//! A current-thread tokio runtime runs: one task reading the bus (one
//! wildcard subscription, so one node's messages keep their order), one
//! watching the names bucket, one watching the accounts bucket, and the
//! request loop, which publishes in the order the loop asked and starts a
//! task for each JetStream call (claims, held mail) so a slow one does not
//! hold up the bus. Everything for the loop goes through one std channel;
//! the loop is woken once per burst.

use super::mailbox::Mailbox;
use super::users::UsersBucket;
use super::wire::{self, BUS_ALL};
use super::{
    Backplane, ClaimOutcome, ClusterSettings, FromCluster, Gauges, Holder, ToCluster, QUEUE,
};
use crate::server::accounts::{has_account, SharedUsers};
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures_util::StreamExt;
use log::{error, info, warn};
use mio::Waker;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::Duration;

/// The names bucket: name → `<node> <incarnation>`.
pub const NAMES: &str = "evchat_names";
/// Names that have logged in (so mail may be held for them): name → time.
pub const KNOWN: &str = "evchat_known";
/// How long a JetStream call may take before it counts as unavailable.
const JS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the cluster at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bus messages a subscription may buffer before NATS drops (and reports).
const SUBSCRIPTION_CAPACITY: usize = 1 << 18;

/// Sends news to the loop and wakes it once per burst.
#[derive(Clone)]
pub struct ToLoop {
    tx: Sender<FromCluster>,
    woken: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ToLoop {
    pub(super) fn send(&self, news: FromCluster) {
        if self.tx.send(news).is_ok() && !self.woken.swap(true, Ordering::AcqRel) {
            let _ = self.waker.wake();
        }
    }
}

/// Connects to the cluster, makes sure its buckets and streams exist, and
/// starts the helper thread. Waits (before the loop runs) until the
/// cluster answers, or says why not.
pub fn start(
    settings: ClusterSettings,
    waker: Arc<Waker>,
    users: SharedUsers,
) -> Result<Backplane, String> {
    let (requests, inbox) = tokio::sync::mpsc::channel(QUEUE);
    let (tx, news) = mpsc::channel();
    let woken = Arc::new(AtomicBool::new(false));
    let gauges = Arc::new(Gauges::default());
    let to_loop = ToLoop {
        tx,
        woken: Arc::clone(&woken),
        waker,
    };
    let incarnation = incarnation();
    let (ready_tx, ready) = mpsc::sync_channel(1);
    let (done_tx, done) = mpsc::sync_channel(1);
    let thread_gauges = Arc::clone(&gauges);
    let thread_settings = settings.clone();
    let thread_incarnation = incarnation.clone();
    std::thread::Builder::new()
        .name("evchat-cluster".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("cannot start the cluster runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let link = match Link::open(
                    &thread_settings,
                    thread_incarnation,
                    to_loop,
                    thread_gauges,
                    users,
                )
                .await
                {
                    Ok(link) => link,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                link.serve(inbox).await;
            });
            let _ = done_tx.send(());
        })
        .map_err(|e| format!("cannot start the cluster thread: {e}"))?;
    match ready.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err("the cluster thread ended before it connected".into()),
    }
    Ok(Backplane {
        node: settings.node,
        incarnation,
        node_timeout: settings.node_timeout,
        requests,
        news,
        woken,
        gauges,
        done,
    })
}

/// A fresh identifier for this run of the node.
fn incarnation() -> String {
    let mut bytes = [0u8; 6];
    let _ = crate::server::accounts::random_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Connects with the settings' credentials and TLS.
pub async fn connect(
    settings: &ClusterSettings,
    on_event: Option<(ToLoop, Arc<Gauges>)>,
) -> Result<async_nats::Client, String> {
    let mut options = async_nats::ConnectOptions::new()
        .name(format!("evchat {}", settings.node))
        .no_echo()
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .connection_timeout(CONNECT_TIMEOUT)
        .request_timeout(Some(JS_TIMEOUT));
    if let Some(creds) = &settings.creds {
        options = options
            .credentials_file(creds)
            .await
            .map_err(|e| format!("cannot read the NATS credentials {}: {e}", creds.display()))?;
    }
    if let Some(ca) = &settings.ca {
        options = options.add_root_certificates(ca.clone());
    }
    if let Some((to_loop, gauges)) = on_event {
        options = options.event_callback(move |event| {
            let (to_loop, gauges) = (to_loop.clone(), Arc::clone(&gauges));
            async move {
                match event {
                    async_nats::Event::Connected => {
                        info!("cluster link up");
                        gauges.up.store(true, Ordering::Relaxed);
                        to_loop.send(FromCluster::Link(true));
                    }
                    async_nats::Event::Disconnected => {
                        warn!("cluster link down; reconnecting");
                        gauges.up.store(false, Ordering::Relaxed);
                        to_loop.send(FromCluster::Link(false));
                    }
                    async_nats::Event::SlowConsumer(_) => {
                        let n = gauges.lagged.fetch_add(1, Ordering::Relaxed) + 1;
                        error!("the bus subscription fell behind and NATS dropped messages ({n} times)");
                    }
                    other => info!("cluster link: {other}"),
                }
            }
        });
    }
    match settings.credentials() {
        Some((user, Some(password))) => options = options.user_and_password(user, password),
        Some((token, None)) => options = options.token(token),
        None => {}
    }
    let urls = settings.shown_urls();
    // One address each: async-nats parses a single string as one URL, so
    // "a,b,c" would be a bad port rather than three servers.
    let connecting = options.connect(settings.urls.as_slice());
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!("cannot reach the cluster at {urls}: {e}")),
        Err(_) => Err(format!("cannot reach the cluster at {urls}: timed out")),
    }
}

/// Opens a key-value bucket, creating it when missing.
pub async fn bucket(
    js: &jetstream::Context,
    name: &str,
    replicas: usize,
) -> Result<kv::Store, String> {
    if let Ok(store) = js.get_key_value(name).await {
        return Ok(store);
    }
    let config = kv::Config {
        bucket: name.to_owned(),
        history: 1,
        num_replicas: replicas,
        ..Default::default()
    };
    match js.create_key_value(config).await {
        Ok(store) => Ok(store),
        // Another node made it meanwhile.
        Err(e) => js
            .get_key_value(name)
            .await
            .map_err(|_| format!("cannot create the bucket {name}: {e}")),
    }
}

/// The helper's state.
pub(super) struct Link {
    client: async_nats::Client,
    subject: async_nats::Subject,
    names: kv::Store,
    known: kv::Store,
    mailbox: Mailbox,
    node: String,
    incarnation: String,
    to_loop: ToLoop,
    gauges: Arc<Gauges>,
    users: SharedUsers,
}

impl Link {
    async fn open(
        settings: &ClusterSettings,
        incarnation: String,
        to_loop: ToLoop,
        gauges: Arc<Gauges>,
        users: SharedUsers,
    ) -> Result<Link, String> {
        let client = connect(settings, Some((to_loop.clone(), Arc::clone(&gauges)))).await?;
        gauges.up.store(true, Ordering::Relaxed);
        let js = jetstream::new(client.clone());
        let names = bucket(&js, NAMES, settings.replicas).await?;
        let known = bucket(&js, KNOWN, settings.replicas).await?;
        let mailbox = Mailbox::open(&js, settings).await?;
        let accounts = UsersBucket::open(&js, settings.replicas).await?;
        let bus = client
            .subscribe(BUS_ALL)
            .await
            .map_err(|e| format!("cannot subscribe to the bus: {e}"))?;
        tokio::spawn(read_bus(bus, to_loop.clone(), Arc::clone(&gauges)));
        tokio::spawn(watch_names(names.clone(), to_loop.clone()));
        tokio::spawn(accounts.watch(Arc::clone(&users)));
        info!(
            "cluster: node {} (run {incarnation}) joined through {}",
            settings.node,
            settings.shown_urls()
        );
        Ok(Link {
            subject: wire::subject_of(&settings.node).into(),
            client,
            names,
            known,
            mailbox,
            node: settings.node.clone(),
            incarnation,
            to_loop,
            gauges,
            users,
        })
    }

    /// Carries out the loop's requests until the loop goes away.
    async fn serve(self, mut inbox: tokio::sync::mpsc::Receiver<ToCluster>) {
        let link = Arc::new(self);
        let mut tasks = tokio::task::JoinSet::new();
        while let Some(job) = inbox.recv().await {
            while tasks.try_join_next().is_some() {}
            match job {
                // In order, on this task: publishing only queues.
                ToCluster::Publish(payload) => {
                    if let Err(e) = link.client.publish(link.subject.clone(), payload).await {
                        warn!("cannot publish to the bus: {e}");
                    } else {
                        link.gauges.bus_out.fetch_add(1, Ordering::Relaxed);
                    }
                }
                ToCluster::Flush { key, serial } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let ok = matches!(
                            tokio::time::timeout(JS_TIMEOUT, link.client.flush()).await,
                            Ok(Ok(()))
                        );
                        link.to_loop.send(FromCluster::Flushed { key, serial, ok });
                    });
                }
                ToCluster::Claim {
                    key,
                    serial,
                    name,
                    over,
                    with_mail,
                } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let outcome = link.claim(&name, over, with_mail).await;
                        link.to_loop.send(FromCluster::Claimed {
                            key,
                            serial,
                            name,
                            outcome,
                        });
                    });
                }
                ToCluster::Release { name, rev } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        // Fails harmlessly when the claim has changed.
                        let _ = link.names.delete_expect_revision(&name, Some(rev)).await;
                    });
                }
                ToCluster::Hold {
                    key,
                    serial,
                    names,
                    frame,
                } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let users = Arc::clone(&link.users);
                        let is_account = move |n: &str| has_account(&users, n);
                        let outcome = link
                            .mailbox
                            .hold(&link.known, &is_account, &names, frame)
                            .await;
                        link.to_loop.send(FromCluster::Held {
                            key,
                            serial,
                            outcome,
                        });
                    });
                }
                ToCluster::AckMail { ticket } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move { link.mailbox.acknowledge(ticket).await });
                }
                ToCluster::ReturnMail { ticket } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move { link.mailbox.give_back(ticket).await });
                }
                ToCluster::Seen { name } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let _ = link.known.put(&name, Bytes::from_static(b"1")).await;
                    });
                }
            }
        }
        // At exit: what was started (names released, mail given back)
        // finishes first, within reason.
        let finishing = async { while tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(2), finishing).await;
        let _ = link.client.flush().await;
    }

    /// Claims a name (create, or compare-and-swap over `over`), then
    /// fetches its held mail.
    async fn claim(&self, name: &str, over: Option<u64>, with_mail: bool) -> ClaimOutcome {
        let value = Bytes::from(format!("{} {}", self.node, self.incarnation));
        let claimed = match over {
            None => match self.names.create(name, value).await {
                Ok(rev) => Ok(rev),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    return ClaimOutcome::Taken
                }
                Err(e) => Err(e.to_string()),
            },
            Some(rev) => match self.names.update(name, value, rev).await {
                Ok(rev) => Ok(rev),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    return ClaimOutcome::Taken
                }
                Err(e) => Err(e.to_string()),
            },
        };
        let rev = match claimed {
            Ok(rev) => rev,
            Err(e) => return ClaimOutcome::Unavailable(unavailable(&e)),
        };
        let _ = self.known.put(name, Bytes::from_static(b"1")).await;
        if !with_mail {
            return ClaimOutcome::Won { rev, mail: None };
        }
        match self.mailbox.fetch(name).await {
            Ok(mail) => ClaimOutcome::Won { rev, mail },
            Err(e) => {
                // Without its mail the login would lose it: undo the claim.
                let _ = self.names.delete_expect_revision(name, Some(rev)).await;
                ClaimOutcome::Unavailable(unavailable(&e))
            }
        }
    }
}

/// The text of an `ERR 503` for a JetStream failure.
pub(super) fn unavailable(why: &str) -> String {
    format!("the cluster is unavailable ({why}); try again later")
}

/// Hands every bus message to the loop, in arrival order.
async fn read_bus(mut bus: async_nats::Subscriber, to_loop: ToLoop, gauges: Arc<Gauges>) {
    while let Some(message) = bus.next().await {
        let Some(origin) = wire::origin_of(&message.subject) else {
            continue;
        };
        gauges.bus_in.fetch_add(1, Ordering::Relaxed);
        to_loop.send(FromCluster::Bus {
            origin: origin.to_owned(),
            payload: message.payload,
        });
    }
    error!("the bus subscription ended");
}

/// Follows the names bucket, history first, restarting the watch when it
/// breaks (the loop then rebuilds its directory from the full state).
async fn watch_names(names: kv::Store, to_loop: ToLoop) {
    loop {
        match names.watch_with_history(">").await {
            Ok(mut watch) => {
                to_loop.send(FromCluster::NamesReset);
                let empty = names.status().await.map(|s| s.values() == 0);
                if empty.unwrap_or(false) {
                    to_loop.send(FromCluster::NamesSynced);
                }
                let mut synced = false;
                while let Some(entry) = watch.next().await {
                    let Ok(entry) = entry else { break };
                    to_loop.send(FromCluster::Name {
                        holder: holder_of(&entry),
                        name: entry.key,
                    });
                    if !synced && (entry.delta == 0 || entry.seen_current) {
                        synced = true;
                        to_loop.send(FromCluster::NamesSynced);
                    }
                }
                warn!("the names watch ended; restarting it");
            }
            Err(e) => warn!("cannot watch the names bucket: {e}; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn holder_of(entry: &kv::Entry) -> Option<Holder> {
    if entry.operation != kv::Operation::Put {
        return None;
    }
    let value = std::str::from_utf8(&entry.value).ok()?;
    let (node, incarnation) = value.split_once(' ')?;
    Some(Holder {
        node: node.to_owned(),
        incarnation: incarnation.to_owned(),
        rev: entry.revision,
    })
}
