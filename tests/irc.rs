//! IRC on the chat port, against the real binary: registration, channels
//! shared with line-protocol and browser (WebSocket) users both ways,
//! private messages, held mail at registration, a room's history and
//! catch-up, errors in IRC's numerics, and `--no-irc`.

mod common;

use common::irc_client::Irc;
use common::TestServer;

fn server(args: &[&str]) -> TestServer {
    let mut all = vec!["--server-name", "evchat-test"];
    all.extend_from_slice(args);
    TestServer::start(&all)
}

#[test]
fn registration_welcomes_and_puts_the_user_in_the_everyone_channel() {
    let server = server(&[]);
    let _bob = server.login("bob");
    let (_alice, lines) = Irc::register(&server, "alice", false);
    let codes: Vec<&str> = lines.iter().filter_map(|l| l.split(' ').nth(1)).collect();
    assert_eq!(
        codes,
        ["CAP", "001", "002", "003", "004", "005", "422", "JOIN", "353", "366"],
        "{lines:#?}"
    );
    assert_eq!(lines[1], ":evchat-test 001 alice :Welcome to evchat, alice");
    assert!(lines[5].contains(" CASEMAPPING=ascii "), "{}", lines[5]);
    assert_eq!(lines[7], ":alice!alice@evchat JOIN #everyone");
    assert_eq!(lines[8], ":evchat-test 353 alice = #everyone :alice bob");
    // A nick in use is 433, and another nick then registers.
    let mut again = Irc::connect(&server);
    again.send("NICK bob");
    again.send("USER bob 0 * :b");
    assert_eq!(
        again.recv(),
        ":evchat-test 433 * bob :Nickname is already in use"
    );
    again.send("NICK bob2");
    let welcome = again.until(|l| l.contains(" 366 "));
    assert_eq!(welcome[0], ":evchat-test 001 bob2 :Welcome to evchat, bob2");
}

#[test]
fn irc_line_and_browser_users_talk_in_one_room_both_ways() {
    let server = server(&[]);
    let (mut alice, _) = Irc::register(&server, "alice", false);
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    alice.send("JOIN #rust");
    let joined = alice.until(|l| l.contains(" 366 alice #rust "));
    assert_eq!(
        joined,
        [
            ":bob!bob@evchat JOIN #everyone",
            ":alice!alice@evchat JOIN #rust",
            ":evchat-test 353 alice = #rust :alice @bob",
            ":evchat-test 366 alice #rust :End of /NAMES list",
        ]
    );
    assert!(bob.recv().starts_with("JOIN alice #rust "));
    // IRC to line: a channel message, a private one, one to everyone.
    alice.send("PRIVMSG #rust :hello \\ rust");
    alice.send("PRIVMSG bob :just you");
    alice.send("PRIVMSG #everyone :all of you");
    let got: Vec<String> = (0..3).map(|_| bob.recv()).collect();
    // The text is escaped as the line protocol escapes it.
    assert!(got[0].starts_with("MSG alice #rust "), "{}", got[0]);
    assert!(got[0].ends_with(r" hello \\ rust"), "{}", got[0]);
    assert!(got[1].starts_with("MSG alice bob ") && got[1].ends_with(" just you"));
    assert!(got[2].starts_with("SAY alice ") && got[2].ends_with(" all of you"));
    // Line to IRC: a message with a line break is one PRIVMSG per line.
    bob.send("MSG #rust two\\nlines");
    bob.send("MSG alice psst");
    bob.send("SAY everyone");
    // Two sockets are read in whatever order: bob's lines are taken first.
    bob.sync();
    let got = alice.sync();
    assert_eq!(
        got,
        [
            ":bob!bob@evchat PRIVMSG #rust :two",
            ":bob!bob@evchat PRIVMSG #rust :lines",
            ":bob!bob@evchat PRIVMSG alice :psst",
            ":bob!bob@evchat PRIVMSG #everyone :everyone",
        ]
    );
    // Leaving: PART in the room, QUIT when bob goes.
    alice.send("PART #rust :later");
    assert!(bob.recv().starts_with("PART alice #rust "));
    bob.send("QUIT bye all");
    bob.until_closed();
    assert_eq!(
        alice.sync(),
        [
            ":alice!alice@evchat PART #rust :later",
            ":bob!bob@evchat QUIT :bye all"
        ]
    );
}

#[test]
fn a_browser_user_and_an_irc_user_share_a_room() {
    let server = server(&[]);
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("JOIN #web");
    alice.until(|l| l.contains(" 366 alice #web "));
    let mut carol = common::ws::Ws::connect(server.addr, None).expect("WebSocket");
    carol.send("LOGIN carol");
    assert_eq!(carol.recv(), "OK LOGIN carol");
    carol.send("JOIN #web");
    assert!(carol.recv().starts_with("JOIN carol #web "));
    carol.send("MSG #web from the page");
    carol.send("PING c");
    assert_eq!(carol.recv(), "PONG c");
    alice.send("PRIVMSG #web :from irc");
    let seen = carol.recv();
    assert!(
        seen.starts_with("MSG alice #web ") && seen.ends_with(" from irc"),
        "{seen}"
    );
    let got = alice.sync();
    assert_eq!(
        got,
        [
            ":carol!carol@evchat JOIN #everyone",
            ":carol!carol@evchat JOIN #web",
            ":carol!carol@evchat PRIVMSG #web :from the page",
        ]
    );
}

#[test]
fn held_mail_and_a_rooms_history_come_at_registration_with_their_times() {
    let server = server(&[]);
    Irc::member_away(&server, "alice", "#rust");
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    bob.send("MSG alice held for you");
    bob.send("MSG #rust said while away");
    bob.sync();
    let (mut alice, lines) = Irc::register(&server, "alice", true);
    let rest = alice.sync();
    let all: Vec<&String> = lines.iter().chain(rest.iter()).collect();
    let find = |what: &str| {
        all.iter()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in {all:#?}"))
    };
    let held = find("PRIVMSG alice :held for you");
    assert!(held.starts_with("@time=20"), "{held}");
    find(":alice!alice@evchat JOIN #rust");
    // The channel's names follow its JOIN, as after a JOIN of one's own.
    find(":evchat-test 353 alice = #rust :@alice bob");
    find(":evchat-test 366 alice #rust :End of /NAMES list");
    let said = find("PRIVMSG #rust :said while away");
    assert!(said.starts_with("@time=20"), "{said}");
}

#[test]
fn errors_are_irc_numerics_and_the_connection_goes_on() {
    let server = server(&[]);
    let mut early = Irc::connect(&server);
    early.send("NICK early");
    early.send("JOIN #x");
    assert_eq!(
        early.recv(),
        ":evchat-test 451 early :You have not registered"
    );
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("PRIVMSG nobody :x");
    alice.send("PRIVMSG #closed :x");
    alice.send("PART #closed");
    alice.send("NOTICE nobody :never answered");
    alice.send("KNOCK #x");
    alice.send("PRIVMSG alice");
    alice.send("JOIN bad");
    alice.send("NICK alice2");
    alice.send("JOIN 0");
    alice.send_raw(b"PRIVMSG alice :\xff\xfe\r\n");
    assert_eq!(
        alice.sync(),
        [
            ":evchat-test 401 alice nobody :No such nick/channel",
            ":evchat-test 404 alice #closed :Cannot send to channel",
            ":evchat-test 442 alice #closed :You're not on that channel",
            ":evchat-test 421 alice KNOCK :Unknown command",
            ":evchat-test 412 alice :No text to send",
            ":evchat-test 403 alice bad :No such channel: channels are # and 1-32 of A-Z a-z 0-9 _ -",
            ":alice!alice@evchat NICK :alice2",
            ":evchat-test NOTICE alice :Your line was not valid UTF-8; it was not sent",
        ]
    );
}

#[test]
fn no_irc_leaves_those_first_lines_to_the_line_protocol() {
    let server = server(&["--no-irc"]);
    let mut c = server.connect();
    c.send("NICK alice");
    // The line protocol's NICK, which needs a login first.
    c.expect("ERR 401 log in first");
    // Line-protocol first lines are decided as before.
    let served = TestServer::start(&[]);
    let mut line = served.connect();
    line.send("PING x");
    line.expect("PONG x");
}

#[test]
fn a_members_login_and_logout_are_seen_in_each_shared_channel() {
    let server = server(&[]);
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    bob.send("QUIT");
    bob.until_closed();
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("JOIN #rust");
    alice.until(|l| l.contains(" 366 alice #rust "));
    let mut bob = server.login("bob");
    bob.sync();
    let seen = alice.sync();
    assert_eq!(
        seen,
        [
            ":bob!bob@evchat JOIN #rust",
            ":bob!bob@evchat JOIN #everyone",
        ]
    );
    bob.send("QUIT gone");
    bob.until_closed();
    assert_eq!(alice.sync(), [":bob!bob@evchat QUIT :gone"]);
}

#[test]
fn ison_userhost_and_whois_tell_who_is_online() {
    let server = server(&[]);
    let _bob = server.login("bob");
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("ISON bob carol alice BOB");
    alice.send("USERHOST bob carol");
    alice.send("WHOIS bob");
    alice.send("WHOIS carol");
    alice.send("WHO b*");
    alice.send("WHO *");
    alice.send("ISON");
    assert_eq!(
        alice.sync(),
        [
            ":evchat-test 303 alice :bob alice",
            ":evchat-test 302 alice :bob=+bob@evchat",
            ":evchat-test 311 alice bob bob evchat * :bob",
            ":evchat-test 312 alice bob evchat-test :evchat",
            ":evchat-test 318 alice bob :End of /WHOIS list",
            ":evchat-test 401 alice carol :No such nick/channel",
            ":evchat-test 318 alice carol :End of /WHOIS list",
            ":evchat-test 352 alice * bob evchat evchat-test bob H :0 bob",
            ":evchat-test 315 alice b* :End of /WHO list",
            ":evchat-test 352 alice #everyone alice evchat evchat-test alice H :0 alice",
            ":evchat-test 352 alice #everyone bob evchat evchat-test bob H :0 bob",
            ":evchat-test 315 alice #everyone :End of /WHO list",
            ":evchat-test 461 alice ISON :Not enough parameters",
        ]
    );
}

/// A server with accounts for `accounts` (name, password).
fn server_with_accounts(accounts: &[(&str, &str)]) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let users = common::users_file(dir.path(), accounts);
    let server = server(&["--users", users.to_str().unwrap()]);
    (server, dir)
}

#[test]
fn with_accounts_pass_is_the_password_and_a_new_login_replaces_the_old() {
    let (server, _dir) = server_with_accounts(&[("alice", "secret word")]);
    // Wrong, then none: 464 each time, and the connection closes, as IRC
    // servers close it (a client cannot register again on it).
    let mut wrong = Irc::connect(&server);
    wrong.send("PASS :not it");
    wrong.send("NICK alice");
    wrong.send("USER alice 0 * :a");
    assert_eq!(wrong.recv(), ":evchat-test 464 * :wrong name or password");
    assert_eq!(wrong.recv(), "ERROR :Closing link");
    let mut none = Irc::connect(&server);
    none.send("NICK alice");
    none.send("USER alice 0 * :a");
    let refused = none.recv();
    assert!(
        refused.starts_with(":evchat-test 464 * :Password required"),
        "{refused}"
    );
    assert_eq!(none.recv(), "ERROR :Closing link");
    // Right: registered; a line login with the password replaces it.
    let mut first = Irc::connect(&server);
    first.send("PASS :secret word");
    first.send("NICK alice");
    first.send("USER alice 0 * :a");
    first.until(|l| l.contains(" 001 alice "));
    let mut line = server.connect();
    line.send("LOGIN alice secret word");
    line.expect("OK LOGIN alice");
    let last = first.until(|l| l.starts_with("ERROR "));
    assert!(
        last.iter()
            .any(|l| l.contains(" NOTICE * :replaced by a new login as alice")),
        "{last:#?}"
    );
}

#[test]
fn away_is_told_to_whoever_messages_an_away_user_on_either_side() {
    let server = server(&[]);
    let mut bob = server.login("bob");
    let (mut alice, _) = Irc::register(&server, "alice", false);
    bob.expect("JOINED alice ");
    alice.send("AWAY :at lunch, back at 2");
    assert_eq!(
        alice.recv(),
        ":evchat-test 306 alice :You have been marked as being away"
    );
    // A line user messaging her gets the message through, then AWAY.
    bob.send("MSG ALICE are you there?");
    assert!(bob.recv().starts_with("AWAY alice "));
    // Hers as IRC: 301 after a PRIVMSG, nothing after a NOTICE.
    bob.send("AWAY gone fishing");
    let answer = bob.recv();
    assert!(answer.starts_with("AWAY bob "), "{answer}");
    assert!(answer.ends_with(" gone fishing"), "{answer}");
    alice.send("NOTICE bob :quiet");
    alice.send("PRIVMSG bob :hello?");
    let got = alice.sync();
    assert_eq!(
        got,
        [
            ":bob!bob@evchat PRIVMSG alice :are you there?",
            ":evchat-test 301 alice bob :gone fishing",
        ],
    );
    assert!(bob.expect("MSG alice bob ").ends_with(" quiet"));
    assert!(bob.expect("MSG alice bob ").ends_with(" hello?"));
    // Back: 305, and nobody is told any more.
    alice.send("AWAY");
    assert_eq!(
        alice.recv(),
        ":evchat-test 305 alice :You are no longer marked as being away"
    );
    bob.send("AWAY");
    assert!(bob.recv().starts_with("AWAY bob "));
    alice.send("PRIVMSG bob :back");
    assert!(alice.sync().is_empty());
    bob.send("MSG alice welcome back");
    let got = bob.sync();
    assert!(got.iter().all(|l| !l.starts_with("AWAY")), "{got:?}");
}

#[test]
fn a_nick_is_in_use_in_any_case() {
    let server = server(&[]);
    let mut bob = server.login("bob");
    let mut again = Irc::connect(&server);
    again.send("NICK Bob");
    again.send("USER Bob 0 * :b");
    assert_eq!(
        again.recv(),
        ":evchat-test 433 * Bob :Nickname is already in use"
    );
    again.send("NICK BOB2");
    let welcome = again.until(|l| l.contains(" 366 "));
    assert_eq!(welcome[0], ":evchat-test 001 BOB2 :Welcome to evchat, BOB2");
    // A message to any spelling reaches the one user, shown as spelt.
    again.send("PRIVMSG BOB :hi");
    bob.expect("JOINED BOB2 ");
    assert!(bob.expect("MSG ").starts_with("MSG BOB2 bob "));
}

#[test]
fn whois_and_whowas_tell_channels_away_and_who_was_here() {
    let server = server(&[]);
    let mut carol = server.login("carol");
    carol.send("QUIT");
    carol.expect("BYE");
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    bob.send("JOIN #go");
    bob.expect("JOIN bob #go ");
    bob.send("AWAY in a meeting");
    bob.expect("AWAY bob ");
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("WHOIS BOB");
    alice.send("WHOIS carol,nobody,no!pe");
    alice.send("WHOWAS carol");
    alice.send("WHOWAS Bob");
    alice.send("WHOWAS nobody");
    assert_eq!(
        alice.sync(),
        [
            ":evchat-test 311 alice bob bob evchat * :bob",
            ":evchat-test 319 alice bob :#rust #go",
            ":evchat-test 312 alice bob evchat-test :evchat",
            ":evchat-test 301 alice bob :in a meeting",
            ":evchat-test 318 alice bob :End of /WHOIS list",
            ":evchat-test 401 alice no!pe :No such nick/channel",
            ":evchat-test 318 alice no!pe :End of /WHOIS list",
            ":evchat-test 401 alice carol :No such nick/channel",
            ":evchat-test 318 alice carol :End of /WHOIS list",
            ":evchat-test 401 alice nobody :No such nick/channel",
            ":evchat-test 318 alice nobody :End of /WHOIS list",
            ":evchat-test 314 alice carol carol evchat * :carol",
            ":evchat-test 312 alice carol evchat-test :known, offline",
            ":evchat-test 369 alice carol :End of WHOWAS",
            ":evchat-test 314 alice bob bob evchat * :bob",
            ":evchat-test 312 alice bob evchat-test :online now",
            ":evchat-test 369 alice bob :End of WHOWAS",
            ":evchat-test 406 alice nobody :There was no such nickname",
            ":evchat-test 369 alice nobody :End of WHOWAS",
        ]
    );
}

#[test]
fn list_tells_every_room_and_its_members() {
    let server = server(&[]);
    let mut bob = server.login("bob");
    for room in ["#Rust", "#go"] {
        bob.send(&format!("JOIN {room}"));
        bob.expect(&format!("JOIN bob {room} "));
    }
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("JOIN #rust");
    alice.until(|l| l.contains(" 366 alice #Rust "));
    alice.send("LIST");
    alice.send("LIST #GO,#nope");
    assert_eq!(
        alice.sync(),
        [
            ":evchat-test 321 alice Channel :Users  Name",
            ":evchat-test 322 alice #Rust 2 :",
            ":evchat-test 322 alice #go 1 :",
            ":evchat-test 323 alice :End of /LIST",
            ":evchat-test 321 alice Channel :Users  Name",
            ":evchat-test 322 alice #go 1 :",
            ":evchat-test 323 alice :End of /LIST",
        ]
    );
    // ELIST's filters: masks, their negations, member counts.
    for (filter, listed) in [
        ("#r*", "#Rust"),
        ("!#r*", "#go"),
        (">1", "#Rust"),
        ("<2", "#go"),
    ] {
        alice.send(&format!("LIST {filter}"));
        let got = alice.sync();
        assert_eq!(got.len(), 3, "{filter}: {got:#?}");
        assert!(
            got[1].contains(&format!(" {listed} ")),
            "{filter}: {got:#?}"
        );
    }
    // The line protocol's own.
    bob.send("LIST");
    let got = bob.sync();
    assert_eq!(got.last().unwrap(), "LIST #Rust 2 #go 1", "{got:?}");
}

#[test]
fn mode_queries_lusers_and_a_join_of_the_everyone_channel_say_what_clients_expect() {
    let server = server(&[]);
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("MODE alice");
    alice.send("MODE #rust");
    // Always in the everyone channel: rejoining it (as a client does
    // after a reconnect) is answered by nothing.
    alice.send("JOIN #everyone");
    alice.send("LUSERS");
    assert_eq!(
        alice.sync(),
        [
            ":evchat-test 221 alice +",
            ":evchat-test 324 alice #rust +nt",
            ":evchat-test 251 alice :There are 2 users and 0 invisible on 1 servers",
            ":evchat-test 254 alice 2 :channels formed",
            ":evchat-test 255 alice :I have 2 clients and 0 servers",
        ]
    );
}

#[test]
fn echo_message_gives_a_sender_what_was_accepted_once() {
    let server = server(&[]);
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    let mut alice = Irc::connect(&server);
    alice.send("CAP LS 302");
    alice.send("NICK alice");
    alice.send("USER alice 0 * :alice");
    alice.send("CAP REQ :echo-message");
    alice.send("CAP END");
    alice.until(|l| l.contains(" 366 alice #everyone "));
    alice.send("JOIN #rust");
    alice.until(|l| l.contains(" 366 alice #rust "));
    alice.send("PRIVMSG bob :to you");
    alice.send("PRIVMSG #rust :to the room");
    alice.send("PRIVMSG #everyone :to all");
    alice.send("PRIVMSG nobody :lost");
    alice.send("PRIVMSG alice,bob :both");
    alice.send("PRIVMSG #rust,bob :room and bob");
    assert_eq!(
        alice.sync(),
        [
            ":alice!alice@evchat PRIVMSG bob :to you",
            ":alice!alice@evchat PRIVMSG #rust :to the room",
            ":alice!alice@evchat PRIVMSG #everyone :to all",
            ":evchat-test 401 alice nobody :No such nick/channel",
            ":alice!alice@evchat PRIVMSG alice,bob :both",
            ":alice!alice@evchat PRIVMSG #rust :room and bob",
        ]
    );
    // Without the capability, nothing comes back.
    let (mut carol, _) = Irc::register(&server, "carol", false);
    carol.send("PRIVMSG bob :quiet");
    assert!(carol.sync().is_empty());
}

#[test]
fn sasl_plain_checks_the_password_before_registration_ends() {
    let (server, _dir) = server_with_accounts(&[("alice", "secret word")]);
    let mut irc = Irc::connect(&server);
    irc.send("CAP LS 302");
    irc.send("NICK someone");
    irc.send("USER someone 0 * :a");
    irc.send("CAP REQ :sasl");
    irc.until(|l| l.contains(" ACK "));
    // Another mechanism, then PLAIN with a wrong password.
    irc.send("AUTHENTICATE EXTERNAL");
    irc.send("AUTHENTICATE PLAIN");
    irc.send("AUTHENTICATE AGFsaWNlAG5vdCBpdA=="); // "\0alice\0not it"
    assert_eq!(
        [irc.recv(), irc.recv(), irc.recv(), irc.recv()],
        [
            ":evchat-test 908 someone PLAIN :are available SASL mechanisms",
            ":evchat-test 904 someone :SASL authentication failed",
            "AUTHENTICATE +",
            ":evchat-test 904 * :SASL authentication failed",
        ]
    );
    // Nothing under way to abort: 906 all the same.
    irc.send("AUTHENTICATE *");
    assert_eq!(
        irc.recv(),
        ":evchat-test 906 someone :SASL authentication aborted"
    );
    // Right: 900 and 903 before CAP END; then the account is registered.
    irc.send("AUTHENTICATE PLAIN");
    irc.send("AUTHENTICATE AEFMSUNFAHNlY3JldCB3b3Jk"); // "\0ALICE\0secret word"
    assert_eq!(
        [irc.recv(), irc.recv(), irc.recv()],
        [
            "AUTHENTICATE +",
            ":evchat-test 900 * alice!alice@evchat alice :You are now logged in as alice",
            ":evchat-test 903 * :SASL authentication successful",
        ]
    );
    irc.send("CAP END");
    let welcome = irc.until(|l| l.contains(" 366 "));
    assert_eq!(
        welcome[0],
        ":evchat-test 001 alice :Welcome to evchat, alice"
    );
    irc.send("AUTHENTICATE PLAIN");
    assert_eq!(
        irc.recv(),
        ":evchat-test 907 alice :You have already authenticated"
    );
    // The line protocol's own: AUTH proves, LOGIN needs no password then.
    let mut line = server.connect();
    line.send("LOGIN alice");
    line.expect("ERR 401 ");
    line.send("AUTH alice secret word");
    line.expect("OK AUTH alice");
    line.send("LOGIN Alice");
    line.expect("OK LOGIN alice");
}

#[test]
fn a_pass_beside_a_successful_sasl_changes_nothing() {
    let (server, _dir) = server_with_accounts(&[("alice", "secret word")]);
    let mut irc = Irc::connect(&server);
    irc.send("CAP LS 302");
    irc.send("PASS :a bouncer's password");
    irc.send("NICK alice");
    irc.send("USER alice 0 * :a");
    irc.send("CAP REQ :sasl");
    irc.send("AUTHENTICATE PLAIN");
    irc.send("AUTHENTICATE AGFsaWNlAHNlY3JldCB3b3Jk"); // "\0alice\0secret word"
    irc.until(|l| l.contains(" 903 "));
    irc.send("CAP END");
    let welcome = irc.until(|l| l.contains(" 366 "));
    assert!(
        welcome
            .iter()
            .any(|l| l == ":evchat-test 001 alice :Welcome to evchat, alice"),
        "{welcome:#?}"
    );
}

#[test]
fn away_notify_tells_who_asked_when_anyone_goes_away_or_comes_back() {
    let server = server(&[]);
    let mut alice = Irc::connect(&server);
    alice.send("CAP LS 302");
    alice.send("NICK alice");
    alice.send("USER alice 0 * :alice");
    alice.send("CAP REQ :away-notify");
    alice.send("CAP END");
    alice.until(|l| l.contains(" 366 alice #everyone "));
    let (mut carol, _) = Irc::register(&server, "carol", false);
    alice.until(|l| l.contains("JOIN #everyone"));
    let mut bob = server.login("bob");
    alice.until(|l| l.starts_with(":bob!bob@evchat JOIN"));
    bob.send("AWAY gone\\nfishing");
    bob.expect("AWAY bob ");
    bob.send("AWAY");
    bob.expect("AWAY bob ");
    assert_eq!(
        alice.sync(),
        [":bob!bob@evchat AWAY :gone fishing", ":bob!bob@evchat AWAY",]
    );
    // Without the capability: nothing.
    carol.sync();
    bob.send("AWAY again");
    bob.expect("AWAY bob ");
    let got = carol.sync();
    assert!(got.iter().all(|l| !l.contains(" AWAY")), "{got:?}");
}
