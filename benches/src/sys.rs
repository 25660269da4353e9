//! What the benchmark reports about the process and the machine: resident memory from
//! `/proc/self/status`, heap allocations through a counting global allocator, the CPU model,
//! the load average and the GEMM thread count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting every allocation (and reallocation) and the bytes asked
/// for. Install it in a binary with
/// `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc;` and read
/// [`allocations`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// plain atomics and do not allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (all allocations go there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations and bytes requested so far through [`CountingAlloc`] (zeros when it is not
/// the global allocator).
pub fn allocations() -> (u64, u64) {
    (ALLOCS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed))
}

/// Heap allocations and bytes per step over `steps` calls of `step` (through
/// [`CountingAlloc`]).
pub fn allocations_per_step(steps: usize, step: &mut dyn FnMut()) -> (f64, f64) {
    let (a0, b0) = allocations();
    for _ in 0..steps {
        step();
    }
    let (a1, b1) = allocations();
    let n = steps.max(1) as f64;
    ((a1 - a0) as f64 / n, (b1 - b0) as f64 / n)
}

fn status_kb(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// Peak resident set size of this process in KiB (`VmHWM`), if the system reports it.
pub fn peak_rss_kb() -> Option<u64> {
    status_kb("VmHWM:")
}

/// Current resident set size of this process in KiB (`VmRSS`), if the system reports it.
pub fn rss_kb() -> Option<u64> {
    status_kb("VmRSS:")
}

/// Runs `f` and returns its result with how much the resident set grew meanwhile, in KiB
/// (`None` when the system does not report it): steps of a warm system must not grow it.
pub fn rss_growth_kb<R>(f: impl FnOnce() -> R) -> (R, Option<i64>) {
    let before = rss_kb();
    let result = f();
    let growth = before.zip(rss_kb()).map(|(a, b)| b as i64 - a as i64);
    (result, growth)
}

/// The CPU model from `/proc/cpuinfo` (`"unknown"` when it cannot be read).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The 1, 5 and 15 minute load averages, if the system reports them.
pub fn loadavg() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// The thread count of this process's products (`nabla_tensor::threads`: `NABLA_NUM_THREADS`,
/// which the bench driver sets per process, else the physical cores).
pub fn gemm_threads() -> usize {
    nabla_tensor::threads::threads()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_figures_are_plausible() {
        let rss = rss_kb().expect("linux reports VmRSS");
        let peak = peak_rss_kb().expect("linux reports VmHWM");
        assert!(rss > 0 && peak >= rss, "rss {rss} peak {peak}");
        assert!(!cpu_model().is_empty());
        assert!(loadavg().is_some());
    }

    #[test]
    fn allocations_and_rss_growth_are_measured_around_steps() {
        // The tests' allocator is not the counting one: the counters stay at zero.
        assert_eq!(allocations_per_step(3, &mut || drop(vec![0u8; 64])), (0.0, 0.0));
        let (value, growth) = rss_growth_kb(|| 7);
        assert_eq!(value, 7);
        assert!(growth.is_some());
    }
}
