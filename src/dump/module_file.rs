//! Files that were mapped into the process, read from disk to fill gaps in a dump.
//!
//! A shared object's writable data holds pointers that the dynamic loader relocated at
//! load time; on disk those words hold 0 and the relocation's addend says what the loader
//! wrote. For the relative relocations (`R_X86_64_RELATIVE`, `R_AARCH64_RELATIVE`: nearly
//! all of them in `libcoreclr.so`) the value is `load base + addend`, which is applied
//! here whenever bytes are read from the file.
//! Other relocation kinds need symbol resolution and are left as on disk.
//!
//! A path in a dump is a claim by whoever made the dump. [`ModuleFile::open`] opens it
//! only as a regular, non-empty file: never a device, FIFO, socket or directory, nothing
//! on a kernel filesystem, nothing the dump names under `/proc`, `/sys` or `/dev` (a
//! `--module-path` folder the user names may be there: `/proc/PID/root`), and without
//! blocking (`O_NONBLOCK`, after a `stat`). Whether it is the file the process mapped is the
//! address space's check (it has the dump's side of the comparison); relocations are read
//! only once that check passed ([`ModuleFile::load_relocations`]).
use goblin::elf::Elf;
use memmap2::Mmap;
use std::fs::File;
use std::path::{Path, PathBuf};

const R_X86_64_RELATIVE: u32 = 8;
const R_AARCH64_RELATIVE: u32 = 1027;

/// Directories whose files are the kernel's, not modules, whatever a dump says.
const SYSTEM_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Why a file named by a dump is not read.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Nothing at that path (as for `/memfd:doublemapper (deleted)`): not worth a warning.
    Missing,
    /// Something is there that is not a module file, or cannot be opened: a warning.
    Refused(String),
}

/// A mapped file as found on disk.
pub(crate) struct ModuleFile {
    pub path: PathBuf,
    map: Mmap,
    /// `(vaddr, addend)` of each relative relocation, sorted by vaddr.
    relocations: Vec<(u64, u64)>,
}

impl ModuleFile {
    /// Opens `path` if it is a regular file; never blocks, never opens anything else.
    ///
    /// `named_by_dump`: the path is the dump's claim (its `NT_FILE`), so nothing that
    /// resolves under `/proc`, `/sys` or `/dev` is opened. A file found under a
    /// `--module-path` folder is in a place the user chose (`/proc/PID/root` reaches a
    /// running container's files): only the other checks apply.
    pub fn open(path: &Path, named_by_dump: bool) -> Result<ModuleFile, OpenError> {
        use std::io::ErrorKind;
        let refused = |why: String| OpenError::Refused(why);
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Err(OpenError::Missing);
            }
            Err(e) => return Err(refused(format!("cannot be examined ({e})"))),
        };
        if !meta.is_file() {
            return Err(refused(format!("is {}, not a regular file", kind_of(&meta))));
        }
        if named_by_dump {
            let real = std::fs::canonicalize(path)
                .map_err(|e| refused(format!("cannot be resolved ({e})")))?;
            if let Some(dir) = SYSTEM_DIRS.iter().find(|d| real.starts_with(d)) {
                return Err(refused(format!("is under {dir}, not a module file")));
            }
        }
        let file = open_nonblocking(path).map_err(|e| refused(format!("cannot be opened ({e})")))?;
        // What was opened, not what was examined before: the path may have changed since.
        let meta = file
            .metadata()
            .map_err(|e| refused(format!("cannot be examined ({e})")))?;
        if !meta.is_file() {
            return Err(refused(format!("is {}, not a regular file", kind_of(&meta))));
        }
        if meta.len() == 0 {
            return Err(refused("is empty".into()));
        }
        if let Some(fs) = kernel_filesystem(&file) {
            return Err(refused(format!("is on the kernel's {fs} filesystem, not a module file")));
        }
        // SAFETY: read-only map of a file we only read; see `open_dump`.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| refused(format!("cannot be mapped ({e})")))?;
        Ok(ModuleFile {
            path: path.to_path_buf(),
            map,
            relocations: Vec::new(),
        })
    }

    /// Reads the shared object's relative relocations (nothing for other files). Called
    /// once the file is known to be the one the process mapped.
    pub fn load_relocations(&mut self) {
        let map = &self.map;
        if map.len() >= 4
            && &map[..4] == b"\x7fELF"
            && let Ok(elf) = Elf::parse(map)
        {
            // The file's own machine decides (a dump's files are of its machine).
            let relative = match elf.header.e_machine {
                goblin::elf::header::EM_AARCH64 => R_AARCH64_RELATIVE,
                _ => R_X86_64_RELATIVE,
            };
            self.relocations = elf
                .dynrelas
                .iter()
                .filter(|r| r.r_type == relative)
                .filter_map(|r| Some((r.r_offset, u64::try_from(r.r_addend?).ok()?)))
                .collect();
            self.relocations.sort_unstable();
        }
    }

    /// The file's bytes `[offset, offset + len)`, when it has them all.
    pub fn bytes(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        self.map.get(start..start.checked_add(len)?)
    }

    /// The GNU build id of an ELF file, if it has one.
    pub fn build_id(&self) -> Option<Vec<u8>> {
        let elf = Elf::parse(&self.map).ok()?;
        let notes = elf.iter_note_headers(&self.map)?;
        notes
            .filter_map(|n| n.ok())
            .find(|n| n.n_type == goblin::elf::note::NT_GNU_BUILD_ID && n.name == "GNU")
            .map(|n| n.desc.to_vec())
    }

    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Copies bytes at `file_pos` into `buf`, as they were at virtual address
    /// `vaddr` (relative to the file's load base `load_base`) after relocation.
    /// Returns false when the file is too short.
    pub fn read(&self, file_pos: u64, vaddr: u64, load_base: u64, buf: &mut [u8]) -> bool {
        let Some(end) = file_pos.checked_add(buf.len() as u64) else {
            return false;
        };
        if end > self.map.len() as u64 {
            return false;
        }
        buf.copy_from_slice(&self.map[file_pos as usize..end as usize]);
        if self.relocations.is_empty() {
            return true;
        }
        let vend = vaddr.saturating_add(buf.len() as u64);
        let first = self
            .relocations
            .partition_point(|&(off, _)| off.saturating_add(8) <= vaddr);
        for &(off, addend) in &self.relocations[first..] {
            if off >= vend {
                break;
            }
            let value = load_base.wrapping_add(addend).to_le_bytes();
            for (i, byte) in value.iter().enumerate() {
                let a = off + i as u64;
                if a >= vaddr && a < vend {
                    buf[(a - vaddr) as usize] = *byte;
                }
            }
        }
        true
    }
}

/// Opens for reading without blocking: a FIFO that slipped past the `stat` (the path was
/// replaced in between) opens at once instead of waiting for a writer, and is then refused.
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// What a file that is not a regular file is, for a message.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    "a special file"
}

/// The kernel filesystem (procfs, sysfs, ...) an open file is on, if it is on one: such
/// files are regular files that are not files (`/proc/self/environ`), wherever they are
/// mounted.
#[cfg(target_os = "linux")]
fn kernel_filesystem(file: &File) -> Option<&'static str> {
    use std::os::fd::AsRawFd;
    const KERNEL_FILESYSTEMS: [(i64, &str); 10] = [
        (0x9fa0, "proc"),
        (0x6265_6572, "sysfs"),
        (0x6462_6720, "debugfs"),
        (0x7472_6163, "tracefs"),
        (0x7363_6673, "securityfs"),
        (0x0027_e0eb, "cgroup"),
        (0x6367_7270, "cgroup2"),
        (0x6265_6570, "configfs"),
        (0xde5e_81e4, "efivarfs"),
        (0xcafe_4a11, "bpf"),
    ];
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `fstatfs` fills the struct for a valid descriptor, which `file` owns.
    let rc = unsafe { libc::fstatfs(file.as_raw_fd(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: filled by the successful call above.
    let kind = unsafe { st.assume_init() }.f_type as i64;
    KERNEL_FILESYSTEMS
        .iter()
        .find(|(magic, _)| *magic == kind)
        .map(|(_, name)| *name)
}

#[cfg(not(target_os = "linux"))]
fn kernel_filesystem(_file: &File) -> Option<&'static str> {
    None
}
