use super::*;
use std::collections::{BTreeSet, HashSet};

/// dotnet-dump 10.0.750501's `help`, as `lab/bin/sos DUMP -c help` printed it.
const DOTNET_DUMP_HELP: &str = include_str!("../../tests/expected/dotnet-dump-help.txt");

/// clrheap's own commands, which dotnet-dump does not have.
const OWN: [&str; 2] = ["leaks", "retained"];

/// Each line of dotnet-dump's help: its names (lower case, case variants merged).
fn dotnet_dump_commands() -> Vec<Vec<String>> {
    DOTNET_DUMP_HELP
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let left = line.split("  ").next().unwrap_or(line);
            let names = left.split(" <").next().unwrap_or(left);
            let mut distinct: Vec<String> = Vec::new();
            for n in names.split(',').map(|n| n.trim().to_ascii_lowercase()) {
                if !distinct.contains(&n) {
                    distinct.push(n);
                }
            }
            distinct
        })
        .collect()
}

#[test]
fn names_and_aliases_are_dotnet_dumps() {
    let theirs = dotnet_dump_commands();
    assert!(theirs.len() > 90, "{} commands in the help text", theirs.len());
    for names in &theirs {
        let row = lookup(&names[0]).unwrap_or_else(|| panic!("no row for {}", names[0]));
        let ours: Vec<String> = row.names().map(String::from).collect();
        assert_eq!(&ours, names, "names of {}", names[0]);
    }
    let known: HashSet<&str> = theirs.iter().map(|n| n[0].as_str()).collect();
    let extra: Vec<&str> = COMMANDS.iter().map(|c| c.name).filter(|n| !known.contains(n)).collect();
    assert_eq!(extra, OWN);
    // The two that used to be wrong.
    assert_eq!(canonical("da"), "da");
    assert_eq!(canonical("Threads"), "threads");
    assert_eq!(canonical("setthread"), "threads");
}

#[test]
fn aliases_map_to_one_name() {
    assert_eq!(canonical("DumpHeap"), "dumpheap");
    assert_eq!(canonical("!dumpheap"), "dumpheap");
    assert_eq!(canonical("do"), "dumpobj");
    assert_eq!(canonical("!DO"), "dumpobj");
    assert_eq!(canonical("FQ"), "finalizequeue");
    assert_eq!(canonical("dso"), "dumpstackobjects");
    assert_eq!(canonical("nosuch"), "nosuch");
    assert!(lookup("nosuch").is_none());
}

#[test]
fn table_is_sorted_lower_case_and_unambiguous() {
    let mut seen = HashSet::new();
    for pair in COMMANDS.windows(2) {
        assert!(pair[0].name < pair[1].name, "{} before {}", pair[0].name, pair[1].name);
    }
    for c in COMMANDS {
        for n in c.names() {
            assert_eq!(n, n.to_ascii_lowercase());
            assert!(seen.insert(n), "{n} names two commands");
        }
        if c.implemented() {
            assert!(!c.examples.is_empty(), "{} has no example", c.name);
        }
        match c.action {
            Action::Run(_) => assert!(!c.exercise.is_empty(), "{} has no lines for the robustness test", c.name),
            _ => assert!(c.exercise.is_empty() && c.options.is_empty(), "{}", c.name),
        }
        for line in c.exercise.iter().chain(c.examples) {
            let first = line.split_whitespace().next().unwrap_or("");
            assert_eq!(lookup(first).map(|r| r.name), Some(c.name), "{line}");
        }
    }
}

#[test]
fn options_are_declared_once_and_spelled_as_options() {
    for c in COMMANDS {
        let mut names = BTreeSet::new();
        for o in c.shown_options() {
            assert!(!o.help.is_empty(), "{} {}: no help", c.name, o.name);
            for n in o.names() {
                assert!(n.starts_with('-') && n.len() > 1, "{} {n}", c.name);
                assert!(names.insert(n), "{} declares {n} twice", c.name);
            }
            if let Some(v) = o.value {
                assert!(v.starts_with('<') && v.ends_with('>'), "{} {}: {v}", c.name, o.name);
            }
        }
    }
}

/// Every option a command's parser reads is declared: the parsers take the declared list
/// (`CommandArgs::parse(args, OPTIONS)`, `SosArgs::parse(args, OPTIONS, n)`), they refuse
/// any other `-word`, and a command asking for an undeclared name fails a debug
/// assertion. What is left to check is that no command parses by hand: no option name
/// is matched in a command's source but through those.
#[test]
fn commands_parse_only_through_their_option_lists() {
    // The command files, and those of commands that are a directory (`dumpobj/`).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            files.push(path);
        }
    }
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.strip_prefix(&dir).unwrap().to_string_lossy().to_string();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            // A match arm or comparison on an option word: `"-stat" =>`, `== "-mt"`.
            for (i, _) in code.match_indices("\"-") {
                let rest = &code[i + 1..];
                let Some(end) = rest.find('"') else { continue };
                let word = &rest[..end];
                let after = rest[end + 1..].trim_start();
                let before = code[..i].trim_end();
                let hand_parsed = after.starts_with("=>")
                    || after.starts_with('|')
                    || before.ends_with("==")
                    || before.ends_with("eq_ignore_ascii_case(");
                assert!(!hand_parsed, "{file}:{}: {word} is parsed by hand: {line}", n + 1);
            }
            // Every name asked of a parser is declared in the file's option lists.
            for call in ["flag(\"", "has(\"", "value(\""] {
                for (i, _) in code.match_indices(call) {
                    let rest = &code[i + call.len()..];
                    let name = &rest[..rest.find('"').unwrap_or(0)];
                    if !name.starts_with('-') {
                        continue;
                    }
                    let declared = COMMANDS
                        .iter()
                        .flat_map(|c| c.options)
                        .any(|o| o.name == name);
                    assert!(declared, "{file}:{}: {name} is not a declared option", n + 1);
                }
            }
        }
    }
}
