//! Level 5: the ABI. Every `#[no_mangle] pub extern "C" fn ts_*` of the module lives in
//! this folder, one file per section of `../ABI.md` and in its order, and so does the one
//! mutable static, [`Instance`]: the region TypeScript may address ([`Shared`]) followed by
//! the private page map ([`PageMap`], reached only through [`Mem`]) and [`Tunnel`].
//!
//! An export is a few lines: words and slices from [`Mem`] (the only place a `u32` becomes
//! a slice), a split borrow of the tunnel from [`parts`], a call into `path/` or `tables/`,
//! results written back. The small traits `path/` asks for its slots and results are
//! implemented here, over TypeScript's arrays.
//!
//! A wasm instance is single-threaded and no export re-enters another, so each export calls
//! [`parts`] once at the top and passes `&mut` pieces down; nothing else touches the static.
//! TypeScript pointers can never reach the tunnel (`Mem` refuses every range outside the
//! shared region and the heap), so those `&mut` are never aliased.

use crate::mem::{self, Mem, PageMap, Shared, PAGE};
use crate::tables::pool::Grow;
use crate::tables::Pages;
use crate::tunnel::Tunnel;

// In the order of ABI.md's sections.
pub mod pool;
pub mod ip;
pub mod crypto;
pub mod data_plane;
pub mod offloads;
pub mod netstack;

/// The one static: what TypeScript may address first, then what it may not.
#[repr(C)]
pub struct Instance {
    shared: Shared,
    pages: PageMap,
    tunnel: Tunnel,
}

#[cfg(not(test))]
mod backend {
    use super::{Instance, PageMap, Shared, Tunnel};

    // Zero-initialized, so it lives in .bss and costs nothing in the file.
    static mut INSTANCE: Instance = Instance { shared: Shared::ZERO, pages: PageMap::ZERO, tunnel: Tunnel::ZERO };

    pub fn instance() -> *mut Instance {
        // SAFETY: only the address is taken; no reference to the static is created.
        unsafe { core::ptr::addr_of_mut!(INSTANCE) }
    }

    /// The linear-memory address of the shared region.
    pub fn shared_offset() -> usize {
        // SAFETY: as above, address only.
        unsafe { core::ptr::addr_of!(INSTANCE.shared) as usize }
    }
}

/// What an export works with: linear memory as TypeScript may address it (and the tables'
/// page allocator), and the tunnel.
pub struct Parts {
    pub mem: Mem,
    pub tunnel: &'static mut Tunnel,
}

/// The instance, split. Called once per export (module doc).
#[inline]
pub fn parts() -> Parts {
    let inst = backend::instance();
    // SAFETY: `shared_offset` is where the shared region lies; `Mem` hands out views into
    // it (and into the heap outside the private pages) only by address, never overlapping
    // `tunnel`, and is the only user of the page map, by raw pointer. Single-threaded, one
    // call per export: the `&mut` is the only reference to the tunnel.
    unsafe {
        Parts {
            mem: Mem::new(backend::shared_offset(), core::ptr::addr_of_mut!((*inst).pages)),
            tunnel: &mut *core::ptr::addr_of_mut!((*inst).tunnel),
        }
    }
}

/// The tables' pages come from the page allocator in `mem`.
pub struct TablePages(pub Mem);

impl Pages<'static> for TablePages {
    #[inline]
    fn private<T: Copy, const N: usize>(&mut self, init: T) -> Option<&'static mut [T; N]> {
        self.0.private_page(init)
    }
    #[inline]
    fn release<T: Copy, const N: usize>(&mut self, page: &'static mut [T; N]) {
        // SAFETY: the table hands its only reference over by value and keeps nothing of it.
        unsafe { self.0.release_private(page) }
    }
    #[inline]
    fn public(&mut self) -> Option<u32> {
        self.0.public_page()
    }
}

// The tables and `mem` mean the same page.
#[allow(clippy::assertions_on_constants)]
const _: () = assert!(crate::tables::PAGE == PAGE);

/// The pool's chunks come from `memory.grow`.
pub struct LinearMemory;

impl Grow for LinearMemory {
    #[inline]
    fn grow(&mut self, bytes: usize) -> Option<usize> {
        mem::grow((bytes + PAGE - 1) / PAGE)
    }
}

/// 0 if an output was written, else E_BAD_ARG (its pointer was not accessible).
fn written(ok: bool) -> i32 {
    if ok {
        0
    } else {
        crate::errors::E_BAD_ARG
    }
}

// ---------------------------------------------------------------- the host's instance

/// On the host the instance sits in the fake linear memory at `mem::HOST_SHARED`, where
/// the static would be, so the same pointer rules hold; `host::fresh` zeroes it.
#[cfg(test)]
mod backend {
    use super::Instance;
    use crate::mem::{host_at, HOST_HEAP_BASE, HOST_SHARED};

    // A compile-time check, not the runtime `assert!(true)` clippy 1.63 takes it for.
    #[allow(clippy::assertions_on_constants)]
    const _: () = assert!(HOST_SHARED + core::mem::size_of::<Instance>() <= HOST_HEAP_BASE);

    pub fn instance() -> *mut Instance {
        host_at(HOST_SHARED) as *mut Instance
    }
    pub fn shared_offset() -> usize {
        HOST_SHARED
    }
}

/// What the export tests use: a fresh instance per test thread and views of it.
#[cfg(test)]
pub mod host {
    use super::*;

    /// A fresh instance for the calling test thread: zeroed memory, zeroed static.
    pub fn fresh() {
        mem::host_reset();
    }
    pub fn m() -> Mem {
        parts().mem
    }
    pub fn tunnel() -> &'static mut Tunnel {
        parts().tunnel
    }
}

#[cfg(test)]
mod tests {
    use super::host::*;

    /// (file, its source): the export files in ABI.md's order.
    const FILES: [(&str, &str); 6] = [
        ("exports/pool.rs", include_str!("pool.rs")),
        ("exports/ip.rs", include_str!("ip.rs")),
        ("exports/crypto.rs", include_str!("crypto.rs")),
        ("exports/data_plane.rs", include_str!("data_plane.rs")),
        ("exports/offloads.rs", include_str!("offloads.rs")),
        ("exports/netstack.rs", include_str!("netstack.rs")),
    ];
    const ABI: &str = include_str!("../../ABI.md");

    /// `ts_*` names defined by `pub extern "C" fn` in `src` (before its tests), in order.
    fn defined(src: &str) -> Vec<String> {
        let code = src.split("#[cfg(test)]").next().unwrap_or("");
        code.split("pub extern \"C\" fn ")
            .skip(1)
            .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
            .collect()
    }

    /// For each `## ` section of ABI.md: the file it names (`exports/...`) and the `ts_*`
    /// signatures (`` `ts_name( ``) on the first lines of its bullets, in order.
    fn documented() -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let mut in_exports = false;
        for line in ABI.lines() {
            if let Some(h) = line.strip_prefix("## ") {
                in_exports = false;
                if let Some(i) = h.find("`exports/") {
                    let file = h[i + 1..].split('`').next().unwrap_or("").to_string();
                    out.push((file, Vec::new()));
                    in_exports = true;
                }
                continue;
            }
            if !in_exports {
                continue;
            }
            if let (Some(bullet), Some(last)) = (line.strip_prefix("- "), out.last_mut()) {
                for part in bullet.split("`ts_").skip(1) {
                    let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    if part[name.len()..].starts_with('(') {
                        last.1.push(format!("ts_{}", name));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn abi_md_documents_exactly_the_exports_in_their_files_and_order() {
        let doc = documented();
        let files: Vec<&str> = FILES.iter().map(|f| f.0).collect();
        let sections: Vec<&str> = doc.iter().map(|d| d.0.as_str()).collect();
        assert_eq!(sections, files, "ABI.md sections name the export files in order");
        let mut all = Vec::new();
        for ((file, src), (_, names)) in FILES.iter().zip(doc.iter()) {
            let def = defined(src);
            for n in &def {
                assert!(names.contains(n), "{} defines {} but ABI.md does not document it there", file, n);
            }
            for n in names {
                assert!(def.contains(n), "ABI.md documents {} under {} but that file does not define it", n, file);
            }
            assert_eq!(&def, names, "{}: exports in ABI.md's order", file);
            all.extend(def);
        }
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "an export is defined once");
        assert_eq!(all.len(), 81); // + memory, __heap_base, __data_end = the 84 exports of the module
    }

    #[test]
    fn the_tunnel_after_the_shared_region_is_refused() {
        fresh();
        let m = m();
        let t = tunnel() as *mut crate::tunnel::Tunnel as usize - crate::mem::host_at(0) as usize;
        assert!(m.bytes(t as u32, 1).is_none());
        assert!(m.bytes(t as u32 - 1, 1).is_none()); // the page map, between them
        let map = crate::mem::HOST_SHARED + core::mem::size_of::<crate::mem::Shared>();
        assert!(map < t);
        assert!(m.bytes(map as u32 - 1, 1).is_some()); // the last byte of the jumbo slack
        assert!(m.bytes(map as u32, 1).is_none());
        assert!(m.bytes(m.scratch_ptr(), map - m.scratch_ptr() as usize).is_some());
    }

    /// LEB128 at `b[*i..]`.
    fn leb(b: &[u8], i: &mut usize) -> u32 {
        let (mut r, mut s) = (0u32, 0);
        loop {
            let x = b[*i];
            *i += 1;
            r |= ((x & 0x7f) as u32) << s;
            s += 7;
            if x < 0x80 {
                return r;
            }
        }
    }

    /// The committed module's exported functions: name → (param count, result count); their
    /// value types must all be i32 (the ABI has no other).
    fn module_exports() -> Vec<(String, usize, usize)> {
        let b: &[u8] = include_bytes!("../../tunslab.wasm");
        assert_eq!(&b[..8], b"\0asm\x01\0\0\0");
        let (mut types, mut funcs, mut exports) = (Vec::new(), Vec::new(), Vec::new());
        let mut i = 8;
        while i < b.len() {
            let id = b[i];
            i += 1;
            let len = leb(b, &mut i) as usize;
            let end = i + len;
            match id {
                1 => {
                    for _ in 0..leb(b, &mut i) {
                        assert_eq!(b[i], 0x60);
                        i += 1;
                        let np = leb(b, &mut i) as usize;
                        let params = b[i..i + np].to_vec();
                        i += np;
                        let nr = leb(b, &mut i) as usize;
                        let results = b[i..i + nr].to_vec();
                        i += nr;
                        types.push((params, results));
                    }
                }
                2 => panic!("the module has no imports"),
                3 => {
                    for _ in 0..leb(b, &mut i) {
                        funcs.push(leb(b, &mut i) as usize);
                    }
                }
                7 => {
                    for _ in 0..leb(b, &mut i) {
                        let n = leb(b, &mut i) as usize;
                        let name = String::from_utf8(b[i..i + n].to_vec()).unwrap();
                        i += n;
                        let kind = b[i];
                        i += 1;
                        let idx = leb(b, &mut i) as usize;
                        if kind == 0 {
                            let (params, results): &(Vec<u8>, Vec<u8>) = &types[funcs[idx]];
                            assert!(params.iter().chain(results).all(|&t| t == 0x7f), "{}: i32 only", name);
                            exports.push((name, params.len(), results.len()));
                        }
                    }
                }
                _ => {}
            }
            i = end;
        }
        exports
    }

    /// `pub extern "C" fn` signatures of the export files: name → (param count, result count).
    fn source_exports() -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        for (_, src) in FILES.iter() {
            let code = src.split("#[cfg(test)]").next().unwrap_or("");
            for rest in code.split("pub extern \"C\" fn ").skip(1) {
                let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let params = &rest[rest.find('(').unwrap() + 1..rest.find(')').unwrap()];
                let np = params.split(',').filter(|p| p.contains(':')).count();
                for p in params.split(',').filter(|p| p.contains(':')) {
                    assert!(p.trim().ends_with("u32") || p.trim().ends_with("i32"), "{}: {}", name, p);
                }
                let after = &rest[rest.find(')').unwrap() + 1..rest.find('{').unwrap()];
                let nr = if after.contains("->") { 1 } else { 0 };
                out.push((name, np, nr));
            }
        }
        out
    }

    #[test]
    fn the_committed_module_exports_exactly_these_functions_with_these_types() {
        let mut m = module_exports();
        let mut s = source_exports();
        m.sort();
        s.sort();
        assert_eq!(m, s, "rebuild with `bash wasm/build.sh`");
    }
}
