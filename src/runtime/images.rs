//! What dotnet-dump says about each loaded image beyond its range (`modules -v`), and the
//! block createdump adds to every dump it writes (`sosstatus`).
//!
//! An image is a PE file when its base holds a PE header: dotnet-dump reads it first as
//! the loader lays it out (an RVA is an offset from the base) and keeps that reading when it
//! finds CodeView entries there; otherwise it reads it as the file's bytes (RVAs through the
//! section table), which is how the runtime maps IL-only assemblies, and keeps that when it
//! finds them there. Which reading won is `IsFileLayout`; `SizeOfImage`, the COFF time
//! stamp, the version resource's file version and the CodeView entries come from it. An
//! ELF image has none of those: its version is the `@(#)Version` text of its writable data
//! (see [`super::version::find_version_text`]), its index the GNU build id.
use super::modules::ImageInSpace;
use super::version::find_version_text;
use crate::dump::{AddressSpace, ImageKind, LoadedImage};
use crate::metadata::pe::{CodeViewInfo, ImageLayout, PeImage};

/// `modules -v`'s facts about one image.
#[derive(Debug, Clone, Default)]
pub struct ImageDetails {
    pub is_pe: bool,
    pub is_managed: bool,
    /// `Some(true)` when read as the file's bytes, `Some(false)` as the loader's layout,
    /// `None` for ELF images.
    pub file_layout: Option<bool>,
    /// `SizeOfImage` and the COFF `TimeDateStamp` (a PE image's symbol server index).
    pub index_file_size: Option<u32>,
    pub index_timestamp: Option<u32>,
    /// The version resource's file version (PE) or the version text's first word (ELF).
    pub version: Option<String>,
    /// An ELF image's whole `@(#)Version` text.
    pub version_text: Option<String>,
    pub pdbs: Vec<CodeViewInfo>,
    pub build_id: Option<Vec<u8>>,
}

/// Reads what `modules -v` shows about `image`.
pub fn image_details(space: &AddressSpace, image: &LoadedImage) -> ImageDetails {
    match image.kind {
        ImageKind::Pe => pe_details(space, image),
        ImageKind::Elf => {
            let end = image.base.saturating_add(image.size);
            let version_text = find_version_text(space, image.base, end);
            ImageDetails {
                version: version_text.as_deref().and_then(parse_version),
                version_text,
                build_id: space.elf_build_id(image.base),
                ..ImageDetails::default()
            }
        }
    }
}

fn pe_details(space: &AddressSpace, image: &LoadedImage) -> ImageDetails {
    let src = ImageInSpace { space, base: image.base };
    let read = |layout| PeImage::parse(&src, layout).ok().map(|pe| {
        let pdbs = pe.codeviews(&src);
        (pe, pdbs)
    });
    let mut chosen = read(ImageLayout::Mapped);
    if chosen.as_ref().is_none_or(|(_, pdbs)| pdbs.is_empty())
        && let Some(flat) = read(ImageLayout::Flat)
        && (chosen.is_none() || !flat.1.is_empty())
    {
        chosen = Some(flat);
    }
    let Some((pe, pdbs)) = chosen else {
        // A PE header without a CLI header (or a damaged one): a PE image, nothing more known.
        return ImageDetails { is_pe: true, ..ImageDetails::default() };
    };
    ImageDetails {
        is_pe: true,
        is_managed: true,
        file_layout: Some(pe.layout() == ImageLayout::Flat),
        index_file_size: Some(pe.size_of_image()),
        index_timestamp: Some(pe.time_date_stamp()),
        version: pe.file_version(&src).map(|v| format!("{}.{}.{}.{}", v[0], v[1], v[2], v[3])),
        version_text: None,
        pdbs,
        build_id: None,
    }
}

/// The leading `a.b[.c[.d]]` of a version text, as .NET's `Version` reads and prints it.
fn parse_version(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    let parts: Vec<i32> = word.split('.').map(|p| p.parse().ok().filter(|n: &i32| *n >= 0)).collect::<Option<_>>()?;
    if !(2..=4).contains(&parts.len()) {
        return None;
    }
    Some(parts.iter().map(i32::to_string).collect::<Vec<_>>().join("."))
}

/// A CodeView entry as dotnet-dump prints it: GUID, age, `(portable)`, path.
pub fn pdb_info_text(pdb: &CodeViewInfo) -> String {
    let g = &pdb.guid;
    let d1 = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
    let d2 = u16::from_le_bytes([g[4], g[5]]);
    let d3 = u16::from_le_bytes([g[6], g[7]]);
    let rest: String = g[8..].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{d1:08x}-{d2:04x}-{d3:04x}-{}-{} {} {}{}",
        &rest[..4],
        &rest[4..],
        pdb.age,
        if pdb.portable { "(portable) " } else { "" },
        pdb.path
    )
}

/// Where createdump writes its block on 64-bit Linux.
pub const SPECIAL_DIAG_INFO_ADDRESS: u64 = 0x0000_7fff_fff1_0000;
const SPECIAL_DIAG_INFO_SIGNATURE: &[u8] = b"DIAGINFOHEADER";

/// createdump's block (`SpecialDiagInfoHeader`): a signature, a version, the address of the
/// crash's exception record (NativeAOT's crash info; 0 otherwise) and, from version 2,
/// the runtime module's base.
#[derive(Debug, Clone)]
pub struct SpecialDiagInfo {
    pub address: u64,
    pub signature: String,
    pub valid: bool,
    pub version: i32,
    pub exception_record: u64,
    pub runtime_base: u64,
}

/// The block at [`SPECIAL_DIAG_INFO_ADDRESS`], if the dump holds those bytes.
pub fn special_diag_info(space: &AddressSpace) -> Option<SpecialDiagInfo> {
    let b = space.read_vec(SPECIAL_DIAG_INFO_ADDRESS, 40).ok()?;
    let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let sig_end = b[..16].iter().position(|&c| c == 0).unwrap_or(16);
    Some(SpecialDiagInfo {
        address: SPECIAL_DIAG_INFO_ADDRESS,
        signature: String::from_utf8_lossy(&b[..sig_end]).into_owned(),
        valid: b.starts_with(SPECIAL_DIAG_INFO_SIGNATURE),
        version: i32::from_le_bytes(b[16..20].try_into().expect("4 bytes")),
        exception_record: word(24),
        runtime_base: word(32),
    })
}

/// `EXCEPTION_RECORD64`'s code for a fail fast, and NativeAOT's fail fast subcode: the
/// record createdump points to then carries the runtime's crash info (JSON).
const STATUS_STACK_BUFFER_OVERRUN: u32 = 0xC000_0409;
const FAST_FAIL_EXCEPTION_DOTNET_AOT: u64 = 0x48;
/// Largest crash info read.
const MAX_CRASH_INFO: u64 = 64 << 10;

/// The crash info a runtime left for its dump (`crashinfo`): its hresult and its JSON.
#[derive(Debug, Clone)]
pub struct CrashInfo {
    pub hresult: u32,
    pub json: serde_json::Value,
}

/// The crash info createdump's block points to, when the dump has one: a NativeAOT
/// process's fail fast records its JSON crash info there. CoreCLR's crashes (an unhandled
/// exception, `Environment.FailFast`) leave the record address 0, so their dumps have none
/// (dotnet-dump: "No crash info to display").
pub fn crash_info(space: &AddressSpace) -> Option<CrashInfo> {
    let diag = special_diag_info(space)?;
    if !diag.valid || diag.version < 1 || diag.exception_record == 0 {
        return None;
    }
    // ExceptionCode, flags, record, address, NumberParameters, padding, 15 parameters.
    let record = space.read_vec(diag.exception_record, 32 + 15 * 8).ok()?;
    let u32_at = |at: usize| u32::from_le_bytes(record[at..at + 4].try_into().expect("4 bytes"));
    let param = |i: usize| u64::from_le_bytes(record[32 + 8 * i..40 + 8 * i].try_into().expect("8 bytes"));
    if u32_at(0) != STATUS_STACK_BUFFER_OVERRUN || u32_at(24) < 4 || param(0) != FAST_FAIL_EXCEPTION_DOTNET_AOT {
        return None;
    }
    let size = param(3).min(MAX_CRASH_INFO) as usize;
    let bytes = space.read_vec(param(2), size).ok()?;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let json: serde_json::Value = serde_json::from_slice(&bytes[..end]).ok()?;
    let major = json.get("version")?.as_str()?.split('.').next()?.parse::<u32>().ok()?;
    (major >= 1).then_some(CrashInfo { hresult: param(1) as u32, json })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_as_dotnet_reads_them() {
        assert_eq!(parse_version("10.0.1226.42308 @Commit: 95017c7").as_deref(), Some("10.0.1226.42308"));
        assert_eq!(parse_version("garbage"), None);
        assert_eq!(parse_version("1.2").as_deref(), Some("1.2"));
    }

    #[test]
    fn pdb_guid_as_dotnet_formats_it() {
        let pdb = CodeViewInfo {
            guid: [0xe0, 0x3c, 0xcf, 0x96, 0xab, 0x43, 0xec, 0x5f, 0x40, 0xac, 0xb0, 0x56, 0x28, 0x84, 0x83, 0x27],
            age: 1,
            stamp: 0,
            path: "a.pdb".into(),
            portable: true,
        };
        assert_eq!(pdb_info_text(&pdb), "96cf3ce0-43ab-5fec-40ac-b05628848327 1 (portable) a.pdb");
    }
}

/// The runtime module (`libcoreclr.so`) as dotnet-dump's `runtimes` and `sosstatus` show
/// it: its image size and GNU build id.
#[derive(Debug, Clone)]
pub struct RuntimeImage {
    /// The size of its image as `modules` reports it, else its mapped extent.
    pub size: u64,
    /// Its GNU build id in lower-case hex (empty when the dump does not hold it).
    pub build_id: String,
}

impl super::Runtime {
    /// The runtime module's image size and build id.
    pub fn runtime_image(&self) -> RuntimeImage {
        let base = self.coreclr.base;
        let size = self
            .space
            .loaded_images()
            .iter()
            .find(|i| i.base == base)
            .map_or(self.coreclr.end.saturating_sub(base), |i| i.size);
        let build_id = self.space.elf_build_id(base).unwrap_or_default().iter().map(|b| format!("{b:02x}")).collect();
        RuntimeImage { size, build_id }
    }

    /// createdump's diagnostic block, if the dump holds it.
    pub fn special_diag_info(&self) -> Option<SpecialDiagInfo> {
        special_diag_info(&self.space)
    }

    /// The dumped process's id: the core's `NT_PRPSINFO`, else its first thread's id.
    pub fn process_id(&self) -> u32 {
        let core = self.space.core();
        core.pid.or_else(|| core.threads.first().map(|t| t.tid)).unwrap_or(0)
    }

    /// The process's loaded images, as dotnet-dump's `modules` lists them.
    pub fn loaded_images(&self) -> Vec<LoadedImage> {
        self.space.loaded_images()
    }

    /// The paths of the files the dump records as mapped (NT_FILE), in its order.
    pub fn mapped_file_paths(&self) -> impl Iterator<Item = &str> {
        self.space.core().files.iter().map(|f| f.path.as_str())
    }

    /// What `modules -v` shows of one image.
    pub fn image_details(&self, image: &LoadedImage) -> ImageDetails {
        image_details(&self.space, image)
    }

    /// The crash information createdump recorded, if any.
    pub fn crash_info(&self) -> Option<CrashInfo> {
        crash_info(&self.space)
    }

    /// The dump's OS threads (their ids and registers), in the core's order.
    pub fn os_threads(&self) -> &[crate::dump::ThreadRegisters] {
        &self.space.core().threads
    }

    /// The dumped process's architecture.
    pub fn architecture(&self) -> crate::dump::Architecture {
        self.space.core().arch
    }
}
