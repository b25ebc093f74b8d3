//! Test support shared by talko's crates: a counting global allocator.
//!
//! Tests that must prove "zero allocation" register [`CountingAlloc`] as their
//! `#[global_allocator]` and read the per-thread counters around the code under test:
//!
//! ```text
//! #[global_allocator]
//! static A: talko_codecs::testing::CountingAlloc = talko_codecs::testing::CountingAlloc;
//! let before = talko_codecs::testing::thread_counts();
//! hot_path();
//! assert_eq!(talko_codecs::testing::thread_counts().since(before).allocs, 0);
//! ```
//!
//! Counts are per thread, so a test harness running other tests in parallel does not
//! disturb them, and a media thread can report its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static FREES: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

/// A global allocator that forwards to [`System`] and counts, per thread, every
/// allocation, reallocation and free.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

/// Allocation counters of one thread at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AllocCounts {
    /// Allocations and reallocations.
    pub allocs: u64,
    /// Frees.
    pub frees: u64,
    /// Bytes requested by allocations and reallocations.
    pub bytes: u64,
}

impl AllocCounts {
    /// The counts accumulated since `earlier`.
    pub fn since(self, earlier: AllocCounts) -> AllocCounts {
        AllocCounts {
            allocs: self.allocs - earlier.allocs,
            frees: self.frees - earlier.frees,
            bytes: self.bytes - earlier.bytes,
        }
    }
}

/// The calling thread's counters.
pub fn thread_counts() -> AllocCounts {
    AllocCounts {
        allocs: ALLOCS.with(Cell::get),
        frees: FREES.with(Cell::get),
        bytes: BYTES.with(Cell::get),
    }
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>, by: u64) {
    // `try_with`: a thread being torn down may still free memory after its locals died.
    let _ = counter.try_with(|c| c.set(c.get().wrapping_add(by)));
}

// A global allocator is unsafe by definition; it only forwards to `System`.
#[allow(unsafe_code)]
// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counters are const-initialised thread locals, so touching
// them never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS, 1);
        bump(&BYTES, layout.size() as u64);
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS, 1);
        bump(&BYTES, layout.size() as u64);
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump(&FREES, 1);
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&ALLOCS, 1);
        bump(&BYTES, new_size as u64);
        // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
