//! What a line typed into `evchat-client` means. Pure, so it is tested
//! without a terminal.
//!
//! - `hello` broadcasts (or goes privately to the `--to` users);
//! - `@bob hello` goes to bob; `@bob @carol hi` (or `@bob,carol hi`) to both;
//! - `/who`, `/stats`, `/quit [text]`, `/help`;
//! - `//text` sends text that starts with a slash;
//! - a line ending in `\` continues on the next line, so a message can span
//!   lines (they travel escaped and show as lines on the other side).

use crate::protocol::is_valid_name;

/// What to do with a typed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Say(String),
    Msg {
        to: Vec<String>,
        text: String,
    },
    Who,
    Stats,
    Quit(Option<String>),
    Help,
    /// Nothing to send (a blank line).
    Nothing,
    /// Not sendable; the text says why.
    Problem(String),
}

pub const HELP: &str = "\
  hello              broadcast to everyone (or to --to users)
  @bob hello         private message to bob (offline users get it later)
  @bob @carol hi     private message to several users
  //text             send text that starts with a slash
  line ending in \\   continue the message on the next line
  /who               list online users
  /stats             show server counters
  /quit [text]       leave, with an optional goodbye
  /help              this help";

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
        return plain(&format!("/{text}"), default_to);
    }
    if let Some(command) = line.strip_prefix('/') {
        let (word, rest) = command.split_once(' ').unwrap_or((command, ""));
        let rest = rest.trim();
        return match word.to_ascii_lowercase().as_str() {
            "who" => Action::Who,
            "stats" => Action::Stats,
            "help" | "?" => Action::Help,
            "quit" | "exit" => Action::Quit((!rest.is_empty()).then(|| rest.to_owned())),
            _ => Action::Problem(format!("unknown command /{word}; /help lists commands")),
        };
    }
    if line.starts_with('@') {
        return addressed(line);
    }
    plain(line, default_to)
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

/// `@a @b,c text`: leading @-words name the recipients.
fn addressed(line: &str) -> Action {
    let mut to = Vec::new();
    let mut rest = line;
    while let Some(after_at) = rest.strip_prefix('@') {
        let (word, tail) = after_at.split_once([' ', '\t']).unwrap_or((after_at, ""));
        for name in word.split(',').filter(|n| !n.is_empty()) {
            if !is_valid_name(name) {
                return Action::Problem(format!(
                    "bad name {name:?}: names are 1-32 characters of A-Z a-z 0-9 _ -"
                ));
            }
            if !to.iter().any(|t| t == name) {
                to.push(name.to_owned());
            }
        }
        rest = tail.trim_start();
    }
    if to.is_empty() {
        return Action::Problem("who to? write @name message".into());
    }
    if rest.is_empty() {
        return Action::Problem(format!("nothing to send to {}", to.join(", ")));
    }
    Action::Msg {
        to,
        text: rest.to_owned(),
    }
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
