//! Raw memory as the memory commands (`d`, `db`, `dq`, ...) see it: a read-only view of
//! the dump's address space that answers "what bytes are there" without telling the
//! caller how the dump stores them. Commands use [`Heap::memory`] and never the address
//! space itself.
use super::Heap;

/// A read-only view of the target's memory.
#[derive(Clone, Copy)]
pub struct Memory<'a> {
    heap: &'a Heap,
}

impl Memory<'_> {
    /// Reads `buf.len()` bytes at `addr`; `false` when any of them is not in the dump.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        addr.checked_add(buf.len() as u64).is_some() && self.heap.space().read(addr, buf).is_ok()
    }

    /// The byte at `addr`, if the dump has it.
    pub fn byte(&self, addr: u64) -> Option<u8> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b).then_some(b[0])
    }

    /// The little-endian UTF-16 unit at `addr`, if the dump has it.
    pub fn u16(&self, addr: u64) -> Option<u16> {
        let mut b = [0u8; 2];
        self.read(addr, &mut b).then(|| u16::from_le_bytes(b))
    }

    /// The pointer at `addr`, if the dump has it.
    pub fn pointer(&self, addr: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b).then(|| u64::from_le_bytes(b))
    }

    /// The target's pointer size in bytes.
    pub fn pointer_size(&self) -> usize {
        8
    }
}

impl Heap {
    /// The target's memory, for commands that print raw bytes.
    pub fn memory(&self) -> Memory<'_> {
        Memory { heap: self }
    }
}
