use super::*;
use crate::protocol::{Command, Event};
use crate::server::wire::{Copies, Viewer, Voice};

fn config() -> Config {
    Config {
        server: "irc.test".into(),
        everyone: "#everyone".into(),
        max_line: 512,
    }
}

/// What the hub is given for `data`: frames as the line protocol writes
/// them (with what they ask), and the dialect's own answers.
fn inputs(irc: &mut Irc, data: &[u8]) -> Vec<String> {
    let mut seen = Vec::new();
    irc.decode(data, Instant::now(), &mut |input| {
        match input {
            Input::Frame(Ok(Some(command))) => {
                let mut line = Vec::new();
                command.encode(&mut line);
                seen.push(String::from_utf8(line).unwrap().trim_end().to_owned());
            }
            Input::Frame(other) => seen.push(format!("{other:?}")),
            Input::Answer(bytes) => seen.push(String::from_utf8(bytes).unwrap()),
            Input::Asking(_) | Input::Encoding(..) => {}
            other => seen.push(format!("{other:?}")),
        }
        true
    });
    seen
}

fn registered() -> Irc {
    let mut irc = Irc::new(config(), 512);
    let seen = inputs(&mut irc, b"NICK alice\r\nUSER a 0 * :A\r\n");
    assert_eq!(seen, ["LOGIN alice", "WHO"]);
    irc
}

#[test]
fn registration_waits_for_cap_end_and_logs_in_with_the_password() {
    let mut irc = Irc::new(config(), 512);
    let seen = inputs(
        &mut irc,
        b"CAP LS 302\r\nPASS se\\cret\r\nNICK alice\r\nUSER a 0 * :A\r\n",
    );
    assert_eq!(
        seen,
        [":irc.test CAP * LS :server-time echo-message away-notify sasl multi-prefix cap-notify batch labeled-response message-tags draft/multiline=max-bytes=224,max-lines=100\r\n"]
    );
    let seen = inputs(&mut irc, b"CAP REQ :server-time\r\nCAP END\r\n");
    assert_eq!(
        seen,
        [
            ":irc.test CAP alice ACK :server-time\r\n",
            "LOGIN alice se\\\\cret",
            "WHO"
        ]
    );
    assert!(std::ptr::eq(irc.encoding(), &IRC_TAGS));
    let mut other = Irc::new(config(), 512);
    // All or nothing: one capability not offered refuses the request.
    let seen = inputs(&mut other, b"CAP REQ :sasl draft/frobnicate\r\n");
    assert_eq!(seen, [":irc.test CAP * NAK :sasl draft/frobnicate\r\n"]);
}

#[test]
fn before_registration_only_registration_is_taken() {
    let mut irc = Irc::new(config(), 512);
    let seen = inputs(&mut irc, b"JOIN #a\r\nPING :x\r\nNICK bad!nick\r\n");
    assert_eq!(
        seen,
        [
            ":irc.test 451 * :You have not registered\r\n",
            ":irc.test PONG irc.test :x\r\n",
            ":irc.test 432 * bad!nick :Erroneous nickname: 1-32 of A-Z a-z 0-9 _ -\r\n",
        ]
    );
}

#[test]
fn chat_commands_become_the_line_protocols_frames() {
    let mut irc = registered();
    let seen = inputs(
        &mut irc,
        b"PRIVMSG #rust,bob :hi \\ there\r\nPRIVMSG #Everyone :all\r\nNOTICE bob :n\r\n\
          JOIN #a,#b\r\nPART #a :bye now\r\nNAMES #b\r\nQUIT :gone\r\n",
    );
    assert_eq!(
        seen,
        [
            "MSG #rust,bob hi \\\\ there",
            "SAY all",
            "MSG bob n",
            "JOIN #a",
            "WHO #a",
            "JOIN #b",
            "WHO #b",
            "PART #a bye now",
            "WHO #b",
            "QUIT gone",
        ]
    );
    let seen = inputs(
        &mut irc,
        b"PRIVMSG bob\r\nNOTICE bob\r\nKNOCK x\r\n\xff\r\n",
    );
    assert_eq!(
        seen,
        [
            ":irc.test 412 alice :No text to send\r\n",
            ":irc.test 421 alice KNOCK :Unknown command\r\n",
            ":irc.test NOTICE alice :Your line was not valid UTF-8; it was not sent\r\n",
        ]
    );
}

#[test]
fn frames_a_paused_hub_did_not_take_come_at_the_next_decode() {
    let mut irc = Irc::new(config(), 512);
    let mut taken = Vec::new();
    // The hub pauses after LOGIN (a password check).
    irc.decode(
        b"NICK a\r\nUSER a 0 * :a\r\n",
        Instant::now(),
        &mut |input| {
            if let Input::Frame(Ok(Some(c))) = input {
                taken.push(matches!(c, Command::Login { .. }));
                return false;
            }
            true
        },
    );
    assert_eq!(taken, [true]);
    assert!(irc.has_pending());
    assert_eq!(inputs(&mut irc, b""), ["WHO"]);
    assert!(!irc.has_pending());
}

fn shared(kind: WireKind, lines: &str) -> String {
    let mut copies = Copies::new(Voice {
        server: "irc.test".into(),
        everyone: "#everyone".into(),
        max_line: 512,
    });
    let chunk: std::rc::Rc<[u8]> = std::rc::Rc::from(lines.as_bytes());
    String::from_utf8(copies.shared(kind, &chunk).to_vec()).unwrap()
}

#[test]
fn shared_frames_are_written_as_irc() {
    let t = "2026-01-02T03:04:05.678Z";
    let lines = format!(
        "SAY bob {t} hi all\nMSG bob #rust {t} two\\nlines\nMSG bob alice {t} psst\n\
         JOINED carol {t}\nLEFT carol {t} gone now\nJOIN bob #rust {t}\nPART bob #rust {t} bye\n"
    );
    assert_eq!(
        shared(&IRC, &lines),
        ":bob!bob@evchat PRIVMSG #everyone :hi all\r\n\
         :bob!bob@evchat PRIVMSG #rust :two\r\n\
         :bob!bob@evchat PRIVMSG #rust :lines\r\n\
         :bob!bob@evchat PRIVMSG alice :psst\r\n\
         :carol!carol@evchat JOIN #everyone\r\n\
         :carol!carol@evchat QUIT :gone now\r\n\
         :bob!bob@evchat JOIN #rust\r\n\
         :bob!bob@evchat PART #rust :bye\r\n"
    );
    assert_eq!(
        shared(&IRC_TAGS, &format!("SAY bob {t} hi\n")),
        format!("@time={t} :bob!bob@evchat PRIVMSG #everyone :hi\r\n")
    );
}

#[test]
fn long_text_is_cut_into_lines_that_fit_irc() {
    let t = "2026-01-02T03:04:05.678Z";
    let text = "é".repeat(600);
    let out = shared(&IRC, &format!("SAY bob {t} {text}\n"));
    let lines: Vec<&str> = out.split_terminator("\r\n").collect();
    assert!(lines.len() >= 3, "{lines:?}");
    assert!(lines.iter().all(|l| l.len() + 2 <= 512));
    let joined: String = lines
        .iter()
        .map(|l| l.split_once(" :").unwrap().1)
        .collect();
    assert_eq!(joined, text);
}

#[test]
fn replies_are_numerics_for_what_was_asked() {
    let mut copies = Copies::new(Voice {
        server: "irc.test".into(),
        everyone: "#everyone".into(),
        max_line: 512,
    });
    let reply = |copies: &mut Copies, asked: u8, event: Event<'_>| {
        let mut out = Vec::new();
        let viewer = Viewer {
            nick: Some("alice"),
            asked,
            about: None,
        };
        copies.encode(&IRC, &event, &viewer, &mut out);
        String::from_utf8(out).unwrap()
    };
    use crate::protocol::ErrorCode::*;
    let forbidden = Event::Error(Forbidden, "not in #rust");
    assert_eq!(
        reply(&mut copies, asked::PRIVMSG, forbidden),
        ":irc.test 404 alice #rust :Cannot send to channel\r\n"
    );
    assert_eq!(
        reply(&mut copies, asked::PART, forbidden),
        ":irc.test 442 alice #rust :You're not on that channel\r\n"
    );
    assert_eq!(reply(&mut copies, asked::NOTICE, forbidden), "");
    let nobody = Event::Error(NoSuchUser, "no such user: bob; nothing was sent");
    assert_eq!(
        reply(&mut copies, asked::PRIVMSG, nobody),
        ":irc.test 401 alice bob :No such nick/channel\r\n"
    );
    let taken = Event::Error(NameTaken, "alice is already online");
    assert_eq!(
        reply(&mut copies, asked::REGISTER, taken),
        ":irc.test 433 * alice :Nickname is already in use\r\n"
    );
    let names = Event::RoomUsers {
        room: "#rust",
        names: &["alice", "bob"],
    };
    assert_eq!(
        reply(&mut copies, asked::JOIN, names),
        ":irc.test 353 alice = #rust :alice bob\r\n:irc.test 366 alice #rust :End of /NAMES list\r\n"
    );
    let welcome = reply(
        &mut copies,
        asked::REGISTER,
        Event::LoggedIn { name: "alice" },
    );
    assert!(welcome.starts_with(":irc.test 001 alice :"), "{welcome}");
    assert!(welcome.contains(" 005 alice CHANTYPES=# "), "{welcome}");
    assert!(
        welcome.ends_with(":alice!alice@evchat JOIN #everyone\r\n"),
        "{welcome}"
    );
}

#[test]
fn only_registration_words_make_a_connection_irc() {
    let settings = crate::server::wire::Settings {
        max_line: 512,
        web: true,
        irc: Some(config()),
    };
    let verdict = |first: &[u8]| match sniff_dialect(first, &settings) {
        Sniffed::Mine(_) => "irc",
        Sniffed::NotMine => "not",
        Sniffed::NeedMore => "more",
    };
    assert_eq!(verdict(b"NICK alice\r\n"), "irc");
    assert_eq!(verdict(b"cap LS 302\r\n"), "irc");
    assert_eq!(verdict(b"PASS\r\n"), "irc");
    assert_eq!(verdict(b"USER a 0 * :a\n"), "irc");
    assert_eq!(verdict(b"NIC"), "more");
    assert_eq!(verdict(b"NICK"), "more");
    assert_eq!(verdict(b"NICKS x\n"), "not");
    assert_eq!(verdict(b"LOG"), "not");
    assert_eq!(verdict(b"LOGIN alice\n"), "not");
    assert_eq!(verdict(b"PING x\n"), "not");
    assert_eq!(verdict(b"QUIT\n"), "not");
    let off = crate::server::wire::Settings {
        irc: None,
        ..settings.clone()
    };
    assert!(matches!(sniff_dialect(b"NICK a\n", &off), Sniffed::NotMine));
}
