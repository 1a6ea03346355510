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
    // Could still become a request (a method's beginning): undecided.
    let undecided = h.connect();
    h.send(undecided, "GE");
    // Cannot: a chat line still being typed, the idle timeout's business.
    let typing = h.connect();
    h.send(typing, "LOG");
    let quiet = h.connect();
    h.at(9);
    assert!(h.hub.session(slow).is_some_and(|s| s.is_open()));
    h.at(11);
    assert!(!h.hub.session(slow).is_some_and(|s| s.is_open()));
    assert!(!h.hub.session(undecided).is_some_and(|s| s.is_open()));
    // A connection that sent nothing is the idle timeout's business.
    assert!(h.hub.session(quiet).is_some_and(|s| s.is_open()));
    assert!(h.hub.session(typing).is_some_and(|s| s.is_open()));
}

/// A connection the server is too full for, as the loop opens it.
fn refused(h: &mut Harness) -> usize {
    let wire = super::harness::Wire::default();
    let peer = "127.0.0.1:9".parse().unwrap();
    let key = h
        .hub
        .open_refused(wire.clone(), peer, "server full; try again later");
    let key = key.expect("room to wait");
    h.wires.insert(key, wire);
    key
}

#[test]
fn a_connection_waiting_to_be_refused_takes_no_clients_slot() {
    let mut h = Harness::new();
    let _alice = h.login("alice");
    let before = h.hub.open_connections();
    let silent = refused(&mut h);
    assert_eq!(h.hub.open_connections(), before, "not a client");
    // Told in lines once it speaks them; in HTTP once it began a request
    // and did not finish in time.
    let chat = refused(&mut h);
    h.send(chat, "LOGIN carol\n");
    assert_eq!(
        answer(&mut h, chat),
        "ERR 503 server full; try again later\n"
    );
    let slow = refused(&mut h);
    h.send(slow, "GET / HTTP/1.1\r\n");
    h.at(2);
    let told = answer(&mut h, slow);
    assert!(told.starts_with("HTTP/1.1 503 "), "{told}");
    assert!(
        told.ends_with("\r\n\r\nserver full; try again later\n"),
        "{told}"
    );
    assert_eq!(
        answer(&mut h, silent),
        "ERR 503 server full; try again later\n"
    );
    assert_eq!(h.hub.open_connections(), before);
    // Gone before being told: not counted either.
    let gone = refused(&mut h);
    h.hub.remove(gone);
    assert_eq!(h.hub.open_connections(), before);
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
