//! The helper's request loop: the loop's work carried out in the order
//! given — publishing in order on this task, each JetStream call on a task
//! of its own so a slow one does not hold up the bus.

use super::{relay, rename, unavailable, Link, OP_TIMEOUT};
use crate::server::cluster::connect::JS_TIMEOUT;
use crate::server::cluster::{FromCluster, ToCluster};
use log::warn;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

impl Link {
    /// Carries out the loop's requests until the loop goes away.
    pub(super) async fn serve(self, mut inbox: tokio::sync::mpsc::Receiver<ToCluster>) {
        let link = Arc::new(self);
        let mut tasks = tokio::task::JoinSet::new();
        while let Some(job) = inbox.recv().await {
            while tasks.try_join_next().is_some() {}
            match job {
                // In order, on this task: publishing only queues.
                ToCluster::Publish(payload) => {
                    let len = payload.len() as u64;
                    if let Err(e) = link.client.publish(link.subject.clone(), payload).await {
                        warn!("cannot publish to the bus: {e}");
                    } else {
                        link.gauges.bus_out.fetch_add(1, Ordering::Relaxed);
                    }
                    if link.gauges.published(len) {
                        link.to_loop.send(FromCluster::CaughtUp);
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
                    mail,
                } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let outcome = link.claim(&name, over, mail).await;
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
                    tasks.spawn(async move { link.release(&name, rev).await });
                }
                ToCluster::Hold {
                    key,
                    serial,
                    names,
                    frame,
                } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let outcome = link.hold_and_tell(&names, frame).await;
                        link.to_loop.send(FromCluster::Held {
                            key,
                            serial,
                            outcome,
                        });
                    });
                }
                ToCluster::HoldHere { id, names, frame } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let outcome = link.hold_and_tell(&names, frame).await;
                        link.to_loop.send(FromCluster::HeldHere { id, outcome });
                    });
                }
                // The requests in order, on this task, after what was
                // published before; their answers on a task of their own.
                ToCluster::Confirm {
                    key,
                    serial,
                    sender,
                    nodes,
                } => {
                    let asked = link.ask_to_confirm(sender, &nodes).await;
                    let link = Arc::clone(&link);
                    tasks.spawn(relay::gather_answers(link, asked, key, serial, nodes));
                }
                ToCluster::Answer { inbox, payload } => {
                    if let Err(e) = link.client.publish(inbox, payload).await {
                        warn!("cannot answer another node's confirmation request: {e}");
                    }
                }
                ToCluster::AckMail { ticket } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move { link.mailbox.acknowledge(ticket).await });
                }
                ToCluster::ReturnMail { ticket } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move { link.mailbox.give_back(ticket).await });
                }
                ToCluster::RoomMember {
                    key,
                    serial,
                    change,
                } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let write = link.rooms.write_member(&change);
                        let outcome = within(OP_TIMEOUT, write).await;
                        link.to_loop.send(FromCluster::RoomWritten {
                            key,
                            serial,
                            outcome,
                        });
                    });
                }
                ToCluster::RoomMembers {
                    key,
                    serial,
                    changes,
                } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let mut outcome = Err("nothing to write".to_owned());
                        for change in &changes {
                            let write = link.rooms.write_member(change);
                            outcome = within(OP_TIMEOUT, write).await;
                            if outcome.is_err() {
                                break;
                            }
                        }
                        link.to_loop.send(FromCluster::RoomWritten {
                            key,
                            serial,
                            outcome,
                        });
                    });
                }
                ToCluster::RoomRename {
                    key,
                    serial,
                    old,
                    new,
                    time,
                    rooms,
                    invited,
                    read,
                    old_rev,
                } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let moves = rename::Moves {
                            old: &old,
                            new: &new,
                            time: &time,
                            rooms,
                            invited,
                            read,
                        };
                        let outcome = link.move_rooms(moves).await;
                        // The old name stays claimed until its rooms are
                        // moved: a login under it meanwhile would be let
                        // into them.
                        link.release(&old, old_rev).await;
                        let outcome = outcome.map_err(|e| {
                            format!("renamed, but not every room moved to {new}: {e}")
                        });
                        link.to_loop.send(FromCluster::RoomWritten {
                            key,
                            serial,
                            outcome,
                        });
                    });
                }
                ToCluster::RoomSettings {
                    key,
                    serial,
                    room,
                    value,
                } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let write = link.rooms.write_settings(&room, value);
                        let outcome = within(OP_TIMEOUT, write).await;
                        link.to_loop.send(FromCluster::RoomWritten {
                            key,
                            serial,
                            outcome,
                        });
                    });
                }
                ToCluster::RoomSay {
                    key,
                    serial,
                    rooms,
                    frame,
                    after,
                } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move {
                        let say = link.rooms.say(&rooms, frame, after);
                        let outcome = within(OP_TIMEOUT, say).await;
                        link.to_loop.send(FromCluster::RoomWritten {
                            key,
                            serial,
                            outcome,
                        });
                    });
                }
                ToCluster::RoomRead { name, seq } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move { link.rooms.mark_read(&name, seq).await });
                }
                ToCluster::RoomGone { folded, before } => {
                    let link = Arc::clone(&link);
                    tasks.spawn(async move { link.rooms.forget_room(&folded, before).await });
                }
                ToCluster::Fetch {
                    key,
                    name,
                    acknowledge,
                    give_back,
                } => {
                    let link = Arc::clone(&link);
                    // One task, in this order: what is given back comes
                    // first in the window; the window read is acknowledged
                    // while the client reads the next (JetStream hands out
                    // what follows the unacknowledged, so order holds).
                    tasks.spawn(async move {
                        for ticket in give_back {
                            link.mailbox.give_back(ticket).await;
                        }
                        let fetch = tokio::time::timeout(OP_TIMEOUT, link.mailbox.fetch(&name));
                        let news = match fetch.await.unwrap_or_else(|_| Err("timed out".into())) {
                            Ok(mail) => FromCluster::Mail { key, name, mail },
                            // Still held: the loop asks again while its
                            // owner is online, not at the next login.
                            Err(why) => FromCluster::FetchFailed { key, name, why },
                        };
                        link.to_loop.send(news);
                        if let Some(ticket) = acknowledge {
                            link.mailbox.acknowledge(ticket).await;
                        }
                    });
                }
            }
        }
        // At exit: what was started (names released, mail given back)
        // finishes first, within reason.
        let finishing = async { while tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(2), finishing).await;
        link.node_claim.release().await;
        let _ = link.client.flush().await;
    }
}

/// `call`'s answer, or "timed out" after `limit`.
/// An error is the text of an `ERR 503`, which says whether the change
/// may have been made all the same: JetStream may store what it did not
/// answer for in time (a new leader taking over), not what it refused.
async fn within<T>(
    limit: Duration,
    call: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(why)) if !why.contains("timed out") => {
            Err(format!("{}: nothing was done", unavailable(&why)))
        }
        _ => Err(format!(
            "{}: it may still be done, later",
            unavailable("timed out")
        )),
    }
}
