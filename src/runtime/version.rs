//! The runtime's version, read from the `@(#)Version` string that every CoreCLR build
//! embeds in `libcoreclr.so` (`@(#)Version 8.0.3326.52219 @Commit: da7a9be...`).
//!
//! The file version's third part is `patch * 100 + revision`, so 8.0.3326 is the
//! 8.0.33 runtime. `DotNetRuntimeInfo`, which would carry the version directly, is not
//! exported by the 8, 9 or 10 runtimes (RESEARCH §1a).
use crate::dump::{AddressSpace, MappedFile};
use std::fmt;

const MARKER: &[u8] = b"@(#)Version ";
const CHUNK: usize = 1 << 20;
/// Most bytes of a module scanned for the version string (`libcoreclr.so` is about 7 MB):
/// a damaged `NT_FILE` entry or program header must not make the scan endless.
const MAX_SCAN: u64 = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// The whole file version, e.g. `8.0.3326.52219`.
    pub file_version: String,
    pub commit: String,
}

impl fmt::Display for RuntimeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl RuntimeVersion {
    pub fn parse(text: &str) -> Option<RuntimeVersion> {
        let mut words = text.split_whitespace();
        let file_version = words.next()?.to_string();
        let commit = match (words.next(), words.next()) {
            (Some("@Commit:"), Some(c)) => c.to_string(),
            _ => String::new(),
        };
        let mut parts = file_version.split('.').map(|p| p.parse::<u32>().ok());
        let (major, minor, build) = (parts.next()??, parts.next()??, parts.next()??);
        Some(RuntimeVersion {
            major,
            minor,
            patch: build / 100,
            file_version,
            commit,
        })
    }
}

/// Scans the module (captured, or read back from its file) for the version string: its
/// writable data first, where the 8, 9 and 10 builds keep it, then the whole image.
pub fn find_version(space: &AddressSpace, module: &MappedFile) -> Option<RuntimeVersion> {
    writable_segments(space, module.base, module.end)
        .into_iter()
        .chain(std::iter::once((module.base, module.end)))
        .find_map(|(start, end)| scan(space, start, end))
        .and_then(|text| RuntimeVersion::parse(&text))
}

/// The text after `@(#)Version ` in the writable data of the ELF image at `[base, end)`,
/// where dotnet-dump looks for it (`modules -v`'s second version line): any native module
/// of a .NET build may carry one (`libclrjit.so`, `libhostfxr.so`, ...), as long as the
/// linker put it in a writable segment.
pub fn find_version_text(space: &AddressSpace, base: u64, end: u64) -> Option<String> {
    writable_segments(space, base, end).into_iter().find_map(|(start, end)| scan(space, start, end))
}

/// `[start, end)` of each writable `PT_LOAD` of the ELF image at `base`.
fn writable_segments(space: &AddressSpace, base: u64, module_end: u64) -> Vec<(u64, u64)> {
    let (Ok(phoff), Ok(phnum)) = (space.read_u64(base.saturating_add(32)), space.read_u16(base.saturating_add(56))) else {
        return Vec::new();
    };
    (0..phnum.min(64) as u64)
        .filter_map(|i| {
            let ph = base.checked_add(phoff)?.checked_add(i * 56)?;
            let (kind, flags) = (space.read_u32(ph).ok()?, space.read_u32(ph.saturating_add(4)).ok()?);
            let (vaddr, filesz) = (space.read_u64(ph.saturating_add(16)).ok()?, space.read_u64(ph.saturating_add(32)).ok()?);
            let start = base.checked_add(vaddr)?;
            (kind == 1 && flags & 2 != 0).then(|| (start, start.saturating_add(filesz).min(module_end)))
        })
        .collect()
}

fn scan(space: &AddressSpace, start: u64, end: u64) -> Option<String> {
    let end = end.min(start.saturating_add(MAX_SCAN));
    let mut addr = start;
    let mut buf = vec![0u8; CHUNK + 256];
    while addr < end {
        let len = ((end - addr) as usize).min(buf.len());
        if space.read(addr, &mut buf[..len]).is_ok() {
            if let Some(pos) = memchr::memmem::find(&buf[..len], MARKER) {
                let text = &buf[pos + MARKER.len()..len];
                let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                return Some(String::from_utf8_lossy(&text[..end]).into_owned());
            }
            addr = addr.saturating_add(CHUNK as u64);
        } else {
            // Skip unreadable pages one at a time.
            addr = addr.saturating_add(4096);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_version() {
        let v = RuntimeVersion::parse("8.0.3326.52219 @Commit: da7a9beabf4c").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (8, 0, 33));
        assert_eq!(v.to_string(), "8.0.33");
        assert_eq!(v.commit, "da7a9beabf4c");
        let v = RuntimeVersion::parse("10.0.1226.42308").unwrap();
        assert_eq!(v.to_string(), "10.0.12");
        assert!(RuntimeVersion::parse("x.y").is_none());
    }
}
