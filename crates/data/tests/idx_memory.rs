//! Peak memory of loading an IDX set, measured by a counting global allocator: a gzip that
//! inflates 1000:1 (a "bomb" as far as its size goes) costs the floats it yields and a small
//! constant, not an inflated byte copy plus a converted copy.
//!
//! One test only: the allocator counts every thread of the process, so nothing else may run
//! beside the measurement.

use flate2::write::GzEncoder;
use flate2::Compression;
use nabla_data::IDX_FILES;
use nabla_registry::{RawParams, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Loads a data set by name through the registry's generic build (splits and effective params).
fn load(
    name: &str,
    raw: &nabla_registry::RawParams,
) -> Result<(nabla_data::DataSplits, nabla_registry::Params), nabla_data::DataError> {
    nabla_registry::build::<nabla_data::DataSplits>((name, raw), ()).map(|b| (b.value, b.params))
}

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::SeqCst) + n;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

fn shrink(n: usize) {
    CURRENT.fetch_sub(n, Ordering::SeqCst);
}

// SAFETY: every call is forwarded to `System` with the caller's arguments; the counters are
// bookkeeping only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as if old and new blocks coexisted (a moving realloc), the worst case.
        grow(new_size);
        // SAFETY: forwarded contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            shrink(new_size);
        } else {
            shrink(layout.size());
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx(magic: u8, dims: &[u32], fill: usize) -> Vec<u8> {
    let mut v = vec![0, 0, 8, magic];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.resize(v.len() + fill, 0);
    v
}

#[test]
fn loading_costs_the_floats_it_yields_plus_a_small_constant() {
    const TRAIN: u32 = 4096;
    const SIDE: u32 = 64;
    const TEST: u32 = 16;
    let pixels = (TRAIN * SIDE * SIDE) as usize; // 16 Mi pixels
    let tmp = tempfile::tempdir().unwrap();
    let files = [
        gzip(&idx(3, &[TRAIN, SIDE, SIDE], pixels)),
        gzip(&idx(1, &[TRAIN], TRAIN as usize)),
        gzip(&idx(3, &[TEST, SIDE, SIDE], (TEST * SIDE * SIDE) as usize)),
        gzip(&idx(1, &[TEST], TEST as usize)),
    ];
    assert!(files[0].len() * 500 < pixels, "the training images inflate over 500:1");
    for (name, bytes) in IDX_FILES.iter().zip(&files) {
        std::fs::write(tmp.path().join(format!("{name}.gz")), bytes).unwrap();
    }
    drop(files);
    let raw: RawParams =
        [("data_dir".to_string(), Value::Str(tmp.path().display().to_string()))].into_iter().collect();

    let yielded = 4 * (pixels + (TEST * SIDE * SIDE) as usize) + (TRAIN + TEST) as usize;
    let baseline = CURRENT.load(Ordering::SeqCst);
    PEAK.store(baseline, Ordering::SeqCst);
    let (splits, _) = load("mnist", &raw).unwrap();
    let peak = PEAK.load(Ordering::SeqCst) - baseline;
    assert_eq!(splits.train.len(), TRAIN as usize);
    assert_eq!(splits.train.features(), (SIDE * SIDE) as usize);
    // The old reader held the inflated bytes and the floats at once (at least 1.25x).
    let slack = 1 << 20;
    assert!(
        peak <= yielded + slack,
        "peak {peak} bytes while loading; the data set is {yielded} bytes of floats and labels"
    );
    assert!(peak >= yielded, "the counter sees the data set ({peak} < {yielded})");
}
