//! SASL `PLAIN` (the IRCv3 `sasl` capability): `AUTHENTICATE PLAIN`, the
//! server's `AUTHENTICATE +`, then the credentials in base64, in 400-byte
//! pieces. They are checked by the hub as the line protocol's `AUTH` —
//! the password off the loop, with a login's limits — before `CAP END`
//! ends registration, which then logs the account in (`900`/`903`, or
//! `904` for a wrong one; the client may try again).

use super::message::Message;
use super::{asked, Irc};
use crate::protocol::escape::escape_into;
use crate::protocol::is_valid_name;
use base64::Engine;

/// The longest credentials, in base64 (a name, twice, and a password of
/// at most 1024 bytes, with room to spare).
const MAX_PAYLOAD: usize = 2048;

/// Where a SASL exchange is.
#[derive(Debug, Default)]
pub(super) enum Sasl {
    #[default]
    Idle,
    /// `PLAIN` chosen; the base64 received so far.
    Plain(String),
}

impl Irc {
    pub(super) fn authenticate(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        if self.logged_in {
            return self.numeric(answer, "907", &[], "You have already authenticated");
        }
        if !self.caps.sasl {
            return self.numeric(
                answer,
                "904",
                &[],
                "SASL authentication failed: CAP REQ sasl first",
            );
        }
        let Some(arg) = m.param(0).filter(|a| !a.is_empty()) else {
            return self.need_more(answer, "AUTHENTICATE");
        };
        match std::mem::take(&mut self.sasl) {
            Sasl::Idle if arg.eq_ignore_ascii_case("PLAIN") => {
                self.sasl = Sasl::Plain(String::new());
                answer.extend_from_slice(b"AUTHENTICATE +\r\n");
            }
            Sasl::Idle if arg == "*" => {
                self.numeric(answer, "906", &[], "SASL authentication aborted");
            }
            Sasl::Idle => {
                self.numeric(answer, "908", &["PLAIN"], "are available SASL mechanisms");
                self.numeric(answer, "904", &[], "SASL authentication failed");
            }
            Sasl::Plain(_) if arg == "*" => {
                self.numeric(answer, "906", &[], "SASL authentication aborted");
            }
            Sasl::Plain(mut so_far) => {
                if arg != "+" {
                    so_far.push_str(arg);
                }
                if so_far.len() > MAX_PAYLOAD {
                    return self.numeric(answer, "905", &[], "SASL message too long");
                }
                if arg.len() == 400 {
                    // A full piece: more follows (or `+`).
                    self.sasl = Sasl::Plain(so_far);
                    return;
                }
                match credentials(&so_far) {
                    Some((account, password)) => {
                        let mut auth = format!("AUTH {account} ").into_bytes();
                        escape_into(&password, &mut auth);
                        self.sasl_account = Some(account);
                        self.ask(asked::SASL, auth);
                    }
                    None => self.numeric(answer, "904", &[], "SASL authentication failed"),
                }
            }
        }
    }
}

/// `[authzid] NUL authcid NUL password`, in base64: the account (which
/// must be the authorization identity, if one is given) and password.
fn credentials(base64: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let mut parts = raw.split('\0');
    let (authzid, authcid, password) = (parts.next()?, parts.next()?, parts.next()?);
    let valid = parts.next().is_none()
        && is_valid_name(authcid)
        && (authzid.is_empty() || authzid.eq_ignore_ascii_case(authcid))
        && !password.is_empty();
    valid.then(|| (authcid.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::credentials;

    #[test]
    fn plain_credentials_name_the_account_and_its_password() {
        // "\0bob\0pass word" and "bob\0bob\0pw"
        assert_eq!(
            credentials("AGJvYgBwYXNzIHdvcmQ="),
            Some(("bob".into(), "pass word".into()))
        );
        assert_eq!(
            credentials("Ym9iAGJvYgBwdw=="),
            Some(("bob".into(), "pw".into()))
        );
        // Another authorization identity, no password, junk.
        assert_eq!(credentials("YW15AGJvYgBwdw=="), None);
        assert_eq!(credentials("AGJvYgA="), None);
        assert_eq!(credentials("!!!"), None);
    }
}
