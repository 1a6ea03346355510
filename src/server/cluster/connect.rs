//! Reaching the cluster: URLs (credentials passed on, never logged), a
//! credentials file, a private CA, and the buckets every part opens.

use super::bridge::ToLoop;
use super::retry::retried;
use super::{ClusterSettings, FromCluster, Gauges};
use async_nats::jetstream::{self, kv};
use log::{error, info, warn};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How long a JetStream call may take before it counts as unavailable.
pub const JS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the cluster at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a bucket JetStream cannot make yet is asked for again: a
/// fresh JetStream on a busy machine may not place it at once ("no
/// suitable peers for placement, peer offline") or not answer in time.
const BUCKET_PATIENCE: Duration = Duration::from_secs(12);
/// Bus messages a subscription may buffer before the client drops (and
/// reports a slow consumer). The helper reads the bus subscription at once
/// and bounds what waits for the loop itself (`Gauges::admit`), so this
/// only has to hold what arrives between two of its reads.
const SUBSCRIPTION_CAPACITY: usize = 1 << 13;
/// Commands (publishes, requests) the client queues before `publish`
/// waits: few, so that what is published waits in the helper's queue,
/// counted in bytes (`Gauges::outbound`), and not in bulk inside the
/// client (2,048 of the biggest bus messages would be 130 MB) where a
/// slowed-down node would still send it all (see `congestion`).
const CLIENT_CAPACITY: usize = 16;

/// Connects with the settings' credentials and TLS.
pub async fn connect(
    settings: &ClusterSettings,
    on_event: Option<(ToLoop, Arc<Gauges>)>,
) -> Result<async_nats::Client, String> {
    let mut options = async_nats::ConnectOptions::new()
        .name(format!("evchat {}", settings.node))
        .no_echo()
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .client_capacity(CLIENT_CAPACITY)
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
                        // The bus, or a bucket's watch (which then starts
                        // again from the bucket's state): the client does
                        // not say which.
                        error!("a subscription (the bus, or the names or rooms watch) fell behind and NATS dropped messages ({n} times)");
                    }
                    other => info!("cluster link: {other}"),
                }
            }
        });
    }
    let urls = shown_urls(&settings.urls);
    // async-nats takes a list, not a comma-separated string.
    let mut addrs = Vec::new();
    for url in &settings.urls {
        let addr: async_nats::ServerAddr = url
            .parse()
            .map_err(|e| format!("bad cluster URL {}: {e}", shown_url(url)))?;
        addrs.push(addr);
    }
    // Credentials in a URL are not sent on their own: pass them on.
    if let Some(addr) = addrs.iter().find(|a| a.has_user_pass()) {
        let user = addr.username().unwrap_or_default().to_owned();
        let pass = addr.password().unwrap_or_default().to_owned();
        options = options.user_and_password(user, pass);
    }
    let connecting = options.connect(addrs);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!("cannot reach the cluster at {urls}: {e}")),
        Err(_) => Err(format!("cannot reach the cluster at {urls}: timed out")),
    }
}

/// A URL as it may be logged: without its password.
pub fn shown_url(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(at)) => {
            let userinfo = &rest[..at.saturating_sub(scheme.len() + 3)];
            let host = &url[at + 1..];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => format!("{scheme}://***@{host}"),
            }
        }
        _ => url.to_owned(),
    }
}

/// The URLs as they may be logged.
pub fn shown_urls(urls: &[String]) -> String {
    urls.iter()
        .map(|u| shown_url(u))
        .collect::<Vec<_>>()
        .join(",")
}

/// Opens a key-value bucket, creating it when missing.
pub async fn bucket(
    js: &jetstream::Context,
    name: &str,
    replicas: usize,
) -> Result<kv::Store, String> {
    let what = format!("opening the bucket {name}");
    let deadline = tokio::time::Instant::now() + BUCKET_PATIENCE;
    retried(&what, deadline, || open_bucket(js, name, replicas))
        .await
        .map_err(|e| format!("cannot create the bucket {name}: {e}"))
}

/// One try at opening the bucket `name`, made if need be.
async fn open_bucket(
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
        Err(e) => js.get_key_value(name).await.map_err(|_| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(shown_url("nats://u:p@h:4222"), "nats://u:***@h:4222");
        assert_eq!(shown_url("tls://tok@h:4222"), "tls://***@h:4222");
        assert_eq!(shown_url("nats://h:4222"), "nats://h:4222");
        assert_eq!(shown_url("nats://u:p@ss@h:1"), "nats://u:***@h:1");
    }
}
