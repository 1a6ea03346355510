//! IRCv3 labeled responses at the hub: what a labeled command caused, and
//! only that, is its response, even when others spoke in the same turn.

use super::harness::Harness;

/// An IRC session registered as `nick` with `caps`.
fn irc(h: &mut Harness, nick: &str, caps: &str) -> usize {
    let key = h.connect();
    h.send(
        key,
        &format!("CAP REQ :{caps}\r\nNICK {nick}\r\nUSER {nick} 0 * :n\r\nCAP END\r\n"),
    );
    h.turn_for(key);
    key
}

#[test]
fn what_others_said_earlier_in_the_turn_is_not_in_the_response() {
    let mut h = Harness::new();
    let bob = h.login("bob");
    let ann = irc(&mut h, "ann", "batch labeled-response");
    h.send(bob, "SAY before\n");
    h.send(ann, "@label=p PING :x\r\n");
    let lines = h.turn_for(ann);
    assert_eq!(
        lines,
        [
            ":bob!bob@evchat PRIVMSG #everyone :before",
            "@label=p :irc.test BATCH +L1 labeled-response",
            "@batch=L1 :irc.test PONG irc.test :x",
            ":irc.test BATCH -L1",
        ]
    );
}

#[test]
fn what_the_command_put_in_the_turns_batch_is_in_the_response() {
    let mut h = Harness::new();
    let bob = h.login("bob");
    h.send(bob, "JOIN #r\n");
    let ann = irc(&mut h, "ann", "batch labeled-response");
    h.send(ann, "@label=j JOIN #r\r\n");
    let lines = h.turn_for(ann);
    assert_eq!(lines[0], "@label=j :irc.test BATCH +L1 labeled-response");
    assert_eq!(lines[1], "@batch=L1 :ann!ann@evchat JOIN #r");
    assert_eq!(lines.last().unwrap(), ":irc.test BATCH -L1");
    assert!(lines[1..lines.len() - 1]
        .iter()
        .all(|l| l.starts_with("@batch=L1 ")));
}

#[test]
fn what_others_say_while_a_labeled_command_waits_is_not_its_response() {
    let mut h = Harness::new();
    let bob = h.login("bob");
    let ann = irc(&mut h, "ann", "batch labeled-response echo-message");
    // Ann's labeled line was cut short by her budget: its label is open
    // while the others go on.
    h.hub.queues.open_label(ann, "w".into());
    h.send(bob, "SAY meanwhile\n");
    h.flush();
    assert_eq!(
        h.lines(ann),
        [":bob!bob@evchat PRIVMSG #everyone :meanwhile"]
    );
    // Said in the turn she goes on in, before she does: not hers either.
    h.send(bob, "SAY again\n");
    h.send(ann, "PRIVMSG #everyone :mine\r\n");
    let lines = h.turn_for(ann);
    assert_eq!(lines[0], ":bob!bob@evchat PRIVMSG #everyone :again");
    assert_eq!(lines[1], "@label=w :irc.test BATCH +L1 labeled-response");
    assert_eq!(
        lines[2],
        "@batch=L1 :ann!ann@evchat PRIVMSG #everyone :mine"
    );
}
