//! [`Var`]: a node of the define-by-run graph, and the reverse-mode engine.

use crate::error::{AutogradError, Result};
use crate::grad_mode::is_grad_enabled;
use nabla_tensor::ndarray::{ArrayD, IxDyn, Zip};
use nabla_tensor::{pool, Element};
use smallbox::space::S32;
use smallbox::{smallbox, SmallBox};
use smallvec::SmallVec;
use std::any::Any;
use std::cell::{Cell, Ref, RefCell, RefMut};
use std::fmt;
use std::mem::ManuallyDrop;
use std::rc::Rc;

thread_local! {
    static LIVE_GRAPH_NODES: Cell<usize> = const { Cell::new(0) };
    static LIVE_VARS: Cell<usize> = const { Cell::new(0) };
    /// Numbers the graph traversals of backward passes (see `Node::visited`).
    static TRAVERSAL: Cell<u64> = const { Cell::new(0) };
    /// One [`Spares`] per element type (found by downcasting: a `thread_local!` cannot be
    /// generic).
    static SPARES: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// How many emptied nodes a thread keeps for reuse (a few training steps' graphs).
const MAX_SPARE_NODES: usize = 4096;

/// What a thread keeps between graphs so that building and releasing one allocates nothing:
/// emptied nodes, the queue of nodes being torn down, and the backward pass's work lists.
struct Spares<T: Element> {
    free: Vec<Rc<Node<T>>>,
    /// Nodes whose last handle was dropped, waiting to be emptied; the first release on the
    /// thread empties the queue (so a long chain is torn down in a loop, not by recursion).
    pending: Vec<Rc<Node<T>>>,
    draining: bool,
    order: Vec<Var<T>>,
    stack: Vec<(Var<T>, bool)>,
}

/// Runs `f` on this thread's [`Spares`] of `T`; `None` during thread teardown or when they
/// are already borrowed (then the caller does without).
fn with_spares<T: Element, R>(f: impl FnOnce(&mut Spares<T>) -> R) -> Option<R> {
    SPARES
        .try_with(|cell| {
            let mut lists = cell.try_borrow_mut().ok()?;
            let index = match lists.iter().position(|l| l.is::<Spares<T>>()) {
                Some(i) => i,
                None => {
                    lists.push(Box::new(Spares::<T> {
                        free: Vec::new(),
                        pending: Vec::new(),
                        draining: false,
                        order: Vec::new(),
                        stack: Vec::new(),
                    }));
                    lists.len() - 1
                }
            };
            let spares = lists[index].downcast_mut::<Spares<T>>().expect("found by its type");
            Some(f(spares))
        })
        .ok()
        .flatten()
}

/// The number of graph nodes (recorded op results that still hold their backward closure and
/// their inputs) alive on this thread. After `backward` (without `retain_graph`) or after the
/// graph's results are dropped it returns to where it was before the forward pass: a training
/// loop whose count keeps growing is leaking graphs.
pub fn live_graph_nodes() -> usize {
    LIVE_GRAPH_NODES.with(Cell::get)
}

/// The number of [`Var`] nodes (leaves, constants and op results) alive on this thread.
pub fn live_vars() -> usize {
    LIVE_VARS.with(Cell::get)
}

struct LiveToken;

impl LiveToken {
    fn new() -> Self {
        LIVE_GRAPH_NODES.with(|c| c.set(c.get() + 1));
        LiveToken
    }
}

impl Drop for LiveToken {
    fn drop(&mut self) {
        // During thread teardown the counter may already be gone; nothing to count then.
        let _ = LIVE_GRAPH_NODES.try_with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// What a backward closure gets: the upstream gradient (owned, so it can be reused in place
/// as the buffer of an input's gradient), the op's forward output, and its inputs.
///
/// The helper methods borrow the whole struct: once `grad_output` has been moved out, use the
/// fields instead (`args.inputs[i].requires_grad()`, `args.inputs[i].value()`).
pub struct BackwardArgs<'a, T: Element> {
    /// The gradient of the loss with respect to the op's output (same shape as the output).
    pub grad_output: ArrayD<T>,
    /// The op's forward output value.
    pub output: &'a ArrayD<T>,
    /// The op's inputs, in the order given to [`Var::custom`].
    pub inputs: &'a [Var<T>],
}

impl<T: Element> BackwardArgs<'_, T> {
    /// Whether input `i` needs a gradient (return `None` for it otherwise, and skip the work).
    pub fn needs_grad(&self, i: usize) -> bool {
        self.inputs[i].requires_grad()
    }

    /// Borrows the value of input `i`.
    pub fn input(&self, i: usize) -> Ref<'_, ArrayD<T>> {
        self.inputs[i].value()
    }
}

/// The gradients a backward closure returns, one per input of the op; up to three are held
/// without an allocation.
pub type Grads<T> = SmallVec<[Option<ArrayD<T>>; 3]>;

/// A shape held inline (up to 6 axes without an allocation): what an op or a layer computes
/// on every forward pass, such as the target shape of a reshape.
pub type Shape = SmallVec<[usize; 6]>;

/// What a backward closure may return: an array (`[Some(g), None]`, no allocation), a `Vec`,
/// or [`Grads`].
pub trait IntoGrads<T: Element> {
    /// The gradients, one per input.
    fn into_grads(self) -> Grads<T>;
}

impl<T: Element> IntoGrads<T> for Grads<T> {
    fn into_grads(self) -> Grads<T> {
        self
    }
}

impl<T: Element> IntoGrads<T> for Vec<Option<ArrayD<T>>> {
    fn into_grads(self) -> Grads<T> {
        SmallVec::from_vec(self)
    }
}

impl<T: Element, const N: usize> IntoGrads<T> for [Option<ArrayD<T>>; N] {
    fn into_grads(self) -> Grads<T> {
        self.into_iter().collect()
    }
}

type BackwardFn<T> = dyn FnMut(BackwardArgs<'_, T>) -> Grads<T>;

/// A recorded op: its inputs (up to three inline) and its backward closure (inline when it
/// captures at most 32 words, as the built-in ops' closures do).
struct OpRecord<T: Element> {
    inputs: SmallVec<[Var<T>; 3]>,
    backward: SmallBox<BackwardFn<T>, S32>,
    _live: LiveToken,
}

struct Node<T: Element> {
    name: &'static str,
    value: RefCell<ArrayD<T>>,
    /// Leaves: the accumulated gradient. Op results: the pending gradient during backward.
    grad: RefCell<Option<ArrayD<T>>>,
    requires_grad: Cell<bool>,
    is_leaf: bool,
    /// Whether the value came from an op (and so from the pool): only such values are given
    /// back to the pool on drop; leaf values belong to whoever made them.
    pooled: bool,
    op: RefCell<Option<OpRecord<T>>>,
    /// The number of the last backward traversal that reached this node.
    visited: Cell<u64>,
    /// Counted in [`live_vars`] (false once emptied for reuse).
    live: bool,
}

fn empty<T: Element>() -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(&[0]), Vec::new()).expect("empty array")
}

impl<T: Element> Node<T> {
    /// Gives the value (when pooled) and the gradient back to the pool and stops counting the
    /// node as live; returns its op record, for the caller to drop.
    fn empty_out(&mut self) -> Option<OpRecord<T>> {
        let value = std::mem::replace(self.value.get_mut(), empty());
        if std::mem::replace(&mut self.pooled, false) {
            pool::give(value);
        }
        if let Some(g) = self.grad.get_mut().take() {
            pool::give(g);
        }
        if std::mem::replace(&mut self.live, false) {
            let _ = LIVE_VARS.try_with(|c| c.set(c.get().saturating_sub(1)));
        }
        self.op.get_mut().take()
    }
}

impl<T: Element> Drop for Node<T> {
    /// Reached only when a node cannot be kept for reuse (thread teardown, a full free list):
    /// [`release`] empties nodes itself.
    fn drop(&mut self) {
        let Some(rec) = self.empty_out() else { return };
        // Tear the graph down iteratively: a deep chain dropped recursively could overflow
        // the stack.
        let OpRecord { inputs, backward, _live } = rec;
        drop(backward);
        let mut stack: Vec<Var<T>> = inputs.into_vec();
        while let Some(var) = stack.pop() {
            let mut node = var.into_node();
            if let Some(n) = Rc::get_mut(&mut node) {
                if let Some(r) = n.op.get_mut().take() {
                    stack.extend(r.inputs);
                }
            }
        }
    }
}

/// Drops one handle of a node. The last handle empties the node (its value and gradient go
/// back to the pool, its op record and so its inputs are dropped) and keeps the allocation
/// for the next [`Var::new_node`]. Nodes released while another release runs on the thread
/// are queued and emptied by the first, in a loop: a long chain is torn down without
/// recursion.
fn release<T: Element>(node: Rc<Node<T>>) {
    // No `Weak` handle is ever made, so a strong count of 1 is the last handle.
    if Rc::strong_count(&node) > 1 {
        return;
    }
    let mut node = Some(node);
    let first = with_spares::<T, _>(|s| {
        s.pending.push(node.take().expect("queued once"));
        !std::mem::replace(&mut s.draining, true)
    });
    if first != Some(true) {
        // Queued for the release that is running, or (thread teardown) dropped as it is.
        drop(node);
        return;
    }
    while let Some(mut next) = with_spares::<T, _>(|s| s.pending.pop()).flatten() {
        let record = Rc::get_mut(&mut next).expect("a queued node has one handle").empty_out();
        drop(record);
        let full = with_spares::<T, _>(|s| {
            if s.free.len() < MAX_SPARE_NODES {
                s.free.push(next);
                None
            } else {
                Some(next)
            }
        })
        .flatten();
        drop(full);
    }
    with_spares::<T, _>(|s| s.draining = false);
}

/// A variable of the graph: a tensor value, whether it requires a gradient, its gradient
/// (for leaves), and for op results the recorded backward step. Cloning is cheap (a
/// reference count); clones are the same variable.
///
/// Leaves (parameters, inputs) are made with [`Var::leaf`] / [`Var::constant`]; every op on
/// variables returns a new variable which, when grad mode is on and some input requires a
/// gradient, records how to propagate gradients back. [`Var::backward`] runs the reverse pass,
/// accumulates gradients into the leaves that require them, and releases the graph.
///
/// The value and the gradient live in separate cells, so `value_mut()` and `grad()` can be
/// borrowed at the same time (an optimizer updates the value from the gradient). Borrowing
/// the value mutably while it is borrowed elsewhere panics, like any `RefCell`.
///
/// `Var` is not `Send`: a graph belongs to one thread.
///
/// ```
/// use nabla_autograd::Var;
/// use nabla_tensor::ndarray::arr1;
/// let x = Var::<f64>::leaf(arr1(&[1.0, 2.0, 3.0]).into_dyn(), true);
/// let y = x.mul(&x).unwrap().sum();      // y = sum(x^2)
/// y.backward().unwrap();
/// assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[2.0, 4.0, 6.0]);
/// ```
pub struct Var<T: Element = f32> {
    /// Released by hand in `drop` (see [`release`]).
    node: ManuallyDrop<Rc<Node<T>>>,
}

impl<T: Element> Clone for Var<T> {
    fn clone(&self) -> Self {
        Var { node: ManuallyDrop::new(Rc::clone(&self.node)) }
    }
}

impl<T: Element> Drop for Var<T> {
    fn drop(&mut self) {
        // SAFETY: `self.node` is not used again: this is the handle's end.
        let node = unsafe { ManuallyDrop::take(&mut self.node) };
        release(node);
    }
}

impl<T: Element> fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.node.value.try_borrow();
        let mut d = f.debug_struct("Var");
        d.field("op", &self.node.name).field("requires_grad", &self.requires_grad());
        match value {
            Ok(v) => d.field("value", &*v),
            Err(_) => d.field("value", &"<mutably borrowed>"),
        };
        d.finish()
    }
}

impl<T: Element> Var<T> {
    fn new_node(
        name: &'static str,
        value: ArrayD<T>,
        requires_grad: bool,
        op: Option<OpRecord<T>>,
        pooled: bool,
    ) -> Self {
        LIVE_VARS.with(|c| c.set(c.get() + 1));
        let fresh = Node {
            name,
            value: RefCell::new(value),
            grad: RefCell::new(None),
            requires_grad: Cell::new(requires_grad),
            is_leaf: op.is_none(),
            pooled,
            op: RefCell::new(op),
            visited: Cell::new(0),
            live: true,
        };
        let node = match with_spares::<T, _>(|s| s.free.pop()).flatten() {
            Some(mut spare) => {
                // The old contents are already emptied out: dropping them frees nothing.
                *Rc::get_mut(&mut spare).expect("a spare node has one handle") = fresh;
                spare
            }
            None => Rc::new(fresh),
        };
        Var { node: ManuallyDrop::new(node) }
    }

    /// This handle's node, without releasing it.
    fn into_node(self) -> Rc<Node<T>> {
        let mut me = ManuallyDrop::new(self);
        // SAFETY: `me` is never dropped, so the node is moved out exactly once.
        unsafe { ManuallyDrop::take(&mut me.node) }
    }

    /// A leaf variable (a parameter when `requires_grad`, else an input). Takes the array
    /// without copying.
    pub fn leaf(value: ArrayD<T>, requires_grad: bool) -> Self {
        Self::new_node("leaf", value, requires_grad, None, false)
    }

    /// A leaf that requires a gradient (shorthand for `leaf(value, true)`).
    pub fn param(value: ArrayD<T>) -> Self {
        Self::leaf(value, true)
    }

    /// A constant (a leaf that does not require a gradient).
    pub fn constant(value: ArrayD<T>) -> Self {
        Self::leaf(value, false)
    }

    /// A constant whose value is given back to [`nabla_tensor::pool`] when the variable is
    /// dropped, like the value of an op result. For inputs copied into a pooled buffer each
    /// step (`Var::pooled_constant(pool::copy_of(&x))`), so that a training loop reuses the
    /// same buffer instead of allocating one per batch.
    pub fn pooled_constant(value: ArrayD<T>) -> Self {
        Self::new_node("leaf", value, false, None, true)
    }

    /// A 0-d constant.
    pub fn scalar(value: T) -> Self {
        Self::constant(ArrayD::from_elem(IxDyn(&[]), value))
    }

    /// The result of a custom differentiable op: `output` is the forward value already
    /// computed from `inputs`' values, and `backward` maps the upstream gradient to one
    /// optional gradient per input (same shape as that input; `None` when the input needs
    /// none — see [`BackwardArgs::needs_grad`]).
    ///
    /// This is how every built-in op is defined, and the way for other crates to add their
    /// own (a convolution, a custom loss). When grad mode is off or no input requires a
    /// gradient, nothing is recorded and the result is a constant; otherwise the closure is
    /// kept until backward runs (then released unless `retain_graph`). The closure should
    /// capture only what the inputs and output do not already hold; it must not capture the
    /// output variable (that would be a reference cycle). The output value is given back to
    /// [`nabla_tensor::pool`] when the variable is dropped, so it may (and, in hot paths,
    /// should) come from `pool::take`. The engine checks the number and
    /// shapes of the returned gradients ([`AutogradError::GradCount`], [`AutogradError::GradShape`]).
    ///
    /// ```
    /// use nabla_autograd::Var;
    /// use nabla_tensor::ndarray::arr1;
    /// // y = x^3 as a custom op: dy/dx = 3 x^2.
    /// fn cube(x: &Var<f64>) -> Var<f64> {
    ///     let out = x.value().mapv(|v| v * v * v);
    ///     Var::custom("cube", &[x], out, |args| {
    ///         let mut g = args.grad_output;           // owned: reuse the buffer in place
    ///         g.zip_mut_with(&*args.inputs[0].value(), |g, &v| *g *= 3.0 * v * v);
    ///         vec![Some(g)]
    ///     })
    /// }
    /// let x = Var::leaf(arr1(&[1.0, 2.0]).into_dyn(), true);
    /// cube(&x).sum().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[3.0, 12.0]);
    /// ```
    pub fn custom<F, G>(name: &'static str, inputs: &[&Var<T>], output: ArrayD<T>, mut backward: F) -> Var<T>
    where
        F: FnMut(BackwardArgs<'_, T>) -> G + 'static,
        G: IntoGrads<T>,
    {
        let record = is_grad_enabled() && inputs.iter().any(|v| v.requires_grad());
        if !record {
            return Self::new_node(name, output, false, None, true);
        }
        let rec = OpRecord {
            inputs: inputs.iter().map(|v| (*v).clone()).collect(),
            backward: smallbox!(move |args: BackwardArgs<'_, T>| backward(args).into_grads()),
            _live: LiveToken::new(),
        };
        Self::new_node(name, output, true, Some(rec), true)
    }

    // ----- inspection ---------------------------------------------------------------------

    /// Borrows the value.
    ///
    /// # Panics
    /// If the value is mutably borrowed (see [`Var::value_mut`]).
    pub fn value(&self) -> Ref<'_, ArrayD<T>> {
        self.node.value.borrow()
    }

    /// Borrows the value mutably (e.g. for an optimizer step, while the gradient is borrowed
    /// through [`Var::grad`]). Changing a value that a live graph still needs for its backward
    /// gives wrong gradients; update parameters after backward.
    ///
    /// # Panics
    /// If the value is borrowed elsewhere.
    pub fn value_mut(&self) -> RefMut<'_, ArrayD<T>> {
        self.node.value.borrow_mut()
    }

    /// A copy of the value, detached from the graph (for a borrow, see [`Var::value`]).
    pub fn to_array(&self) -> ArrayD<T> {
        self.value().clone()
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.value().shape().to_vec()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.value().ndim()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.value().len()
    }

    /// Whether the value has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The single element of a one-element variable (a loss).
    ///
    /// # Panics
    /// If the variable does not have exactly one element.
    pub fn item(&self) -> T {
        let v = self.value();
        assert!(v.len() == 1, "item() on a variable of shape {:?}", v.shape());
        *v.iter().next().expect("one element")
    }

    /// Whether gradients flow to (and, for a leaf, accumulate in) this variable.
    pub fn requires_grad(&self) -> bool {
        self.node.requires_grad.get()
    }

    /// Switches gradient tracking of a leaf on or off (e.g. to freeze a parameter).
    ///
    /// # Errors
    /// [`AutogradError::NotLeaf`] for an op result.
    pub fn set_requires_grad(&self, requires_grad: bool) -> Result<()> {
        if !self.node.is_leaf {
            return Err(AutogradError::NotLeaf);
        }
        self.node.requires_grad.set(requires_grad);
        Ok(())
    }

    /// Whether this is a leaf (made by `leaf`/`constant`, or an op result that recorded
    /// nothing) rather than a recorded op result.
    pub fn is_leaf(&self) -> bool {
        self.node.is_leaf
    }

    /// The name of the op that produced this variable (`"leaf"` for leaves).
    pub fn op_name(&self) -> &'static str {
        self.node.name
    }

    /// Whether two handles are the same variable.
    pub fn ptr_eq(&self, other: &Var<T>) -> bool {
        Rc::ptr_eq(&self.node, &other.node)
    }

    /// An identity for this variable, stable while it lives (for maps keyed by parameter).
    pub fn id(&self) -> usize {
        Rc::as_ptr(&self.node) as *const u8 as usize
    }

    /// A constant holding a copy of the value, cut off from the graph.
    pub fn detach(&self) -> Var<T> {
        Var::constant(pool::copy_of(&self.value().view()))
    }

    // ----- gradients ----------------------------------------------------------------------

    /// Borrows the accumulated gradient of a leaf (`None` before any backward reached it, or
    /// after [`Var::zero_grad`]). Op results hold no gradient after backward.
    pub fn grad(&self) -> Option<Ref<'_, ArrayD<T>>> {
        Ref::filter_map(self.node.grad.borrow(), Option::as_ref).ok()
    }

    /// Borrows the gradient mutably (e.g. for gradient clipping).
    pub fn grad_mut(&self) -> Option<RefMut<'_, ArrayD<T>>> {
        RefMut::filter_map(self.node.grad.borrow_mut(), Option::as_mut).ok()
    }

    /// Clears the gradient (sets it to `None`, as PyTorch's `zero_grad(set_to_none=True)`),
    /// giving its buffer back to the pool for the next backward.
    pub fn zero_grad(&self) {
        if let Some(g) = self.node.grad.borrow_mut().take() {
            pool::give(g);
        }
    }

    /// Replaces the gradient.
    pub fn set_grad(&self, grad: Option<ArrayD<T>>) {
        if let Some(old) = std::mem::replace(&mut *self.node.grad.borrow_mut(), grad) {
            pool::give(old);
        }
    }

    /// Takes the gradient out, leaving `None`.
    pub fn take_grad(&self) -> Option<ArrayD<T>> {
        self.node.grad.borrow_mut().take()
    }

    // ----- backward -----------------------------------------------------------------------

    /// Back-propagates from this one-element variable (a loss) with upstream gradient 1,
    /// accumulating into the gradients of the leaves that require them, then releases the
    /// graph.
    ///
    /// # Errors
    /// [`AutogradError::NotScalar`], [`AutogradError::NoGrad`], and
    /// [`AutogradError::GraphReleased`] for a second backward through the same graph.
    pub fn backward(&self) -> Result<()> {
        if self.len() != 1 {
            return Err(AutogradError::NotScalar { shape: self.shape() });
        }
        let upstream = pool::full(self.value().shape(), T::one());
        self.backward_opts(Some(upstream), false)
    }

    /// Back-propagates with the given upstream gradient (same shape as this variable).
    ///
    /// # Errors
    /// As [`Var::backward`], and [`AutogradError::GradShape`] for a gradient of another shape.
    pub fn backward_with(&self, upstream: ArrayD<T>) -> Result<()> {
        self.backward_opts(Some(upstream), false)
    }

    /// Back-propagates with an optional upstream gradient (`None`: 1 for a one-element
    /// variable) and keeps the graph when `retain_graph`, so that it can be run again.
    ///
    /// Backward does not record a graph of its own (no higher-order gradients).
    ///
    /// # Errors
    /// As [`Var::backward_with`]. The graph is checked before anything is changed, so a
    /// released graph leaves all gradients untouched.
    pub fn backward_opts(&self, upstream: Option<ArrayD<T>>, retain_graph: bool) -> Result<()> {
        if !self.requires_grad() {
            return Err(AutogradError::NoGrad { shape: self.shape() });
        }
        let upstream = match upstream {
            Some(u) => u,
            None => {
                if self.len() != 1 {
                    return Err(AutogradError::NotScalar { shape: self.shape() });
                }
                pool::full(&self.shape(), T::one())
            }
        };
        if upstream.shape() != self.value().shape() {
            return Err(AutogradError::GradShape {
                op: "backward_with",
                expected: self.shape(),
                got: upstream.shape().to_vec(),
            });
        }
        let mut order = with_spares::<T, _>(|s| std::mem::take(&mut s.order)).unwrap_or_default();
        let result = self.topological_order(&mut order).and_then(|()| {
            accumulate(&self.node, upstream);
            Self::run_backward(&order, retain_graph)
        });
        order.clear();
        if let Some(mut unused) = with_spares::<T, _>(|s| std::mem::replace(&mut s.order, order)) {
            unused.clear();
        }
        result
    }

    /// Runs the backward closures of `order` (from [`Var::topological_order`]).
    fn run_backward(order: &[Var<T>], retain_graph: bool) -> Result<()> {
        for var in order {
            let node = &var.node;
            let pending = node.grad.borrow_mut().take();
            if let Some(g) = pending {
                {
                    let mut rec = node.op.borrow_mut();
                    let rec = rec.as_mut().expect("checked by topological_order");
                    let value = node.value.borrow();
                    let grads =
                        (rec.backward)(BackwardArgs { grad_output: g, output: &value, inputs: &rec.inputs });
                    if grads.len() != rec.inputs.len() {
                        return Err(AutogradError::GradCount {
                            op: node.name,
                            expected: rec.inputs.len(),
                            got: grads.len(),
                        });
                    }
                    for (input, grad) in rec.inputs.iter().zip(grads) {
                        match grad {
                            Some(g) if input.requires_grad() => {
                                if g.shape() != input.value().shape() {
                                    return Err(AutogradError::GradShape {
                                        op: node.name,
                                        expected: input.shape(),
                                        got: g.shape().to_vec(),
                                    });
                                }
                                accumulate(&input.node, g);
                            }
                            Some(g) => pool::give(g),
                            None => {}
                        }
                    }
                }
            }
            if !retain_graph {
                let rec = node.op.borrow_mut().take();
                drop(rec);
            }
        }
        Ok(())
    }

    /// The recorded op results reachable from `self`, each after every op result that uses it
    /// (so gradients are complete when a node is processed).
    /// Written into `post`, which comes in empty (the thread's reused list).
    fn topological_order(&self, post: &mut Vec<Var<T>>) -> Result<()> {
        // Nodes are marked visited with this traversal's number (no set to allocate).
        let epoch = TRAVERSAL.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        // Iterative DFS: (var, children pushed?)
        let mut stack = with_spares::<T, _>(|s| std::mem::take(&mut s.stack)).unwrap_or_default();
        let result = self.depth_first(epoch, &mut stack, post);
        stack.clear();
        with_spares::<T, _>(|s| s.stack = stack);
        result?;
        post.reverse();
        Ok(())
    }

    /// The post-order walk of [`Var::topological_order`].
    fn depth_first(&self, epoch: u64, stack: &mut Vec<(Var<T>, bool)>, post: &mut Vec<Var<T>>) -> Result<()> {
        stack.push((self.clone(), false));
        while let Some((var, expanded)) = stack.pop() {
            if var.node.is_leaf {
                continue;
            }
            if expanded {
                post.push(var);
                continue;
            }
            if var.node.visited.replace(epoch) == epoch {
                continue;
            }
            {
                let rec = var.node.op.borrow();
                let Some(rec) = rec.as_ref() else {
                    return Err(AutogradError::GraphReleased { op: var.node.name });
                };
                stack.push((var.clone(), true));
                for i in &rec.inputs {
                    if i.requires_grad() && !i.node.is_leaf && i.node.visited.get() != epoch {
                        stack.push((i.clone(), false));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Adds `g` into the gradient slot of `node` (moving it in when the slot is empty).
fn accumulate<T: Element>(node: &Node<T>, g: ArrayD<T>) {
    let mut slot = node.grad.borrow_mut();
    match slot.as_mut() {
        None => {
            let g = if g.is_standard_layout() {
                g
            } else {
                let c = pool::copy_of(&g.view());
                pool::give(g);
                c
            };
            *slot = Some(g);
        }
        Some(acc) => {
            Zip::from(acc).and(&g).for_each(|a, &b| *a = *a + b);
            pool::give(g);
        }
    }
}
