//! A message's text as IRC lines. IRC's lines hold no line break and at
//! most 512 bytes; evchat's text may hold many lines of any length. Each
//! line of the text is one `PRIVMSG` (blank lines left out), cut into
//! several where it is too long — or, for a reader that negotiated
//! `draft/multiline`, the same lines in one batch, blank lines kept and
//! a cut line's pieces joined again (`draft/multiline-concat`), so its
//! client shows the message as it was written.
//!
//! What one message costs its IRC readers is bounded by its size, not by
//! its number of lines (a line break costs a reader a whole IRC line's
//! head, some 40–90 bytes, for the one or two bytes sent): once its lines
//! have taken about four times the message's size, or [`MAX_LINES`]
//! lines, the rest of its text is one more line, its breaks as spaces.

use super::encode::{from_user, tag_each_line, Style};
use crate::protocol::escape::unescape;
use crate::server::wire::Voice;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most IRC lines a message's line breaks make (a multiline
/// batch's bound too).
pub const MAX_LINES: usize = 100;

/// A message from `from` to `to`, its text `escaped` as the protocol
/// escapes it.
pub(super) fn say(
    out: &mut Vec<u8>,
    style: Style,
    voice: &Voice,
    time: Option<&str>,
    from: &str,
    to: &str,
    escaped: &str,
) {
    let text = unescape(escaped).unwrap_or(std::borrow::Cow::Borrowed(escaped));
    // ":" from "!" from "@evchat PRIVMSG " to " :" ... CR LF
    let head = 1 + from.len() * 2 + 8 + 9 + to.len() + 2 + 2;
    let room = 512usize.saturating_sub(head).max(64);
    // The common message: one line that fits, written as it is.
    if text.len() <= room && memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_none() {
        if !text.is_empty() {
            from_user(out, time, from, "PRIVMSG", &[to], Some(&text));
        }
        return;
    }
    // What its lines may cost a reader: about four times its size.
    let budget = 4 * (escaped.len() + head) + 256;
    if style.multiline {
        return multiline(out, voice, (time, from, to), &text, room, budget);
    }
    // A CR is a line break too: raw inside an IRC line, a client that
    // ends lines at CR would read the rest as a line of the sender's
    // making (a forged message or numeric).
    each_line(out, &text, budget, |out, line| {
        for piece in pieces(line, room) {
            from_user(out, time, from, "PRIVMSG", &[to], Some(piece));
        }
    });
}

/// Writes each of the text's lines (a break is LF, CR LF or a lone CR)
/// with `write`, while `out` has grown by less than `budget` bytes and
/// fewer than [`MAX_LINES`] are written; then the rest as one line, its
/// breaks as spaces (blank lines left out).
fn each_line(
    out: &mut Vec<u8>,
    text: &str,
    budget: usize,
    mut write: impl FnMut(&mut Vec<u8>, &str),
) {
    let text = match text.contains('\r') {
        true => Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n")),
        false => Cow::Borrowed(text),
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let end = out.len() + budget;
    for (i, line) in lines.iter().enumerate() {
        if out.len() >= end || i >= MAX_LINES {
            let rest = lines.get(i..).unwrap_or_default();
            let words: Vec<&str> = rest.iter().copied().filter(|l| !l.is_empty()).collect();
            if !words.is_empty() {
                write(out, &words.join(" "));
            }
            return;
        }
        write(out, line);
    }
}

/// A line in pieces of at most `room` bytes (cut between characters);
/// nothing for an empty line.
fn pieces(line: &str, room: usize) -> impl Iterator<Item = &str> {
    let mut rest = line;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = rest.len().min(room);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, after) = rest.split_at(cut);
        rest = after;
        Some(piece)
    })
}

/// References of the multiline batches written: unique in the process,
/// so in every reader's stream.
static BATCHES: AtomicU64 = AtomicU64::new(0);

/// The message as one `draft/multiline` batch, from `(time, from, to)`.
fn multiline(
    out: &mut Vec<u8>,
    voice: &Voice,
    (time, from, to): (Option<&str>, &str, &str),
    text: &str,
    room: usize,
    budget: usize,
) {
    let reference = format!("ml{}", BATCHES.fetch_add(1, Ordering::Relaxed));
    let opening = format!("+{reference}");
    from_user(
        out,
        time,
        from,
        "BATCH",
        &[&opening, "draft/multiline", to],
        None,
    );
    let in_batch = format!("batch={reference}");
    let continued = format!("batch={reference};draft/multiline-concat");
    each_line(out, text, budget, |out, line| {
        let mut first = true;
        let mut piece_of = |piece: &str, out: &mut Vec<u8>| {
            let from_here = out.len();
            from_user(out, time, from, "PRIVMSG", &[to], Some(piece));
            let tag = if first { &in_batch } else { &continued };
            tag_each_line(out, from_here, tag.as_bytes());
            first = false;
        };
        if line.is_empty() {
            piece_of("", out);
        }
        for piece in pieces(line, room) {
            piece_of(piece, out);
        }
    });
    let server = &voice.server;
    out.extend_from_slice(format!(":{server} BATCH -{reference}\r\n").as_bytes());
}
