//! The answer to a confirmation request on the bus (`C`, see
//! [`wire`](super::wire)): a node has delivered or held what a connection
//! of another node sent it, except for what it lists here.

use super::wire::Malformed;
use crate::protocol::ErrorCode;

/// The answer to a [`Confirm`](super::wire::BusMessage::Confirm): a line `<code> <text>` per
/// message that could be neither delivered nor held, none if all were.
pub fn encode_answer(failures: &[(ErrorCode, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (code, text) in failures {
        out.extend_from_slice(format!("{} ", *code as u16).as_bytes());
        // One short line each, whatever the text.
        let mut end = text.len().min(MAX_FAILURE_TEXT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        out.extend(text[..end].bytes().map(|b| if b < b' ' { b' ' } else { b }));
        out.push(b'\n');
    }
    out
}

/// Longest failure text an answer may carry.
const MAX_FAILURE_TEXT: usize = 512;

/// Reads an answer (see [`encode_answer`]): what came over NATS may be
/// forged, so only the codes a hold fails with and short one-line texts
/// are taken.
pub fn decode_answer(payload: &[u8]) -> Result<Vec<(ErrorCode, String)>, Malformed> {
    let text = std::str::from_utf8(payload).map_err(|_| Malformed("answer is not UTF-8"))?;
    let mut failures = Vec::new();
    for line in text.split_terminator('\n') {
        let (code, why) = line.split_once(' ').ok_or(Malformed("no code"))?;
        let code = match code {
            "404" => ErrorCode::NoSuchUser,
            "503" => ErrorCode::Unavailable,
            "507" => ErrorCode::MailboxFull,
            _ => return Err(Malformed("not a code a hold fails with")),
        };
        if why.is_empty() || why.len() > MAX_FAILURE_TEXT || why.bytes().any(|b| b < b' ') {
            return Err(Malformed("not a one-line text"));
        }
        failures.push((code, why.to_owned()));
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_round_trip() {
        let failures = vec![
            (ErrorCode::MailboxFull, "bob's mailbox is full".to_owned()),
            (ErrorCode::Unavailable, "no quorum".to_owned()),
        ];
        assert_eq!(decode_answer(&encode_answer(&failures)), Ok(failures));
        assert_eq!(decode_answer(b""), Ok(vec![]));
        let odd = [(ErrorCode::Unavailable, "a\nb".to_owned())];
        assert_eq!(
            decode_answer(&encode_answer(&odd)),
            Ok(vec![(ErrorCode::Unavailable, "a b".to_owned())])
        );
    }

    #[test]
    fn forged_answers_are_refused() {
        for bad in [
            &b"200 fine\n"[..],
            b"507\n",
            b"507 \n",
            b"\xff\n",
            b"503 a\rb\n",
        ] {
            assert!(decode_answer(bad).is_err(), "{:?}", bad);
        }
        let long = format!("503 {}\n", "x".repeat(MAX_FAILURE_TEXT + 1));
        assert!(decode_answer(long.as_bytes()).is_err());
    }
}
