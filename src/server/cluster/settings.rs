//! The cluster's settings, from the flags and config keys of the same
//! names (`--cluster`, `--node-name`, `--node-timeout`, `--cluster-creds`,
//! `--cluster-ca`, `--cluster-replicas`), checked before anything starts.

use super::wire::is_valid_node;
use super::ClusterSettings;
use std::path::PathBuf;
use std::time::Duration;

/// The cluster flags as given (flag over config key).
pub struct ClusterFlags {
    pub urls: Option<Vec<String>>,
    pub node: Option<String>,
    pub timeout: Option<u64>,
    pub creds: Option<PathBuf>,
    pub ca: Option<PathBuf>,
    pub replicas: Option<usize>,
}

/// The cluster settings, if `--cluster` (or `cluster = [...]`) is given.
pub fn cluster_settings(f: ClusterFlags) -> Result<Option<ClusterSettings>, String> {
    let Some(urls) = f.urls else {
        return Ok(None);
    };
    if cfg!(not(feature = "cluster")) {
        return Err("this evchat-server was built without the cluster feature: \
                    build it with `--features cluster` (on by default), or leave out --cluster"
            .into());
    }
    let urls: Vec<String> = urls
        .iter()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return Err("--cluster needs at least one NATS URL".into());
    }
    let node = match f.node {
        Some(node) => node,
        None => default_node_name(),
    };
    if !is_valid_node(&node) {
        return Err(format!(
            "bad node name {node:?}: 1-64 characters of A-Z a-z 0-9 _ -"
        ));
    }
    let timeout = f.timeout.unwrap_or(10);
    if timeout < 2 {
        return Err("node-timeout must be at least 2 seconds (heartbeats are 1 s apart)".into());
    }
    let replicas = f.replicas.unwrap_or(if urls.len() >= 3 { 3 } else { 1 });
    if !(1..=5).contains(&replicas) {
        return Err("cluster-replicas must be 1 to 5".into());
    }
    Ok(Some(ClusterSettings {
        urls,
        node,
        creds: f.creds,
        ca: f.ca,
        node_timeout: Duration::from_secs(timeout),
        replicas,
        mailbox_max: 0,
        held_bytes: 0,
        history: 0,
        history_bytes: 0,
    }))
}

/// `<host>-<pid>`: unique per process on a machine, and readable in logs.
fn default_node_name() -> String {
    format!("{}-{}", host_name(), std::process::id())
}

/// This machine's host name, as a subject token may spell it (`node` if
/// it has none).
pub(super) fn host_name() -> String {
    let mut host = [0u8; 64];
    // SAFETY: gethostname writes at most `host.len()` bytes into `host`.
    let ok = unsafe { libc::gethostname(host.as_mut_ptr().cast(), host.len()) } == 0;
    let end = host.iter().position(|&b| b == 0).unwrap_or(host.len());
    let host: String = String::from_utf8_lossy(&host[..end])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if ok && !host.is_empty() {
        host
    } else {
        "node".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(urls: &[&str]) -> ClusterFlags {
        ClusterFlags {
            urls: Some(urls.iter().map(|u| u.to_string()).collect()),
            node: Some("n1".into()),
            timeout: None,
            creds: None,
            ca: None,
            replicas: None,
        }
    }

    #[test]
    fn replicas_follow_the_servers_named_and_bad_values_are_refused() {
        let one = cluster_settings(flags(&["nats://a:1"])).unwrap().unwrap();
        assert_eq!((one.replicas, one.node_timeout.as_secs()), (1, 10));
        let three = cluster_settings(flags(&["nats://a:1", "nats://b:1", " nats://c:1 "]));
        assert_eq!(three.unwrap().unwrap().replicas, 3);
        assert!(cluster_settings(ClusterFlags {
            urls: None,
            ..flags(&[])
        })
        .unwrap()
        .is_none());
        assert!(cluster_settings(flags(&[" "])).is_err());
        let bad_node = ClusterFlags {
            node: Some("a.b".into()),
            ..flags(&["nats://a:1"])
        };
        assert!(cluster_settings(bad_node).is_err());
        let fast = ClusterFlags {
            timeout: Some(1),
            ..flags(&["nats://a:1"])
        };
        assert!(cluster_settings(fast).is_err());
    }

    #[test]
    fn the_default_node_name_is_a_valid_subject_token() {
        let name = default_node_name();
        assert!(is_valid_node(&name), "{name}");
        assert!(name.ends_with(&format!("-{}", std::process::id())));
    }
}
