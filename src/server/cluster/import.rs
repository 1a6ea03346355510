//! The first clustered start of a node that ran alone before: its
//! journal's known names, held mail and rooms (members, what they
//! remember, who has read what) move into JetStream, once, and the journal
//! is renamed so that it is not imported again.

use super::bridge::KNOWN;
use super::connect::{bucket, connect};
use super::mailbox::Mailbox;
use super::rooms::Membership;
use super::rooms_store::RoomStores;
use super::{ClusterSettings, HoldOutcome};
use crate::server::journal::{recover, RoomsImage};
use async_nats::jetstream;
use bytes::Bytes;
use log::{info, warn};
use std::path::Path;

/// Imports `dir`'s journal into the cluster if there is one with
/// something in it. Runs before the loop starts.
pub fn import_journal(dir: &Path, settings: &ClusterSettings) -> Result<(), String> {
    let path = dir.join("journal");
    if !path.is_file() {
        return Ok(());
    }
    let mut image = recover::recover(&path)?.image;
    // Names an older evchat kept apart by case go in as one.
    for m in crate::server::journal::merge::merge_names(&mut image) {
        warn!(
            "{} and {} are one name now (names are compared without case): imported as {}, \
             the most recently seen, their held mail and rooms together",
            m.others.join(", "),
            m.kept,
            m.kept
        );
    }
    let imported = dir.join("journal.imported");
    if image.known.is_empty() && image.held.is_empty() && image.rooms.rooms.is_empty() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let (names, letters) = runtime.block_on(async {
        let client = connect(settings, None).await?;
        let js = jetstream::new(client.clone());
        let known = bucket(&js, KNOWN, settings.replicas).await?;
        let mailbox = Mailbox::open(&js, settings).await?;
        for (name, _) in &image.known {
            // Keyed folded, spelt as shown (see `bridge::claim`).
            let key = crate::protocol::names::fold_text(name);
            known
                .put(&key, Bytes::from(name.clone()))
                .await
                .map_err(|e| format!("cannot import {name}: {e}"))?;
        }
        let mut letters = 0;
        for (frame, names) in &image.held {
            let frame = Bytes::copy_from_slice(frame);
            match mailbox.hold(&known, &|_| true, names, frame).await {
                HoldOutcome::Held { refused } => {
                    for (name, why) in refused {
                        warn!("held message for {name} not imported: {why}");
                    }
                    letters += 1;
                }
                HoldOutcome::NoSuchUser(name) => warn!("{name} unknown; message not imported"),
                HoldOutcome::Refused(_, why) => return Err(format!("import failed: {why}")),
            }
        }
        let rooms = RoomStores::open(&js, settings).await?;
        import_rooms(&rooms, &image.rooms).await?;
        let _ = client.flush().await;
        Ok::<_, String>((image.known.len(), letters))
    })?;
    std::fs::rename(&path, &imported).map_err(|e| {
        format!(
            "imported the journal but cannot rename {} to {}: {e}; rename it by hand, or it \
             will be imported again",
            path.display(),
            imported.display()
        )
    })?;
    info!(
        "imported the single-node journal {} into the cluster: {names} known names, {letters} \
         held messages and {} rooms; it is kept as {}",
        path.display(),
        image.rooms.rooms.len(),
        imported.display()
    );
    Ok(())
}

/// Moves the rooms in: their members, what they remember (in the order
/// said, renumbered by the stream) and read marks (each moved to the last
/// message numbered at or before it: nothing read comes again, nothing
/// unread is skipped).
async fn import_rooms(stores: &RoomStores, image: &RoomsImage) -> Result<(), String> {
    let time = {
        let mut clock = crate::server::clock::Clock::default();
        clock.set();
        clock.stamp().as_str().to_owned()
    };
    // The messages come after their rooms' joins on every node.
    let mut after = 0;
    for (room, members) in &image.rooms {
        for name in members {
            let change = Membership {
                room: room.clone(),
                name: name.clone(),
                joined: true,
                time: time.clone(),
                text: None,
                kicked_by: None,
                renamed_from: None,
                renamed_to: None,
            };
            after = after.max(stores.write_member(&change).await?);
        }
    }
    let before = stores.last_said().await?;
    let mut renumbered = Vec::with_capacity(image.said.len());
    for (seq, frame, rooms) in &image.said {
        let at = stores
            .say(rooms, Bytes::copy_from_slice(frame), after)
            .await?;
        renumbered.push((*seq, at));
    }
    for (name, read) in &image.read {
        let at = renumbered
            .iter()
            .take_while(|(old, _)| old <= read)
            .last()
            .map_or(before, |(_, new)| *new);
        stores.mark_read(name, at).await;
    }
    Ok(())
}
