//! The command table: dotnet-dump's command names and aliases, their help, their options.
//!
//! Names match case-insensitively, with or without SOS's leading `!` (`DumpHeap`,
//! `!dumpheap`, `dumpheap`), and every alias maps to one canonical name
//! ([`canonical`]), which is what `Session::execute` dispatches on. The shell uses the
//! same table for `help`, `help <command>` and tab completion.
//!
//! Adding a command: implement it, add its arm in `Session::execute` under its canonical
//! name, and set `implemented: true` in its entry here (adding the entry if it is new).

/// One command as `help` describes it.
#[derive(Debug, Clone, Copy)]
pub struct CommandInfo {
    /// The canonical name (lower case), the one `Session::execute` matches.
    pub name: &'static str,
    /// Other names for it (lower case), as dotnet-dump accepts them.
    pub aliases: &'static [&'static str],
    /// What follows the name: `<objaddr> [-nofields]`.
    pub usage: &'static str,
    /// One line for `help`.
    pub summary: &'static str,
    /// Options, as typed (for completion), each with its description.
    pub options: &'static [(&'static str, &'static str)],
    /// More text for `help <command>`; may be empty.
    pub details: &'static str,
    /// Example command lines.
    pub examples: &'static [&'static str],
    /// Whether clrheap runs it yet.
    pub implemented: bool,
}

/// Every command clrheap knows by name, in alphabetical order.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "clrmodules",
        aliases: &["assemblies"],
        usage: "[-v]",
        summary: "Lists the managed modules in the process.",
        options: &[("-format", "Output format: text (default), json or csv.")],
        details: "Each module's image base, size and file, in the runtime's load order.",
        examples: &["clrmodules"],
        implemented: true,
    },
    CommandInfo {
        name: "clrstack",
        aliases: &[],
        usage: "[-a] [-p] [-l] [-f] [-r] [-all] [-i]",
        summary: "Provides a stack trace of managed code only.",
        options: &[
            ("-a", "Parameters and locals of each frame."),
            ("-p", "Parameters of each frame."),
            ("-l", "Locals of each frame."),
            ("-f", "Native frames too, with module names and offsets."),
            ("-r", "The registers of each frame."),
            ("-all", "Every managed thread."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "Frames of the current thread (see setthread): child SP, IP and the method, with\n\
                  its source line when the module's portable PDB is found next to it; runtime\n\
                  Frames in brackets.",
        examples: &["clrstack", "clrstack -all", "clrstack -a"],
        implemented: true,
    },
    CommandInfo {
        name: "clrthreads",
        aliases: &[],
        usage: "[-live] [-special]",
        summary: "Lists the managed threads running.",
        options: &[
            ("-live", "Only threads associated with a live OS thread."),
            ("-special", "Also the runtime's special threads (GC, finalizer, ...)."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "",
        examples: &["clrthreads"],
        implemented: true,
    },
    CommandInfo {
        name: "crashinfo",
        aliases: &[],
        usage: "",
        summary: "Displays the crash details that created the dump.",
        options: &[("-format", "Output format: text (default) or json.")],
        details: "Only dumps the runtime wrote at a crash carry crash details.",
        examples: &["crashinfo"],
        implemented: false,
    },
    CommandInfo {
        name: "dumparray",
        aliases: &["da"],
        usage: "<arrayaddr> [-start <index>] [-length <n>] [-details] [-nofields]",
        summary: "Displays details about a managed array.",
        options: &[
            ("-start", "First element to display."),
            ("-length", "Number of elements to display."),
            ("-details", "Print the fields of each element (value types)."),
            ("-nofields", "With -details, do not print the fields of elements."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "",
        examples: &["dumparray 7f3b2c0104a8"],
        implemented: true,
    },
    CommandInfo {
        name: "dumpexceptions",
        aliases: &[],
        usage: "[-type <name>] [-live] [-dead]",
        summary: "Displays a list of all managed exceptions.",
        options: &[
            ("-type", "Only exceptions whose type name contains this."),
            ("-live", "Only exceptions reachable from roots."),
            ("-dead", "Only exceptions not reachable from roots."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "",
        examples: &["dumpexceptions", "dumpexceptions -type TimeoutException"],
        implemented: true,
    },
    CommandInfo {
        name: "dumpgen",
        aliases: &["dg"],
        usage: "<generation> [-type <substring>] [-mt <mt>]",
        summary: "Displays heap content for the specified generation.",
        options: &[
            ("-type", "Only objects whose type name contains this text (case-insensitive)."),
            ("-mt", "Only objects with this MethodTable; lists their addresses."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "The generation is one of gen0, gen1, gen2, loh, poh, foh (case-insensitive).\n\
                  Without -mt, prints per-type statistics as `dumpheap -stat` does.",
        examples: &["dumpgen gen2", "dumpgen loh -type System.Byte[]"],
        implemented: true,
    },
    CommandInfo {
        name: "dumpheap",
        aliases: &[],
        usage: "[options] [<start> [<end>]]",
        summary: "Displays a list of all managed objects.",
        options: &[
            ("-stat", "Only the per-type statistics."),
            ("-type", "Only objects whose type name contains this text (case-sensitive)."),
            ("-mt", "Only objects with this MethodTable."),
            ("-min", "Ignore objects smaller than this many bytes."),
            ("-max", "Ignore objects larger than this many bytes."),
            ("-gen", "Only objects of this generation: gen0, gen1, gen2, loh, poh, foh."),
            ("-heap", "Only objects of this GC heap (server GC)."),
            ("-segment", "Only objects of the segment at this address."),
            ("-strings", "Statistics of string values instead of types."),
            ("-short", "Only the addresses of the objects."),
            ("-thinlock", "Objects holding a thin lock."),
            ("-bycount", "Sort the statistics by object count instead of total size."),
            ("-live", "Only objects reachable from roots."),
            ("-dead", "Only objects not reachable from roots."),
            ("-ignoreGCState", "Accepted for compatibility; no effect."),
            ("-noprogress", "Accepted for compatibility; no effect."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "Objects are listed in address order, segment by segment, followed by a\n\
                  statistics table per type (sorted by total size) and a fragmentation report.\n\
                  <start> and <end> (hexadecimal) restrict the listing to an address range;\n\
                  <end> may be L<length>.",
        examples: &[
            "dumpheap -stat",
            "dumpheap -type System.String -min 1000",
            "dumpheap -mt 7f3b4d1a2b30 -short",
            "dumpheap -stat -format json",
        ],
        implemented: true,
    },
    CommandInfo {
        name: "dumpobj",
        aliases: &["do"],
        usage: "<objaddr> [-nofields]",
        summary: "Displays info about an object at the specified address.",
        options: &[
            ("-nofields", "Do not print the object's fields."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "Prints the object's type, MethodTable, EEClass, size and fields.",
        examples: &["dumpobj 7f3b2c010428", "do 7f3b2c010428 -nofields"],
        implemented: true,
    },
    CommandInfo {
        name: "dumpstackobjects",
        aliases: &["dso"],
        usage: "[-verify] [<top stack> [<bottom stack>]]",
        summary: "Displays all managed objects found within the bounds of the current stack.",
        options: &[("-format", "Output format: text (default), json or csv.")],
        details: "",
        examples: &["dso"],
        implemented: true,
    },
    CommandInfo {
        name: "dumpvc",
        aliases: &[],
        usage: "<mt> <addr>",
        summary: "Displays the fields of a value type at an address.",
        options: &[("-format", "Output format: text (default), json or csv.")],
        details: "The value type has MethodTable <mt> and its fields start at <addr> (no object header).",
        examples: &["dumpvc 7f0e705cd958 7ece5a00c048"],
        implemented: true,
    },
    CommandInfo {
        name: "eeheap",
        aliases: &[],
        usage: "[-gc] [-loader] [-heap <n>] [-segment <addr>] [<start> [<end>]]",
        summary: "Displays information about native memory that CLR has allocated.",
        options: &[
            ("-gc", "Only the GC heap."),
            ("-loader", "Only the loader heaps."),
            ("-heap", "Only this GC heap (server GC)."),
            ("-segment", "Only the segment at this address."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "For the GC heap: each heap's generations and segments with their sizes, and\n\
                  the total.",
        examples: &["eeheap -gc"],
        implemented: true,
    },
    CommandInfo {
        name: "eeversion",
        aliases: &[],
        usage: "",
        summary: "Displays information about the runtime version.",
        options: &[("-format", "Output format: text (default) or json.")],
        details: "",
        examples: &["eeversion"],
        implemented: true,
    },
    CommandInfo {
        name: "exit",
        aliases: &["quit", "q"],
        usage: "",
        summary: "Exits interactive mode.",
        options: &[],
        details: "",
        examples: &["exit"],
        implemented: true,
    },
    CommandInfo {
        name: "finalizequeue",
        aliases: &["fq"],
        usage: "[-detail] [-allReady] [-short] [-mt <mt>] [-stat]",
        summary: "Displays all objects registered for finalization.",
        options: &[
            ("-detail", "Details about SyncBlocks and RuntimeCallableWrappers to clean up."),
            ("-allReady", "Only objects ready for finalization."),
            ("-short", "Only the addresses."),
            ("-mt", "Only objects with this MethodTable."),
            ("-stat", "Only the statistics."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "",
        examples: &["finalizequeue", "fq -stat"],
        implemented: true,
    },
    CommandInfo {
        name: "gchandles",
        aliases: &[],
        usage: "[-type <handletype>] [-stat]",
        summary: "Provides statistics about GCHandles in the process.",
        options: &[
            ("-type", "Only handles of this kind (Strong, Weak, Pinned, Dependent, ...)."),
            ("-stat", "Only the statistics."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "",
        examples: &["gchandles -stat", "gchandles -type Pinned"],
        implemented: true,
    },
    CommandInfo {
        name: "gcroot",
        aliases: &[],
        usage: "<objaddr> [-nostacks] [-limit <n>] [-gcgen <n>]",
        summary: "Displays info about references (or roots) to an object at the specified address.",
        options: &[
            ("-nostacks", "Do not use stack roots."),
            ("-limit", "Stop after this many roots."),
            ("-gcgen", "Only roots a collection of this generation would use."),
            ("-format", "text (default), json or csv."),
        ],
        details: "Roots are GC handles, the finalizer queue and the threads' stack frames (found\n\
                  precisely, from each method's GC info); each distinct root is printed with\n\
                  one shortest chain to the object, as dotnet-dump does. A chain that passes\n\
                  through a static field names the field.",
        examples: &["gcroot 7f3b2c010428", "gcroot -nostacks 7f3b2c010428"],
        implemented: true,
    },
    CommandInfo {
        name: "gcwhere",
        aliases: &[],
        usage: "<address>",
        summary: "Displays the location in the GC heap of the specified address.",
        options: &[],
        details: "",
        examples: &["gcwhere 7f3b2c010428"],
        implemented: false,
    },
    CommandInfo {
        name: "help",
        aliases: &["soshelp"],
        usage: "[<command>]",
        summary: "Displays help for a command.",
        options: &[],
        details: "Without a command, lists the commands one per line.",
        examples: &["help", "help dumpheap"],
        implemented: true,
    },
    CommandInfo {
        name: "ip2md",
        aliases: &[],
        usage: "<code address>",
        summary: "Displays the MethodDesc structure at the specified address in code that has been JIT-compiled.",
        options: &[("-format", "Output format: text (default) or json.")],
        details: "",
        examples: &["ip2md 7f0857e94b2b"],
        implemented: false,
    },
    CommandInfo {
        name: "leaks",
        aliases: &[],
        usage: "[-top <n>]",
        summary: "clrheap's own: leak suspects, the objects that alone keep much of the heap alive.",
        options: &[
            ("-top", "How many suspects to report (default 5)."),
            ("-format", "text (default) or json."),
        ],
        details: "Finds accumulation points in the dominator tree: objects that directly hold\n\
                  many objects and retain a large share of the live heap (usually a collection's\n\
                  storage). Each is reported with its retained size, what it holds by type, and\n\
                  how it is rooted, naming the static field it hangs from.",
        examples: &["leaks", "leaks -top 10"],
        implemented: true,
    },
    CommandInfo {
        name: "listnearobj",
        aliases: &["lno"],
        usage: "<address>",
        summary: "Displays the object preceding and succeeding the specified address.",
        options: &[],
        details: "",
        examples: &["listnearobj 7f3b2c010430"],
        implemented: false,
    },
    CommandInfo {
        name: "modules",
        aliases: &["lm"],
        usage: "[-v]",
        summary: "Displays the native modules in the process.",
        options: &[
            ("-v", "Displays more details."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "",
        examples: &["modules", "lm -v"],
        implemented: true,
    },
    CommandInfo {
        name: "objsize",
        aliases: &[],
        usage: "[<objaddr>]",
        summary: "Displays the size of an object and everything it keeps alive.",
        options: &[("-format", "Output format: text (default), json or csv.")],
        details: "",
        examples: &["objsize 7f3b2c010428"],
        implemented: true,
    },
    CommandInfo {
        name: "parallelstacks",
        aliases: &["pstacks"],
        usage: "[-a]",
        summary: "Displays the merged threads stack similarly to the Visual Studio 'Parallel Stacks' panel.",
        options: &[
            ("-a", "Every thread, also those with one frame (--allthreads)."),
            ("-format", "Output format: text (default) or json."),
        ],
        details: "",
        examples: &["pstacks"],
        implemented: false,
    },
    CommandInfo {
        name: "pathto",
        aliases: &[],
        usage: "<source> <target>",
        summary: "Displays the GC path from <source> to <target>.",
        options: &[],
        details: "",
        examples: &["pathto 7f3b2c010428 7f3b2c0104a8"],
        implemented: false,
    },
    CommandInfo {
        name: "printexception",
        aliases: &["pe"],
        usage: "[-nested] [-lines] [<exception object address>]",
        summary: "Displays and formats fields of any object derived from the Exception class at the specified address.",
        options: &[
            ("-nested", "Also the nested exceptions of the thread."),
            ("-lines", "Source lines of the stack trace, where the PDB is found."),
            ("-format", "Output format: text (default) or json."),
        ],
        details: "Without an address, the current thread's last thrown exception.",
        examples: &["pe 7efc7d0757c0", "pe -nested"],
        implemented: true,
    },
    CommandInfo {
        name: "registers",
        aliases: &["r"],
        usage: "[-v]",
        summary: "Displays the thread's registers.",
        options: &[("-format", "Output format: text (default) or json.")],
        details: "The current thread's (see setthread).",
        examples: &["registers"],
        implemented: true,
    },
    CommandInfo {
        name: "retained",
        aliases: &[],
        usage: "[<objaddr>] [-top <n>] [-type <substring>]",
        summary: "clrheap's own: retained sizes (what each object alone keeps alive).",
        options: &[
            ("-top", "How many objects to list, biggest retained size first (default 20)."),
            ("-type", "Only objects whose type name contains this."),
            ("-format", "text (default), json or csv."),
        ],
        details: "An object's retained size is its size plus that of every object only it keeps\n\
                  alive (it dominates them): what collecting it alone would free. With an\n\
                  address, prints that object's retained size and the objects that each alone\n\
                  keep it alive, nearest first.",
        examples: &["retained -top 10", "retained -type DocumentCacheEntry", "retained 7f3b2c010428"],
        implemented: true,
    },
    CommandInfo {
        name: "runtimes",
        aliases: &[],
        usage: "",
        summary: "Lists the runtimes in the target.",
        options: &[("-format", "Output format: text (default) or json.")],
        details: "",
        examples: &["runtimes"],
        implemented: true,
    },
    CommandInfo {
        name: "sizestats",
        aliases: &[],
        usage: "",
        summary: "Size statistics for the GC heap.",
        options: &[],
        details: "",
        examples: &["sizestats"],
        implemented: false,
    },
    CommandInfo {
        name: "sosstatus",
        aliases: &[],
        usage: "",
        summary: "Displays internal status.",
        options: &[],
        details: "",
        examples: &["sosstatus"],
        implemented: false,
    },
    CommandInfo {
        name: "syncblk",
        aliases: &[],
        usage: "[-all | <index>]",
        summary: "Displays the SyncBlock holder info.",
        options: &[("-all", "Every SyncBlock, not only those holding a lock.")],
        details: "",
        examples: &["syncblk"],
        implemented: true,
    },
    CommandInfo {
        name: "threads",
        aliases: &["setthread"],
        usage: "[<index>] [-tid] [-v]",
        summary: "Lists the threads in the target or sets the current thread.",
        options: &[
            ("-tid", "<index> is an OS thread id (--tid, -t)."),
            ("-v", "Registers and TEB of each thread (--verbose)."),
            ("-format", "Output format: text (default), json or csv."),
        ],
        details: "Without an argument, lists the dump's threads (the current one starred); with\n\
                  one, makes that thread the current thread of the commands that follow.",
        examples: &["threads", "setthread 17", "setthread -tid 0x6d7f"],
        implemented: true,
    },
    CommandInfo {
        name: "threadstate",
        aliases: &[],
        usage: "<state>",
        summary: "Pretty prints the meaning of a threads state.",
        options: &[("-format", "Output format: text (default) or json.")],
        details: "The state is the hexadecimal value clrthreads prints.",
        examples: &["threadstate 2021220"],
        implemented: true,
    },
    CommandInfo {
        name: "verifyheap",
        aliases: &[],
        usage: "",
        summary: "Searches the managed heap for memory corruption.",
        options: &[],
        details: "",
        examples: &["verifyheap"],
        implemented: false,
    },
];

/// Normalises a typed command name: no leading `!`, lower case.
pub fn normalize(name: &str) -> String {
    name.trim_start_matches('!').to_ascii_lowercase()
}

/// The entry for a command name or alias, matched case-insensitively, `!` optional.
pub fn lookup(name: &str) -> Option<&'static CommandInfo> {
    let name = normalize(name);
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name.as_str()))
}

/// The canonical name of a command or alias (`DO` -> `dumpobj`); an unknown name comes
/// back normalised.
pub fn canonical(name: &str) -> String {
    match lookup(name) {
        Some(c) => c.name.to_string(),
        None => normalize(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_map_to_one_name() {
        assert_eq!(canonical("DumpHeap"), "dumpheap");
        assert_eq!(canonical("!dumpheap"), "dumpheap");
        assert_eq!(canonical("do"), "dumpobj");
        assert_eq!(canonical("!DO"), "dumpobj");
        assert_eq!(canonical("da"), "dumparray");
        assert_eq!(canonical("Threads"), "threads");
        assert_eq!(canonical("setthread"), "threads");
        assert_eq!(canonical("FQ"), "finalizequeue");
        assert_eq!(canonical("nosuch"), "nosuch");
        assert!(lookup("nosuch").is_none());
    }

    #[test]
    fn table_is_sorted_lower_case_and_unambiguous() {
        let mut seen = std::collections::HashSet::new();
        for pair in COMMANDS.windows(2) {
            assert!(pair[0].name < pair[1].name, "{} before {}", pair[0].name, pair[1].name);
        }
        for c in COMMANDS {
            for n in std::iter::once(&c.name).chain(c.aliases) {
                assert_eq!(*n, n.to_ascii_lowercase());
                assert!(seen.insert(*n), "{n} names two commands");
            }
            assert!(!c.examples.is_empty(), "{} has no example", c.name);
        }
    }
}
