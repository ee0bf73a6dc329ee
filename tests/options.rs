//! The registry against the commands themselves, on a committed fixture:
//! - every option a command lists is accepted by its parser (with a value when it takes
//!   one), and every option name any command knows that this one does not list is refused
//!   as unknown (so the parser accepts nothing unlisted);
//! - a dotnet-dump command clrheap does not implement answers one line naming it,
//!   whichever of its names was typed;
//! - an unknown option names itself and the valid ones.
use clrheap::args::OptionSpec;
use clrheap::dump::DumpOptions;
use clrheap::registry::{Action, COMMANDS};
use clrheap::Session;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

fn session() -> &'static Session {
    static SESSION: OnceLock<Session> = OnceLock::new();
    SESSION.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/zoo-net8-wks-heap.dmp.zst");
        let options = DumpOptions { dump_only: true, ..Default::default() };
        Session::open(&path, &options).expect("fixture opens")
    })
}

/// The fixture's addresses for the `{0}`..`{4}` of the registry's exercise lines: an
/// object, an object with fields, an array, the last object, the second one's MethodTable.
fn addrs(session: &Session) -> Vec<u64> {
    let heap = &session.heap;
    let (objects, _) = heap.objects();
    let free = heap.runtime.globals.free_mt;
    let string = heap.runtime.globals.string_mt;
    let live: Vec<_> = objects.iter().filter(|o| o.mt != free).collect();
    let first = live.iter().find(|o| o.size >= 40).expect("an object");
    let fields = live.iter().find(|o| o.mt != string && o.size >= 64).expect("an object with fields");
    let array = live
        .iter()
        .find(|o| o.mt != string && heap.method_table(o.mt).is_ok_and(|m| m.component_size > 0))
        .expect("an array");
    let last = live.last().expect("objects");
    vec![first.address, fields.address, array.address, last.address, fields.mt]
}

fn fill(line: &str, addrs: &[u64]) -> String {
    let mut line = line.to_string();
    for (i, a) in addrs.iter().enumerate() {
        line = line.replace(&format!("{{{i}}}"), &format!("{a:x}"));
    }
    line
}

/// A value an option of this kind accepts.
fn value_for(spec: &OptionSpec, addrs: &[u64]) -> String {
    match spec.value.unwrap_or("") {
        "<mt>" => format!("{:x}", addrs[4]),
        "<addr>" => format!("{:x}", addrs[0]),
        "<substring>" => "System".into(),
        "<generation>" => "gen0".into(),
        "<handletype>" => "Strong".into(),
        "<format>" => "text".into(),
        _ => "1".into(),
    }
}

/// Whether an error says the command's parser refused an option word.
fn refused(message: &str, word: &str) -> bool {
    message.starts_with(&format!("Unknown option: {word}"))
        || message.contains(&format!("Unrecognized command or argument '{word}'"))
        || message.starts_with("Wrong option")
        || message.contains("is not supported by clrheap yet")
}

/// Runs a line; returns the error message, if any (text written to the output by SOS's
/// native commands on a parse failure counts as their message).
fn run(session: &Session, line: &str) -> Option<String> {
    let mut out = Vec::new();
    match session.execute(line, &mut out) {
        Ok(()) => {
            let text = String::from_utf8_lossy(&out);
            let first = text.lines().next().unwrap_or("").to_string();
            (text.contains("Failed to parse command line arguments.")).then_some(first)
        }
        Err(e) => Some(format!("{e:#}")),
    }
}

#[test]
fn listed_options_are_accepted_and_unlisted_refused() {
    let session = session();
    let addrs = addrs(session);
    let every: BTreeSet<&str> = COMMANDS.iter().flat_map(|c| c.options).flat_map(|o| o.names()).collect();
    let mut failures = Vec::new();
    for c in COMMANDS.iter().filter(|c| matches!(c.action, Action::Run(_))) {
        // Positional words from the command's first exercise line: its options go before.
        let rest = fill(c.exercise[0], &addrs);
        let rest: Vec<&str> = rest.split_whitespace().skip(1).filter(|w| !w.starts_with('-')).collect();
        let rest = rest.join(" ");
        for spec in c.shown_options() {
            for name in spec.names() {
                let value = if spec.takes_value() { value_for(spec, &addrs) } else { String::new() };
                let line = format!("{} {name} {value} {rest}", c.name);
                if let Some(message) = run(session, &line)
                    && refused(&message, name) != !spec.supported
                {
                    failures.push(format!("{line}: {message}"));
                }
            }
        }
        for name in every.iter().filter(|n| !c.options.iter().any(|o| o.names().any(|m| m == **n))) {
            let line = format!("{} {name} 1 {rest}", c.name);
            match run(session, &line) {
                Some(message) if refused(&message, name) => {}
                other => failures.push(format!("{line}: accepted an unlisted option ({other:?})")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_options_name_the_valid_ones() {
    let session = session();
    let message = run(session, "dumpheap -typ Foo").expect("refused");
    assert!(message.starts_with("Unknown option: -typ (valid options: -stat, -type, -mt,"), "{message}");
    let message = run(session, "dumpstackobjects -verify").expect("refused");
    assert_eq!(message, "option -verify is not supported by clrheap yet");
    let mut out = Vec::new();
    assert!(session.execute("dumpstackobjects -VERIFY", &mut out).is_err());
    assert!(out.is_empty(), "dumpstackobjects -verify printed {:?}", String::from_utf8_lossy(&out));
}

#[test]
fn unimplemented_commands_say_so_under_every_name() {
    let session = session();
    let mut planned = 0;
    for c in COMMANDS.iter().filter(|c| !c.implemented()) {
        planned += 1;
        for name in c.names() {
            for typed in [name.to_string(), format!("!{}", name.to_uppercase())] {
                let mut out = Vec::new();
                let err = session.execute(&format!("{typed} 1234"), &mut out).expect_err(&typed);
                assert_eq!(err.to_string(), format!("'{}' is a dotnet-dump command clrheap does not implement yet", c.name));
                assert_eq!(err.kind(), clrheap::ErrorKind::NotImplemented);
                assert!(out.is_empty());
            }
        }
    }
    // Every dotnet-dump command has a real row since gcinfo: the loop checks the rows still
    // to come, if a later dotnet-dump adds any.
    let _ = planned;
    let err = session.execute("nosuch", &mut Vec::new()).unwrap_err();
    assert_eq!(err.to_string(), "Unrecognized SOS command 'nosuch'");
    assert_eq!(err.kind(), clrheap::ErrorKind::UnknownCommand);
}

#[test]
fn help_lists_exactly_the_implemented_commands() {
    let session = session();
    let mut out = Vec::new();
    session.execute("help", &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let (listed, rest) = text.split_once("\n\n").unwrap();
    let first_names: BTreeSet<&str> =
        listed.lines().map(|l| l.split([',', ' ']).next().unwrap()).collect();
    let implemented: BTreeSet<&str> = COMMANDS.iter().filter(|c| c.implemented()).map(|c| c.name).collect();
    assert_eq!(first_names, implemented);
    for c in COMMANDS.iter().filter(|c| !c.implemented()) {
        assert!(
            rest.split([' ', ',', '.', '\n']).any(|w| w == c.name),
            "{} is not named as not implemented",
            c.name
        );
    }
}
