//! Source lines from portable PDBs, found as dotnet-dump's symbol service finds them
//! without a symbol server: `NAME.pdb` next to the module's file (the path the runtime
//! loaded it from), or in a `--module-path` directory. A PDB is used only when its id is
//! the module's (the CodeView GUID and time stamp in the module's debug directory): the
//! PDB of another build of the module would give wrong lines.
use super::modules::{module_image, ImageInSpace};
use super::Runtime;
use crate::metadata::pdb::{PortablePdb, MAX_PDB_SIZE};
use crate::metadata::PeImage;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// PDBs by module, loaded on first use.
#[derive(Default)]
pub struct Symbols {
    pdbs: Mutex<HashMap<u64, Option<Arc<PortablePdb>>>>,
}

impl Symbols {
    /// The source file and line of IL offset `il` in MethodDef `rid` of `module`.
    pub fn line(&self, rt: &Runtime, module: u64, rid: u32, il: u32) -> Option<(String, u32)> {
        self.pdb(rt, module)?.line(rid, il)
    }

    /// The module's PDB, if one matching it is found.
    pub fn pdb(&self, rt: &Runtime, module: u64) -> Option<Arc<PortablePdb>> {
        let mut pdbs = self.pdbs.lock().ok()?;
        pdbs.entry(module).or_insert_with(|| load_pdb(rt, module).map(Arc::new)).clone()
    }
}

fn load_pdb(rt: &Runtime, module: u64) -> Option<PortablePdb> {
    let image = module_image(rt, module).ok()?;
    if image.base == 0 || image.path.is_empty() {
        return None;
    }
    let src = ImageInSpace { space: &rt.space, base: image.base };
    let pe = PeImage::parse(&src, image.layout).ok()?;
    let cv = pe.codeview(&src)?;
    let module_path = Path::new(&image.path);
    let stem = module_path.file_stem()?;
    let pdb_name = Path::new(&cv.path).file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(stem).with_extension("pdb"));
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = module_path.parent() {
        candidates.push(dir.join(PathBuf::from(stem).with_extension("pdb")));
        candidates.push(dir.join(&pdb_name));
    }
    for dir in rt.space.module_search_paths() {
        candidates.push(dir.join(PathBuf::from(stem).with_extension("pdb")));
        candidates.push(dir.join(&pdb_name));
    }
    let mut want = [0u8; 20];
    want[..16].copy_from_slice(&cv.guid);
    want[16..].copy_from_slice(&cv.stamp.to_le_bytes());
    candidates.into_iter().find_map(|path| {
        let len = std::fs::metadata(&path).ok()?.len();
        if len > MAX_PDB_SIZE as u64 {
            return None;
        }
        let pdb = PortablePdb::parse(std::fs::read(&path).ok()?).ok()?;
        (pdb.id() == &want).then_some(pdb)
    })
}
