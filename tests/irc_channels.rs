//! Channel operators, topics and modes over IRC, against the real binary,
//! with line-protocol users in the same rooms: what RFC 2812 and modern
//! servers give (`TOPIC` 332/333/331, `MODE` 324/367/368, `KICK`,
//! `INVITE` 341-style, 471/473/474/475/482/441/442/443 refusals), both
//! ways.

mod common;

use common::irc_client::Irc;
use common::TestServer;

fn server() -> TestServer {
    TestServer::start(&["--server-name", "evchat-test"])
}

#[test]
fn the_creator_is_the_channel_operator_and_sets_its_topic_seen_by_line_users_too() {
    let server = server();
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("JOIN #rust");
    let joined = alice.until(|l| l.contains(" 366 alice #rust "));
    assert!(
        joined.contains(&":evchat-test 353 alice = #rust :@alice".to_owned()),
        "{joined:#?}"
    );
    alice.send("TOPIC #rust");
    assert_eq!(
        alice.recv(),
        ":evchat-test 331 alice #rust :No topic is set"
    );
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    alice.sync();
    alice.send("TOPIC #rust :Rust & <evchat>");
    assert_eq!(
        alice.recv(),
        ":alice!alice@evchat TOPIC #rust :Rust & <evchat>"
    );
    let told = bob.expect("TOPIC #rust alice ");
    assert!(told.ends_with(" Rust & <evchat>"), "{told}");
    // A line user who is no operator may not set it under +t.
    bob.send("TOPIC #rust mine");
    assert_eq!(
        bob.recv(),
        "ERR 403 you are not an operator of #rust (+t: operators set the topic)"
    );
    // A joiner over IRC gets 332 and 333 between its JOIN and its names.
    let (mut cat, _) = Irc::register(&server, "cat", false);
    cat.send("JOIN #rust");
    let joined = cat.until(|l| l.contains(" 366 cat #rust "));
    let codes: Vec<&str> = joined.iter().filter_map(|l| l.split(' ').nth(1)).collect();
    assert!(
        codes.ends_with(&["JOIN", "332", "333", "353", "366"]),
        "{joined:#?}"
    );
    assert!(joined.contains(&":evchat-test 332 cat #rust :Rust & <evchat>".to_owned()));
    assert!(joined
        .iter()
        .any(|l| l.starts_with(":evchat-test 333 cat #rust alice!alice@evchat 1")));
    // Not an operator: 482.
    cat.send("TOPIC #rust :no");
    assert_eq!(
        cat.recv(),
        ":evchat-test 482 cat #rust :You're not channel operator"
    );
}

#[test]
fn modes_are_asked_changed_and_enforced_for_irc_and_line_users_alike() {
    let server = server();
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("JOIN #r");
    alice.until(|l| l.contains(" 366 alice #r "));
    let mut bob = server.login("bob");
    bob.send("JOIN #r");
    bob.expect("JOIN bob #r ");
    alice.sync();
    alice.send("MODE #r");
    assert_eq!(alice.recv(), ":evchat-test 324 alice #r +nt");
    alice.send("MODE #r +mo bob");
    assert_eq!(alice.recv(), ":alice!alice@evchat MODE #r +mo bob");
    assert!(bob.expect("MODE #r alice ").ends_with(" +mo bob"));
    // bob is an operator now: he may speak in the moderated room and set
    // a key and a ban, which IRC users see as MODE lines.
    bob.send("MSG #r op talk");
    bob.send("MODE #r -m+kb s3cret cat");
    bob.sync();
    let got = alice.sync();
    assert!(
        got.contains(&":bob!bob@evchat PRIVMSG #r :op talk".to_owned()),
        "{got:#?}"
    );
    assert!(
        got.contains(
            &":bob!bob@evchat MODE #r +kb-m s3cret cat!*@* "
                .trim_end()
                .to_owned()
        ),
        "{got:#?}"
    );
    alice.send("MODE #r b");
    assert_eq!(alice.recv(), ":evchat-test 367 alice #r cat!*@*");
    assert_eq!(
        alice.recv(),
        ":evchat-test 368 alice #r :End of channel ban list"
    );
    alice.send("MODE #r +z");
    assert_eq!(
        alice.recv(),
        ":evchat-test 472 alice z :is unknown mode char to me"
    );
    // The refusals a JOIN meets, as their numerics.
    let (mut cat, _) = Irc::register(&server, "cat", false);
    cat.send("JOIN #r");
    assert_eq!(
        cat.recv(),
        ":evchat-test 474 cat #r :Cannot join channel (+b)"
    );
    let (mut dan, _) = Irc::register(&server, "dan", false);
    dan.send("JOIN #r");
    assert_eq!(
        dan.recv(),
        ":evchat-test 475 dan #r :Cannot join channel (+k)"
    );
    dan.send("JOIN #r s3cret");
    dan.until(|l| l.contains(" 366 dan #r "));
    alice.sync();
    alice.send("MODE #r +il 3");
    alice.sync();
    let (mut eve, _) = Irc::register(&server, "eve", false);
    eve.send("JOIN #r s3cret");
    assert_eq!(
        eve.recv(),
        ":evchat-test 473 eve #r :Cannot join channel (+i)"
    );
    alice.send("MODE #r -i");
    alice.sync();
    eve.send("JOIN #r s3cret");
    assert_eq!(
        eve.recv(),
        ":evchat-test 471 eve #r :Cannot join channel (+l)"
    );
    // An invitation lets eve past the limit.
    alice.send("INVITE eve #r");
    let invited = eve.recv();
    assert_eq!(invited, ":alice!alice@evchat INVITE eve #r");
    alice.send("INVITE bob #r");
    assert_eq!(alice.recv(), ":alice!alice@evchat INVITE eve #r");
    assert_eq!(
        alice.recv(),
        ":evchat-test 443 alice bob #r :is already on channel"
    );
    eve.send("JOIN #r");
    eve.until(|l| l.contains(" 366 eve #r "));
}

#[test]
fn a_kick_puts_a_member_out_for_everyone_and_needs_an_operator() {
    let server = server();
    let mut bob = server.login("bob");
    bob.send("JOIN #r");
    bob.expect("JOIN bob #r ");
    let (mut alice, _) = Irc::register(&server, "alice", false);
    bob.expect("JOINED alice ");
    alice.send("JOIN #r");
    alice.until(|l| l.contains(" 366 alice #r "));
    bob.expect("JOIN alice #r ");
    alice.send("KICK #r bob :not you");
    assert_eq!(
        alice.recv(),
        ":evchat-test 482 alice #r :You're not channel operator"
    );
    bob.send("KICK #r alice go\\nnow");
    assert_eq!(alice.recv(), ":bob!bob@evchat KICK #r alice :go now");
    assert!(bob.expect("KICK #r alice bob ").ends_with(" go\\nnow"));
    alice.send("PRIVMSG #r :still here?");
    assert_eq!(
        alice.recv(),
        ":evchat-test 404 alice #r :Cannot send to channel"
    );
    bob.send("KICK #r alice");
    assert_eq!(bob.recv(), "ERR 404 alice is not in #r");
    // The last operator leaving makes the longest-standing member one.
    alice.send("JOIN #r");
    alice.until(|l| l.contains(" 366 alice #r "));
    bob.expect("JOIN alice #r ");
    bob.send("PART #r");
    let got = alice.until(|l| l.contains(" MODE "));
    assert_eq!(got.last().unwrap(), ":evchat-test MODE #r +o alice");
    alice.send("WHO #r");
    let who = alice.until(|l| l.contains(" 315 "));
    assert_eq!(
        who[0],
        ":evchat-test 352 alice #r alice evchat evchat-test alice H@ :0 alice"
    );
}

#[test]
fn a_voiced_member_speaks_in_a_moderated_channel_and_is_shown_with_plus() {
    let server = server();
    let (mut alice, welcome) = Irc::register(&server, "alice", false);
    assert!(
        welcome.iter().any(|l| l.contains(" PREFIX=(ov)@+ ")),
        "{welcome:#?}"
    );
    alice.send("JOIN #quiet");
    alice.until(|l| l.contains(" 366 alice #quiet "));
    let mut bob = server.login("bob");
    bob.send("JOIN #quiet");
    bob.expect("JOIN bob #quiet ");
    alice.sync();
    alice.send("MODE #quiet +mv bob");
    assert_eq!(alice.recv(), ":alice!alice@evchat MODE #quiet +mv bob");
    assert!(bob.expect("MODE #quiet alice ").ends_with(" +mv bob"));
    bob.send("MSG #quiet voiced");
    assert_eq!(alice.recv(), ":bob!bob@evchat PRIVMSG #quiet :voiced");
    alice.send("NAMES #quiet");
    alice.send("WHO #quiet");
    let names = alice.until(|l| l.contains(" 315 "));
    assert_eq!(names[0], ":evchat-test 353 alice = #quiet :@alice +bob");
    assert!(
        names.iter().any(|l| l.contains(" bob H+ :0 bob")),
        "{names:#?}"
    );
    // An operator who is voiced too: @ alone, or @+ with multi-prefix.
    alice.send("MODE #quiet +v alice");
    alice.recv();
    alice.send("NAMES #quiet");
    assert_eq!(alice.recv(), ":evchat-test 353 alice = #quiet :@alice +bob");
    alice.recv();
    let (mut carol, _) = Irc::register_with(&server, "carol", "multi-prefix");
    carol.send("JOIN #quiet");
    let joined = carol.until(|l| l.contains(" 366 carol #quiet "));
    assert!(
        joined.contains(&":evchat-test 353 carol = #quiet :@+alice +bob carol".to_owned()),
        "{joined:#?}"
    );
    carol.send("WHO #quiet");
    let who = carol.until(|l| l.contains(" 315 "));
    assert!(
        who.iter().any(|l| l.contains(" alice H@+ :0 alice")),
        "{who:#?}"
    );
    alice.sync();
    bob.until("JOIN carol ");
    alice.send("MODE #quiet -v bob");
    alice.recv();
    bob.expect("MODE #quiet alice ");
    bob.send("MSG #quiet silenced");
    assert!(bob.recv().starts_with("ERR 403 #quiet is moderated (+m)"));
}
