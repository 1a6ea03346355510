//! HTTP on the chat port, through the hub: any split of a request or of a
//! chat line is told apart the same way, and slow heads are closed.

use super::harness::Harness;
use proptest::prelude::*;

fn answer(h: &mut Harness, key: usize) -> String {
    h.flush();
    let bytes = std::mem::take(&mut *h.wires[&key].0.borrow_mut());
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_head_that_does_not_come_whole_is_closed_whatever_the_idle_timeout() {
    let mut h = Harness::new();
    let slow = h.connect();
    h.send(slow, "GET /healthz HTTP/1.1\r\nHost:");
    let undecided = h.connect();
    h.send(undecided, "LOG");
    let quiet = h.connect();
    h.at(9);
    assert!(h.hub.session(slow).is_some_and(|s| s.is_open()));
    h.at(11);
    assert!(!h.hub.session(slow).is_some_and(|s| s.is_open()));
    assert!(!h.hub.session(undecided).is_some_and(|s| s.is_open()));
    // A connection that sent nothing is the idle timeout's business.
    assert!(h.hub.session(quiet).is_some_and(|s| s.is_open()));
}

proptest! {
    #[test]
    fn any_split_of_a_request_or_a_chat_line_is_served_alike(cut in 1usize..40) {
        let request = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut h = Harness::new();
        let web = h.connect();
        let cut = cut.min(request.len() - 1);
        h.send(web, &request[..cut]);
        h.send(web, &request[cut..]);
        let got = answer(&mut h, web);
        prop_assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
        prop_assert!(got.ends_with("\r\n\r\nok\n"), "{got}");

        // Starts like a request line until its last field says otherwise.
        let line = "PING /x HTTP/2\nLOGIN alice\n";
        let chat = h.connect();
        let cut = cut.min(line.len() - 1);
        h.send(chat, &line[..cut]);
        h.send(chat, &line[cut..]);
        let got = answer(&mut h, chat);
        prop_assert_eq!(got, "PONG /x HTTP/2\nOK LOGIN alice\n");
    }
}
