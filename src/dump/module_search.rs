//! Finding a mapped file whose recorded path does not exist on this machine: under the
//! `--module-path` folders (and `CLRHEAP_MODULE_PATH`), searched recursively.
//!
//! A dump records where each file was mapped from (`NT_FILE`), e.g.
//! `/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so`. On another
//! machine the user names folders holding copies: the .NET install itself, any folder
//! above it, or a container image's root. Candidates are tried in this order, and the
//! caller keeps the first that is the file the process mapped (same build id, or size):
//!
//! 1. each folder as a root: `FOLDER/usr/share/dotnet/shared/.../libcoreclr.so`;
//! 2. `FOLDER/libcoreclr.so`;
//! 3. every file of that name below the folders, those sharing more of the recorded
//!    path's last folders first (`Microsoft.NETCore.App/10.0.12/libcoreclr.so` before
//!    `.../9.0.22/libcoreclr.so`).
//!
//! The walk for 3 happens once, the first time a file is not found by 1 or 2, and only
//! looks for the names the dump maps. It is bounded ([`MAX_DEPTH`] folders deep,
//! [`MAX_ENTRIES`] entries in all, each folder visited once even through symbolic links);
//! a walk cut short says so on standard error.
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Deepest folder level searched below a `--module-path` folder.
pub const MAX_DEPTH: usize = 16;
/// Most directory entries looked at over all the folders.
pub const MAX_ENTRIES: usize = 400_000;
/// The environment variable with more folders (separated by `:`), searched after the
/// `--module-path` ones.
pub const ENV_VAR: &str = "CLRHEAP_MODULE_PATH";

/// The `--module-path` folders followed by those of `CLRHEAP_MODULE_PATH`.
pub fn with_env_folders(mut folders: Vec<PathBuf>) -> Vec<PathBuf> {
    if let Some(v) = std::env::var_os(ENV_VAR) {
        folders.extend(std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()));
    }
    folders
}

/// The folders to search and, once walked, where each wanted file name is below them.
pub(crate) struct ModuleSearch {
    roots: Vec<PathBuf>,
    wanted: HashSet<OsString>,
    index: OnceLock<HashMap<OsString, Vec<PathBuf>>>,
}

impl ModuleSearch {
    /// A search of `roots` for files with the names in `wanted` (the file names the dump maps).
    pub fn new(roots: Vec<PathBuf>, wanted: impl IntoIterator<Item = OsString>) -> ModuleSearch {
        ModuleSearch { roots, wanted: wanted.into_iter().collect(), index: OnceLock::new() }
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Paths that may hold the file recorded as `recorded`, best first (see the module
    /// documentation). Only the first two kinds cost nothing; the third walks the folders
    /// (once) when the first two gave nothing to try.
    pub fn candidates(&self, recorded: &str, tried: &mut dyn FnMut(&Path) -> bool) -> Option<PathBuf> {
        // A file deleted while mapped (`/memfd:doublemapper (deleted)`) is nowhere.
        if recorded.ends_with(" (deleted)") {
            return None;
        }
        let recorded_path = Path::new(recorded);
        let name = recorded_path.file_name()?;
        for root in &self.roots {
            for c in [root.join(recorded.trim_start_matches('/')), root.join(name)] {
                if c.is_file() && tried(&c) {
                    return Some(c);
                }
            }
        }
        if self.roots.is_empty() {
            return None;
        }
        let index = self.index.get_or_init(|| self.walk());
        let mut found: Vec<&PathBuf> = index.get(name).map(|v| v.iter().collect()).unwrap_or_default();
        found.sort_by_key(|p| (std::cmp::Reverse(shared_suffix(p, recorded_path)), p.as_os_str().len()));
        found.into_iter().find(|c| tried(c)).cloned()
    }

    /// Walks the folders once, keeping the paths of wanted file names.
    fn walk(&self) -> HashMap<OsString, Vec<PathBuf>> {
        let mut index: HashMap<OsString, Vec<PathBuf>> = HashMap::new();
        let mut seen_dirs: HashSet<(u64, u64)> = HashSet::new();
        let mut entries = 0usize;
        let mut cut_short = false;
        for root in &self.roots {
            let mut stack = vec![(root.clone(), 0usize)];
            while let Some((dir, depth)) = stack.pop() {
                let Ok(meta) = std::fs::metadata(&dir) else { continue };
                if !seen_dirs.insert(dir_identity(&meta)) {
                    continue;
                }
                let Ok(read) = std::fs::read_dir(&dir) else { continue };
                for entry in read.filter_map(|e| e.ok()) {
                    entries += 1;
                    if entries > MAX_ENTRIES {
                        cut_short = true;
                        break;
                    }
                    let path = entry.path();
                    // Follows symbolic links; special files (FIFOs, devices) are neither.
                    let Ok(meta) = std::fs::metadata(&path) else { continue };
                    if meta.is_dir() {
                        if depth < MAX_DEPTH {
                            stack.push((path, depth + 1));
                        }
                    } else if meta.is_file() && self.wanted.contains(&entry.file_name()) {
                        index.entry(entry.file_name()).or_default().push(path);
                    }
                }
                if cut_short {
                    break;
                }
            }
            if cut_short {
                break;
            }
        }
        if cut_short {
            eprintln!(
                "clrheap: warning: stopped searching the module folders after {MAX_ENTRIES} entries; \
                 name folders closer to the files (e.g. the .NET install folder)"
            );
        }
        index
    }
}

/// A folder's identity (device, inode), so that links cannot make the walk loop.
fn dir_identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// How many trailing components two paths share.
fn shared_suffix(a: &Path, b: &Path) -> usize {
    a.components().rev().zip(b.components().rev()).take_while(|(x, y)| x == y).count()
}

/// What to tell the user when the file recorded as `recorded` is needed and not here:
/// a folder to name with `--module-path`, e.g. `a folder holding
/// Microsoft.NETCore.App/10.0.12` (the recorded path's last two folders), or one holding
/// the file itself when it was not that deep.
pub fn folder_hint(recorded: &str) -> String {
    let path = Path::new(recorded);
    let dirs: Vec<&str> = path
        .parent()
        .map(|p| p.components().filter_map(|c| c.as_os_str().to_str()).filter(|c| *c != "/").collect())
        .unwrap_or_default();
    match dirs.as_slice() {
        [.., _, a, b] => format!("<folder holding {a}/{b}>"),
        _ => format!(
            "<folder holding {}>",
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| recorded.into())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn finds_files_below_any_parent_folder_best_match_first() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        touch(&base.join("dotnet/shared/Microsoft.NETCore.App/9.0.22/libcoreclr.so"));
        touch(&base.join("dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so"));
        let recorded = "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so";
        let search = ModuleSearch::new(vec![base.to_path_buf()], [OsString::from("libcoreclr.so")]);
        let mut tried = Vec::new();
        let found = search.candidates(recorded, &mut |p| {
            tried.push(p.to_path_buf());
            false
        });
        assert_eq!(found, None);
        // The 10.0.12 copy is tried before the 9.0.22 one.
        assert_eq!(tried.len(), 2);
        assert!(tried[0].ends_with("10.0.12/libcoreclr.so"), "{tried:?}");
        let found = search.candidates(recorded, &mut |p| p.to_string_lossy().contains("9.0.22"));
        assert!(found.unwrap().ends_with("9.0.22/libcoreclr.so"));
    }

    #[test]
    fn a_folder_is_also_a_root_for_the_whole_recorded_path() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("usr/lib/libx.so"));
        let search = ModuleSearch::new(vec![dir.path().to_path_buf()], [OsString::from("libx.so")]);
        let found = search.candidates("/usr/lib/libx.so", &mut |_| true).unwrap();
        assert_eq!(found, dir.path().join("usr/lib/libx.so"));
        // Without folders there is nothing to search.
        let none = ModuleSearch::new(vec![], [OsString::from("libx.so")]);
        assert_eq!(none.candidates("/usr/lib/libx.so", &mut |_| true), None);
        // Nor for a file that was deleted while mapped.
        touch(&dir.path().join("memfd:doublemapper (deleted)"));
        let deleted = ModuleSearch::new(vec![dir.path().to_path_buf()], [OsString::from("memfd:doublemapper (deleted)")]);
        assert_eq!(deleted.candidates("/memfd:doublemapper (deleted)", &mut |_| true), None);
    }

    #[test]
    fn link_loops_and_fifos_do_not_stall_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("a/b")).unwrap();
        std::os::unix::fs::symlink(base.join("a"), base.join("a/b/loop")).unwrap();
        let fifo = base.join("a/libcoreclr.so");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
        touch(&base.join("a/b/c/libcoreclr.so"));
        let search = ModuleSearch::new(vec![base.to_path_buf()], [OsString::from("libcoreclr.so")]);
        let mut tried = Vec::new();
        search.candidates("/x/libcoreclr.so", &mut |p| {
            tried.push(p.to_path_buf());
            false
        });
        assert_eq!(tried, [base.join("a/b/c/libcoreclr.so")], "fifo made: {made}");
    }

    #[test]
    fn hints_name_the_runtime_folder() {
        assert_eq!(
            folder_hint("/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so"),
            "<folder holding Microsoft.NETCore.App/10.0.12>"
        );
        assert_eq!(folder_hint("/app/libcoreclr.so"), "<folder holding libcoreclr.so>");
        assert_eq!(folder_hint("libcoreclr.so"), "<folder holding libcoreclr.so>");
    }

    #[test]
    fn env_folders_come_after_the_given_ones() {
        // Only the function's joining is tested: the variable is process-wide.
        let given = vec![PathBuf::from("/a")];
        let all = with_env_folders(given.clone());
        assert_eq!(all[0], PathBuf::from("/a"));
    }
}
