//! How events look in the terminal: `[10:15:30] <alice> hello`, in local
//! time, with private messages, joins, leaves and errors set apart.

use super::Event;
use chrono::{DateTime, Local, Utc};

fn clock(time: &DateTime<Utc>) -> String {
    time.with_timezone(&Local).format("[%H:%M:%S]").to_string()
}

/// Puts `head` before the first line of `text` and indents the others
/// under it, so a multi-line message reads as one block.
fn block(head: &str, text: &str) -> String {
    let indent = " ".repeat(head.chars().count());
    let mut out = String::with_capacity(head.len() + text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&indent);
        } else {
            out.push_str(head);
        }
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
    }
    out
}

/// The line(s) to show for an event; `None` for events not worth showing.
pub fn render(event: &Event, me: &str) -> Option<String> {
    Some(match event {
        Event::Say { from, time, text } => block(&format!("{} <{from}> ", clock(time)), text),
        Event::Msg {
            from,
            to,
            time,
            text,
        } => {
            let tag = if to.len() == 1 && to[0] == me {
                "[private]".to_owned()
            } else {
                format!("[private to {}]", to.join(","))
            };
            block(&format!("{} {tag} <{from}> ", clock(time)), text)
        }
        Event::Joined { name, time } => format!("{} * {name} joined", clock(time)),
        Event::Left { name, time, text } => match text {
            Some(text) => block(&format!("{} * {name} left: ", clock(time)), text),
            None => format!("{} * {name} left", clock(time)),
        },
        Event::Users(names) => format!("* online ({}): {}", names.len(), names.join(", ")),
        Event::Stats(pairs) => {
            let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("* server: {}", pairs.join(" "))
        }
        Event::Error { code, text } => format!("! error {code}: {text}"),
        Event::LoggedIn { name } => format!("* logged in as {name}; /help lists commands"),
        Event::Ping { .. } | Event::Pong { .. } | Event::Bye => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:15:30.123Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn formats_messages() {
        let say = Event::Say {
            from: "alice".into(),
            time: at(),
            text: "hello\nworld".into(),
        };
        let shown = render(&say, "bob").unwrap();
        let stamp = clock(&at());
        assert_eq!(
            shown,
            format!(
                "{stamp} <alice> hello\n{}world",
                " ".repeat(stamp.len() + 9)
            )
        );
        let msg = Event::Msg {
            from: "alice".into(),
            to: vec!["bob".into()],
            time: at(),
            text: "psst".into(),
        };
        assert_eq!(
            render(&msg, "bob").unwrap(),
            format!("{stamp} [private] <alice> psst")
        );
        let err = Event::Error {
            code: 404,
            text: "no such user: zed".into(),
        };
        assert_eq!(
            render(&err, "bob").unwrap(),
            "! error 404: no such user: zed"
        );
        assert_eq!(render(&Event::Bye, "bob"), None);
    }
}
