//! The fast path of IRC encoding against the general one.

use super::*;
use proptest::prelude::*;

/// What the general path writes for one frame.
fn general(line: &str, tags: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let style = Style {
        time: tags,
        ..Style::default()
    };
    frame(line, &mut out, &Voice::default(), style);
    out
}

/// What the fast path writes, or `None` where it leaves the frame.
fn fast(line: &str, tags: bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    plain_message(line.as_bytes(), &mut out, &Voice::default(), tags).then_some(out)
}

#[test]
fn the_common_frames_take_the_fast_path_and_the_rest_do_not() {
    let t = "2026-12-07T10:00:00.000Z";
    assert!(fast(&format!("SAY bob {t} hi there"), true).is_some());
    assert!(fast(&format!("MSG bob #rust {t} hi"), false).is_some());
    // Escapes, several targets, empty or long text: the general path.
    assert!(fast(&format!("SAY bob {t} two\\nlines"), true).is_none());
    assert!(fast(&format!("MSG bob amy,#rust {t} hi"), true).is_none());
    assert!(fast(&format!("SAY bob {t} "), true).is_none());
    assert!(fast(&format!("SAY bob {t} {}", "x".repeat(600)), true).is_none());
    assert!(fast(&format!("JOINED bob {t}"), true).is_none());
}

proptest! {
    /// Wherever the fast path writes a frame, it writes what the
    /// general path would, byte for byte.
    #[test]
    fn the_fast_path_writes_what_the_general_path_does(
        say in any::<bool>(),
        from in "[A-Za-z0-9_-]{1,32}",
        to in "(#?[A-Za-z0-9_-]{1,33})(,#?[a-z]{1,3}){0,1}",
        words in "([ -~]|[\\\\]n|é|\u{1F600}|\t){0,40}",
        // Around the length where a message becomes two lines.
        pad in prop_oneof![0usize..40, 330usize..480],
        tags in any::<bool>(),
    ) {
        let t = "2026-12-07T10:00:00.000Z";
        let text = format!("{words}{}", "x".repeat(pad));
        let line = match say {
            true => format!("SAY {from} {t} {text}"),
            false => format!("MSG {from} {to} {t} {text}"),
        };
        if let Some(written) = fast(&line, tags) {
            prop_assert_eq!(written, general(&line, tags));
        }
    }
}

#[test]
fn a_history_batch_tags_every_line_in_it_and_nothing_after() {
    let t = "2026-12-07T10:00:00.000Z";
    let lines = format!(
        "BATCH +h3-1 chathistory #rust\n\
         MSG bob #rust {t} one\n\
         MSG bob #rust {t} two\\nlines\n\
         BATCH -h3-1\n\
         PING 3\n"
    );
    for (tags, tail) in [(true, format!(";time={t} ")), (false, " ".to_owned())] {
        let mut out = Vec::new();
        let style = Style {
            time: tags,
            ..Style::default()
        };
        frames(lines.as_bytes(), &mut out, None, &Voice::default(), style);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                ":evchat BATCH +h3-1 chathistory #rust\r\n\
                 @batch=h3-1{tail}:bob!bob@evchat PRIVMSG #rust :one\r\n\
                 @batch=h3-1{tail}:bob!bob@evchat PRIVMSG #rust :two\r\n\
                 @batch=h3-1{tail}:bob!bob@evchat PRIVMSG #rust :lines\r\n\
                 :evchat BATCH -h3-1\r\n\
                 PING :3\r\n"
            )
        );
    }
}

#[test]
fn client_tags_follow_the_servers_own_and_only_who_shows_them_gets_them() {
    let t = "2026-12-07T10:00:00.000Z";
    let lines = format!(
        "TAGS +draft/reply=9;+x\n\
         MSG bob #rust {t} two\\nlines\n\
         SAY amy {t} untagged\n\
         TAGS +typing=active\n\
         TAGMSG bob amy {t}\n"
    );
    let write = |time, client_tags| {
        let mut out = Vec::new();
        let style = Style {
            time,
            client_tags,
            multiline: false,
        };
        frames(lines.as_bytes(), &mut out, None, &Voice::default(), style);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(
        write(true, true),
        format!(
            "@time={t};+draft/reply=9;+x :bob!bob@evchat PRIVMSG #rust :two\r\n\
             @time={t} :bob!bob@evchat PRIVMSG #rust :lines\r\n\
             @time={t} :amy!amy@evchat PRIVMSG #everyone :untagged\r\n\
             @time={t};+typing=active :bob!bob@evchat TAGMSG amy\r\n"
        )
    );
    assert_eq!(
        write(false, true),
        "@+draft/reply=9;+x :bob!bob@evchat PRIVMSG #rust :two\r\n\
         :bob!bob@evchat PRIVMSG #rust :lines\r\n\
         :amy!amy@evchat PRIVMSG #everyone :untagged\r\n\
         @+typing=active :bob!bob@evchat TAGMSG amy\r\n"
    );
    assert_eq!(
        write(false, false),
        ":bob!bob@evchat PRIVMSG #rust :two\r\n\
         :bob!bob@evchat PRIVMSG #rust :lines\r\n\
         :amy!amy@evchat PRIVMSG #everyone :untagged\r\n"
    );
}

#[test]
fn a_message_of_several_lines_is_one_multiline_batch_for_who_asked() {
    let t = "2026-12-07T10:00:00.000Z";
    let long = "é".repeat(300);
    let lines = format!("TAGS +x=1\nMSG bob #rust {t} one\\n\\n{long}\n");
    let mut out = Vec::new();
    let style = Style {
        time: true,
        client_tags: true,
        multiline: true,
    };
    frames(lines.as_bytes(), &mut out, None, &Voice::default(), style);
    let out = String::from_utf8(out).unwrap();
    let got: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
    let reference = got[0]
        .split(' ')
        .find_map(|w| w.strip_prefix('+').filter(|r| r.starts_with("ml")))
        .unwrap();
    assert_eq!(
        got[0],
        format!("@time={t};+x=1 :bob!bob@evchat BATCH +{reference} draft/multiline #rust")
    );
    let tag = format!("@batch={reference};time={t} :bob!bob@evchat PRIVMSG #rust :");
    assert_eq!(got[1], format!("{tag}one"));
    // The blank line is kept; the long one is cut and joined again.
    assert_eq!(got[2], tag);
    let (first, second) = (&got[3], &got[4]);
    // IRC's 512 bytes are counted after the tags.
    let untagged = first.split_once(' ').unwrap().1.len() + 2;
    assert!(first.starts_with(&tag) && untagged <= 512, "{first}");
    let concat = format!("@batch={reference};draft/multiline-concat;time={t} :bob");
    assert!(second.starts_with(&concat), "{second}");
    let joined: String = [first, second]
        .iter()
        .map(|l| l.split_once(" :").unwrap().1.split_once(" :").unwrap().1)
        .collect();
    assert_eq!(joined, long);
    assert_eq!(got[5], format!(":evchat BATCH -{reference}"));
    assert_eq!(got.len(), 6);
}

#[test]
fn a_line_of_an_inner_batch_belongs_to_it_alone() {
    let t = "2026-12-07T10:00:00.000Z";
    let lines = format!("BATCH +h1-1 chathistory bob\nMSG bob ann {t} a\\nb\nBATCH -h1-1\n");
    let mut out = Vec::new();
    let style = Style {
        multiline: true,
        ..Style::default()
    };
    frames(lines.as_bytes(), &mut out, None, &Voice::default(), style);
    let out = String::from_utf8(out).unwrap();
    let got: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(got[0], ":evchat BATCH +h1-1 chathistory bob");
    let inner = got[1]
        .strip_prefix("@batch=h1-1 :bob!bob@evchat BATCH +")
        .unwrap();
    let inner = inner.strip_suffix(" draft/multiline ann").unwrap();
    assert_eq!(
        got[2],
        format!("@batch={inner} :bob!bob@evchat PRIVMSG ann :a")
    );
    assert_eq!(
        got[3],
        format!("@batch={inner} :bob!bob@evchat PRIVMSG ann :b")
    );
    assert_eq!(got[4], format!("@batch=h1-1 :evchat BATCH -{inner}"));
    assert_eq!(got[5], ":evchat BATCH -h1-1");
}

#[test]
fn a_message_of_many_lines_costs_its_size_not_a_line_each() {
    let t = "2026-12-07T10:00:00.000Z";
    // 32,000 line breaks: after 100 lines, the rest is text.
    let lines = format!("MSG bob #r {t} x{}y\\nz\n", "\\n".repeat(32_000));
    for multiline in [false, true] {
        let mut out = Vec::new();
        let style = Style {
            multiline,
            ..Style::default()
        };
        frames(lines.as_bytes(), &mut out, None, &Voice::default(), style);
        let out = String::from_utf8(out).unwrap();
        assert!(out.len() < 100 * 64, "{} bytes", out.len());
        assert!(out.contains(":y z\r\n"), "{out}");
    }
}

#[test]
fn short_lines_cost_a_reader_at_most_about_four_times_the_message() {
    let t = "2026-12-07T10:00:00.000Z";
    for (body, multiline) in [("x\\n".repeat(99), false), ("\\n".repeat(99), true)] {
        let frame = format!("SAY bob {t} y{body}z\n");
        let mut out = Vec::new();
        let style = Style {
            time: true,
            multiline,
            ..Style::default()
        };
        frames(frame.as_bytes(), &mut out, None, &Voice::default(), style);
        assert!(
            out.len() < 4 * frame.len() + 1024,
            "{} for {}",
            out.len(),
            frame.len()
        );
        // Short messages of a few lines are left as they are.
        let mut out = Vec::new();
        frames(
            format!("SAY bob {t} a\\nb\\nc\n").as_bytes(),
            &mut out,
            None,
            &Voice::default(),
            style,
        );
        assert_eq!(
            String::from_utf8(out).unwrap().matches("PRIVMSG").count(),
            3
        );
    }
}
