//! `/nick` on a server without accounts, against the real binary: an IRC
//! user renamed is one `NICK` to IRC peers and `LEFT … renamed to` then
//! `JOINED` to line users; its channels and operator status go with it,
//! through a restart; a nick in use is 433.

mod common;

use common::irc_client::Irc;
use common::TestServer;

#[test]
fn a_nick_change_moves_channels_and_operator_status_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_owned();
    let args = ["--server-name", "evchat-test", "--data-dir", &path];
    let mut server = TestServer::start(&args);
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("JOIN #r");
    alice.until(|l| l.contains(" 366 alice #r "));
    let (mut carol, _) = Irc::register(&server, "carol", false);
    carol.send("JOIN #r");
    carol.until(|l| l.contains(" 366 carol #r "));
    let mut bob = server.login("bob");
    bob.send("JOIN #r");
    bob.expect("JOIN bob #r ");
    alice.sync();
    carol.sync();
    alice.send("PRIVMSG #r :before the rename");
    bob.expect("MSG alice #r ");
    carol.until(|l| l.ends_with(":before the rename"));
    alice.send("NICK bob");
    assert_eq!(
        alice.recv(),
        ":evchat-test 433 alice bob :Nickname is already in use"
    );
    alice.send("NICK Alicia");
    assert_eq!(alice.recv(), ":alice!alice@evchat NICK :Alicia");
    assert_eq!(carol.recv(), ":alice!alice@evchat NICK :Alicia");
    assert!(bob.expect("LEFT alice ").ends_with(" renamed to Alicia"));
    bob.expect("JOINED Alicia ");
    alice.send("PRIVMSG #r :still me");
    assert!(bob.expect("MSG Alicia #r ").ends_with(" still me"));
    alice.send("WHO #r");
    let who = alice.until(|l| l.contains(" 315 "));
    assert!(who.iter().any(|l| l.contains(" Alicia H@ ")), "{who:#?}");
    // The journal has it: after a kill -9, Alicia is the room's operator.
    alice.sync();
    server.kill();
    let server = TestServer::start(&args);
    let mut back = server.login("Alicia");
    back.send("WHO #r");
    let got = back.sync();
    assert!(got[0].starts_with("JOIN Alicia #r "), "{got:?}");
    assert!(got.contains(&"USERS #r @Alicia".to_owned()), "{got:?}");
    back.send("MODE #r +m");
    assert!(back.expect("MODE #r Alicia ").ends_with(" +m"));
    // The room's history is whole, and Alicia still its longest member:
    // a newcomer gets it, and Alicia's leaving makes carol operator.
    let mut dan = server.login("dan");
    dan.send("JOIN #r");
    let got = dan.sync();
    assert!(
        got.iter()
            .any(|l| l.starts_with("MSG alice #r ") && l.ends_with(" before the rename")),
        "{got:?}"
    );
    back.send("PART #r");
    let got = dan.sync();
    assert!(
        got.iter()
            .any(|l| l.starts_with("MODE #r * ") && l.ends_with(" +o carol")),
        "{got:?}"
    );
    drop(dir);
}
