//! The convolutional ops allocate nothing once warm: after warm-up (the buffer pool holds the
//! step's arrays, the index pool max pooling's argmax, the node free list the graph), a forward
//! and backward pass through conv2d and the pooling ops makes no allocation at batch 2 or 8. nabla's own `f32` GEMM keeps its packing
//! buffers per thread; only where the CPU has no AVX2/AVX-512 does the product fall back to
//! matrixmultiply, which allocates a packing buffer inside every call, one per sample for each
//! of conv2d's three products. (A helper that built a small `Vec` inside `im2col` once cost 5
//! more allocations per training sample of the MNIST CNN.)

use nabla_autograd::{avg_pool2d, conv2d, max_pool2d, AvgPool2dOptions, Conv2dOptions, Conv2dPadding, Var};
use nabla_tensor::ndarray::ArrayD;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting allocations and reallocations.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a plain
// atomic and does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as `dealloc`, with the caller's new size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One training-style pass at batch `n` on `params` (input, weight, bias): conv2d with
/// padding (im2col and col2im both walk padded taps) and a bias, max and average pooling,
/// then the gradients of input, weight and bias, given back to the pool as an optimizer step
/// would leave them.
fn pass(params: &[Var<f32>; 3]) {
    let [x, w, b] = params;
    let conv = Conv2dOptions { padding: Conv2dPadding::Explicit([1, 1]), ..Conv2dOptions::default() };
    let y = conv2d(x, w, Some(b), &conv).unwrap();
    let y = max_pool2d(&y, &nabla_autograd::MaxPool2dOptions::new([2, 2])).unwrap();
    let y = avg_pool2d(&y, &AvgPool2dOptions::new([2, 2])).unwrap();
    y.sum().backward().unwrap();
    for p in params {
        nabla_tensor::pool::give(p.take_grad().expect("every input has a gradient"));
    }
}

/// The allocations of one pass at batch `n`, after passes that warm the buffer pool.
fn allocations_of_a_pass(n: usize) -> u64 {
    let params = [
        Var::param(ArrayD::from_elem(vec![n, 2, 9, 9], 0.5f32)),
        Var::param(ArrayD::from_elem(vec![4, 2, 3, 3], 0.1f32)),
        Var::param(ArrayD::from_elem(vec![4], 0.2f32)),
    ];
    for _ in 0..3 {
        pass(&params);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    pass(&params);
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// The allocations per sample that the matrix products may make: none with nabla's own
/// kernel; with the matrixmultiply fallback, one packing buffer for each of conv2d's three
/// products per sample (forward, weight gradient, input gradient).
fn product_allocations_per_sample() -> u64 {
    match nabla_tensor::SgemmKernel::detected() {
        nabla_tensor::SgemmKernel::Matrixmultiply => 3,
        _ => 0,
    }
}

#[test]
fn a_warm_conv_and_pooling_pass_allocates_nothing_beyond_a_fallback_gemm() {
    // One thread: the split of work over samples then runs inline, so the count is exact.
    nabla_tensor::threads::set_threads(1);
    let small = allocations_of_a_pass(2);
    let large = allocations_of_a_pass(8);
    let allowed = product_allocations_per_sample();
    assert!(
        large <= small + allowed * 6,
        "a pass allocates {small} times at batch 2 and {large} at batch 8: {:.1} per added \
         sample, more than the {allowed} of the matrix products ({} kernel)",
        large.saturating_sub(small) as f64 / 6.0,
        nabla_tensor::SgemmKernel::detected().name()
    );
    if allowed == 0 {
        assert_eq!((small, large), (0, 0), "a warm pass allocates (batch 2 and 8)");
    }
}
