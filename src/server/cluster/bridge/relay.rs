//! Private messages between nodes, confirmed: holding what another node
//! sent for someone no longer online here, and asking the nodes a
//! connection sent private messages to whether they delivered or held
//! them (a request on the bus, so that it comes after those messages, and
//! an answer on an inbox of the asking node's own).

use super::{unavailable, Link, OP_TIMEOUT};
use crate::protocol::ErrorCode;
use crate::server::accounts::has_account;
use crate::server::cluster::{answer, wire, FromCluster, HoldOutcome};
use async_nats::Subscriber;
use bytes::Bytes;
use futures_util::StreamExt;
use log::warn;
use std::sync::Arc;
use std::time::Duration;

/// How long the nodes asked may take to answer: longer than a hold there
/// may take, so that a hold that fails there is reported as what it is.
pub(super) const CONFIRM_TIMEOUT: Duration = Duration::from_secs(OP_TIMEOUT.as_secs() + 3);

/// Failures one node's answer may bring to the sender, at most.
const MAX_FAILURES_PER_NODE: usize = 64;

impl Link {
    /// Holds `frame` for the offline `names` in JetStream, then tells
    /// whoever has logged in meanwhile on another node to fetch it.
    pub(super) async fn hold_and_tell(&self, names: &[String], frame: Bytes) -> HoldOutcome {
        let users = Arc::clone(&self.users);
        let is_account = move |n: &str| has_account(&users, n);
        let hold = self.mailbox.hold(&self.known, &is_account, names, frame);
        let outcome = match tokio::time::timeout(OP_TIMEOUT, hold).await {
            Ok(outcome) => outcome,
            Err(_) => HoldOutcome::Refused(
                ErrorCode::Unavailable,
                unavailable("timed out; the message may have been held for some"),
            ),
        };
        if let HoldOutcome::Held { refused } = &outcome {
            for name in names.iter().filter(|n| refused.iter().all(|r| &r.0 != *n)) {
                let notice = Bytes::from(wire::encode_mail_for(name));
                let _ = self.client.publish(self.subject.clone(), notice).await;
            }
        }
        outcome
    }

    /// Asks each of `nodes`, on the bus after everything this node
    /// published before, to confirm what connection `sender` sent there;
    /// returns where the answers come.
    pub(super) async fn ask_to_confirm(
        &self,
        sender: u64,
        nodes: &[(String, u64)],
    ) -> Result<Subscriber, String> {
        let inbox = self.client.new_inbox();
        // Subscribed before asking: the same connection carries both, in order.
        let answers = self
            .client
            .subscribe(format!("{inbox}.*"))
            .await
            .map_err(|e| e.to_string())?;
        for (i, (node, count)) in nodes.iter().enumerate() {
            let ask = wire::encode_confirm(node, sender, *count, &format!("{inbox}.{i}"));
            self.client
                .publish(self.subject.clone(), Bytes::from(ask))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(answers)
    }
}

/// Gathers the answers of `nodes` (the `i`th answers on `<inbox>.<i>`)
/// until all have answered or the time is up, and tells the loop what
/// each could not deliver or hold — and an `ERR 503` for each node that
/// did not answer — for the `PING` of session `key` waiting as `serial`.
pub(super) async fn gather_answers(
    link: Arc<Link>,
    asked: Result<Subscriber, String>,
    key: usize,
    serial: u64,
    nodes: Vec<(String, u64)>,
) {
    let mut answered = vec![false; nodes.len()];
    let mut failures = Vec::new();
    match asked {
        Ok(mut answers) => {
            let deadline = tokio::time::Instant::now() + CONFIRM_TIMEOUT;
            while answered.contains(&false) {
                let next = tokio::time::timeout_at(deadline, answers.next());
                let Ok(Some(message)) = next.await else {
                    break;
                };
                let which = message
                    .subject
                    .rsplit('.')
                    .next()
                    .and_then(|i| i.parse().ok());
                let Some(i) = which.filter(|&i: &usize| i < nodes.len() && !answered[i]) else {
                    continue;
                };
                answered[i] = true;
                match answer::decode_answer(&message.payload) {
                    Ok(said) => failures.extend(said.into_iter().take(MAX_FAILURES_PER_NODE)),
                    Err(e) => {
                        warn!("node {}'s confirmation is malformed: {}", nodes[i].0, e.0);
                        failures.push(not_confirmed(&nodes[i].0));
                    }
                }
            }
        }
        Err(e) => warn!("cannot ask other nodes to confirm: {e}"),
    }
    for ((node, _), _) in nodes.iter().zip(&answered).filter(|(_, a)| !**a) {
        failures.push(not_confirmed(node));
    }
    link.to_loop.send(FromCluster::Confirmed {
        key,
        serial,
        failures,
    });
}

/// What the sender is told when `node` does not confirm.
fn not_confirmed(node: &str) -> (ErrorCode, String) {
    let text = format!(
        "the cluster is unavailable: node {node} did not confirm that it delivered or held the private messages you sent there; they may be lost"
    );
    (ErrorCode::Unavailable, text)
}
