//! Messages of the runtime's diagnostics IPC protocol (`DOTNET_IPC_V1`).
//!
//! Every message is a 20-byte header then a payload. The header: the magic
//! `"DOTNET_IPC_V1\0"` (14 bytes), `u16` total size (header included), `u8` command set,
//! `u8` command id, `u16` reserved (0). Numbers are little-endian; a string is a `u32`
//! count of UTF-16 code units, terminator included, then the units (a count of 0 is an
//! empty string). The runtime answers with command set `0xFF` (server): id `0x00` (OK) and
//! a command-specific payload, or id `0xFF` (error) and an `i32` HRESULT, which some
//! commands follow with a message string.
//!
//! Only what `ps` and `collect` need is here: `ProcessInfo`/`ProcessInfo2` (command set
//! `0x04`) and `GenerateCoreDump`/`2`/`3` (command set `0x01`).

/// The magic at the start of every header, NUL included.
pub const MAGIC: &[u8; 14] = b"DOTNET_IPC_V1\0";
pub const HEADER_SIZE: usize = 20;
/// The largest message the `u16` size field can describe.
pub const MAX_MESSAGE: usize = u16::MAX as usize;

pub const SET_DUMP: u8 = 0x01;
pub const SET_PROCESS: u8 = 0x04;
pub const SET_SERVER: u8 = 0xFF;

pub const DUMP_GENERATE: u8 = 0x01;
pub const DUMP_GENERATE2: u8 = 0x02;
pub const DUMP_GENERATE3: u8 = 0x03;
pub const PROCESS_INFO: u8 = 0x00;
pub const PROCESS_INFO2: u8 = 0x04;

pub const SERVER_OK: u8 = 0x00;
pub const SERVER_ERROR: u8 = 0xFF;

/// The runtime does not know the command (an older runtime).
pub const E_UNKNOWN_COMMAND: u32 = 0x8013_1385;

/// `GenerateCoreDump` flags (`2` and `3` take them; the first takes only logging).
pub const FLAG_LOGGING: u32 = 0x01;
pub const FLAG_CRASH_REPORT: u32 = 0x04;

/// Builds a message: header then payload.
pub fn message(command_set: u8, command_id: u8, payload: &[u8]) -> Option<Vec<u8>> {
    let size = HEADER_SIZE.checked_add(payload.len()).filter(|&n| n <= MAX_MESSAGE)?;
    let mut m = Vec::with_capacity(size);
    m.extend_from_slice(MAGIC);
    m.extend_from_slice(&(size as u16).to_le_bytes());
    m.push(command_set);
    m.push(command_id);
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(payload);
    Some(m)
}

/// Appends a protocol string: UTF-16 code units with a terminator, after their count.
pub fn put_string(out: &mut Vec<u8>, s: &str) {
    let units: Vec<u16> = s.encode_utf16().chain(std::iter::once(0)).collect();
    out.extend_from_slice(&(units.len() as u32).to_le_bytes());
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// A parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub size: u16,
    pub command_set: u8,
    pub command_id: u8,
}

/// Parses a response header; `None` when it is not one.
pub fn parse_header(bytes: &[u8; HEADER_SIZE]) -> Option<Header> {
    if &bytes[..14] != MAGIC {
        return None;
    }
    let size = u16::from_le_bytes([bytes[14], bytes[15]]);
    if (size as usize) < HEADER_SIZE {
        return None;
    }
    Some(Header { size, command_set: bytes[16], command_id: bytes[17] })
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// OK, with the command's payload.
    Ok(Vec<u8>),
    /// An error HRESULT, and a message when the command sends one.
    Error { hresult: u32, message: Option<String> },
}

/// Interprets a response: its header and payload.
pub fn parse_reply(header: Header, payload: Vec<u8>) -> Result<Reply, String> {
    if header.command_set != SET_SERVER {
        return Err(format!("an answer of command set {:#04x}, not the server's", header.command_set));
    }
    match header.command_id {
        SERVER_OK => Ok(Reply::Ok(payload)),
        SERVER_ERROR => {
            let mut r = Reader::new(&payload);
            let hresult = r.u32().ok_or("an error answer without its HRESULT")?;
            // Only GenerateCoreDump3 follows the HRESULT with text; tolerate its absence.
            let message = r.string().filter(|m| !m.trim().is_empty());
            Ok(Reply::Error { hresult, message })
        }
        other => Err(format!("an unknown server answer {other:#04x}")),
    }
}

/// Reads protocol values from a payload, refusing anything that runs past its end.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        self.take(n)
    }

    /// A string: its count of UTF-16 units (terminator included), then the units.
    pub fn string(&mut self) -> Option<String> {
        let count = self.u32()? as usize;
        let raw = self.take(count.checked_mul(2)?)?;
        let mut units: Vec<u16> = raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        if units.last() == Some(&0) {
            units.pop();
        }
        Some(String::from_utf16_lossy(&units))
    }
}

/// The answer to `ProcessInfo` (and `ProcessInfo2`, which adds the last two fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProcessInfo {
    /// The process id in the process's own PID namespace.
    pub pid: u64,
    /// The runtime instance cookie (a GUID), as 32 hex digits.
    pub cookie: String,
    /// `argv[0]` made absolute, then the arguments, separated by spaces.
    pub command_line: String,
    pub os: String,
    pub arch: String,
    /// The entry assembly's simple name (`ProcessInfo2`, .NET 7+).
    pub entry_assembly: Option<String>,
    /// The runtime's product version, e.g. `10.0.12` (`ProcessInfo2`, .NET 7+).
    pub runtime_version: Option<String>,
}

/// Parses a `ProcessInfo` payload; with `v2`, a `ProcessInfo2` payload.
pub fn parse_process_info(payload: &[u8], v2: bool) -> Option<ProcessInfo> {
    let mut r = Reader::new(payload);
    let pid = r.u64()?;
    let cookie = r.bytes(16)?.iter().map(|b| format!("{b:02x}")).collect();
    let command_line = r.string()?;
    let os = r.string()?;
    let arch = r.string()?;
    let (entry_assembly, runtime_version) = if v2 {
        (Some(r.string()?), Some(r.string()?))
    } else {
        (None, None)
    };
    Some(ProcessInfo { pid, cookie, command_line, os, arch, entry_assembly, runtime_version })
}

/// `dotnet-dump collect --type` values and the protocol's numbers for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DumpType {
    /// All memory, module images included (dotnet-dump's default).
    Full,
    /// All memory but the module images: what heap analysis needs, much smaller.
    Heap,
    /// Modules, threads and stacks, no heap.
    Mini,
    /// As mini, with personal data removed.
    Triage,
}

impl DumpType {
    pub fn code(self) -> u32 {
        match self {
            DumpType::Mini => 1,
            DumpType::Heap => 2,
            DumpType::Triage => 3,
            DumpType::Full => 4,
        }
    }

    /// How dotnet-dump names the kind of dump it is writing.
    pub fn description(self) -> &'static str {
        match self {
            DumpType::Full => "full dump",
            DumpType::Heap => "dump with heap",
            DumpType::Mini => "mini dump",
            DumpType::Triage => "triage dump",
        }
    }
}

/// The payload of `GenerateCoreDump2`/`3`: path, type, flags. (`GenerateCoreDump` takes
/// the same layout, its last field being 0 or 1 for logging.)
pub fn dump_payload(path: &str, dump_type: DumpType, flags: u32) -> Vec<u8> {
    let mut p = Vec::new();
    put_string(&mut p, path);
    p.extend_from_slice(&dump_type.code().to_le_bytes());
    p.extend_from_slice(&flags.to_le_bytes());
    p
}

/// A name for the diagnostics HRESULTs and the common system ones.
pub fn hresult_name(hr: u32) -> Option<&'static str> {
    Some(match hr {
        0x8013_1384 => "bad encoding",
        0x8013_1385 => "unknown command",
        0x8013_1386 => "unknown magic",
        0x8013_1515 => "not supported",
        0x8000_4005 => "unspecified failure",
        0x8013_135b => "not yet available",
        0x8013_1371 => "the runtime is not initialized",
        0x8007_0057 => "invalid argument",
        0x8007_007a => "insufficient buffer",
        0x8007_000e => "out of memory",
        0x8007_0005 => "access denied",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let m = message(SET_PROCESS, PROCESS_INFO2, &[]).unwrap();
        assert_eq!(m.len(), 20);
        assert_eq!(&m[..14], b"DOTNET_IPC_V1\0");
        assert_eq!(u16::from_le_bytes([m[14], m[15]]), 20);
        assert_eq!((m[16], m[17], m[18], m[19]), (4, 4, 0, 0));
        let h = parse_header(&m[..20].try_into().unwrap()).unwrap();
        assert_eq!(h, Header { size: 20, command_set: 4, command_id: 4 });
    }

    #[test]
    fn oversized_payload_is_refused() {
        assert!(message(SET_DUMP, DUMP_GENERATE3, &vec![0; MAX_MESSAGE]).is_none());
    }

    #[test]
    fn bad_magic_and_short_size_are_not_headers() {
        let mut m: [u8; 20] = message(SET_SERVER, SERVER_OK, &[]).unwrap().try_into().unwrap();
        m[0] = b'X';
        assert!(parse_header(&m).is_none());
        let mut m: [u8; 20] = message(SET_SERVER, SERVER_OK, &[]).unwrap().try_into().unwrap();
        m[14] = 19;
        assert!(parse_header(&m).is_none());
    }

    #[test]
    fn strings_round_trip_with_terminator() {
        let mut p = Vec::new();
        put_string(&mut p, "/tmp/ü");
        assert_eq!(u32::from_le_bytes(p[..4].try_into().unwrap()), 7);
        assert_eq!(p.len(), 4 + 14);
        assert_eq!(Reader::new(&p).string().as_deref(), Some("/tmp/ü"));
        // A zero count is an empty string.
        assert_eq!(Reader::new(&[0, 0, 0, 0]).string().as_deref(), Some(""));
        // A count running past the payload is refused.
        assert_eq!(Reader::new(&[9, 0, 0, 0, b'a', 0]).string(), None);
        assert_eq!(Reader::new(&[0xff, 0xff, 0xff, 0xff]).string(), None);
    }

    #[test]
    fn process_info2_fields_in_order() {
        let mut p = Vec::new();
        p.extend_from_slice(&4242u64.to_le_bytes());
        p.extend_from_slice(&[0xab; 16]);
        for s in ["/usr/bin/dotnet app.dll", "Linux", "x64", "app", "10.0.12"] {
            put_string(&mut p, s);
        }
        let info = parse_process_info(&p, true).unwrap();
        assert_eq!(info.pid, 4242);
        assert_eq!(info.cookie, "ab".repeat(16));
        assert_eq!(info.command_line, "/usr/bin/dotnet app.dll");
        assert_eq!((info.os.as_str(), info.arch.as_str()), ("Linux", "x64"));
        assert_eq!(info.entry_assembly.as_deref(), Some("app"));
        assert_eq!(info.runtime_version.as_deref(), Some("10.0.12"));
        // Version 1 stops after the architecture; a cut payload is refused.
        assert!(parse_process_info(&p, false).is_some());
        assert!(parse_process_info(&p[..p.len() - 3], true).is_none());
    }

    #[test]
    fn error_reply_with_and_without_text() {
        let h = Header { size: 28, command_set: SET_SERVER, command_id: SERVER_ERROR };
        let reply = parse_reply(h, 0x8013_1385u32.to_le_bytes().to_vec()).unwrap();
        assert_eq!(reply, Reply::Error { hresult: E_UNKNOWN_COMMAND, message: None });
        let mut p = 0x8000_4005u32.to_le_bytes().to_vec();
        put_string(&mut p, "Problem launching createdump");
        let reply = parse_reply(h, p).unwrap();
        assert_eq!(
            reply,
            Reply::Error { hresult: 0x8000_4005, message: Some("Problem launching createdump".into()) }
        );
        assert!(parse_reply(h, vec![1, 2]).is_err());
        let other = Header { command_set: SET_DUMP, ..h };
        assert!(parse_reply(other, vec![]).is_err());
    }

    #[test]
    fn dump_payload_layout() {
        let p = dump_payload("/d", DumpType::Heap, FLAG_CRASH_REPORT);
        // count 3 ("/d" + NUL), 6 bytes of text, type 2, flags 4
        assert_eq!(p, [3, 0, 0, 0, b'/', 0, b'd', 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0]);
    }
}
