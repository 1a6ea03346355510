use super::*;
use proptest::prelude::*;

fn shown(name: &str) -> Rc<str> {
    Rc::from(name)
}

#[test]
fn mode_strings_read_as_irc_writes_them() {
    let ask = parse_changes("+o-t+kl", &["bob", "s3cret", "10"]).unwrap();
    assert_eq!(
        ask,
        ModeAsk::Changes(vec![
            Change::Op(true, "bob".into()),
            Change::Flag(false, 't'),
            Change::Key(Some("s3cret".into())),
            Change::Limit(Some(10)),
        ])
    );
    assert_eq!(parse_changes("+b", &[]).unwrap(), ModeAsk::Bans);
    assert_eq!(parse_changes("b", &[]).unwrap(), ModeAsk::Bans);
    assert_eq!(
        parse_changes("-b", &["Bob"]).unwrap(),
        ModeAsk::Changes(vec![Change::Ban(false, "bob!*@*".into())])
    );
    assert!(parse_changes("+o", &[]).is_err());
    assert!(parse_changes("+x", &[]).is_err());
    assert!(parse_changes("+k", &["a b"]).is_err());
    assert!(parse_changes("+k", &[":key"]).is_err());
    assert!(parse_changes("+b", &[":x!*@*"]).is_err());
    assert!(parse_changes("+l", &["0"]).is_err());
    assert!(parse_changes("+ttttttt", &[]).is_err());
    assert!(parse_changes("+", &[]).is_err());
}

#[test]
fn bans_match_the_mask_an_evchat_user_has() {
    assert!(banned_by("bob!*@*", "Bob"));
    assert!(banned_by("b*!*@evchat", "bob"));
    assert!(banned_by("*", "anyone"));
    assert!(banned_by("?o?!*@*", "bob"));
    assert!(!banned_by("bob!*@*", "bobby"));
    assert!(!banned_by("*!*@elsewhere", "bob"));
}

#[test]
fn a_diff_says_every_change_once() {
    let old = Settings::default();
    let mut new = old.clone();
    new.apply(&Change::Op(true, "amy".into()), shown).unwrap();
    new.apply(&Change::Flag(false, 't'), shown).unwrap();
    new.apply(&Change::Key(Some("k".into())), shown).unwrap();
    new.apply(&Change::Ban(true, "x!*@*".into()), shown)
        .unwrap();
    let (modes, args) = old.diff(&new);
    assert_eq!(modes, "+kob-t");
    assert_eq!(args, ["k", "amy", "x!*@*"]);
    assert_eq!(new.diff(&new), (String::new(), vec![]));
    let (modes, args) = new.diff(&old);
    assert_eq!(modes, "+t-kob");
    assert_eq!(args, ["*", "amy", "x!*@*"]);
}

#[test]
fn lists_are_bounded() {
    let mut s = Settings::default();
    for i in 0..MAX_LIST {
        s.apply(&Change::Op(true, format!("n{i}")), shown).unwrap();
        s.invite(Rc::from(format!("i{i}")));
    }
    assert!(s.apply(&Change::Op(true, "more".into()), shown).is_err());
    s.invite(Rc::from("late"));
    assert_eq!(s.invited.len(), MAX_LIST);
    assert!(s.is_invited("LATE") && !s.is_invited("i0"));
}

#[test]
fn values_that_evchat_does_not_write_are_refused() {
    assert!(Settings::parse("x y\n").is_none());
    assert!(Settings::parse("o bad name\n").is_none());
    assert!(Settings::parse("f +z\n").is_none());
    assert!(Settings::parse("l 0\n").is_none());
    assert!(Settings::parse("T amy t a\\qb\n").is_none());
    assert!(Settings::parse("c <script> t\n").is_none());
}

fn settings() -> impl Strategy<Value = Settings> {
    let name = "[A-Za-z0-9_-]{1,8}";
    (
        proptest::option::of(("[a-z ]{1,20}", name).prop_map(|(text, by)| Topic {
            text: text.trim().replace(' ', "_") + "x",
            by,
            time: "2026-12-07T10:00:00.000Z".into(),
        })),
        proptest::collection::vec(name, 0..4),
        any::<(bool, bool, bool)>(),
        proptest::option::of("[!-+\\--9;-~][!-+\\--~]{0,31}"),
        proptest::option::of(1usize..1000),
        proptest::collection::vec("[a-z*?]{1,8}", 0..4),
        proptest::collection::vec(name, 0..4),
        proptest::collection::vec(name, 0..4),
    )
        .prop_map(
            |(topic, ops, (t, m, i), key, limit, bans, invited, voiced)| {
                let mut s = Settings {
                    topic,
                    topic_locked: t,
                    moderated: m,
                    invite_only: i,
                    key,
                    limit,
                    by: "amy".into(),
                    time: "2026-12-07T10:00:00.000Z".into(),
                    ..Settings::default()
                };
                for op in ops {
                    let _ = s.apply(&Change::Op(true, op), shown);
                }
                for name in voiced {
                    let _ = s.apply(&Change::Voice(true, name), shown);
                }
                for ban in bans {
                    let _ = s.apply(&Change::Ban(true, ban_mask(&ban).unwrap()), shown);
                }
                for name in invited {
                    s.invite(Rc::from(name));
                }
                s
            },
        )
}

proptest! {
    #[test]
    fn settings_read_back_as_written(s in settings()) {
        prop_assert_eq!(Settings::parse(&s.encode()), Some(s));
    }

    #[test]
    fn applying_a_diffs_changes_gives_the_new_settings(a in settings(), b in settings()) {
        let (modes, args) = a.diff(&b);
        let mut c = a.clone();
        if !modes.is_empty() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            // A diff may hold more changes than one MODE may ask: applied
            // straight, not through the parser's limit.
            let mut adding = true;
            let mut args = args.into_iter();
            for ch in modes.chars() {
                let change = match ch {
                    '+' | '-' => { adding = ch == '+'; continue; }
                    'o' => Change::Op(adding, args.next().unwrap().into()),
                    'v' => Change::Voice(adding, args.next().unwrap().into()),
                    'k' if adding => Change::Key(Some(args.next().unwrap().into())),
                    'k' => { args.next(); Change::Key(None) }
                    'l' if adding => Change::Limit(args.next().unwrap().parse().ok()),
                    'l' => Change::Limit(None),
                    'b' => Change::Ban(adding, args.next().unwrap().into()),
                    f => Change::Flag(adding, f),
                };
                c.apply(&change, shown).unwrap();
            }
        }
        prop_assert_eq!(c.flags(true), b.flags(true));
        let mut ops_c: Vec<String> = c.ops.iter().map(|o| o.to_ascii_lowercase()).collect();
        let mut ops_b: Vec<String> = b.ops.iter().map(|o| o.to_ascii_lowercase()).collect();
        ops_c.sort(); ops_b.sort();
        prop_assert_eq!(ops_c, ops_b);
        let mut voiced_c: Vec<String> = c.voiced.iter().map(|v| v.to_ascii_lowercase()).collect();
        let mut voiced_b: Vec<String> = b.voiced.iter().map(|v| v.to_ascii_lowercase()).collect();
        voiced_c.sort(); voiced_b.sort();
        prop_assert_eq!(voiced_c, voiced_b);
        let (mut bans_c, mut bans_b) = (c.bans.clone(), b.bans.clone());
        bans_c.sort(); bans_b.sort();
        prop_assert_eq!(bans_c, bans_b);
    }
}
