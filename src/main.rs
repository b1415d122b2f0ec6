//! The binary: all behaviour lives in the library; this only turns `cli::run` into an exit code.

// Parsing and evaluation allocate many small nodes from several threads; mimalloc measurably
// beats the system allocator there (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: shim::Mimalloc = shim::Mimalloc;

/// The package's one piece of `unsafe` code (the library forbids it): the allocator shim.
#[allow(unsafe_code)]
mod shim {
    use std::alloc::{GlobalAlloc, Layout};
    use std::ffi::c_void;

    use libmimalloc_sys as mi;

    /// mimalloc, asked as its C interface is fastest: `mi_malloc` when its blocks are aligned
    /// enough by themselves (as the system allocator's shim asks `malloc`), the aligned calls
    /// only for larger alignments. Every Rust allocation names an alignment; asking
    /// `mi_malloc_aligned` for all of them (as the `mimalloc` crate does) sends a block larger
    /// than 1 KiB, or one whose size class has no free block left, through an over-allocating
    /// path that puts it in the next size class (docs/BENCHMARKS.md, thirty-fourth session).
    pub(super) struct Mimalloc;

    /// The alignment of `mi_malloc`'s blocks (`MI_MAX_ALIGN_SIZE`): size classes above 8 bytes
    /// are multiples of 16 and a page's first block is 16-aligned, so a block larger than 8
    /// bytes is 16-aligned and one of 8 bytes 8-aligned. A plain block thus serves any
    /// alignment up to this that is at most its size.
    const PLAIN_ALIGN: usize = 16;

    // SAFETY: each call passes the layout's size (and alignment, when the plain call does not
    // guarantee it) to mimalloc, which returns null or a block of at least that size and
    // alignment; blocks are freed and reallocated only by mimalloc.
    unsafe impl GlobalAlloc for Mimalloc {
        #[inline]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: see the impl.
            unsafe { new_block(layout, mi::mi_malloc, mi::mi_malloc_aligned) }
        }

        #[inline]
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: see the impl.
            unsafe { new_block(layout, mi::mi_zalloc, mi::mi_zalloc_aligned) }
        }

        #[inline]
        unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
            // SAFETY: see the impl.
            unsafe { mi::mi_free(ptr.cast()) }
        }

        #[inline]
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: see the impl.
            unsafe {
                if plain(new_size, layout.align()) {
                    mi::mi_realloc(ptr.cast(), new_size).cast()
                } else {
                    mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
                }
            }
        }
    }

    /// A new block for `layout` from mimalloc's plain call when its blocks are aligned enough,
    /// from the aligned one otherwise.
    ///
    /// # Safety
    /// The calls must be mimalloc's allocation functions of those signatures.
    #[inline]
    unsafe fn new_block(
        layout: Layout,
        plain_call: unsafe extern "C" fn(usize) -> *mut c_void,
        aligned_call: unsafe extern "C" fn(usize, usize) -> *mut c_void,
    ) -> *mut u8 {
        // SAFETY: the caller passes mimalloc's functions.
        unsafe {
            if plain(layout.size(), layout.align()) {
                plain_call(layout.size()).cast()
            } else {
                aligned_call(layout.size(), layout.align()).cast()
            }
        }
    }

    /// Whether a plain `mi_malloc` block of `size` bytes is aligned to `align`.
    #[inline]
    const fn plain(size: usize, align: usize) -> bool {
        align <= PLAIN_ALIGN && align <= size
    }
}

fn main() -> std::process::ExitCode {
    // The library contains panics per file, rule and test suite; this catches the rest.
    let code = mtk_lint::panic::catch(mtk_lint::cli::run).unwrap_or_else(|message| {
        let message = mtk_lint::panic::internal_error("running", &message);
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("mtk-lint: {message}\n").as_bytes(),
        );
        2
    });
    std::process::ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    use super::shim::Mimalloc;

    /// Every size and alignment gets a block of that alignment, whichever call serves it; a
    /// block keeps its bytes when it grows or shrinks (across the plain and aligned calls),
    /// and a zeroed block is zero.
    #[test]
    #[allow(unsafe_code)]
    fn blocks_have_the_alignment_and_keep_the_bytes_asked_for() {
        let sizes = [1, 2, 7, 8, 9, 15, 16, 17, 24, 40, 48, 100, 1000, 1025, 1500, 5000, 70_000];
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for &size in &sizes {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; every block is freed with the layout it has.
                unsafe {
                    let zeroed = Mimalloc.alloc_zeroed(layout);
                    assert!(!zeroed.is_null());
                    assert_eq!(zeroed as usize % align, 0, "zeroed {size} bytes, align {align}");
                    assert!(std::slice::from_raw_parts(zeroed, size).iter().all(|&b| b == 0));
                    Mimalloc.dealloc(zeroed, layout);

                    let p = Mimalloc.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "{size} bytes, align {align}");
                    for i in 0..size {
                        *p.add(i) = (i % 251) as u8;
                    }
                    let mut p = p;
                    let mut now = layout;
                    for new_size in [size * 3, size / 2 + 1, size + 13] {
                        p = Mimalloc.realloc(p, now, new_size);
                        assert!(!p.is_null());
                        assert_eq!(
                            p as usize % align,
                            0,
                            "{size} → {new_size} bytes, align {align}"
                        );
                        let kept = now.size().min(new_size);
                        for i in 0..kept {
                            assert_eq!(
                                *p.add(i),
                                (i % 251) as u8,
                                "byte {i} of {size} → {new_size}"
                            );
                        }
                        for i in kept..new_size {
                            *p.add(i) = (i % 251) as u8;
                        }
                        now = Layout::from_size_align(new_size, align).unwrap();
                    }
                    Mimalloc.dealloc(p, now);
                }
            }
        }
    }
}
