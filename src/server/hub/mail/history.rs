//! Held mail and rooms' catch-up in `chathistory` batches, for the
//! connections that asked for them (IRC's `batch`): one chunk for the
//! whole parcel, the messages for each target between a `BATCH
//! +<ref> chathistory <target>` line and its `BATCH -<ref>`. These two
//! lines are the hub's to its encodings; only a connection that asked is
//! ever given them, and its encoding tags the lines between them.

use std::collections::HashMap;
use std::rc::Rc;

/// The frames of a parcel as one chunk, its messages in batches named
/// `<base>-<n>`: between two frames that are not messages (a room's
/// `JOIN` in a catch-up), one batch per target, in the order each first
/// appears (a client shows each target apart, so only the order within
/// one matters) — one batch per sender of held mail, not one per change
/// of sender.
pub(super) fn in_batches<'f>(frames: impl Iterator<Item = &'f Rc<[u8]>>, base: &str) -> Rc<[u8]> {
    let frames: Vec<&Rc<[u8]>> = frames.collect();
    let mut out = Vec::with_capacity(frames.iter().map(|f| f.len()).sum::<usize>() + 64);
    let mut count = 0usize;
    let mut run: Vec<(&[u8], Vec<&[u8]>)> = Vec::new();
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    for frame in frames {
        match history_target(frame) {
            Some(target) => {
                let at = *index.entry(target).or_insert_with(|| {
                    run.push((target, Vec::new()));
                    run.len() - 1
                });
                if let Some((_, messages)) = run.get_mut(at) {
                    messages.push(frame);
                }
            }
            None => {
                write_run(&mut out, base, &mut count, &mut run);
                index.clear();
                out.extend_from_slice(frame);
            }
        }
    }
    write_run(&mut out, base, &mut count, &mut run);
    Rc::from(out)
}

/// A run of messages, a batch per target.
fn write_run(out: &mut Vec<u8>, base: &str, count: &mut usize, run: &mut Vec<(&[u8], Vec<&[u8]>)>) {
    for (target, messages) in run.drain(..) {
        *count += 1;
        out.extend_from_slice(format!("BATCH +{base}-{count} chathistory ").as_bytes());
        out.extend_from_slice(target);
        out.push(b'\n');
        for message in messages {
            out.extend_from_slice(message);
        }
        close(out, base, *count);
    }
}

fn close(out: &mut Vec<u8>, base: &str, n: usize) {
    out.extend_from_slice(format!("BATCH -{base}-{n}\n").as_bytes());
}

/// Whose history a frame is, if it is a message (`MSG <from> <to>
/// <time> <text>`): the room it was said in, or for a private message
/// its sender (IRC's `chathistory` target is the other party).
fn history_target(frame: &[u8]) -> Option<&[u8]> {
    let frame = crate::protocol::tags::untagged(frame);
    let rest = frame.strip_prefix(b"MSG ")?;
    let mut words = rest.splitn(3, |&b| b == b' ');
    let (from, to) = (words.next()?, words.next()?);
    // A chunk of one frame only: a message is one line.
    if memchr::memchr(b'\n', frame)? + 1 != frame.len() {
        return None;
    }
    let room = to.split(|&b| b == b',').find(|t| t.first() == Some(&b'#'));
    Some(room.unwrap_or(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(s: &str) -> Rc<[u8]> {
        Rc::from(s.as_bytes())
    }

    #[test]
    fn runs_of_one_target_are_one_batch_and_the_rest_stays_outside() {
        let frames = [
            chunk("MSG bob alice 2026-01-01T00:00:00.000Z hi\n"),
            chunk("MSG bob alice,carol 2026-01-01T00:00:01.000Z all\n"),
            chunk("MSG dave alice 2026-01-01T00:00:02.000Z yo\n"),
            chunk("JOIN alice #rust 2026-01-01T00:00:03.000Z\nUSERS #rust @alice\n"),
            chunk("MSG eve #rust 2026-01-01T00:00:00.500Z said\n"),
        ];
        let out = in_batches(frames.iter(), "h7");
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(
            text,
            "BATCH +h7-1 chathistory bob\n\
             MSG bob alice 2026-01-01T00:00:00.000Z hi\n\
             MSG bob alice,carol 2026-01-01T00:00:01.000Z all\n\
             BATCH -h7-1\n\
             BATCH +h7-2 chathistory dave\n\
             MSG dave alice 2026-01-01T00:00:02.000Z yo\n\
             BATCH -h7-2\n\
             JOIN alice #rust 2026-01-01T00:00:03.000Z\nUSERS #rust @alice\n\
             BATCH +h7-3 chathistory #rust\n\
             MSG eve #rust 2026-01-01T00:00:00.500Z said\n\
             BATCH -h7-3\n"
        );
    }

    #[test]
    fn each_sender_of_held_mail_is_one_batch_whatever_the_interleaving() {
        let frames = [
            chunk("MSG bob amy 2026-01-01T00:00:00.000Z 1\n"),
            chunk("MSG dan amy 2026-01-01T00:00:01.000Z 2\n"),
            chunk("MSG bob amy 2026-01-01T00:00:02.000Z 3\n"),
        ];
        let out = in_batches(frames.iter(), "h1");
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "BATCH +h1-1 chathistory bob\n\
             MSG bob amy 2026-01-01T00:00:00.000Z 1\n\
             MSG bob amy 2026-01-01T00:00:02.000Z 3\n\
             BATCH -h1-1\n\
             BATCH +h1-2 chathistory dan\n\
             MSG dan amy 2026-01-01T00:00:01.000Z 2\n\
             BATCH -h1-2\n"
        );
    }

    #[test]
    fn nothing_to_batch_is_the_frames_as_they_were() {
        let frames = [chunk("JOIN a #r 2026-01-01T00:00:03.000Z\n")];
        assert_eq!(&*in_batches(frames.iter(), "x"), &*frames[0]);
    }
}
