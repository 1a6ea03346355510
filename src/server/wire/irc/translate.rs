//! IRC lines in: registration, the dialect's own answers, and the line
//! protocol's frames for everything the hub decides.

use super::message::{Malformed, Message};
use super::{asked, Asked, Irc, Pending};
use crate::protocol::escape::escape_into;
use crate::protocol::tags::{is_client_tag, MAX_TAGS};
use crate::protocol::{is_valid_name, is_valid_room};

/// The longest nick mask matched against everyone online.
const MAX_MASK: usize = 64;

impl Irc {
    /// Takes one line: answers in `answer`, frames for the hub in
    /// `self.pending`.
    pub(super) fn take_line(&mut self, line: &[u8], answer: &mut Vec<u8>) {
        let Ok(line) = std::str::from_utf8(line) else {
            return self.fail(answer, "Your line was not valid UTF-8; it was not sent");
        };
        if line.contains('\0') {
            return self.fail(answer, "Your line held a NUL byte; it was not sent");
        }
        let message = match Message::parse(line) {
            Ok(m) => m,
            Err(Malformed::NoCommand) => return,
            Err(_) => return self.fail(answer, "That line is not an IRC message"),
        };
        // IRCv3's bound on a client's tag data: past it the line is
        // refused whole, never relayed without its tags.
        if message.tags.is_some_and(|t| t.len() > MAX_TAGS) {
            return self.numeric(answer, "417", &[], "Input line was too long");
        }
        if self.multiline_line(&message, answer) {
            return;
        }
        let verb = message.command.to_ascii_uppercase();
        match verb.as_str() {
            "CAP" => self.cap(&message, answer),
            "NICK" => self.nick(&message, answer),
            "USER" => {
                if self.registered {
                    return self.numeric(answer, "462", &[], "You may not reregister");
                }
                if message.params().len() < 4 {
                    return self.need_more(answer, "USER");
                }
                self.user_given = true;
                self.register();
            }
            "PASS" => match message.param(0) {
                Some(p) if !self.registered => self.password = Some(p.to_owned()),
                Some(_) => self.numeric(answer, "462", &[], "You may not reregister"),
                None => self.need_more(answer, "PASS"),
            },
            "PING" if !self.registered => {
                let token = message.param(0).unwrap_or_default();
                let server = &self.config.server;
                answer
                    .extend_from_slice(format!(":{server} PONG {server} :{token}\r\n").as_bytes());
            }
            "QUIT" => self.quit(&message),
            "AUTHENTICATE" => self.authenticate(&message, answer),
            _ if !self.registered => {
                self.numeric(answer, "451", &[], "You have not registered");
            }
            _ => self.command(&verb, &message, answer),
        }
    }

    /// A registered user's command.
    fn command(&mut self, verb: &str, m: &Message<'_>, answer: &mut Vec<u8>) {
        match verb {
            "PRIVMSG" | "NOTICE" => self.privmsg(verb == "NOTICE", m, answer),
            "TAGMSG" => self.tagmsg(m, answer),
            "BATCH" if self.multiline() => self.batch(m, answer),
            "JOIN" => self.join(m, answer),
            "PART" => self.part(m, answer),
            "NAMES" => self.names(asked::NAMES, m.param(0), answer),
            "WHO" => self.names(asked::WHO, m.param(0), answer),
            "PING" => self.ping_pong("PING", m),
            "PONG" => self.ping_pong("PONG", m),
            "MOTD" => self.numeric(answer, "422", &[], "MOTD File is missing"),
            "VERSION" => {
                let version = concat!("evchat-", env!("CARGO_PKG_VERSION"));
                let server = self.config.server.clone();
                self.numeric(answer, "351", &[version, &server], "");
            }
            "TIME" => {
                let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                let server = self.config.server.clone();
                self.numeric(answer, "391", &[&server], &now);
            }
            "LUSERS" => self.ask(asked::LUSERS, b"STATS".to_vec()),
            // Who is online, told as each of these asks.
            "ISON" | "USERHOST" => {
                let what = match verb {
                    "ISON" => asked::ISON,
                    _ => asked::USERHOST,
                };
                let nicks = m.params().join(" ");
                if nicks.trim().is_empty() {
                    return self.need_more(answer, verb);
                }
                self.ask_about(what, Some(&nicks), b"WHO".to_vec());
            }
            "WHOIS" | "WHOWAS" => self.whois(verb == "WHOWAS", m, answer),
            // LIST [<channels and ELIST filters>]: read by its answer.
            "LIST" => {
                let filters = m.param(0).filter(|p| !p.is_empty());
                self.ask_about(asked::LIST, filters, b"LIST".to_vec());
            }
            "MODE" if m.param(0).is_some_and(|t| t.starts_with('#')) => {
                self.channel_mode(m, answer)
            }
            "MODE" => self.mode(m, answer),
            "TOPIC" => self.topic(m, answer),
            "KICK" => self.kick(m, answer),
            "INVITE" => self.invite(m, answer),
            "AWAY" => self.away(m),
            _ => self.numeric(answer, "421", &[verb], "Unknown command"),
        }
    }

    fn nick(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        let Some(nick) = m.param(0).filter(|n| !n.is_empty()) else {
            return self.numeric(answer, "431", &[], "No nickname given");
        };
        if !is_valid_name(nick) {
            return self.numeric(
                answer,
                "432",
                &[nick],
                "Erroneous nickname: 1-32 of A-Z a-z 0-9 _ -",
            );
        }
        if self.logged_in {
            // The hub renames (or says why not); the old nick is kept for
            // the `NICK` line that tells it.
            let old = self.nick.clone();
            return self.ask_about(
                asked::NICK,
                old.as_deref(),
                format!("NICK {nick}").into_bytes(),
            );
        }
        self.nick = Some(nick.to_owned());
        if self.registered {
            // After a refused login (433, 464) the client tries again with
            // another nick; once logged in, the hub refuses a second LOGIN.
            return self.login(nick);
        }
        self.register();
    }

    /// Registration is done when NICK and USER have come and no CAP
    /// negotiation is open: the hub is asked to log the nick in (with
    /// PASS's password), then who is in the everyone channel.
    pub(super) fn register(&mut self) {
        if self.registered || self.negotiating || !self.user_given {
            return;
        }
        let Some(nick) = self.nick.clone() else {
            return;
        };
        self.registered = true;
        // An account SASL proved logs in as itself (evchat's names are
        // its accounts), needing no password.
        let name = self.sasl_account.clone().unwrap_or(nick);
        self.login(&name);
    }

    fn login(&mut self, nick: &str) {
        let mut login = format!("LOGIN {nick}").into_bytes();
        if let Some(password) = &self.password {
            login.push(b' ');
            escape_into(password, &mut login);
        }
        self.ask(asked::REGISTER, login);
        self.ask(asked::EVERYONE, b"WHO".to_vec());
    }

    fn privmsg(&mut self, notice: bool, m: &Message<'_>, answer: &mut Vec<u8>) {
        let how = if notice {
            asked::NOTICE
        } else {
            asked::PRIVMSG
        };
        let Some(targets) = m.param(0).filter(|t| !t.is_empty()) else {
            if !notice {
                self.numeric(answer, "411", &[], "No recipient given (PRIVMSG)");
            }
            return;
        };
        let Some(text) = m.param(1).filter(|t| !t.trim().is_empty()) else {
            if !notice {
                self.numeric(answer, "412", &[], "No text to send");
            }
            return;
        };
        let tags = self.client_tags(m.tags);
        self.send_text(how, targets, text, tags);
    }

    /// Sends `text` to `targets` (IRC's, the everyone channel among them)
    /// as `SAY` and `MSG`, with `tags` (`@<tags> ` or empty) before each.
    pub(super) fn send_text(&mut self, how: u8, targets: &str, text: &str, tags: Vec<u8>) {
        let mut to = Vec::new();
        let mut everyone = false;
        for target in targets.split(',').filter(|t| !t.is_empty()) {
            if target.eq_ignore_ascii_case(&self.config.everyone) {
                everyone = true;
            } else {
                if !to.is_empty() {
                    to.push(b',');
                }
                to.extend_from_slice(target.as_bytes());
            }
        }
        let mut escaped = Vec::with_capacity(text.len() + 1);
        escape_into(text, &mut escaped);
        if everyone {
            let mut say = tags.clone();
            say.extend_from_slice(b"SAY ");
            say.extend_from_slice(&escaped);
            self.ask(how, say);
        }
        if !to.is_empty() {
            let mut msg = tags;
            msg.extend_from_slice(b"MSG ");
            msg.extend_from_slice(&to);
            msg.push(b' ');
            msg.extend_from_slice(&escaped);
            self.ask(how, msg);
        }
    }

    /// `TAGMSG <targets>`: the line protocol's, with the line's client-only
    /// tags; none, or only the everyone channel, and there is nothing to
    /// send.
    fn tagmsg(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        let Some(targets) = m.param(0).filter(|t| !t.is_empty()) else {
            return self.need_more(answer, "TAGMSG");
        };
        let tags = self.client_tags(m.tags);
        let everyone = &self.config.everyone;
        let to: Vec<&str> = targets
            .split(',')
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case(everyone))
            .collect();
        if tags.is_empty() || to.is_empty() {
            return;
        }
        let mut line = tags;
        line.extend_from_slice(b"TAGMSG ");
        line.extend_from_slice(to.join(",").as_bytes());
        self.ask(asked::PRIVMSG, line);
    }

    /// `@<tags> ` of the line's client-only tags, to go before its
    /// command, if the client negotiated `message-tags` (empty if not, or
    /// none); tags the line protocol would refuse are left out.
    pub(super) fn client_tags(&self, tags: Option<&str>) -> Vec<u8> {
        let Some(raw) = tags.filter(|_| self.caps.message_tags) else {
            return Vec::new();
        };
        let kept: Vec<&str> = raw.split(';').filter(|t| is_client_tag(t)).collect();
        let joined = kept.join(";");
        if kept.is_empty() || joined.len() > MAX_TAGS {
            return Vec::new();
        }
        format!("@{joined} ").into_bytes()
    }

    fn join(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        let Some(channels) = m.param(0) else {
            return self.need_more(answer, "JOIN");
        };
        if channels == "0" {
            // Leave every channel (but the everyone channel).
            return self.ask(asked::PART, b"PART *".to_vec());
        }
        let mut keys = m.param(1).unwrap_or_default().split(',');
        for channel in channels.split(',').filter(|c| !c.is_empty()) {
            let key = keys.next().filter(|k| !k.is_empty() && !k.contains(' '));
            if channel.eq_ignore_ascii_case(&self.config.everyone) {
                // Always in it: a JOIN of a channel one is in says nothing
                // (a client rejoining after a reconnect expects no answer).
                continue;
            } else if !is_valid_room(channel) {
                self.numeric(
                    answer,
                    "403",
                    &[channel],
                    "No such channel: channels are # and 1-32 of A-Z a-z 0-9 _ -",
                );
            } else {
                let join = match key {
                    Some(key) => format!("JOIN {channel} {key}"),
                    None => format!("JOIN {channel}"),
                };
                self.ask(asked::JOIN, join.into_bytes());
                self.ask(asked::JOIN, format!("WHO {channel}").into_bytes());
            }
        }
    }

    fn part(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        let Some(channels) = m.param(0) else {
            return self.need_more(answer, "PART");
        };
        let reason = m.param(1).filter(|r| !r.trim().is_empty());
        if channels == "0" {
            return self.ask(asked::PART, b"PART *".to_vec());
        }
        for channel in channels.split(',').filter(|c| !c.is_empty()) {
            if !self.is_room(channel, answer) {
                continue;
            }
            let mut part = format!("PART {channel}").into_bytes();
            if let Some(reason) = reason {
                part.push(b' ');
                escape_into(reason, &mut part);
            }
            self.ask(asked::PART, part);
        }
    }

    /// `NAMES` and `WHO`: of a room, or of everyone.
    fn names(&mut self, how: u8, channel: Option<&str>, answer: &mut Vec<u8>) {
        let target = channel
            .and_then(|c| c.split(',').next())
            .unwrap_or_default();
        let everyone = target.is_empty()
            || matches!(target, "*" | "0")
            || target.eq_ignore_ascii_case(&self.config.everyone);
        if everyone {
            self.ask(how, b"WHO".to_vec());
        } else if target.starts_with('#') {
            self.ask(how, format!("WHO {target}").into_bytes());
        } else if target.len() > MAX_MASK {
            // Matched against everyone online, a mask costs its length
            // per name: no nick is longer than 32, nor a useful mask 64.
            let (code, text) = match how {
                asked::WHO => ("315", "End of /WHO list"),
                _ => ("366", "End of /NAMES list"),
            };
            self.numeric(answer, code, &["*"], text);
        } else {
            // A nick or a mask of nicks (`WHO bob`, `WHO b*`): everyone
            // online, told for the names it matches.
            self.ask_about(how, Some(target), b"WHO".to_vec());
        }
    }

    fn ping_pong(&mut self, verb: &str, m: &Message<'_>) {
        // The line protocol's tokens are one field without escapes; a
        // PONG naming this server answers the server's keep-alive.
        let token = m.params().last().copied().unwrap_or_default();
        let plain =
            !token.is_empty() && token != &*self.config.server && !token.contains([' ', '\\']);
        if plain {
            self.ask(asked::OTHER, format!("{verb} {token}").into_bytes());
        } else if verb == "PING" && !token.is_empty() && token != &*self.config.server {
            // A token the line protocol cannot carry (spaces, escapes)
            // is kept with the question and given back in the answer.
            self.ask_about(asked::PING, Some(token), b"PING".to_vec());
        } else {
            self.ask(asked::OTHER, verb.as_bytes().to_vec());
        }
    }

    /// A user's modes: evchat has none.
    fn mode(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        if m.param(0).is_none() {
            return self.need_more(answer, "MODE");
        }
        let me = self.nick.as_deref().unwrap_or("*");
        super::reply::numeric_bare(answer, &self.config.server, "221", me, &["+"]);
    }

    /// `WHOIS [<server>] <nick>[,<nick>...]` (up to 8 nicks, as
    /// `TARGMAX` says) and `WHOWAS <nick>`: the hub's `WHOIS` of each.
    fn whois(&mut self, whowas: bool, m: &Message<'_>, answer: &mut Vec<u8>) {
        // WHOWAS <nick> [<count>]; WHOIS [<server>] <nick>.
        let nicks = match whowas {
            true => m.param(0),
            false => m.params().last().copied(),
        };
        let Some(nicks) = nicks.filter(|n| !n.trim().is_empty()) else {
            return self.numeric(answer, "431", &[], "No nickname given");
        };
        let max = if whowas { 1 } else { 8 };
        for nick in nicks.split(',').filter(|n| !n.is_empty()).take(max) {
            if !is_valid_name(nick) {
                let (code, text, end, ended) = match whowas {
                    true => ("406", "There was no such nickname", "369", "End of WHOWAS"),
                    false => ("401", "No such nick/channel", "318", "End of /WHOIS list"),
                };
                self.numeric(answer, code, &[nick], text);
                self.numeric(answer, end, &[nick], ended);
                continue;
            }
            let what = if whowas { asked::WHOWAS } else { asked::WHOIS };
            self.ask_about(what, Some(nick), format!("WHOIS {nick}").into_bytes());
        }
    }

    /// `AWAY :<text>` or, to come back, `AWAY`; a text longer than
    /// ISUPPORT's `AWAYLEN` is cut there, as IRC servers do.
    fn away(&mut self, m: &Message<'_>) {
        let mut away = b"AWAY".to_vec();
        if let Some(text) = m.param(0).filter(|t| !t.trim().is_empty()) {
            let mut cut = text.len().min(crate::server::cmd::AWAY_MAX / 2);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            away.push(b' ');
            escape_into(text.get(..cut).unwrap_or_default(), &mut away);
        }
        self.ask(asked::AWAY, away);
    }

    fn quit(&mut self, m: &Message<'_>) {
        let mut quit = b"QUIT".to_vec();
        if let Some(reason) = m.param(0).filter(|r| !r.trim().is_empty()) {
            quit.push(b' ');
            escape_into(reason, &mut quit);
        }
        self.ask(asked::OTHER, quit);
    }

    /// Queues a frame for the hub, asking `what`.
    pub(super) fn ask(&mut self, what: u8, line: Vec<u8>) {
        self.ask_about(what, None, line);
    }

    pub(super) fn ask_about(&mut self, what: u8, about: Option<&str>, line: Vec<u8>) {
        let asked = Asked {
            what,
            about: about.map(Into::into),
        };
        self.pending.push_back(Pending::Frame(asked, line));
    }

    pub(super) fn need_more(&self, answer: &mut Vec<u8>, verb: &str) {
        self.numeric(answer, "461", &[verb], "Not enough parameters");
    }

    /// A line refused before it was a message: told as a `NOTICE`.
    fn fail(&self, answer: &mut Vec<u8>, text: &str) {
        let me = self.nick.as_deref().unwrap_or("*");
        let server = &self.config.server;
        answer.extend_from_slice(format!(":{server} NOTICE {me} :{text}\r\n").as_bytes());
    }

    /// Appends `:<server> <code> <nick> <params...> :<text>`.
    pub(super) fn numeric(&self, answer: &mut Vec<u8>, code: &str, params: &[&str], text: &str) {
        let me = self.nick.as_deref().unwrap_or("*");
        super::reply::numeric(answer, &self.config.server, code, me, params, text);
    }
}
