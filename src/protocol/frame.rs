//! Splitting a byte stream into frames (lines).
//!
//! The server reads each socket into one shared scratch buffer and hands the
//! bytes to this decoder, which yields complete frames straight out of that
//! buffer. Only the tail of an unfinished frame is copied into the
//! connection's own `partial` buffer, so an idle connection holds no read
//! memory at all and a busy one at most `max_line` + 1 bytes.
//!
//! A frame longer than `max_line` is reported once as [`Frame::TooLong`] and
//! then skipped up to its LF, so the connection stays usable.

/// What the decoder found in the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line without its LF (and without a CR right before it).
    Line(&'a [u8]),
    /// A line longer than the limit; its bytes are being discarded.
    TooLong,
}

/// Incremental line splitter with a length limit.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    partial: Vec<u8>,
    discarding: bool,
    max_line: usize,
}

/// Past this capacity an emptied partial buffer is freed rather than kept.
const KEEP_CAPACITY: usize = 4096;

impl FrameDecoder {
    /// `max_line` counts the bytes of a frame without its LF and CR.
    pub fn new(max_line: usize) -> FrameDecoder {
        FrameDecoder {
            partial: Vec::new(),
            discarding: false,
            max_line,
        }
    }

    /// Bytes of an unfinished frame held between reads.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Feeds `data` and calls `on_frame` for every frame it completes.
    ///
    /// `on_frame` returns `false` to stop early (the connection is closing,
    /// or waits for a password check). Returns how many bytes of `data` were
    /// consumed: after an early stop, the bytes past the last frame are not,
    /// and the caller may feed them again later.
    pub fn feed(&mut self, data: &[u8], mut on_frame: impl FnMut(Frame<'_>) -> bool) -> usize {
        let mut rest = data;
        // Bytes of `data` consumed so far, once `rest` has moved on.
        let used = |rest: &[u8]| data.len() - rest.len();
        if self.discarding || !self.partial.is_empty() {
            let Some(lf) = memchr::memchr(b'\n', rest) else {
                self.hold(rest, &mut on_frame);
                return data.len();
            };
            let (head, tail) = (&rest[..lf], &rest[lf + 1..]);
            rest = tail;
            if self.discarding {
                self.discarding = false;
            } else if self.partial.len() + head.len() > self.max_line + 1 {
                self.release();
                if !on_frame(Frame::TooLong) {
                    return used(rest);
                }
            } else {
                self.partial.extend_from_slice(head);
                let keep_going = on_frame(self.line(&self.partial));
                self.release();
                if !keep_going {
                    return used(rest);
                }
            }
        }
        while let Some(lf) = memchr::memchr(b'\n', rest) {
            let keep_going = on_frame(self.line(&rest[..lf]));
            rest = &rest[lf + 1..];
            if !keep_going {
                return used(rest);
            }
        }
        self.hold(rest, &mut on_frame);
        data.len()
    }

    /// Classifies a complete line, dropping a CR right before the LF.
    fn line<'a>(&self, line: &'a [u8]) -> Frame<'a> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > self.max_line {
            Frame::TooLong
        } else {
            Frame::Line(line)
        }
    }

    /// Keeps the unfinished tail, or starts discarding once it cannot fit.
    fn hold(&mut self, tail: &[u8], on_frame: &mut impl FnMut(Frame<'_>) -> bool) {
        if self.discarding || tail.is_empty() {
            return;
        }
        let held = self.partial.len() + tail.len();
        // A frame of exactly max_line bytes may still be waiting for "\r\n".
        let could_fit =
            held <= self.max_line || (held == self.max_line + 1 && tail.last() == Some(&b'\r'));
        if could_fit {
            self.partial.extend_from_slice(tail);
        } else {
            self.release();
            self.discarding = true;
            on_frame(Frame::TooLong);
        }
    }

    fn release(&mut self) {
        self.partial.clear();
        if self.partial.capacity() > KEEP_CAPACITY {
            self.partial = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Frames as owned values; `None` stands for TooLong.
    fn decode_in_chunks(max_line: usize, data: &[u8], cuts: &[usize]) -> Vec<Option<Vec<u8>>> {
        let mut decoder = FrameDecoder::new(max_line);
        let mut frames = Vec::new();
        let mut start = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        points.push(data.len());
        points.sort_unstable();
        for end in points {
            decoder.feed(&data[start..end], |frame| {
                frames.push(match frame {
                    Frame::Line(line) => Some(line.to_vec()),
                    Frame::TooLong => None,
                });
                true
            });
            assert!(decoder.buffered() <= max_line + 1);
            start = end;
        }
        frames
    }

    fn lines(items: &[&str]) -> Vec<Option<Vec<u8>>> {
        items
            .iter()
            .map(|s| (*s != "!").then(|| s.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn splits_lines_and_drops_cr() {
        let frames = decode_in_chunks(16, b"a\nbb\r\n\nc\r\rx\n", &[]);
        assert_eq!(frames, lines(&["a", "bb", "", "c\r\rx"]));
    }

    #[test]
    fn an_early_stop_reports_what_was_consumed() {
        let mut decoder = FrameDecoder::new(64);
        let data = b"one\ntwo\nthr";
        let used = decoder.feed(data, |f| f != Frame::Line(b"one"));
        assert_eq!(&data[used..], b"two\nthr");
        let mut seen = Vec::new();
        decoder.feed(&data[used..], |f| {
            seen.push(format!("{f:?}"));
            true
        });
        assert_eq!(seen.len(), 1, "{seen:?}");
        decoder.feed(b"ee", |_| true);
        let used = decoder.feed(b"x\nfour\n", |f| f != Frame::Line(b"threex"));
        assert_eq!(used, 2);
        assert_eq!(decoder.feed(b"five\n", |_| true), 5);
    }

    #[test]
    fn holds_partial_frames_across_reads() {
        let frames = decode_in_chunks(16, b"hello\nworld\n", &[2, 3, 8]);
        assert_eq!(frames, lines(&["hello", "world"]));
    }

    #[test]
    fn limit_counts_bytes_without_crlf() {
        assert_eq!(decode_in_chunks(4, b"abcd\r\n", &[]), lines(&["abcd"]));
        assert_eq!(decode_in_chunks(4, b"abcd\r\n", &[5]), lines(&["abcd"]));
        assert_eq!(decode_in_chunks(4, b"abcde\n", &[]), lines(&["!"]));
        assert_eq!(decode_in_chunks(4, b"abcd\r", &[]), lines(&[]));
    }

    #[test]
    fn overlong_line_is_reported_once_then_skipped() {
        let data = b"0123456789abcdef\nok\n";
        for cut in 0..data.len() {
            assert_eq!(
                decode_in_chunks(8, data, &[cut]),
                lines(&["!", "ok"]),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn stopping_early_drops_the_rest() {
        let mut decoder = FrameDecoder::new(10);
        let mut seen = 0;
        decoder.feed(b"a\nb\nc", |_| {
            seen += 1;
            false
        });
        assert_eq!((seen, decoder.buffered()), (1, 0));
    }

    proptest! {
        #[test]
        fn same_frames_however_the_bytes_are_split(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
            max_line in 1usize..40,
        ) {
            let whole = decode_in_chunks(max_line, &data, &[]);
            let split = decode_in_chunks(max_line, &data, &cuts);
            prop_assert_eq!(&whole, &split);
            // Every LF ends exactly one frame or one overlong run.
            let lf = data.iter().filter(|&&b| b == b'\n').count();
            prop_assert!(whole.len() <= lf + 1);
            for frame in whole.iter().flatten() {
                prop_assert!(frame.len() <= max_line && !frame.contains(&b'\n'));
            }
        }
    }
}
