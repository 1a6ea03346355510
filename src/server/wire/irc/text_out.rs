//! A message's text as IRC lines. IRC's lines hold no line break and at
//! most 512 bytes; evchat's text may hold many lines of any length. Each
//! line of the text is one `PRIVMSG` (blank lines left out), cut into
//! several where it is too long — or, for a reader that negotiated
//! `draft/multiline`, the same lines in one batch, blank lines kept and
//! a cut line's pieces joined again (`draft/multiline-concat`), so its
//! client shows the message as it was written.
//!
//! What one message costs its IRC readers is bounded by its size, not by
//! its number of lines: past [`MAX_LINES`] lines, the rest of its text is
//! one more line, its line breaks as spaces (a line break costs a reader
//! a whole IRC line's head, some 40 bytes for one byte sent).

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
    if style.multiline {
        return multiline(out, voice, time, from, to, &text, room);
    }
    // A CR is a line break too: raw inside an IRC line, a client that
    // ends lines at CR would read the rest as a line of the sender's
    // making (a forged message or numeric).
    for line in lines(&text) {
        for piece in pieces(&line, room) {
            from_user(out, time, from, "PRIVMSG", &[to], Some(piece));
        }
    }
}

/// The text's lines (a break is LF, CR LF or a lone CR), at most
/// [`MAX_LINES`] of them and then the rest as one, its breaks as spaces.
fn lines(text: &str) -> Vec<String> {
    let text = match text.contains('\r') {
        true => Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n")),
        false => Cow::Borrowed(text),
    };
    let mut parts = text.splitn(MAX_LINES + 1, '\n');
    let mut lines: Vec<String> = (&mut parts).take(MAX_LINES).map(str::to_owned).collect();
    if let Some(rest) = parts.next() {
        let words: Vec<&str> = rest.split('\n').filter(|l| !l.is_empty()).collect();
        lines.push(words.join(" "));
    }
    lines
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

/// The message as one `draft/multiline` batch.
fn multiline(
    out: &mut Vec<u8>,
    voice: &Voice,
    time: Option<&str>,
    from: &str,
    to: &str,
    text: &str,
    room: usize,
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
    for line in lines(text) {
        let line: &str = &line;
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
    }
    let server = &voice.server;
    out.extend_from_slice(format!(":{server} BATCH -{reference}\r\n").as_bytes());
}
