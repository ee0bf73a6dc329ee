//! Type names in the user's terms: `System.Collections.Concurrent.ConcurrentDictionary<
//! System.String, DocProc.Infrastructure.Cache.DocumentCacheEntry>` reads
//! `ConcurrentDictionary<String, DocumentCacheEntry>`.

/// `name` with every namespace dropped (in generic arguments too); nested types keep
/// their outer type (`Dictionary<String, Int32>+Entry[]`).
pub fn short_type_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(word.rsplit('.').next().unwrap_or(word));
        word.clear();
    };
    for c in name.chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' || c == '`' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The generic arguments of a type name, split at top-level commas
/// (`Dictionary<A, List<B, C>>` gives `A` and `List<B, C>`); empty for a non-generic name.
pub fn generic_arguments(name: &str) -> Vec<&str> {
    let Some(open) = name.find('<') else {
        return Vec::new();
    };
    let mut depth = 0usize;
    let mut start = open + 1;
    let mut args = Vec::new();
    for (i, c) in name.char_indices().skip_while(|&(i, _)| i <= open) {
        match c {
            '<' | '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '>' if depth == 0 => {
                args.push(name[start..i].trim());
                return args;
            }
            '>' => depth -= 1,
            ',' if depth == 0 => {
                args.push(name[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    args
}

/// The name without its generic arguments and nesting (`System.Collections.Generic.List`
/// for `System.Collections.Generic.List<System.String>`).
pub fn generic_definition(name: &str) -> &str {
    name.split(['<', '+', '[']).next().unwrap_or(name)
}

/// Whether the type belongs to the framework (the runtime's libraries and Microsoft's),
/// rather than to the application: the owner of a leak is looked for in the latter first.
pub fn is_framework(name: &str) -> bool {
    ["System.", "Microsoft.", "Internal.", "Interop", "<"]
        .iter()
        .any(|p| name.starts_with(p))
        || name == "Free"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens() {
        assert_eq!(
            short_type_name(
                "System.Collections.Concurrent.ConcurrentDictionary<System.String, DocProc.Infrastructure.Cache.DocumentCacheEntry>"
            ),
            "ConcurrentDictionary<String, DocumentCacheEntry>"
        );
        assert_eq!(
            short_type_name(
                "System.Collections.Generic.Dictionary<System.String, System.Int32>+Entry[]"
            ),
            "Dictionary<String, Int32>+Entry[]"
        );
        assert_eq!(short_type_name("System.Object[]"), "Object[]");
        assert_eq!(
            generic_arguments("A.Dictionary<X.A, X.List<B, C>>"),
            vec!["X.A", "X.List<B, C>"]
        );
        assert_eq!(generic_arguments("System.Object"), Vec::<&str>::new());
        assert_eq!(
            generic_definition("System.Collections.Generic.List<System.String>"),
            "System.Collections.Generic.List"
        );
    }
}
