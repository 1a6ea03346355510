//! The bus messages' encoding and checks.

use super::*;
use proptest::prelude::*;

#[test]
fn each_kind_round_trips() {
    let mut out = Vec::new();
    encode_broadcast(
        &mut out,
        b"SAY a 2026-11-23T12:00:00.000Z hi\nJOINED b 2026-11-23T12:00:01.000Z\n",
    );
    assert_eq!(
        decode(&out),
        Ok(BusMessage::Broadcast {
            frames: b"SAY a 2026-11-23T12:00:00.000Z hi\nJOINED b 2026-11-23T12:00:01.000Z\n",
            count: 2
        })
    );
    out.clear();
    encode_private(
        &mut out,
        "bob,carol",
        b"MSG a bob,carol 2026-11-23T12:00:00.000Z psst\n",
    );
    assert_eq!(
        decode(&out),
        Ok(BusMessage::Private {
            to: "bob,carol",
            route: None,
            frame: b"MSG a bob,carol 2026-11-23T12:00:00.000Z psst\n"
        })
    );
    out.clear();
    let frame = b"MSG a bob,carol 2026-11-23T12:00:00.000Z psst\n";
    encode_routed(&mut out, "bob,carol", "n1,n-2", 17, frame);
    let route = Route {
        nodes: "n1,n-2",
        sender: 17,
    };
    assert_eq!(
        decode(&out),
        Ok(BusMessage::Private {
            to: "bob,carol",
            route: Some(route),
            frame
        })
    );
    assert_eq!(
        route.names_for("bob,carol", "n-2").collect::<Vec<_>>(),
        ["carol"]
    );
    assert_eq!(
        decode(&encode_confirm("n1", 17, 3, "_INBOX.abc.1")),
        Ok(BusMessage::Confirm {
            node: "n1",
            sender: 17,
            count: 3,
            inbox: "_INBOX.abc.1"
        })
    );

    assert_eq!(
        decode(&encode_mail_for("bob")),
        Ok(BusMessage::MailFor { name: "bob" })
    );
    assert_eq!(
        decode(&encode_heartbeat("x1")),
        Ok(BusMessage::Heartbeat { incarnation: "x1" })
    );
    assert_eq!(
        decode(&encode_slow_down(["a", "n-2"])),
        Ok(BusMessage::SlowDown { nodes: "a,n-2" })
    );
    assert_eq!(
        decode(&encode_slow_down([])),
        Ok(BusMessage::SlowDown { nodes: "" })
    );
    for bad in ["S ", "S a,", "S a b", "S a.b", "S a\nSAY x"] {
        assert!(decode(bad.as_bytes()).is_err(), "{bad:?}");
    }
}

#[test]
fn a_message_may_carry_tags_and_nothing_else_may() {
    let tagged = b"TAGS +draft/reply=7\nSAY a 2026-11-23T12:00:00.000Z hi\n";
    let mut out = Vec::new();
    encode_broadcast(&mut out, tagged);
    assert_eq!(
        decode(&out),
        Ok(BusMessage::Broadcast {
            frames: tagged,
            count: 1
        })
    );
    out.clear();
    let frame = b"TAGS +a;+b=c\nMSG a bob 2026-11-23T12:00:00.000Z psst\n";
    encode_private(&mut out, "bob", frame);
    assert!(matches!(decode(&out), Ok(BusMessage::Private { .. })));
    for bad in [
        &b"B\nTAGS +a\n"[..],
        b"B\nTAGS +a\nJOINED b 2026-11-23T12:00:01.000Z\n",
        b"B\nTAGS +a\nTAGS +b\nSAY a 2026-11-23T12:00:00.000Z hi\n",
        b"B\nTAGS server=1\nSAY a 2026-11-23T12:00:00.000Z hi\n",
        b"B\nTAGS +a b\nSAY a 2026-11-23T12:00:00.000Z hi\n",
    ] {
        assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn forged_framing_is_refused() {
    for bad in [
        &b"B\nSAY a 1 no end"[..],
        b"B\nSAY a 1 x\rLEFT b\n",
        b"B\nOK LOGIN a\n",
        b"B\nSAY a 1 x\n\n",
        b"P bob\nSAY a 1 x\n",
        b"P bob\nMSG a bob 1 x\nMSG a bob 1 y\n",
        b"P b b\nMSG a bob 1 x\n",
        b"P \nMSG a bob 1 x\n",
        b"H ",
        b"Q\n",
        b"B\n\xff\n",
        // Whole lines, but not frames a client can parse.
        b"B\nSAY mallory 2026-11-23T12:00:00.000Z a\x00b\n",
        b"B\nSAY mallory 2026-11-23T12:00:00.000Z bad\\q escape\n",
        b"B\nSAY \n",
        b"B\nLEFT \n",
        b"B\nSAY mallory 1 hi\n",
        b"B\nSAY mal lory 2026-11-23T12:00:00.000Z\n",
        b"B\nJOINED bob 2026-11-23T12:00:00.000Z extra\n",
        b"P alice\nMSG \n",
        b"P alice\nMSG m alice,b@d 2026-11-23T12:00:00.000Z hi\n",
        // Routes that do not fit their names, confirmations not whole.
        b"P a,b n1 1\nMSG m a,b 2026-11-23T12:00:00.000Z hi\n",
        b"P a n.1 1\nMSG m a 2026-11-23T12:00:00.000Z hi\n",
        b"P a n1 x\nMSG m a 2026-11-23T12:00:00.000Z hi\n",
        b"P a n1 1 2\nMSG m a 2026-11-23T12:00:00.000Z hi\n",
        b"C n1 1 1",
        b"C n1 1 _INBOX.a",
        b"C n1 1 1 reply.elsewhere",
        b"C n1 1 1 _INBOX.a\nx",
        b"C n1 1 1 _INBOX..a",
        b"C n1 1 x _INBOX.a",
    ] {
        assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn subjects_name_their_node() {
    assert_eq!(origin_of(&subject_of("n-1")), Some("n-1"));
    assert_eq!(origin_of("evchat.bus.a.b"), None);
    assert_eq!(origin_of("evchat.bus."), None);
    assert_eq!(origin_of("other.bus.a"), None);
}

proptest! {
    #[test]
    fn decoding_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&payload);
    }

    #[test]
    fn what_is_accepted_is_whole_lines(text in "[ -~]{0,40}") {
        let mut out = Vec::new();
        let text = format!("x{}", text.replace('\\', "\\\\"));
        let frame = format!("SAY a 2026-11-23T12:00:00.000Z {text}\n");
        encode_broadcast(&mut out, frame.as_bytes());
        match decode(&out) {
            Ok(BusMessage::Broadcast { frames, count }) => {
                prop_assert_eq!(count, 1);
                prop_assert_eq!(frames.last(), Some(&b'\n'));
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
