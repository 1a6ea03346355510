//! The store alone: limits, sharing, forgetting, putting back.
use super::*;

fn limits() -> MailLimits {
    MailLimits {
        mailbox_max: 3,
        mailbox_bytes: 100,
        held_bytes: 400,
        max_known: 3,
    }
}

fn frame(size: usize) -> Rc<[u8]> {
    Rc::from(vec![b'x'; size])
}

#[test]
fn a_message_for_many_is_stored_and_charged_once() {
    let mut store = Store::new(MailLimits {
        held_bytes: 1 << 20,
        max_known: 10,
        ..limits()
    });
    let f = frame(60);
    let names = ["a", "b", "c", "d"];
    let (held, refused) = store.hold(&names, &f);
    assert_eq!((held.len(), refused.len()), (4, 0));
    assert_eq!(store.held(), 4);
    assert_eq!(
        store.held_bytes(),
        60 + LETTER_BYTES + 4 * (ENTRY_BYTES + MAILBOX_BYTES)
    );
    assert_eq!(Rc::strong_count(&f), 2, "one letter, shared");
    for name in names {
        let letters = store.take_held(name);
        assert_eq!(letters.len(), 1);
        store.delivered(name, letters);
    }
    assert_eq!((store.held(), store.held_bytes()), (0, 0));
    assert_eq!(Rc::strong_count(&f), 1, "freed with its last delivery");
}

#[test]
fn each_limit_refuses_with_its_own_reason() {
    let mut store = Store::new(MailLimits {
        held_bytes: 1300,
        ..limits()
    });
    let (_, refused) = store.hold(&["a"], &frame(60));
    assert!(refused.is_empty());
    assert_eq!(
        store.held_bytes(),
        60 + LETTER_BYTES + ENTRY_BYTES + MAILBOX_BYTES
    );
    let (_, refused) = store.hold(&["a"], &frame(60));
    assert_eq!(refused, [("a", Refusal::MailboxBytes(100))]);
    for _ in 0..3 {
        let (_, refused) = store.hold(&["b"], &frame(10));
        assert!(refused.is_empty());
    }
    let (_, refused) = store.hold(&["b"], &frame(10));
    assert_eq!(refused, [("b", Refusal::Messages(3))]);
    // 428 for a, 378 + 2 × 122 for b: 1050 charged; a new mailbox with 90
    // bytes takes 458 more, over 1300.
    assert_eq!(store.held_bytes(), 1050);
    let (held, refused) = store.hold(&["c"], &frame(90));
    assert!(held.is_empty());
    assert_eq!(refused, [("c", Refusal::TotalBytes(1300))]);
    assert!(Refusal::TotalBytes(1300)
        .to_string()
        .contains("--held-bytes"));
}

#[test]
fn mail_is_held_for_at_most_max_known_names() {
    let mut store = Store::new(MailLimits {
        held_bytes: 1 << 20,
        max_known: 2,
        ..limits()
    });
    let (held, refused) = store.hold(&["a", "b", "c"], &frame(10));
    assert_eq!(held.len(), 2);
    assert_eq!(refused, [("c", Refusal::Mailboxes(2))]);
    // A name with mail already may get more.
    assert!(store.hold(&["a"], &frame(10)).1.is_empty());
    // Names holding mail cannot be forgotten, so the bound holds.
    for name in ["d", "e", "f"] {
        store.see(name, false);
    }
    store.forget_past_limit();
    assert_eq!(store.known_names(), 2);
}

#[test]
fn names_past_the_limit_are_forgotten_least_recently_seen_first() {
    let mut store = Store::new(limits());
    for name in ["a", "b", "c", "d", "e", "f"] {
        store.see(name, false);
    }
    store.see("a", false); // a was seen again: b, c and d are older
    store.hold(&["b"], &frame(1)); // b holds mail: it stays
    store.see("c", true); // c is online: it stays
    let forgotten = store.forget_past_limit();
    let forgotten: Vec<&str> = forgotten.iter().map(|n| &**n).collect();
    assert_eq!(forgotten, ["d", "e", "f"]);
    assert!(["a", "b", "c"].iter().all(|n| store.is_known(n)));
    assert_eq!(store.known_names(), 3);
    // c logs out: seen now, and forgettable again, after a.
    store.see("c", false);
    store.see("g", false);
    assert_eq!(store.forget_past_limit().len(), 1);
    assert!(!store.is_known("a") && store.is_known("c"));
}

#[test]
fn undelivered_letters_go_back_in_front_of_newer_ones() {
    let mut store = Store::new(MailLimits {
        held_bytes: 1 << 20,
        ..limits()
    });
    let (old, new) = (frame(1), frame(2));
    store.hold(&["bob"], &old);
    let taken = store.take_held("bob");
    store.hold(&["bob"], &new);
    let bob = store.see("bob", false).0;
    store.restore(&bob, taken);
    let sizes: Vec<usize> = store
        .take_held("bob")
        .iter()
        .map(|l| l.frame.len())
        .collect();
    assert_eq!(sizes, [1, 2]);
}

#[test]
fn a_letter_given_up_leaves_its_mailboxes_and_every_charge() {
    for b_reads_it in [true, false] {
        let mut store = Store::new(MailLimits {
            held_bytes: 1 << 20,
            max_known: 10,
            ..limits()
        });
        let (a, _) = store.see("a", false);
        let (b, _) = store.see("b", false);
        let names_only = store.live_bytes();
        store.hold(&["a", "b"], &frame(60));
        let (to, _) = store.hold(&["a", "b"], &frame(30));
        let letter = store.last_letter_of("a").unwrap();
        // b is reading its mail when the letter's record turns out unwritten.
        let in_flight = store.take_held("b");
        store.unhold(&letter, &to);
        assert!(letter.refused.get());
        drop(letter);
        let for_a = store.take_held("a");
        assert_eq!(for_a.len(), 1, "only the first is still held for a");
        store.delivered(&a, for_a);
        if b_reads_it {
            store.delivered(&b, in_flight);
        } else {
            // Its connection ends: the given-up letter is not put back.
            store.restore(&b, in_flight);
            let for_b = store.take_held("b");
            assert_eq!(for_b.len(), 1);
            store.delivered(&b, for_b);
        }
        assert_eq!((store.held(), store.held_bytes()), (0, 0));
        assert_eq!(store.live_bytes(), names_only, "nothing left to journal");
    }
}
