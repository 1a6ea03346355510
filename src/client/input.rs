//! What a line typed into `evchat-client` means. Pure, so it is tested
//! without a terminal.
//!
//! - `hello` broadcasts (or goes privately to the `--to` users);
//! - `@bob hello` goes to bob; `@bob @carol hi` (or `@bob,carol hi`) to both;
//! - recipients may also trail the text, as in `how are you? @sis @mom`: a
//!   run of `@name` words at the end makes the message private to them.
//!   An `@` word there that is not a name is an error rather than a
//!   broadcast, so a typo never sends a private message to everyone;
//!   `\@` is a literal `@` (`see you \@noon` is a broadcast of
//!   `see you @noon`). With leading recipients, later `@` words are text;
//! - `#rust hello` goes to the room `#rust` once;
//! - `/join #rust [key]` joins a room and makes it the current one, where
//!   plain lines go (`/go #room` switches, `/go` alone goes back to
//!   everyone); `/part [#room] [text]`, `/rooms`, `/who [#room]`;
//! - a room's operators' commands, each in the current room unless one is
//!   named: `/topic [#room] [text]` (no text: asks it; `-delete` clears
//!   it), `/mode [#room] [modes [args]]`, `/kick [#room] name [why]`,
//!   `/invite name [#room]`;
//! - `/stats`, `/quit [text]`, `/help`;
//! - punctuation typed right after a mention is punctuation: `@erin: hi`
//!   and `thanks @erin!` go to erin;
//! - `//text` sends text that starts with a slash;
//! - a line ending in `\` continues on the next line, so a message can span
//!   lines (they travel escaped and show as lines on the other side).

use crate::protocol::{is_valid_name, is_valid_room, same_name, ROOM_RULE};

/// What to do with a typed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Say(String),
    Msg {
        to: Vec<String>,
        text: String,
    },
    Who,
    /// `WHO <room>`.
    WhoIn(String),
    /// Join a room, with its key if it has one (`+k`).
    Join {
        room: String,
        key: Option<String>,
    },
    /// Ask a room's topic (`text` `None`), set it, or clear it (`""`);
    /// `room` `None`: the current one.
    Topic {
        room: Option<String>,
        text: Option<String>,
    },
    /// Ask a room's modes (`changes` `None`) or change them (`+o bob`).
    Mode {
        room: Option<String>,
        changes: Option<String>,
    },
    /// Put `name` out of a room, saying why if `text`.
    Kick {
        room: Option<String>,
        name: String,
        text: Option<String>,
    },
    /// Invite `name` into a room.
    Invite {
        name: String,
        room: Option<String>,
    },
    /// Leave a room (`None`: the current one).
    Part {
        room: Option<String>,
        text: Option<String>,
    },
    Rooms,
    /// Every room there is.
    List,
    /// What the server knows of a name.
    Whois(String),
    /// Away with a text, or back without.
    Away(Option<String>),
    /// `/nick <name>`: take another name.
    Nick(String),
    /// Make a room the current one (`None`: everyone).
    Go(Option<String>),
    Stats,
    Quit(Option<String>),
    Help,
    /// Nothing to send (a blank line).
    Nothing,
    /// Not sendable; the text says why.
    Problem(String),
}

pub const HELP: &str = concat!(
    "  hello              broadcast to everyone else (or to --to users)\n",
    "  @bob hello         private message to bob (offline users get it later)\n",
    "  hello @bob         the same: recipients may come last\n",
    "  @bob @carol hi     private message to several users (or @bob,carol hi)\n",
    "  \\@ \\#              a literal @ or # (see you \\@noon is a broadcast)\n",
    "  #rust hello        say hello in the room #rust\n",
    "  //text             send text that starts with a slash\n",
    "  line ending in \\   continue the message on the next line\n",
    "  /join #rust [key]  join a room; plain lines go there from now on\n",
    "  /go #rust          make a room you are in the current one\n",
    "  /go                plain lines go to everyone again\n",
    "  /part [#r] [bye]   leave a room (the current one without a name)\n",
    "  /rooms             list the rooms you are in\n",
    "  /list              list every room, with its number of members\n",
    "  /whois bob         is bob online, away or offline, and in which rooms\n",
    "  /away [text]       mark yourself away; /away alone: back\n",
    "  /nick name         take another name (servers without accounts)\n",
    "  /who [#rust]       list online users (of a room: @ marks its operators)\n",
    "  /topic [#r] text   set the topic of the current room (or of #r)\n",
    "  /topic [#r]        show the topic; /topic -delete clears it\n",
    "  /mode [#r] [+o x]  show or change a room's modes: +o +t +m +i +k +l +b\n",
    "  /kick bob [why]    put bob out of the current room (or /kick #r bob)\n",
    "  /invite bob [#r]   invite bob into the current room (or into #r)\n",
    "  /stats             show server counters\n",
    "  /quit [text]       leave, with an optional goodbye (or Ctrl-D)\n",
    "  /help              this help\n",
    "  Ctrl-C             clear the line being typed",
);

/// Joins typed lines into messages: a line ending in `\\` continues on the
/// next one.
#[derive(Debug, Default)]
pub struct Composer {
    pending: String,
}

impl Composer {
    /// Adds a typed line; returns the message once it is complete.
    pub fn push(&mut self, line: &str) -> Option<String> {
        if let Some(head) = line.strip_suffix('\\') {
            self.pending.push_str(head);
            self.pending.push('\n');
            return None;
        }
        self.pending.push_str(line);
        Some(std::mem::take(&mut self.pending))
    }

    /// Is a message waiting for its next line?
    pub fn is_continuing(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Drops an unfinished message (Ctrl-C while continuing).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// The unfinished message at end of input, if any.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        let rest = rest.strip_suffix('\n').unwrap_or(&rest);
        (!rest.is_empty()).then(|| rest.to_owned())
    }
}

/// Interprets one (possibly multi-line) message typed by the user.
pub fn interpret(line: &str, default_to: &[String]) -> Action {
    if line.trim().is_empty() {
        return Action::Nothing;
    }
    if let Some(text) = line.strip_prefix("//") {
        return message(&format!("/{text}"), default_to);
    }
    if let Some(command) = line.strip_prefix('/') {
        let (word, rest) = command.split_once(' ').unwrap_or((command, ""));
        let rest = rest.trim();
        let room = |r: &str| -> Result<String, Action> {
            if is_valid_room(r) {
                Ok(r.to_owned())
            } else {
                Err(Action::Problem(format!("bad room {r:?}: {ROOM_RULE}")))
            }
        };
        let (first, after) = rest.split_once(' ').unwrap_or((rest, ""));
        let text = |t: &str| (!t.trim().is_empty()).then(|| t.trim().to_owned());
        let action = match word.to_ascii_lowercase().as_str() {
            "who" if rest.is_empty() => Ok(Action::Who),
            "who" => room(rest).map(Action::WhoIn),
            "join" => room(first).and_then(|room| match after.trim() {
                "" => Ok(Action::Join { room, key: None }),
                key if !key.contains(char::is_whitespace) => Ok(Action::Join {
                    room,
                    key: Some(key.to_owned()),
                }),
                _ => Err(Action::Problem(
                    "a room key is one word: /join #room key".to_owned(),
                )),
            }),
            "topic" => room_first(rest).map(|(room, text)| Action::Topic {
                room,
                text: match text {
                    "" => None,
                    "-delete" => Some(String::new()),
                    text => Some(text.to_owned()),
                },
            }),
            "mode" => room_first(rest).and_then(|(room, changes)| match changes {
                "" => Ok(Action::Mode {
                    room,
                    changes: None,
                }),
                c if c.starts_with(['+', '-']) => Ok(Action::Mode {
                    room,
                    changes: Some(c.to_owned()),
                }),
                _ => Err(Action::Problem(
                    "modes start with + or -: /mode +o bob, /mode -t".to_owned(),
                )),
            }),
            "kick" => room_first(rest).and_then(|(room, tail)| {
                let (name, why) = tail.split_once(' ').unwrap_or((tail, ""));
                Ok(Action::Kick {
                    room,
                    name: name_of(name, "kick whom? /kick bob [why]")?,
                    text: text(why),
                })
            }),
            "invite" => match rest.split_whitespace().collect::<Vec<_>>()[..] {
                [name] => name_of(name, "").map(|name| Action::Invite { name, room: None }),
                [name, r] => name_of(name, "").and_then(|name| {
                    Ok(Action::Invite {
                        name,
                        room: Some(room(r)?),
                    })
                }),
                _ => Err(Action::Problem(
                    "invite whom? /invite bob [#room]".to_owned(),
                )),
            },
            "go" if rest.is_empty() => Ok(Action::Go(None)),
            "go" => room(rest).map(|r| Action::Go(Some(r))),
            "rooms" => Ok(Action::Rooms),
            "list" => Ok(Action::List),
            "part" if first.starts_with('#') => room(first).map(|r| Action::Part {
                room: Some(r),
                text: text(after),
            }),
            "part" => Ok(Action::Part {
                room: None,
                text: text(rest),
            }),
            _ => Err(Action::Problem(String::new())),
        };
        match action {
            Ok(action) => return action,
            Err(Action::Problem(why)) if !why.is_empty() => return Action::Problem(why),
            Err(_) => {}
        }
        return match word.to_ascii_lowercase().as_str() {
            "stats" => Action::Stats,
            "away" => Action::Away(text(rest)),
            "nick" if !rest.is_empty() && !rest.contains(' ') => Action::Nick(rest.to_owned()),
            "nick" => Action::Problem("which name? /nick alice2".to_owned()),
            "whois" if !rest.is_empty() && !rest.contains(' ') => Action::Whois(rest.to_owned()),
            "whois" => Action::Problem("whois whom? /whois bob".to_owned()),
            "help" | "?" => Action::Help,
            "quit" | "exit" => Action::Quit((!rest.is_empty()).then(|| rest.to_owned())),
            _ => Action::Problem(format!("unknown command /{word}; /help lists commands")),
        };
    }
    if line.starts_with('@') {
        return addressed(line);
    }
    if let Some(rest) = line.strip_prefix("\\#") {
        return message(&format!("#{rest}"), default_to);
    }
    if line.starts_with('#') {
        let (target, text) = line.split_once(' ').unwrap_or((line, ""));
        if !is_valid_room(target) {
            return Action::Problem(format!(
                "bad room {target:?}: {ROOM_RULE} (write \\# for a literal #)"
            ));
        }
        if text.trim().is_empty() {
            return Action::Problem(format!("nothing to send to {target}"));
        }
        return Action::Msg {
            to: vec![target.to_owned()],
            text: literal_at(text),
        };
    }
    message(line, default_to)
}

/// A command's leading `#room`, if it names one, and the rest after it.
fn room_first(rest: &str) -> Result<(Option<String>, &str), Action> {
    if !rest.starts_with('#') {
        return Ok((None, rest));
    }
    let (first, after) = rest.split_once(' ').unwrap_or((rest, ""));
    if !is_valid_room(first) {
        return Err(Action::Problem(format!("bad room {first:?}: {ROOM_RULE}")));
    }
    Ok((Some(first.to_owned()), after.trim()))
}

/// `name` if it is one; `missing` says what to type when it is empty.
fn name_of(name: &str, missing: &str) -> Result<String, Action> {
    match name {
        "" => Err(Action::Problem(missing.to_owned())),
        name if is_valid_name(name) => Ok(name.to_owned()),
        name => Err(Action::Problem(crate::protocol::bad_name(name))),
    }
}

/// A message without leading recipients: a trailing run of `@name` words,
/// if any, names who gets it; otherwise it is plain.
fn message(line: &str, default_to: &[String]) -> Action {
    let mut words = Vec::new();
    let mut rest = line.trim_end();
    loop {
        let (head, word) = rest.rsplit_once(char::is_whitespace).unwrap_or(("", rest));
        if !word.starts_with('@') {
            break;
        }
        words.push(word);
        rest = head.trim_end();
        if rest.is_empty() {
            break;
        }
    }
    if words.is_empty() {
        return plain(&literal_at(line), default_to);
    }
    words.reverse();
    let mut to = Vec::new();
    for word in words {
        let names = word.strip_prefix('@').unwrap_or(word);
        if let Err(problem) = add_recipients(&mut to, names) {
            return problem;
        }
    }
    private(to, rest)
}

/// `\@` stands for a literal `@`.
fn literal_at(text: &str) -> String {
    text.replace("\\@", "@")
}

fn plain(text: &str, default_to: &[String]) -> Action {
    if default_to.is_empty() {
        Action::Say(text.to_owned())
    } else {
        Action::Msg {
            to: default_to.to_vec(),
            text: text.to_owned(),
        }
    }
}

/// Adds the names of one `@` word (`bob` or `bob,carol`) to `to`.
fn add_recipients(to: &mut Vec<String>, word: &str) -> Result<(), Action> {
    if word.is_empty() {
        return Err(Action::Problem(
            "who to? write @name (or \\@ for a literal @)".into(),
        ));
    }
    // Punctuation typed after a mention is not part of the name.
    let word = word.trim_end_matches([':', ',', '.', '!', '?', ';', ')']);
    for name in word.split(',').filter(|n| !n.is_empty()) {
        if !is_valid_name(name) {
            return Err(Action::Problem(format!(
                "{} (write \\@ for a literal @)",
                crate::protocol::bad_name(name)
            )));
        }
        if !to.iter().any(|t| same_name(t, name)) {
            to.push(name.to_owned());
        }
    }
    Ok(())
}

fn private(to: Vec<String>, text: &str) -> Action {
    if to.is_empty() {
        return Action::Problem("who to? write @name message".into());
    }
    if text.trim().is_empty() {
        return Action::Problem(format!("nothing to send to {}", to.join(", ")));
    }
    Action::Msg {
        to,
        text: literal_at(text),
    }
}

/// `@a @b,c text`: leading @-words name the recipients.
fn addressed(line: &str) -> Action {
    let mut to = Vec::new();
    let mut rest = line;
    while let Some(after_at) = rest.strip_prefix('@') {
        let (word, tail) = after_at.split_once([' ', '\t']).unwrap_or((after_at, ""));
        if let Err(problem) = add_recipients(&mut to, word) {
            return problem;
        }
        rest = tail.trim_start();
    }
    private(to, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plain_lines_broadcast_or_go_to_default() {
        assert_eq!(interpret("hi there", &[]), Action::Say("hi there".into()));
        assert_eq!(
            interpret("hi", &names(&["Eric"])),
            Action::Msg {
                to: names(&["Eric"]),
                text: "hi".into()
            }
        );
        assert_eq!(interpret("   ", &[]), Action::Nothing);
        assert_eq!(
            interpret("//etc/passwd", &[]),
            Action::Say("/etc/passwd".into())
        );
    }

    #[test]
    fn at_names_address_private_messages() {
        let expect = |to: &[&str], text: &str| Action::Msg {
            to: names(to),
            text: text.into(),
        };
        assert_eq!(interpret("@bob hello", &[]), expect(&["bob"], "hello"));
        assert_eq!(
            interpret("@bob @carol hi", &[]),
            expect(&["bob", "carol"], "hi")
        );
        assert_eq!(
            interpret("@bob,carol @bob hi @x", &[]),
            expect(&["bob", "carol"], "hi @x")
        );
        assert!(matches!(interpret("@bob", &[]), Action::Problem(_)));
        assert!(matches!(interpret("@b!b hi", &[]), Action::Problem(_)));
        assert!(matches!(interpret("@ hi", &[]), Action::Problem(_)));
    }

    #[test]
    fn trailing_at_names_address_private_messages_too() {
        let expect = |to: &[&str], text: &str| Action::Msg {
            to: names(to),
            text: text.into(),
        };
        assert_eq!(
            interpret("how are you? @sis @mom @dad", &[]),
            expect(&["sis", "mom", "dad"], "how are you?")
        );
        assert_eq!(
            interpret("hi @bob,carol @bob", &names(&["Eric"])),
            expect(&["bob", "carol"], "hi")
        );
        assert_eq!(
            interpret("two\nlines @bob ", &[]),
            expect(&["bob"], "two\nlines")
        );
        assert_eq!(interpret("//x @bob", &[]), expect(&["bob"], "/x"));
        // A mail address or an @ inside the text is not a recipient.
        assert_eq!(
            interpret("write to a@b.org or @home now", &[]),
            Action::Say("write to a@b.org or @home now".into())
        );
    }

    #[test]
    fn a_trailing_at_word_that_is_no_name_is_refused_not_broadcast() {
        for line in ["cc @", "hi @bob @b!b", "   @bob", "hi @b@b"] {
            assert!(
                matches!(interpret(line, &[]), Action::Problem(_)),
                "{line:?} must not be sent"
            );
        }
    }

    #[test]
    fn punctuation_after_a_mention_is_punctuation() {
        let expect = |to: &[&str], text: &str| Action::Msg {
            to: names(to),
            text: text.into(),
        };
        assert_eq!(interpret("@erin: hi", &[]), expect(&["erin"], "hi"));
        assert_eq!(interpret("thanks @erin!", &[]), expect(&["erin"], "thanks"));
        assert_eq!(
            interpret("@amy, @bob. hi", &[]),
            expect(&["amy", "bob"], "hi")
        );
    }

    #[test]
    fn rooms_are_joined_left_and_written_to() {
        assert_eq!(
            interpret("/join #rust", &[]),
            Action::Join {
                room: "#rust".into(),
                key: None
            }
        );
        assert!(matches!(interpret("/join rust", &[]), Action::Problem(_)));
        assert_eq!(interpret("/who #rust", &[]), Action::WhoIn("#rust".into()));
        assert_eq!(interpret("/rooms", &[]), Action::Rooms);
        assert_eq!(interpret("/LIST", &[]), Action::List);
        assert_eq!(
            interpret("/away at lunch ", &[]),
            Action::Away(Some("at lunch".into()))
        );
        assert_eq!(interpret("/away", &[]), Action::Away(None));
        assert_eq!(interpret("/nick amy2", &[]), Action::Nick("amy2".into()));
        assert!(matches!(interpret("/nick", &[]), Action::Problem(_)));
        assert_eq!(interpret("/whois bob", &[]), Action::Whois("bob".into()));
        assert!(matches!(interpret("/whois", &[]), Action::Problem(_)));
        assert_eq!(interpret("/go #a", &[]), Action::Go(Some("#a".into())));
        assert_eq!(interpret("/go", &[]), Action::Go(None));
        assert_eq!(
            interpret("/part #a see you", &[]),
            Action::Part {
                room: Some("#a".into()),
                text: Some("see you".into())
            }
        );
        assert_eq!(
            interpret("/part bye now", &[]),
            Action::Part {
                room: None,
                text: Some("bye now".into())
            }
        );
        assert_eq!(
            interpret("#rust hello there", &[]),
            Action::Msg {
                to: names(&["#rust"]),
                text: "hello there".into()
            }
        );
        assert!(matches!(interpret("#bad! x", &[]), Action::Problem(_)));
        assert!(matches!(interpret("#rust", &[]), Action::Problem(_)));
        assert_eq!(
            interpret("\\#1 is not a room", &[]),
            Action::Say("#1 is not a room".into())
        );
    }

    #[test]
    fn operators_commands_name_a_room_or_mean_the_current_one() {
        assert_eq!(
            interpret("/join #r s3cret ", &[]),
            Action::Join {
                room: "#r".into(),
                key: Some("s3cret".into())
            }
        );
        assert!(matches!(
            interpret("/join #r two words", &[]),
            Action::Problem(_)
        ));
        let topic = |room: Option<&str>, text: Option<&str>| Action::Topic {
            room: room.map(Into::into),
            text: text.map(Into::into),
        };
        assert_eq!(interpret("/topic", &[]), topic(None, None));
        assert_eq!(interpret("/TOPIC #r", &[]), topic(Some("#r"), None));
        assert_eq!(
            interpret("/topic  all about  rust ", &[]),
            topic(None, Some("all about  rust"))
        );
        assert_eq!(
            interpret("/topic #r all about #rust", &[]),
            topic(Some("#r"), Some("all about #rust"))
        );
        assert_eq!(interpret("/topic -delete", &[]), topic(None, Some("")));
        assert_eq!(
            interpret("/topic #r -delete", &[]),
            topic(Some("#r"), Some(""))
        );
        assert!(matches!(interpret("/topic #b! x", &[]), Action::Problem(_)));
        let mode = |room: Option<&str>, changes: Option<&str>| Action::Mode {
            room: room.map(Into::into),
            changes: changes.map(Into::into),
        };
        assert_eq!(interpret("/mode", &[]), mode(None, None));
        assert_eq!(interpret("/mode #r", &[]), mode(Some("#r"), None));
        assert_eq!(interpret("/mode +o bob", &[]), mode(None, Some("+o bob")));
        assert_eq!(
            interpret("/mode #r -t+kl key 5", &[]),
            mode(Some("#r"), Some("-t+kl key 5"))
        );
        assert!(matches!(interpret("/mode o bob", &[]), Action::Problem(_)));
        assert_eq!(
            interpret("/kick bob", &[]),
            Action::Kick {
                room: None,
                name: "bob".into(),
                text: None
            }
        );
        assert_eq!(
            interpret("/kick #r bob  stop  flooding ", &[]),
            Action::Kick {
                room: Some("#r".into()),
                name: "bob".into(),
                text: Some("stop  flooding".into())
            }
        );
        for bad in ["/kick", "/kick #r", "/kick b!b why", "/kick #r @bob"] {
            assert!(matches!(interpret(bad, &[]), Action::Problem(_)), "{bad}");
        }
        assert_eq!(
            interpret("/invite bob", &[]),
            Action::Invite {
                name: "bob".into(),
                room: None
            }
        );
        assert_eq!(
            interpret("/invite bob #r", &[]),
            Action::Invite {
                name: "bob".into(),
                room: Some("#r".into())
            }
        );
        for bad in ["/invite", "/invite #r", "/invite bob r", "/invite bob #r x"] {
            assert!(matches!(interpret(bad, &[]), Action::Problem(_)), "{bad}");
        }
    }

    #[test]
    fn backslash_at_is_a_literal_at() {
        assert_eq!(
            interpret("see you \\@noon", &[]),
            Action::Say("see you @noon".into())
        );
        assert_eq!(
            interpret("\\@bob is not a recipient", &[]),
            Action::Say("@bob is not a recipient".into())
        );
        assert_eq!(
            interpret("@bob meet \\@5 @carol", &[]),
            Action::Msg {
                to: names(&["bob"]),
                text: "meet @5 @carol".into()
            }
        );
    }

    #[test]
    fn every_help_line_is_indented_alike() {
        for line in HELP.lines() {
            assert!(
                line.starts_with("  ") && !line.starts_with("   "),
                "{line:?}"
            );
        }
        assert!(HELP.lines().count() > 5);
    }

    #[test]
    fn every_help_line_says_what_it_does_in_the_same_column() {
        let columns: Vec<usize> = HELP
            .lines()
            .map(|line| {
                let keys = line.trim_start().split("  ").next().unwrap_or_default();
                let after = &line[line.find(keys).unwrap_or(0) + keys.len()..];
                line.len() - after.trim_start().len()
            })
            .collect();
        assert!(
            columns.windows(2).all(|w| w[0] == w[1]),
            "{columns:?}\n{HELP}"
        );
    }

    #[test]
    fn slash_commands() {
        assert_eq!(interpret("/who", &[]), Action::Who);
        assert_eq!(
            interpret("/QUIT see you", &[]),
            Action::Quit(Some("see you".into()))
        );
        assert_eq!(interpret("/quit", &[]), Action::Quit(None));
        assert!(matches!(interpret("/frob", &[]), Action::Problem(_)));
    }

    #[test]
    fn composer_joins_continued_lines() {
        let mut c = Composer::default();
        assert_eq!(c.push("one"), Some("one".into()));
        assert_eq!(c.push("two\\"), None);
        assert!(c.is_continuing());
        assert_eq!(c.push("three"), Some("two\nthree".into()));
        assert_eq!(c.push("unfinished\\"), None);
        assert_eq!(c.finish(), Some("unfinished".into()));
        assert_eq!(c.finish(), None);
    }
}
