//! IRC users in a cluster are users like any other: a channel is one room
//! across nodes, private messages and WHOIS reach users on other nodes.
//! Real nats-server and evchat-server processes; skipped without
//! nats-server, except under CI.

mod common;

use common::cluster::node;
use common::irc_client::Irc;
use common::nats::{nats_server_available, NatsCluster};

/// The server name every node here gives in its numerics.
const NAMED: [&str; 2] = ["--server-name", "evchat-test"];

/// Two nodes over one NATS server, named `evchat-test`: bob, a line user on
/// node b, made `#rust`; alice, an IRC user on node a, has joined it.
struct Rust {
    nats: NatsCluster,
    a: common::TestServer,
    b: common::TestServer,
    bob: common::Line,
    alice: Irc,
    /// What alice was sent up to the end of `#rust`'s names.
    joined: Vec<String>,
}

/// [`Rust`], or `None` without nats-server (outside CI).
fn rust_on_two_nodes() -> Option<Rust> {
    if !nats_server_available() {
        return None;
    }
    let nats = NatsCluster::start(1);
    let a = node(&nats.urls(), "a", &NAMED);
    let b = node(&nats.urls(), "b", &NAMED);
    let mut bob = b.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    let (mut alice, _) = Irc::register(&a, "alice", false);
    alice.send("JOIN #rust");
    let joined = alice.until(|l| l.contains(" 366 alice #rust "));
    bob.until("JOIN alice #rust ");
    Some(Rust {
        nats,
        a,
        b,
        bob,
        alice,
        joined,
    })
}

#[test]
fn an_irc_user_on_one_node_talks_with_a_line_user_on_another() {
    let Some(Rust {
        nats: _nats,
        a: _a,
        b,
        mut bob,
        mut alice,
        joined,
    }) = rust_on_two_nodes()
    else {
        return;
    };
    assert!(
        joined.contains(&":evchat-test 353 alice = #rust :alice @bob".to_owned()),
        "{joined:#?}"
    );
    // Both ways, in the channel and privately.
    alice.send("PRIVMSG #rust :from irc on a");
    alice.send("PRIVMSG bob :privately");
    let msg = bob.until("MSG alice #rust ");
    assert!(msg.ends_with(" from irc on a"), "{msg}");
    let msg = bob.until("MSG alice bob ");
    assert!(msg.ends_with(" privately"), "{msg}");
    bob.send("MSG #rust from lines on b");
    bob.send("MSG alice back to you");
    let got = alice.until(|l| l.ends_with(":back to you"));
    assert!(
        got.contains(&":bob!bob@evchat PRIVMSG #rust :from lines on b".to_owned()),
        "{got:#?}"
    );
    // WHOIS (with the channels) and ISON know the users of other nodes.
    alice.send("ISON bob nobody");
    alice.send("WHOIS bob");
    let answers = alice.until(|l| l.contains(" 318 "));
    assert_eq!(
        answers,
        [
            ":evchat-test 303 alice :bob",
            ":evchat-test 311 alice bob bob evchat * :bob",
            ":evchat-test 319 alice bob :#rust",
            ":evchat-test 312 alice bob evchat-test :evchat",
            ":evchat-test 318 alice bob :End of /WHOIS list",
        ]
    );
    // A member's login on the other node is a JOIN in each channel shared
    // with it, as a login on this node is.
    let mut carol = b.login("carol");
    carol.send("JOIN #rust");
    carol.until("JOIN carol #rust ");
    alice.until(|l| l == ":carol!carol@evchat JOIN #rust");
    carol.send("QUIT");
    carol.until_closed();
    alice.until(|l| l.starts_with(":carol!carol@evchat QUIT"));
    let _carol = b.login("carol");
    let seen = alice.until(|l| l == ":carol!carol@evchat JOIN #rust");
    assert!(
        seen.contains(&":carol!carol@evchat JOIN #everyone".to_owned()),
        "{seen:#?}"
    );
    // Bob's leaving is a QUIT.
    bob.send("QUIT see you");
    bob.until_closed();
    alice.until(|l| l == ":bob!bob@evchat QUIT :see you");
}

/// Every line up to and including one starting with `prefix`.
fn lines_until(line: &mut common::Line, prefix: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let got = line.recv();
        let done = got.starts_with(prefix);
        seen.push(got);
        if done {
            return seen;
        }
    }
}

#[test]
fn a_nick_on_one_node_moves_its_channels_on_every_node_in_place() {
    let Some(Rust {
        nats,
        a: _a,
        b,
        mut bob,
        mut alice,
        ..
    }) = rust_on_two_nodes()
    else {
        return;
    };
    let (mut carol, _) = Irc::register(&b, "carol", false);
    carol.send("JOIN #rust");
    carol.until(|l| l.contains(" 366 carol #rust "));
    bob.send("MODE #rust +o alice");
    alice.until(|l| l.ends_with("MODE #rust +o alice"));
    // A taken nick is refused across nodes.
    alice.send("NICK Bob");
    alice.until(|l| l.contains(" 433 alice Bob "));
    alice.send("NICK ann");
    alice.until(|l| l == ":alice!alice@evchat NICK :ann");
    alice.send("PRIVMSG #rust :as ann");
    // Line users see the pair, then the message: no PART, no JOIN.
    let seen = lines_until(&mut bob, "MSG ann #rust ");
    let about: Vec<&String> = seen
        .iter()
        .skip_while(|l| !l.starts_with("LEFT alice "))
        .collect();
    let told: Vec<&str> = about.iter().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(told, ["LEFT", "JOINED", "MSG"], "{seen:#?}");
    assert!(about[0].ends_with(" renamed to ann"), "{seen:#?}");
    // An IRC user on the other node sees one NICK, no JOIN.
    let got = carol.until(|l| l.ends_with(":as ann"));
    let about: Vec<&String> = got.iter().filter(|l| l.contains("ann")).collect();
    assert_eq!(
        about,
        [
            ":alice!alice@evchat NICK :ann",
            ":ann!ann@evchat PRIVMSG #rust :as ann"
        ],
        "{got:#?}"
    );
    bob.send("WHO #rust");
    assert_eq!(bob.until("USERS #rust"), "USERS #rust @ann @bob carol");
    // A node started now replays the bucket: the same room, ann in
    // alice's place, an operator still.
    let c = node(&nats.urls(), "c", &NAMED);
    let mut dave = c.login("dave");
    dave.send("JOIN #rust");
    dave.send("WHO #rust");
    assert_eq!(
        dave.until("USERS #rust"),
        "USERS #rust @ann @bob carol dave"
    );
    // The old name is free, and in no room.
    let mut again = c.login("alice");
    again.send("WHO #rust");
    assert_eq!(again.until("ERR "), "ERR 403 not in #rust");
}
