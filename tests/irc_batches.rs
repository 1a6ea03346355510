//! IRCv3 batches against the real binary: held mail and a room's history
//! in `chathistory` batches for a client that negotiated `batch`.

mod common;

use common::irc_client::Irc;
use common::TestServer;

fn server() -> TestServer {
    TestServer::start(&["--server-name", "evchat-test"])
}

/// The reference of a `BATCH +<ref> <type> <target>` line.
fn opened<'a>(line: &'a str, kind_and_target: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(":evchat-test BATCH +")?;
    let (reference, what) = rest.split_once(' ')?;
    (what == kind_and_target).then_some(reference)
}

#[test]
fn held_mail_and_history_come_in_chathistory_batches_to_who_asked() {
    let server = server();
    for name in ["alice", "plain"] {
        Irc::member_away(&server, name, "#rust");
    }
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    bob.send("MSG alice,plain first\\nsecond");
    bob.send("MSG #rust said while away");
    bob.sync();
    let (mut alice, mut lines) = Irc::register_with(&server, "alice", "batch server-time");
    lines.extend(alice.sync());
    let at = |what: &str| {
        lines
            .iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in {lines:#?}"))
    };
    // With server-time, the login's JOIN has its time too.
    let everyone = at(":alice!alice@evchat JOIN #everyone");
    assert!(
        lines[everyone].starts_with("@time=20"),
        "{}",
        lines[everyone]
    );
    // Mail from bob: one batch whose target is bob, both lines in it.
    let start = at(" BATCH +");
    let mail = opened(&lines[start], "chathistory bob").expect("a batch for bob's mail");
    let tag = format!("@batch={mail};time=20");
    assert!(lines[start + 1].starts_with(&tag), "{lines:#?}");
    assert!(lines[start + 1].ends_with(" PRIVMSG alice,plain :first"));
    assert!(lines[start + 2].starts_with(&tag));
    assert!(lines[start + 2].ends_with(" PRIVMSG alice,plain :second"));
    assert_eq!(lines[start + 3], format!(":evchat-test BATCH -{mail}"));
    // The channel's JOIN and names stay outside; its history has a batch.
    let join = at(":alice!alice@evchat JOIN #rust");
    assert!(!lines[join].contains("batch="), "{}", lines[join]);
    let room = at(" chathistory #rust");
    assert!(join < room);
    let history = opened(&lines[room], "chathistory #rust").expect("a batch for #rust");
    assert!(history != mail);
    assert!(lines[room + 1].starts_with(&format!("@batch={history};time=20")));
    assert!(lines[room + 1].ends_with(" PRIVMSG #rust :said while away"));
    assert_eq!(lines[room + 2], format!(":evchat-test BATCH -{history}"));
    let batches = lines.iter().filter(|l| l.contains(" BATCH ")).count();
    assert_eq!(batches, 4, "{lines:#?}");

    // Who did not ask gets the same lines, with no batch.
    let (mut plain, mut lines) = Irc::register(&server, "plain", false);
    lines.extend(plain.sync());
    assert!(lines
        .iter()
        .all(|l| !l.contains("BATCH") && !l.starts_with('@')));
    assert!(lines
        .iter()
        .any(|l| l.ends_with(" PRIVMSG alice,plain :second")));
    assert!(lines
        .iter()
        .any(|l| l.ends_with(" PRIVMSG #rust :said while away")));
}

/// The lines of a labeled response: `ACK`, or a `labeled-response` batch
/// (its opening line labeled) and the lines tagged with it.
fn response(irc: &mut Irc, label: &str, command: &str) -> Vec<String> {
    irc.send(&format!("@label={label} {command}"));
    labeled(irc, label)
}

/// The response labeled `label`, read: its lines without their tags.
fn labeled(irc: &mut Irc, label: &str) -> Vec<String> {
    let first = irc.recv();
    if first == format!("@label={label} :evchat-test ACK") {
        return Vec::new();
    }
    let head = format!("@label={label} :evchat-test BATCH +");
    let reference = first
        .strip_prefix(&head)
        .and_then(|r| r.strip_suffix(" labeled-response"))
        .unwrap_or_else(|| panic!("not a labeled response: {first}"))
        .to_owned();
    let end = format!(":evchat-test BATCH -{reference}");
    let mut lines = irc.until(|l| l == end);
    lines.pop();
    let tag = format!("@batch={reference}");
    lines
        .iter()
        .map(|l| {
            // A line of an inner batch carries that batch's tag alone.
            let Some(rest) = l.strip_prefix(&tag) else {
                assert!(l.starts_with("@batch="), "{l}");
                return l.clone();
            };
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            rest.to_owned()
        })
        .collect()
}

#[test]
fn a_labeled_command_gets_its_response_in_one_labeled_batch_or_an_ack() {
    let server = server();
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    let caps = "batch labeled-response echo-message draft/multiline";
    let (mut alice, _) = Irc::register_with(&server, "alice", caps);
    assert_eq!(
        response(&mut alice, "w1", "WHOIS bob"),
        [
            ":evchat-test 311 alice bob bob evchat * :bob",
            ":evchat-test 319 alice bob :#rust",
            ":evchat-test 312 alice bob evchat-test :evchat",
            ":evchat-test 318 alice bob :End of /WHOIS list",
        ]
    );
    // Answered by the IRC side itself, and a numeric for an error.
    assert_eq!(
        response(&mut alice, "m", "MOTD"),
        [":evchat-test 422 alice :MOTD File is missing"]
    );
    assert_eq!(
        response(&mut alice, "n1", "PRIVMSG nobody :hi"),
        [":evchat-test 401 alice nobody :No such nick/channel"]
    );
    // A JOIN's response is the JOIN and the names.
    let joined = response(&mut alice, "j", "JOIN #rust");
    assert_eq!(joined[0], ":alice!alice@evchat JOIN #rust");
    assert!(joined.last().unwrap().contains(" 366 alice #rust "));
    // With echo-message, a message's response is its echo.
    assert_eq!(
        response(&mut alice, "e", "PRIVMSG #rust :hello"),
        [":alice!alice@evchat PRIVMSG #rust :hello"]
    );
    bob.until("MSG alice #rust ");
    // A multiline message is labeled on its opening line, and its
    // response (its echo, a multiline batch in the labeled one) comes when
    // its closing line sends it.
    alice.send("@label=ml BATCH +m1 draft/multiline #rust");
    alice.send("@batch=m1 PRIVMSG #rust :a");
    alice.send("@batch=m1 PRIVMSG #rust :b");
    alice.send("BATCH -m1");
    let echo = labeled(&mut alice, "ml");
    let inner = echo[0]
        .strip_prefix(":alice!alice@evchat BATCH +")
        .and_then(|r| r.strip_suffix(" draft/multiline #rust"))
        .unwrap_or_else(|| panic!("{echo:#?}"));
    assert_eq!(
        echo[1],
        format!("@batch={inner} :alice!alice@evchat PRIVMSG #rust :a")
    );
    assert_eq!(echo[3], format!(":evchat-test BATCH -{inner}"));
    bob.until("MSG alice #rust ");
    // A labeled batch refused on the way is answered, labeled, at its end;
    // one refused at once, at once; one left open by another, by that one.
    alice.send("@label=r1 BATCH +r1 draft/multiline #rust");
    alice.send("@batch=r1 PRIVMSG #elsewhere :x");
    alice.send("BATCH -r1");
    let refused = labeled(&mut alice, "r1");
    assert!(refused[0].contains(" FAIL BATCH MULTILINE_INVALID_TARGET #rust #elsewhere "));
    alice.send("@label=r2 BATCH +r2 draft/other #rust");
    assert!(labeled(&mut alice, "r2")[0].contains(" FAIL BATCH MULTILINE_INVALID "));
    alice.send("@label=n1 BATCH +n1 draft/multiline #rust");
    alice.send("BATCH +n2 draft/multiline #rust");
    assert!(labeled(&mut alice, "n1")[0].contains(":Batch left open"));
    alice.send("BATCH -n2");
    assert!(alice
        .recv()
        .contains(" FAIL BATCH MULTILINE_INVALID :Empty message"));
    // A target with spaces is no target: refused, not echoed.
    alice.send("BATCH +s draft/multiline :a b :c");
    assert_eq!(
        alice.recv(),
        ":evchat-test FAIL BATCH MULTILINE_INVALID :Invalid batch"
    );
    // Only what the command caused is in it: what bob said before comes
    // first, as it is.
    bob.send("MSG #rust before");
    bob.sync();
    alice.send("@label=p PING :x");
    assert_eq!(alice.recv(), ":bob!bob@evchat PRIVMSG #rust :before");
    let batch = alice.recv();
    assert!(
        batch.starts_with("@label=p :evchat-test BATCH +"),
        "{batch}"
    );
    let pong = alice.recv();
    assert!(
        pong.ends_with(" :evchat-test PONG evchat-test :x"),
        "{pong}"
    );
    assert!(alice.recv().starts_with(":evchat-test BATCH -"));

    // Nothing to say: ACK.
    let (mut carol, _) = Irc::register_with(&server, "carol", "batch labeled-response");
    assert!(response(&mut carol, "a1", "PRIVMSG bob :hi").is_empty());
    assert!(response(&mut carol, "a2", "PONG :nothing").is_empty());
    // Tag data past IRCv3's 4094 bytes: 417, and nothing is sent.
    let big = "a".repeat(4095);
    carol.send(&format!("@+x={big} PRIVMSG bob :tagged"));
    assert_eq!(
        carol.recv(),
        ":evchat-test 417 carol :Input line was too long"
    );
    // A QUIT's answer is the end: not labeled, no batch left open.
    carol.send("@label=q QUIT :bye");
    assert_eq!(carol.recv(), "ERROR :Closing link");
    // A label without the capabilities is ignored.
    let (mut dave, _) = Irc::register(&server, "dave", false);
    dave.send("@label=zz MOTD");
    assert_eq!(dave.recv(), ":evchat-test 422 dave :MOTD File is missing");
}

#[test]
fn a_multiline_message_is_one_message_both_ways() {
    let server = server();
    let caps = "batch draft/multiline";
    let (mut alice, _) = Irc::register_with(&server, "alice", caps);
    let (mut carol, _) = Irc::register(&server, "carol", false);
    let mut bob = server.login("bob");
    for irc in [&mut alice, &mut carol] {
        irc.send("JOIN #rust");
        irc.until(|l| l.contains(" 366 ") && l.contains(" #rust "));
    }
    bob.send("JOIN #rust");
    bob.until("JOIN bob #rust ");
    alice.sync();
    carol.sync();

    // From IRC: one message, its lines joined (or concatenated).
    for line in [
        "BATCH +a1 draft/multiline #rust",
        "@batch=a1 PRIVMSG #rust hello",
        "@batch=a1 PRIVMSG #rust :how is ",
        "@batch=a1;draft/multiline-concat PRIVMSG #rust :everyone?",
        "BATCH -a1",
    ] {
        alice.send(line);
    }
    let said = bob.until("MSG alice #rust ");
    assert!(said.ends_with(" hello\\nhow is everyone?"), "{said}");
    assert_eq!(carol.recv(), ":alice!alice@evchat PRIVMSG #rust :hello");
    assert_eq!(
        carol.recv(),
        ":alice!alice@evchat PRIVMSG #rust :how is everyone?"
    );

    // To IRC: one batch for who asked, blank line kept; lines for the rest.
    bob.send("MSG #rust first\\n\\nthird");
    let open = alice.recv();
    let reference = open
        .strip_prefix(":bob!bob@evchat BATCH +")
        .and_then(|r| r.strip_suffix(" draft/multiline #rust"))
        .unwrap_or_else(|| panic!("{open}"))
        .to_owned();
    let tag = format!("@batch={reference} :bob!bob@evchat PRIVMSG #rust :");
    assert_eq!(alice.recv(), format!("{tag}first"));
    assert_eq!(alice.recv(), tag);
    assert_eq!(alice.recv(), format!("{tag}third"));
    assert_eq!(alice.recv(), format!(":evchat-test BATCH -{reference}"));
    assert_eq!(carol.recv(), ":bob!bob@evchat PRIVMSG #rust :first");
    assert_eq!(carol.recv(), ":bob!bob@evchat PRIVMSG #rust :third");

    // Another command while a batch is open is taken as usual (a client
    // answers a PING while it sends), and the batch goes on.
    for line in [
        "BATCH +p draft/multiline #rust",
        "@batch=p PRIVMSG #rust :one",
        "PING :between",
        "@batch=p PRIVMSG #rust :two",
        "BATCH -p",
    ] {
        alice.send(line);
    }
    assert_eq!(alice.recv(), ":evchat-test PONG evchat-test :between");
    assert!(bob.until("MSG alice #rust ").ends_with(" one\\ntwo"));
    carol.until(|l| l.ends_with(":two"));

    // Refused batches say why, and send nothing.
    alice.send("BATCH +b draft/multiline #rust");
    alice.send("@batch=b PRIVMSG #elsewhere :x");
    alice.send("BATCH -b");
    assert_eq!(
        alice.recv(),
        ":evchat-test FAIL BATCH MULTILINE_INVALID_TARGET #rust #elsewhere :Invalid multiline target"
    );
    alice.send("BATCH +c draft/multiline #rust");
    for i in 0..101 {
        alice.send(&format!("@batch=c PRIVMSG #rust :{i}"));
    }
    alice.send("BATCH -c");
    assert_eq!(
        alice.recv(),
        ":evchat-test FAIL BATCH MULTILINE_MAX_LINES 100 :Multiline batch max-lines exceeded"
    );
    // The lines of a refused batch are dropped, to its end, and so is a
    // line of a batch never opened.
    alice.send("BATCH +d draft/multiline #rust");
    alice.send("NOTICE #rust :not in a batch");
    alice.send("@batch=d NOTICE #rust :x");
    alice.send("@batch=d PRIVMSG #rust :y");
    alice.send("BATCH -d");
    alice.send("@batch=zz PRIVMSG #rust :z");
    let refused = alice.until(|l| l.contains("No such batch open"));
    assert!(
        refused[0].contains(" MULTILINE_INVALID :Only PRIVMSG"),
        "{refused:#?}"
    );
    assert!(bob.until("MSG alice #rust ").ends_with(" not in a batch"));
    bob.send("PING done");
    assert_eq!(bob.recv(), "PONG done");
}

#[test]
fn a_labeled_sasl_answer_that_waits_for_the_password_check_is_labeled() {
    let dir = tempfile::tempdir().unwrap();
    let users = common::users_file(dir.path(), &[("alice", "secret word")]);
    let server = TestServer::start(&[
        "--server-name",
        "evchat-test",
        "--users",
        users.to_str().unwrap(),
    ]);
    let mut irc = Irc::connect(&server);
    irc.send("CAP LS 302");
    irc.send("NICK alice");
    irc.send("USER alice 0 * :a");
    irc.send("CAP REQ :sasl batch labeled-response");
    irc.until(|l| l.contains(" ACK "));
    irc.send("AUTHENTICATE PLAIN");
    assert_eq!(irc.recv(), "AUTHENTICATE +");
    // "\0alice\0secret word", checked off the loop.
    let answer = response(&mut irc, "s", "AUTHENTICATE AGFsaWNlAHNlY3JldCB3b3Jk");
    assert!(answer[0].contains(" 900 "), "{answer:#?}");
    assert!(answer[1].contains(" 903 "), "{answer:#?}");
}
