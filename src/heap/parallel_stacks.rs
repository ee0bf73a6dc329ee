//! The merged call stacks of every managed thread, as dotnet-dump's `parallelstacks`
//! (`pstacks`) builds them: each thread's frames from the outermost in, merged into a tree
//! where threads share a prefix of frames with the same method signature.
//!
//! The frames are those of the stack walk ([`crate::runtime::stack::StackWalk`]): managed
//! frames with a MethodDesc and, with `include_runtime`, the runtime Frames that name one.
//! A frame is named the way ClrMD and the ParallelStacks library name it: the method's type
//! (ClrMD's type name), the method's name (ClrMD's `ClrMethod.Name`, cut out of the DAC's
//! signature), and the parameter types with their namespaces removed (the library's own
//! parser of the signature, quirks included).

use super::Heap;
use crate::runtime::stack::names::method_desc_token;
use crate::runtime::stack::{StackFrameKind, StackWalk};
use anyhow::Result;

/// Most parameters or type-name steps taken from one signature (a malformed one could
/// otherwise keep the library's parser going).
const MAX_STEPS: usize = 4096;

/// One frame of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParallelFrame {
    /// The DAC's signature of the method (`Namespace.Type.Method(Full.Param, ...)`), the
    /// key threads are merged by; `None` when it cannot be made.
    pub signature: Option<String>,
    /// ClrMD's name of the method's type (empty when there is none).
    pub type_name: String,
    pub method_name: String,
    /// Parameter types without their namespaces (`Int32`, `Task ByRef`).
    pub parameters: Vec<String>,
}

impl ParallelFrame {
    /// `Type.Method(P1, P2)` as pstacks prints it.
    pub fn text(&self) -> String {
        let mut s = String::new();
        if !self.type_name.is_empty() {
            s.push_str(&self.type_name);
            s.push('.');
        }
        s.push_str(&self.method_name);
        s.push('(');
        s.push_str(&self.parameters.join(", "));
        s.push(')');
        s
    }

    /// The text threads are merged by: the signature, `?` without one.
    fn key(&self) -> &str {
        self.signature.as_deref().unwrap_or("?")
    }
}

/// A node of the tree: the root has no frame; each other node is one frame shared by its
/// threads, its children the frames called from it.
#[derive(Debug, Clone, Default)]
pub struct ParallelStack {
    pub frame: Option<ParallelFrame>,
    /// OS thread ids of the threads through this node, in thread store order.
    pub thread_ids: Vec<u32>,
    /// In the order they were first met.
    pub stacks: Vec<ParallelStack>,
}

impl ParallelStack {
    fn add_stack(&mut self, thread: u32, frames: &[ParallelFrame]) {
        self.thread_ids.push(thread);
        let Some((first, rest)) = frames.split_first() else { return };
        // The library compares the node's text with the frame's signature, so a frame
        // without a signature never merges.
        let found = first
            .signature
            .as_deref()
            .and_then(|sig| self.stacks.iter().position(|s| s.frame.as_ref().is_some_and(|f| f.key() == sig)));
        let index = match found {
            Some(i) => i,
            None => {
                self.stacks.push(ParallelStack { frame: Some(first.clone()), ..Default::default() });
                self.stacks.len() - 1
            }
        };
        let child = &mut self.stacks[index];
        if rest.is_empty() {
            child.thread_ids.push(thread);
        } else {
            child.add_stack(thread, rest);
        }
    }
}

/// What [`Heap::parallel_stacks`] found: the tree and the walks' warnings.
#[derive(Debug, Default)]
pub struct ParallelStacks {
    pub root: ParallelStack,
    pub warnings: Vec<String>,
}

impl Heap {
    /// Every thread's frames merged into one tree (threads without an OS thread or without
    /// a frame to show are left out, as ClrMD's walk gives them none).
    pub fn parallel_stacks(&self, include_runtime: bool) -> Result<ParallelStacks> {
        let rt = &self.runtime;
        let walk = StackWalk::new(rt)?;
        let mut out = ParallelStacks::default();
        for thread in self.threads.iter().filter(|t| t.os_id != 0) {
            let stack = match walk.thread(thread) {
                Ok(s) => s,
                Err(e) => {
                    out.warnings.push(format!("thread {:x}: {e:#}", thread.os_id));
                    continue;
                }
            };
            out.warnings.extend(stack.warnings.iter().map(|w| format!("thread {:x}: {w}", thread.os_id)));
            let frames: Vec<ParallelFrame> = stack
                .frames
                .iter()
                .rev()
                .filter_map(|f| {
                    let md = f.method?;
                    let signature = match f.kind {
                        StackFrameKind::Managed => f.name.clone(),
                        StackFrameKind::Explicit if include_runtime => f.function.clone(),
                        StackFrameKind::Explicit => return None,
                    };
                    Some(self.parallel_frame(md, signature))
                })
                .collect();
            if frames.is_empty() {
                continue;
            }
            out.root.add_stack(thread.os_id, &frames);
        }
        Ok(out)
    }

    fn parallel_frame(&self, md: u64, signature: Option<String>) -> ParallelFrame {
        let type_name = method_desc_token(&self.runtime, md)
            .ok()
            .and_then(|(mt, _)| self.try_type_name(mt))
            .map(|n| n.to_string());
        let signature = signature.filter(|s| !s.is_empty());
        let mut method_name = signature.as_deref().and_then(|s| clrmd_method_name(s, type_name.as_deref())).unwrap_or_default();
        if method_name.ends_with("]]")
            && let Some(s) = &signature
        {
            method_name = generic_method_name(s);
        }
        let parameters = signature.as_deref().map(build_signature).unwrap_or_default();
        ParallelFrame { signature, type_name: type_name.unwrap_or_default(), method_name, parameters }
    }
}

/// ClrMD's `ClrMethod.Name`: the text between the type's name (or the last `.` outside
/// generic brackets) and the outermost `(`.
pub fn clrmd_method_name(signature: &str, type_name: Option<&str>) -> Option<String> {
    let s: Vec<char> = signature.chars().collect();
    let mut last: i64 = -1;
    let mut depth = 0i64;
    for i in (0..s.len()).rev() {
        if s[i] == ')' {
            depth += 1;
        } else if s[i] == '(' {
            depth -= 1;
            if depth == 0 {
                last = i as i64;
                break;
            }
        }
    }
    if last <= 0 {
        return Some("{error}".into());
    }
    let last = last as usize;
    if let Some(t) = type_name
        && let Some(byte) = signature.find(t)
    {
        let at = signature[..byte].chars().count();
        let start = at + t.chars().count() + 1;
        if start < last {
            return Some(s[start..last].iter().collect());
        }
    }
    let mut pos = last as i64 - 1;
    let mut depth = 0i64;
    while pos >= 0 {
        let c = s[pos as usize];
        if c == ']' {
            depth += 1;
        } else if c == '[' {
            depth -= 1;
        } else if depth == 0 {
            break;
        }
        pos -= 1;
    }
    let mut first = if pos < 0 { -1 } else { s[..=pos as usize].iter().rposition(|&c| c == '.').map_or(-1, |p| p as i64) };
    if first > 0 && s[first as usize - 1] == '.' {
        first -= 1;
    }
    Some(s[(first + 1) as usize..last].iter().collect())
}

/// `ns.Type.Foo[[...]](...)` → `Foo` (the library's fix of older ClrMD names).
fn generic_method_name(signature: &str) -> String {
    let s: Vec<char> = signature.chars().collect();
    let Some(pos) = find_str(&s, &['[', '['], 0) else { return signature.to_string() };
    let start = s[..=pos].iter().rposition(|&c| c == '.').map_or(-1, |p| p as i64);
    s[(start + 1) as usize..pos].iter().collect()
}

fn find_str(s: &[char], what: &[char], from: usize) -> Option<usize> {
    (from..s.len()).find(|&i| s[i..].starts_with(what))
}

/// `String.IndexOf(c, start, count)`.
fn index_of(s: &[char], c: char, start: i64, count: i64) -> i64 {
    if start < 0 || count <= 0 {
        return -1;
    }
    let end = (start + count).min(s.len() as i64);
    (start..end).find(|&i| s[i as usize] == c).unwrap_or(-1)
}

/// `String.LastIndexOf(c, start, count)`: from `start` back over `count` characters.
fn last_index_of(s: &[char], c: char, start: i64, count: i64) -> i64 {
    if start < 0 || count <= 0 || start >= s.len() as i64 {
        return -1;
    }
    let low = (start - count + 1).max(0);
    (low..=start).rev().find(|&i| s[i as usize] == c).unwrap_or(-1)
}

fn slice(s: &[char], start: i64, count: i64) -> String {
    if start < 0 || count <= 0 || start >= s.len() as i64 {
        return String::new();
    }
    let end = (start + count).min(s.len() as i64);
    s[start as usize..end as usize].iter().collect()
}

/// The library's `BuildSignature`: each parameter of the signature, shortened.
pub fn build_signature(signature: &str) -> Vec<String> {
    let s: Vec<char> = signature.chars().collect();
    let len = s.len() as i64;
    let mut out = Vec::new();
    let Some(mut pos) = s.iter().rposition(|&c| c == '(').map(|p| p as i64) else { return out };
    let mut next = pos;
    let mut steps = 0;
    while next != len - 1 && steps < MAX_STEPS {
        steps += 1;
        next = find_str(&s, &[',', ' '], pos.max(0) as usize).map_or(-1, |p| p as i64);
        if next == -1 {
            next = s.iter().position(|&c| c == ')').map_or(-1, |p| p as i64);
            if next == -1 {
                break;
            }
        }
        if let Some(p) = parameter(&s, pos + 1, next - 1) {
            out.push(p);
        }
        pos = next + 1;
    }
    out
}

/// The library's `GetParameter` over `s[start..=end]`.
fn parameter(s: &[char], start: i64, end: i64) -> Option<String> {
    const BYREF: [char; 6] = [' ', 'B', 'y', 'R', 'e', 'f'];
    if start >= end {
        return None;
    }
    // `LastIndexOf(" ByRef", end)`: the last match ending at or before `end`, compared
    // with `end - 6` as the library does.
    let last = (0..=end - 5).rev().find(|&i| i >= 0 && s[i as usize..].starts_with(&BYREF));
    let mut end = end;
    let by_ref = last == Some(end - BYREF.len() as i64);
    if by_ref {
        end -= BYREF.len() as i64;
    }
    let mut start = start;
    let mut name = next_type_name(s, &mut start, &mut end, 0);
    if by_ref {
        name.push_str(" ByRef");
    }
    Some(name)
}

/// The library's `GetNextTypeName`: the type name at `start`, without its namespace (and
/// with its generic arguments shortened), moving `start` past it.
fn next_type_name(s: &[char], start: &mut i64, end: &mut i64, depth: usize) -> String {
    if s.is_empty() || depth > 64 {
        *start = *end;
        return String::new();
    }
    let pos = index_of(s, '`', *start, *end - *start);
    let next = index_of(s, ',', *start, *end - *start);
    if pos == -1 && next == -1 {
        let name = without_namespace(s, *start, *end);
        *start = *end;
        return name;
    }
    if next == -1 || (pos != -1 && pos < next) {
        return generic_type_name(s, start, end, depth);
    }
    let name = without_namespace(s, *start, next - 1);
    *start = next + 1;
    name
}

fn generic_type_name(s: &[char], start: &mut i64, end: &mut i64, depth: usize) -> String {
    let pos = index_of(s, '`', *start, *end - *start);
    let mut out = without_namespace(s, *start, pos - 1);
    out.push('<');
    *start = index_of(s, '<', pos, *end - pos) + 1;
    let mut steps = 0;
    while *start < *end && steps < MAX_STEPS {
        steps += 1;
        let before = *start;
        out.push_str(&next_type_name(s, start, end, depth + 1));
        if *start < *end {
            out.push(',');
        }
        if *start <= before {
            break;
        }
    }
    out
}

/// The library's `AppendTypeNameWithoutNamespace` over `s[start..=end]`.
fn without_namespace(s: &[char], start: i64, end: i64) -> String {
    let pos = last_index_of(s, '.', end, end - start);
    if pos == -1 {
        slice(s, start, end - start + 1)
    } else {
        slice(s, pos + 1, end - pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_lose_their_namespaces() {
        assert_eq!(build_signature("System.Threading.Monitor.Wait(System.Object, Int32)"), ["Object", "Int32"]);
        assert_eq!(build_signature("A.B.C()"), Vec::<String>::new());
        assert_eq!(
            build_signature("System.Threading.Tasks.Task.ExecuteWithThreadLocal(System.Threading.Tasks.Task ByRef, System.Threading.Thread)"),
            ["Task ByRef", "Thread"]
        );
        assert_eq!(
            build_signature("X.M(System.Collections.Generic.IDictionary`2<Int32,System.Collections.Generic.IList`1<System.String>>)"),
            ["IDictionary<Int32,IList<String>>"]
        );
        assert_eq!(build_signature("Interop+Sys.WaitForSocketEvents(IntPtr, SocketEvent*, Int32*)"), ["IntPtr", "SocketEvent*", "Int32*"]);
    }

    #[test]
    fn method_names_as_clrmd_cuts_them() {
        let n = |s: &str, t: Option<&str>| clrmd_method_name(s, t).unwrap();
        assert_eq!(n("DocProc.Ops.Ops+<>c__DisplayClass15_0.<Threads>b__1()", Some("DocProc.Ops.Ops+<>c__DisplayClass15_0")), "<Threads>b__1");
        assert_eq!(n("A.B..ctor(Int32)", None), ".ctor");
        let generic = "A.B.Foo[[System.String, System.Private.CoreLib]](Int32)";
        assert_eq!(n(generic, None), "Foo[[System.String, System.Private.CoreLib]]");
        assert_eq!(generic_method_name(generic), "Foo");
    }
}
