//! The cluster backplane: many evchat nodes as one chat, over NATS with
//! JetStream — an existing engine, not a protocol of our own.
//!
//! The loop stays mio and never waits on NATS: a helper thread
//! ([`bridge`]) owns the NATS client on a current-thread tokio runtime. The
//! loop hands it work with [`Backplane::send`] (a bounded channel, never
//! blocking) and it answers through a std channel plus the loop's
//! `mio::Waker`, once per burst.
//!
//! What lives where (docs/CLUSTER.md has the why):
//!
//! - **Chat** crosses nodes on core NATS ([`wire`]): each node publishes a
//!   turn's broadcasts once, as the frames clients receive, and private
//!   messages for users online elsewhere, all on its own subject, read by
//!   every node through one subscription, so one node's messages keep
//!   their order everywhere. Each node then fans out locally exactly as a
//!   single server does.
//! - **Names** are claimed in the key-value bucket `evchat_names` (create
//!   is the claim, so exactly one node wins a race); every node watches it
//!   for the directory `WHO` answers from.
//! - **Liveness**: each node's loop publishes a heartbeat every second;
//!   a node silent for `--node-timeout` is dead, its users are announced
//!   as gone and its names may be taken over.
//! - **Held mail** is in JetStream ([`mailbox`]): the frame once in the
//!   stream `EVCHAT_BODIES`, a small entry per recipient in the work-queue
//!   stream `EVCHAT_MAILBOX`, acknowledged once the client answers the
//!   `PING` after it.
//! - **Accounts** are in the bucket `evchat_users` ([`users`]).

pub mod bridge;
pub mod import;
pub mod mailbox;
pub mod users;
pub mod wire;

use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

/// How to reach the cluster and who this node is.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// NATS server URLs (`nats://[user:pass@]host:port`, `tls://...`).
    pub urls: Vec<String>,
    pub node: String,
    /// A NATS credentials file (JWT + nkey), if the servers want one.
    pub creds: Option<std::path::PathBuf>,
    /// A CA certificate for `tls://` servers with a private CA.
    pub ca: Option<std::path::PathBuf>,
    /// Silence after which another node counts as dead.
    pub node_timeout: Duration,
    /// JetStream replicas for buckets and streams (1 or 3).
    pub replicas: usize,
    pub mailbox_max: usize,
    pub held_bytes: usize,
}

impl ClusterSettings {
    /// The URLs for logs and messages: a password in them shows as `***`.
    pub fn shown_urls(&self) -> String {
        let shown: Vec<String> = self
            .urls
            .iter()
            .map(|url| match userinfo(url) {
                Some((start, info)) => match info.split_once(':') {
                    Some((user, _)) => {
                        format!("{}{user}:***{}", &url[..start], &url[start + info.len()..])
                    }
                    None => format!("{}***{}", &url[..start], &url[start + info.len()..]),
                },
                None => url.clone(),
            })
            .collect();
        shown.join(",")
    }

    /// The first `user:password` (or token) written in the URLs, decoded.
    /// async-nats 0.40 does not use what a URL carries, so it is passed to
    /// it as options.
    pub fn credentials(&self) -> Option<(String, Option<String>)> {
        self.urls.iter().find_map(|url| {
            let (_, info) = userinfo(url)?;
            Some(match info.split_once(':') {
                Some((user, pass)) => (percent_decode(user), Some(percent_decode(pass))),
                None => (percent_decode(info), None),
            })
        })
    }
}

/// Where the `user:password` part of `scheme://user:password@host:port`
/// starts, and the part itself.
fn userinfo(url: &str) -> Option<(usize, &str)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let at = authority.rfind('@')?;
    Some((start, &authority[..at]))
}

/// `%40` → `@`, for passwords written into a URL.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Who holds a name, as the names bucket records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node: String,
    /// Which run of that node (a node restarted under the same name is
    /// another incarnation: what the old one held is stale).
    pub incarnation: String,
    /// The bucket revision of this claim.
    pub rev: u64,
}

/// How a name claim ended.
#[derive(Debug)]
pub enum ClaimOutcome {
    Won {
        rev: u64,
        mail: Option<HeldMail>,
    },
    /// Someone else holds the name.
    Taken,
    Unavailable(String),
}

/// Held mail fetched for a login, to be acknowledged with `ticket` once the
/// client answers the `PING` after it, or returned if it does not.
#[derive(Debug)]
pub struct HeldMail {
    pub ticket: u64,
    pub frames: Vec<Bytes>,
}

/// How holding a private message for offline users ended.
#[derive(Debug)]
pub enum HoldOutcome {
    /// Held for everyone, except these (each with why not).
    Held {
        refused: Vec<(String, String)>,
    },
    NoSuchUser(String),
    /// Not held for anyone: too big for what is left, or no JetStream.
    Refused(crate::protocol::ErrorCode, String),
}

/// Work for the helper thread, in the order the loop gives it.
#[derive(Debug)]
pub enum ToCluster {
    /// A bus message from this node (see [`wire`]).
    Publish(Bytes),
    /// Claim `name` for session `key`; `over` is the revision to replace
    /// (a dead node's or a replaced session's claim), `None` to create.
    Claim {
        key: usize,
        serial: u64,
        name: String,
        over: Option<u64>,
        with_mail: bool,
    },
    /// Gives a name up, if it is still that claim.
    Release {
        name: String,
        rev: u64,
    },
    /// Holds `frame` for offline `names`.
    Hold {
        key: usize,
        serial: u64,
        names: Vec<String>,
        frame: Bytes,
    },
    AckMail {
        ticket: u64,
    },
    ReturnMail {
        ticket: u64,
    },
    /// Answers with [`FromCluster::Flushed`] once everything published
    /// before it has reached the NATS server.
    Flush {
        key: usize,
        serial: u64,
    },
    /// Notes that `name` logged in (for "known names").
    Seen {
        name: String,
    },
}

/// News from the helper thread.
#[derive(Debug)]
pub enum FromCluster {
    Bus {
        origin: String,
        payload: Bytes,
    },
    Claimed {
        key: usize,
        serial: u64,
        name: String,
        outcome: ClaimOutcome,
    },
    Held {
        key: usize,
        serial: u64,
        outcome: HoldOutcome,
    },
    /// `ok`: false when NATS could not confirm it in time.
    Flushed {
        key: usize,
        serial: u64,
        ok: bool,
    },
    /// The names bucket changed: `name` is held by `holder`, or by nobody.
    Name {
        name: String,
        holder: Option<Holder>,
    },
    /// The names watch restarted: what follows up to `NamesSynced` is the
    /// whole directory.
    NamesReset,
    NamesSynced,
    /// NATS connection up or down.
    Link(bool),
}

/// Counters the helper keeps, read by `STATS`.
#[derive(Debug, Default)]
pub struct Gauges {
    pub up: AtomicBool,
    /// Bus messages NATS dropped because a subscription fell behind.
    pub lagged: AtomicU64,
    /// Bus messages in and out.
    pub bus_in: AtomicU64,
    pub bus_out: AtomicU64,
    /// Work the loop could not hand over (the channel was full).
    pub dropped: AtomicU64,
}

/// Messages the loop may have outstanding for the helper thread.
pub const QUEUE: usize = 1 << 16;

/// The loop's side of the backplane.
pub struct Backplane {
    pub node: String,
    pub incarnation: String,
    pub node_timeout: Duration,
    requests: tokio::sync::mpsc::Sender<ToCluster>,
    pub news: Receiver<FromCluster>,
    /// Set by the helper when it has news and has woken the loop.
    pub woken: Arc<AtomicBool>,
    pub gauges: Arc<Gauges>,
    /// Says when the helper has handed everything to NATS and ended.
    done: Receiver<()>,
}

impl std::fmt::Debug for Backplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backplane")
            .field("node", &self.node)
            .finish()
    }
}

impl Backplane {
    /// Hands work to the helper without waiting; false when the channel is
    /// full (NATS has stalled), which is counted and logged.
    pub fn send(&self, job: ToCluster) -> bool {
        match self.requests.try_send(job) {
            Ok(()) => true,
            Err(_) => {
                let before = self.gauges.dropped.fetch_add(1, Ordering::Relaxed);
                if before.is_power_of_two() || before == 0 {
                    log::error!(
                        "the cluster link is {} messages behind; dropping ({} so far)",
                        QUEUE,
                        before + 1
                    );
                }
                false
            }
        }
    }

    /// Takes what the helper has sent since the last call.
    pub fn take_news(&self) -> std::sync::mpsc::TryIter<'_, FromCluster> {
        self.woken.store(false, Ordering::Release);
        self.news.try_iter()
    }

    /// Ends the helper once it has carried out what it was given (names
    /// released, last messages published), waiting at most a few seconds.
    pub fn close(self) {
        let Backplane { requests, done, .. } = self;
        drop(requests);
        if done.recv_timeout(Duration::from_secs(3)).is_err() {
            log::warn!("the cluster link did not finish in time; other nodes will notice by the heartbeats");
        }
    }

    pub fn is_up(&self) -> bool {
        self.gauges.up.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(urls: &[&str]) -> ClusterSettings {
        ClusterSettings {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            node: "n".into(),
            creds: None,
            ca: None,
            node_timeout: Duration::from_secs(10),
            replicas: 1,
            mailbox_max: 1,
            held_bytes: 1,
        }
    }

    #[test]
    fn credentials_are_taken_from_the_urls_and_never_shown() {
        let s = settings(&["nats://a:4222", "tls://evchat:p%40ss:w@b:4223/x"]);
        assert_eq!(
            s.credentials(),
            Some(("evchat".into(), Some("p@ss:w".into())))
        );
        assert_eq!(s.shown_urls(), "nats://a:4222,tls://evchat:***@b:4223/x");
        let token = settings(&["nats://s3cr3t@a:4222"]);
        assert_eq!(token.credentials(), Some(("s3cr3t".into(), None)));
        assert_eq!(token.shown_urls(), "nats://***@a:4222");
        assert_eq!(settings(&["nats://a:4222"]).credentials(), None);
    }
}
