//! Names and room names are compared without ASCII case: `Bob` and `bob`
//! are one user, `#Rust` and `#rust` one room, as IRC compares nicks and
//! channels — so nobody can pass for someone else by a capital letter.
//! Each is *shown* as first written and *keyed* (looked up, compared,
//! made unique) by its folded form, its ASCII lower case: the one rule
//! every part of evchat that keys names uses, from the hub's maps to the
//! journal and the cluster's buckets.

/// A folded name, as bytes: what maps of names and rooms are keyed by.
/// (The ASCII lower case of valid UTF-8 is valid UTF-8, but a lookup needs
/// no check that it is.)
pub type Folded = Box<[u8]>;

/// Longest name whose folded form [`folded`] makes on the stack: any the
/// protocol allows (32 bytes, 33 with a room's `#`).
const ON_STACK: usize = 64;

/// The folded form of `name`, to keep as a map's key.
pub fn fold(name: &str) -> Folded {
    name.as_bytes().to_ascii_lowercase().into_boxed_slice()
}

/// The folded form of `name` as text: a key in a NATS bucket, a token of
/// a subject.
pub fn fold_text(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Calls `f` with the folded form of `name`, made on the stack for any
/// name the protocol allows: a lookup allocates nothing, so a message's
/// path stays as cheap as when names were compared byte for byte.
#[inline]
pub fn folded<R>(name: &str, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; ON_STACK];
    match buf.get_mut(..name.len()) {
        Some(slot) => {
            slot.copy_from_slice(name.as_bytes());
            slot.make_ascii_lowercase();
            f(slot)
        }
        None => f(&fold(name)),
    }
}

/// Do `a` and `b` name the same user (or room)?
#[inline]
pub fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_to_ascii_lower_case_on_the_stack_or_not() {
        assert_eq!(&*fold("Bob-_9"), b"bob-_9");
        assert_eq!(fold_text("#RuSt"), "#rust");
        assert!(folded("BoB", |f| f == b"bob"));
        let long = "X".repeat(ON_STACK + 1);
        assert!(folded(&long, |f| f == "x".repeat(ON_STACK + 1).as_bytes()));
        assert!(same_name("Bob", "bOB") && !same_name("bob", "bob2"));
        // Only ASCII folds: what is not a name's character stays as it is.
        assert_eq!(&*fold("É"), "É".as_bytes());
    }
}
