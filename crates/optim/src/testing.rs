//! The generic property suite that every registered optimizer — built-in or plugin — must
//! pass, driven by the registry.
//!
//! Each property is a plain function of a registration and a randomly generated [`Case`];
//! it checks every configuration the registry offers for that optimizer ([`configurations`]:
//! the defaults with the boolean switches drawn from the case, and every alias with its
//! presets). The [`optimizer_property_suite!`](crate::optimizer_property_suite) macro turns
//! the properties into proptest tests over all registered optimizers (or a chosen few) in the
//! calling crate, which needs `proptest` as a dev-dependency:
//!
//! ```ignore
//! // tests/properties.rs of a plugin crate
//! use my_plugin as _; // link the plugin so its registration exists
//! nabla_optim::optimizer_property_suite!(cases = 32, only = ["lion"]);
//! ```
//!
//! The properties (see each function): a zero gradient changes nothing; `lr = 0` changes
//! nothing; small steps go downhill on a convex quadratic; an elementwise optimizer commutes
//! with permuting and splitting a parameter; saving the state after `k` steps and resuming
//! in a fresh optimizer reproduces the uninterrupted run bit for bit; a parameter without a
//! gradient is skipped; invalid input is rejected before anything changes.
//!
//! The optimizers are run with `maximize = false` (the properties assume minimisation).

use crate::{OptimError, Optimizer, OptimizerRegistration, ParamMut, Precision, Scheduler, StateDict};
use nabla_registry::{list, normalize, Component, ParamError, ParamType, Params, RawParams, Value};
use nabla_tensor::ndarray::{ArrayD, IxDyn};
use nabla_tensor::{Element, Rng};

/// One randomly generated situation: a parameter vector, gradients for a few steps and the
/// choices the properties need.
#[derive(Clone, Debug)]
pub struct Case {
    /// Initial parameter values, each of magnitude in `[0.1, 2.1]`.
    pub init: Vec<f64>,
    /// Gradients, one vector per step (normal, times a per-step scale `10^u`, `u` in `[-2, 1]`,
    /// with some exact zeros).
    pub grads: Vec<Vec<f64>>,
    /// Positive curvatures `a` of the quadratic `f(p) = sum(a * p^2) / 2`, in `[0.1, 10]`.
    pub curvature: Vec<f64>,
    /// A permutation of the element indices.
    pub permutation: Vec<usize>,
    /// Where to split the parameter in two (`0..=n`).
    pub split: usize,
    /// After how many steps to save and resume (`0..=steps`).
    pub resume_at: usize,
    /// Bits choosing the boolean hyper-parameters (bit `i` for the `i`-th boolean of the
    /// schema, `maximize` excluded).
    pub flags: u64,
}

impl Case {
    /// A case with `n` elements (at least 1) and `steps` steps (at least 1), drawn from `seed`.
    pub fn generate(n: usize, steps: usize, seed: u64, flags: u64) -> Case {
        let (n, steps) = (n.max(1), steps.max(1));
        let mut rng = Rng::seed(seed);
        let init = (0..n)
            .map(|_| {
                let magnitude = rng.uniform(0.1f64, 2.1);
                if rng.below(2) == 0 {
                    magnitude
                } else {
                    -magnitude
                }
            })
            .collect();
        let grads = (0..steps)
            .map(|_| {
                let scale = 10f64.powf(rng.uniform(-2.0f64, 1.0));
                (0..n)
                    .map(|_| if rng.below(8) == 0 { 0.0 } else { scale * rng.normal(0.0f64, 1.0) })
                    .collect()
            })
            .collect();
        let curvature = (0..n).map(|_| rng.uniform(0.1f64, 10.0)).collect();
        let mut permutation: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut permutation);
        let split = rng.below(n + 1);
        let resume_at = rng.below(steps + 1);
        Case { init, grads, curvature, permutation, split, resume_at, flags }
    }

    fn n(&self) -> usize {
        self.init.len()
    }
}

/// A property of the suite: `Ok` or a description of the counterexample.
pub type Property = fn(&OptimizerRegistration, &Case) -> Result<(), String>;

/// Every property of the suite, by name.
pub const PROPERTIES: &[(&str, Property)] = &[
    ("zero_gradient_changes_nothing", zero_gradient_changes_nothing),
    ("zero_lr_changes_nothing", zero_lr_changes_nothing),
    ("descends_convex_quadratic", descends_convex_quadratic),
    ("commutes_with_permutation", commutes_with_permutation),
    ("commutes_with_splitting", commutes_with_splitting),
    ("resume_is_bitwise", resume_is_bitwise),
    ("skips_parameters_without_gradient", skips_parameters_without_gradient),
    ("rejects_bad_input_atomically", rejects_bad_input_atomically),
];

/// The registered optimizers, or those whose canonical name is in `only` (when not empty).
pub fn registered(only: &[&str]) -> Vec<&'static OptimizerRegistration> {
    list::<OptimizerRegistration>()
        .into_iter()
        .filter(|r| only.is_empty() || only.iter().any(|n| normalize(n) == normalize(r.info().name)))
        .collect()
}

/// Runs `property` on every optimizer of [`registered`]`(only)`; the error names the
/// optimizer. Fails when `only` names an optimizer that is not registered.
pub fn check(only: &[&str], property: Property, case: &Case) -> Result<(), String> {
    let records = registered(only);
    if let Some(missing) =
        only.iter().find(|n| !records.iter().any(|r| normalize(r.info().name) == normalize(n)))
    {
        return Err(format!("optimizer '{missing}' is not registered (is its crate linked?)"));
    }
    for record in records {
        property(record, case).map_err(|e| format!("optimizer '{}': {e}", record.info().name))?;
    }
    Ok(())
}

/// Runs every property of [`PROPERTIES`] (see [`check`]).
pub fn check_all(only: &[&str], case: &Case) -> Result<(), String> {
    for (name, property) in PROPERTIES {
        check(only, *property, case).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// The configurations the suite runs for `record`, labelled: the canonical name with the
/// boolean hyper-parameters (other than `maximize`) set from `flags`, then every alias with
/// its presets; `overrides` is applied to each, for the keys its schema has. Configurations
/// the factory rejects (such as `nesterov` without momentum) are left out, but the defaults
/// and every alias must build.
pub fn configurations(
    record: &OptimizerRegistration,
    flags: u64,
    overrides: &RawParams,
) -> Result<Vec<(String, Params)>, String> {
    let info = record.info();
    let applicable: RawParams = overrides
        .iter()
        .filter(|(k, _)| info.params.iter().any(|s| s.name == k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = Vec::new();

    let mut flagged = applicable.clone();
    let booleans = info.params.iter().filter(|s| s.ty == ParamType::Bool && s.name != "maximize");
    let mut label = info.name.to_string();
    for (bit, spec) in booleans.enumerate() {
        let on = flags >> (bit % 64) & 1 == 1;
        flagged.insert(spec.name.to_string(), Value::Bool(on));
        label.push_str(&format!(",{}={on}", spec.name));
    }
    flagged.entry("maximize".to_string()).or_insert(Value::Bool(false));
    flagged.retain(|k, _| info.params.iter().any(|s| s.name == k.as_str()));
    let resolved = nabla_registry::resolve::<OptimizerRegistration>(info.name).map_err(|e| e.to_string())?;
    let defaults = resolved.params(&applicable).map_err(|e| format!("cannot validate the defaults: {e}"))?;
    buildable(record, &defaults).map_err(|e| format!("cannot build with the defaults: {e}"))?;
    let params = resolved.params(&flagged).map_err(|e| format!("{label}: {e}"))?;
    match buildable(record, &params) {
        Ok(()) => out.push((label, params)),
        Err(ParamError::Invalid { .. }) => out.push((info.name.to_string(), defaults)),
        Err(e) => return Err(format!("{label}: {e}")),
    }

    for alias in info.aliases.iter().filter(|a| !a.presets.is_empty()) {
        let resolved =
            nabla_registry::resolve::<OptimizerRegistration>(alias.name).map_err(|e| e.to_string())?;
        let params = resolved.params(&applicable).map_err(|e| format!("alias '{}': {e}", alias.name))?;
        buildable(record, &params).map_err(|e| format!("alias '{}': {e}", alias.name))?;
        out.push((format!("alias {}", alias.name), params));
    }
    Ok(out)
}

fn buildable(record: &OptimizerRegistration, params: &Params) -> Result<(), ParamError> {
    record.build::<f64>(params).map(|_| ())
}

fn array<T: Element>(values: &[f64]) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.iter().map(|&x| T::from_f64(x)).collect())
        .expect("a vector")
}

fn same_bits<T: Element>(a: &ArrayD<T>, b: &ArrayD<T>) -> bool {
    a.shape() == b.shape()
        && a.iter().zip(b.iter()).all(|(&x, &y)| Element::to_f64(x).to_bits() == Element::to_f64(y).to_bits())
}

fn same_state<T: Element>(a: &StateDict<T>, b: &StateDict<T>) -> bool {
    a.scalars.len() == b.scalars.len()
        && a.scalars.iter().zip(&b.scalars).all(|((ka, va), (kb, vb))| {
            ka == kb
                && match (va, vb) {
                    (crate::Scalar::F64(x), crate::Scalar::F64(y)) => x.to_bits() == y.to_bits(),
                    (x, y) => x == y,
                }
        })
        && a.arrays.len() == b.arrays.len()
        && a.arrays.iter().zip(&b.arrays).all(|((ka, va), (kb, vb))| ka == kb && same_bits(va, vb))
}

fn build<T: Precision>(
    record: &OptimizerRegistration,
    label: &str,
    params: &Params,
) -> Result<Box<dyn Optimizer<T>>, String> {
    record.build::<T>(params).map_err(|e| format!("{label}: {e}"))
}

/// Two fresh optimizers of one configuration.
type Twins = [Box<dyn Optimizer<f64>>; 2];

/// Two fresh optimizers of one configuration, for the properties that compare a run with a
/// rearranged one; `None` when the optimizer is not elementwise (rearranging may change it).
fn elementwise_twins(
    record: &OptimizerRegistration,
    label: &str,
    params: &Params,
) -> Result<Option<Twins>, String> {
    let first = build::<f64>(record, label, params)?;
    if !first.is_elementwise() {
        return Ok(None);
    }
    Ok(Some([first, build::<f64>(record, label, params)?]))
}

/// One step on named parameters with the given gradients.
fn step<T: Element>(
    opt: &mut dyn Optimizer<T>,
    label: &str,
    values: &mut [(&str, ArrayD<T>)],
    grads: &[ArrayD<T>],
) -> Result<(), String> {
    let mut views: Vec<ParamMut<'_, T>> = values
        .iter_mut()
        .zip(grads)
        .map(|((name, v), g)| ParamMut::new(name, v.view_mut(), Some(g.view())))
        .collect();
    opt.step(&mut views).map_err(|e| format!("{label} ({}): step failed: {e}", T::NAME))
}

fn overrides(pairs: &[(&str, Value)]) -> RawParams {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn has_key(record: &OptimizerRegistration, key: &str) -> bool {
    record.info().params.iter().any(|s| s.name == key)
}

/// Runs `case`'s gradients (or zeros) from `init` on one parameter, both precisions, and
/// requires the parameter to be bitwise unchanged.
fn unchanged(
    record: &OptimizerRegistration,
    case: &Case,
    over: &RawParams,
    zero_grads: bool,
) -> Result<(), String> {
    fn run<T: Precision>(
        record: &OptimizerRegistration,
        label: &str,
        params: &Params,
        case: &Case,
        zero: bool,
    ) -> Result<(), String> {
        let mut opt = build::<T>(record, label, params)?;
        let init = array::<T>(&case.init);
        let mut values = [("p", init.clone())];
        for g in &case.grads {
            let g = if zero { ArrayD::zeros(IxDyn(&[case.n()])) } else { array::<T>(g) };
            step(opt.as_mut(), label, &mut values, &[g])?;
        }
        if !same_bits(&values[0].1, &init) {
            return Err(format!("{label} ({}): parameter changed from {init} to {}", T::NAME, values[0].1));
        }
        Ok(())
    }
    for (label, params) in configurations(record, case.flags, over)? {
        run::<f64>(record, &label, &params, case, zero_grads)?;
        run::<f32>(record, &label, &params, case, zero_grads)?;
    }
    Ok(())
}

/// With no weight decay, steps with zero gradients from a fresh state leave the parameter
/// bitwise unchanged.
pub fn zero_gradient_changes_nothing(record: &OptimizerRegistration, case: &Case) -> Result<(), String> {
    unchanged(record, case, &overrides(&[("weight_decay", Value::Float(0.0))]), true)
}

/// With `lr = 0`, any gradients and the default weight decay leave the parameter bitwise
/// unchanged (optimizers without an `lr` hyper-parameter are exempt).
pub fn zero_lr_changes_nothing(record: &OptimizerRegistration, case: &Case) -> Result<(), String> {
    if !has_key(record, "lr") {
        return Ok(());
    }
    unchanged(record, case, &overrides(&[("lr", Value::Float(0.0))]), false)
}

/// With `lr = 1e-4`, every step on `f(p) = sum(a * p^2) / 2` (gradient `a * p`) from the
/// case's start strictly decreases `f` (optimizers without `lr` are exempt).
pub fn descends_convex_quadratic(record: &OptimizerRegistration, case: &Case) -> Result<(), String> {
    if !has_key(record, "lr") {
        return Ok(());
    }
    let a = array::<f64>(&case.curvature);
    let loss = |p: &ArrayD<f64>| 0.5 * (&a * p * p).sum();
    for (label, params) in configurations(record, case.flags, &overrides(&[("lr", Value::Float(1e-4))]))? {
        let mut opt = build::<f64>(record, &label, &params)?;
        let mut values = [("p", array::<f64>(&case.init))];
        let mut before = loss(&values[0].1);
        for k in 0..case.grads.len() {
            let g = &a * &values[0].1;
            step(opt.as_mut(), &label, &mut values, &[g])?;
            let after = loss(&values[0].1);
            if after.is_nan() || after >= before {
                return Err(format!("{label}: step {} went from f = {before} to f = {after}", k + 1));
            }
            before = after;
        }
    }
    Ok(())
}

/// An elementwise optimizer run on permuted parameters and gradients gives the permuted
/// result, bit for bit.
pub fn commutes_with_permutation(record: &OptimizerRegistration, case: &Case) -> Result<(), String> {
    let permute = |v: &[f64]| -> Vec<f64> { case.permutation.iter().map(|&i| v[i]).collect() };
    for (label, params) in configurations(record, case.flags, &RawParams::new())? {
        let Some([mut plain, mut permuted]) = elementwise_twins(record, &label, &params)? else {
            return Ok(());
        };
        let mut a = [("p", array::<f64>(&case.init))];
        let mut b = [("p", array::<f64>(&permute(&case.init)))];
        for g in &case.grads {
            step(plain.as_mut(), &label, &mut a, &[array(g)])?;
            step(permuted.as_mut(), &label, &mut b, &[array(&permute(g))])?;
        }
        let expected = array::<f64>(&permute(a[0].1.as_slice().expect("contiguous")));
        if !same_bits(&b[0].1, &expected) {
            return Err(format!("{label}: permuted run gave {} instead of {expected}", b[0].1));
        }
    }
    Ok(())
}

/// An elementwise optimizer run on the parameter split in two named parts (the second as a
/// column `[k, 1]`) gives the same values, bit for bit.
pub fn commutes_with_splitting(record: &OptimizerRegistration, case: &Case) -> Result<(), String> {
    let s = case.split;
    let column = |v: &[f64]| -> ArrayD<f64> {
        array::<f64>(v).into_shape_with_order(IxDyn(&[v.len(), 1])).expect("reshape")
    };
    for (label, params) in configurations(record, case.flags, &RawParams::new())? {
        let Some([mut whole, mut parts]) = elementwise_twins(record, &label, &params)? else { return Ok(()) };
        let mut a = [("p", array::<f64>(&case.init))];
        let mut b = [("head", array::<f64>(&case.init[..s])), ("tail", column(&case.init[s..]))];
        for g in &case.grads {
            step(whole.as_mut(), &label, &mut a, &[array(g)])?;
            step(parts.as_mut(), &label, &mut b, &[array(&g[..s]), column(&g[s..])])?;
        }
        let joined: Vec<f64> = b[0].1.iter().chain(b[1].1.iter()).copied().collect();
        if !same_bits(&a[0].1, &array(&joined)) {
            return Err(format!("{label}: split at {s} gave {joined:?} instead of {}", a[0].1));
        }
    }
    Ok(())
}

/// Saving the state after `resume_at` steps, loading it into a freshly built optimizer and
/// running the remaining steps gives the uninterrupted run's parameters and state bit for
/// bit, in both precisions; the loaded optimizer's state equals the saved one.
pub fn resume_is_bitwise(record: &OptimizerRegistration, case: &Case) -> Result<(), String> {
    fn run<T: Precision>(
        record: &OptimizerRegistration,
        label: &str,
        params: &Params,
        case: &Case,
    ) -> Result<(), String> {
        let s = case.split;
        let start = || [("a", array::<T>(&case.init[..s])), ("b", array::<T>(&case.init[s..]))];
        let grads = |g: &[f64]| [array::<T>(&g[..s]), array::<T>(&g[s..])];
        let mut straight = build::<T>(record, label, params)?;
        let mut x = start();
        for g in &case.grads {
            step(straight.as_mut(), label, &mut x, &grads(g))?;
        }
        let mut first = build::<T>(record, label, params)?;
        let mut y = start();
        for g in &case.grads[..case.resume_at] {
            step(first.as_mut(), label, &mut y, &grads(g))?;
        }
        let saved = first.state_dict();
        drop(first);
        let mut resumed = build::<T>(record, label, params)?;
        resumed.load_state_dict(&saved).map_err(|e| format!("{label} ({}): load failed: {e}", T::NAME))?;
        if !same_state(&resumed.state_dict(), &saved) {
            return Err(format!("{label} ({}): state after load differs from the saved state", T::NAME));
        }
        for g in &case.grads[case.resume_at..] {
            step(resumed.as_mut(), label, &mut y, &grads(g))?;
        }
        for ((name, a), (_, b)) in x.iter().zip(&y) {
            if !same_bits(a, b) {
                return Err(format!(
                    "{label} ({}): resumed after {} steps, '{name}' is {b} instead of {a}",
                    T::NAME,
                    case.resume_at
                ));
            }
        }
        if !same_state(&straight.state_dict(), &resumed.state_dict()) {
            return Err(format!("{label} ({}): resumed state differs from the uninterrupted one", T::NAME));
        }
        Ok(())
    }
    for (label, params) in configurations(record, case.flags, &RawParams::new())? {
        run::<f64>(record, &label, &params, case)?;
        run::<f32>(record, &label, &params, case)?;
    }
    Ok(())
}

/// A parameter handed to `step` without a gradient keeps its value and gets no state.
pub fn skips_parameters_without_gradient(record: &OptimizerRegistration, case: &Case) -> Result<(), String> {
    for (label, params) in configurations(record, case.flags, &RawParams::new())? {
        let mut opt = build::<f64>(record, &label, &params)?;
        let init = array::<f64>(&case.init);
        let mut live = init.clone();
        let mut frozen = init.clone();
        for g in &case.grads {
            let g = array::<f64>(g);
            opt.step(&mut [
                ParamMut::new("live", live.view_mut(), Some(g.view())),
                ParamMut::new("frozen", frozen.view_mut(), None),
            ])
            .map_err(|e| format!("{label}: step failed: {e}"))?;
        }
        if !same_bits(&frozen, &init) {
            return Err(format!("{label}: parameter without gradient changed to {frozen}"));
        }
        let state = opt.state_dict();
        if let Some(key) = state.arrays.keys().chain(state.scalars.keys()).find(|k| k.starts_with("frozen."))
        {
            return Err(format!("{label}: state entry '{key}' for a parameter that never had a gradient"));
        }
    }
    Ok(())
}

/// A step with a mis-shaped gradient, an unknown group or a repeated name fails, and leaves
/// every parameter and the state as they were.
pub fn rejects_bad_input_atomically(record: &OptimizerRegistration, case: &Case) -> Result<(), String> {
    for (label, params) in configurations(record, case.flags, &RawParams::new())? {
        let mut opt = build::<f64>(record, &label, &params)?;
        let init = array::<f64>(&case.init);
        let g = array::<f64>(&case.grads[0]);
        let wrong = ArrayD::<f64>::zeros(IxDyn(&[case.n() + 1]));
        let (mut a, mut b) = (init.clone(), init.clone());
        let before = opt.state_dict();
        let attempts: [(&str, Result<(), crate::OptimError>); 3] = [
            (
                "mis-shaped gradient",
                opt.step(&mut [
                    ParamMut::new("a", a.view_mut(), Some(g.view())),
                    ParamMut::new("b", b.view_mut(), Some(wrong.view())),
                ]),
            ),
            (
                "unknown group",
                opt.step(&mut [
                    ParamMut::new("a", a.view_mut(), Some(g.view())),
                    ParamMut::new("b", b.view_mut(), Some(g.view())).in_group(7),
                ]),
            ),
            (
                "repeated name",
                opt.step(&mut [
                    ParamMut::new("a", a.view_mut(), Some(g.view())),
                    ParamMut::new("a", b.view_mut(), Some(g.view())),
                ]),
            ),
        ];
        for (what, result) in attempts {
            if result.is_ok() {
                return Err(format!("{label}: a step with a {what} succeeded"));
            }
        }
        if !same_bits(&a, &init) || !same_bits(&b, &init) || !same_state(&opt.state_dict(), &before) {
            return Err(format!("{label}: a rejected step changed parameters or state"));
        }
    }
    Ok(())
}

/// Builds an optimizer by name (`"adam:lr=0.1"`) in precision `T`: the registry's generic
/// build, unwrapped to the optimizer (for tests that need not see the effective
/// hyper-parameters).
pub fn build_optimizer<T: Precision>(spec: &str) -> Result<Box<dyn Optimizer<T>>, OptimError> {
    nabla_registry::build::<dyn Optimizer<T>>(spec, ()).map(|built| built.value)
}

/// Builds the optimizer `spec` in precision `T`, which must fail with a message containing
/// every one of `fragments`, and returns that message. Panics (naming the spec and the
/// message) otherwise.
pub fn build_error<T: Precision>(spec: &str, fragments: &[&str]) -> String {
    let Err(error) = build_optimizer::<T>(spec) else { panic!("{spec}: built, but should fail") };
    let message = error.to_string();
    if let Some(missing) = fragments.iter().find(|f| !message.contains(*f)) {
        panic!("{spec}: the error does not contain {missing:?}: {message}");
    }
    message
}

/// Builds a scheduler by name (`"cosine:t_max=10"`) starting from `base_lr`: the registry's
/// generic build, unwrapped to the scheduler.
pub fn build_scheduler(spec: &str, base_lr: f64) -> Result<Box<dyn Scheduler>, OptimError> {
    nabla_registry::build::<dyn Scheduler>(spec, base_lr).map(|built| built.value)
}

/// One `f64` parameter named `p` under an optimizer built by name: the set-up of the tests
/// that follow a few updates by hand.
///
/// ```
/// use nabla_optim::testing::OneParam;
/// let mut run = OneParam::new("sgd:lr=0.1", &[1.0]);
/// run.step(&[2.0]);
/// assert_eq!(run.value[0], 1.0 - 0.1 * 2.0);
/// assert_eq!(OneParam::after("sgd:lr=0.1", &[1.0], [[2.0], [-2.0]]).value[0], 1.0);
/// ```
#[derive(Debug)]
pub struct OneParam {
    /// The optimizer.
    pub optimizer: Box<dyn Optimizer<f64>>,
    /// The parameter `p`, one-dimensional.
    pub value: ArrayD<f64>,
}

impl OneParam {
    /// The optimizer `spec` over a parameter starting at `init`. Panics when `spec` does not
    /// build (a test's own mistake).
    pub fn new(spec: &str, init: &[f64]) -> Self {
        let optimizer = build_optimizer::<f64>(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        OneParam { optimizer, value: array(init) }
    }

    /// The optimizer `spec` over a parameter starting at `init`, after one step with each of
    /// `grads` in turn. Panics as [`new`](OneParam::new) and [`step`](OneParam::step) do.
    pub fn after<G: AsRef<[f64]>>(spec: &str, init: &[f64], grads: impl IntoIterator<Item = G>) -> Self {
        let mut run = OneParam::new(spec, init);
        for grad in grads {
            run.step(grad.as_ref());
        }
        run
    }

    /// One step with gradient `grad` (as long as the parameter). Panics when the step fails.
    pub fn step(&mut self, grad: &[f64]) {
        let grad = array::<f64>(grad);
        let result = self.optimizer.step(&mut [ParamMut::new("p", self.value.view_mut(), Some(grad.view()))]);
        result.unwrap_or_else(|e| panic!("{}: step failed: {e}", self.optimizer.name()));
    }

    /// The optimizer's state (`p.step`, `p.exp_avg`, ...).
    pub fn state(&self) -> StateDict<f64> {
        self.optimizer.state_dict()
    }
}

/// Generates proptest tests of every property of [`PROPERTIES`] over the registered
/// optimizers, in the calling crate (which needs `proptest` as a dev-dependency).
///
/// `cases` is the number of proptest cases per property; `only` restricts the suite to some
/// optimizers by canonical name (all registered ones when left out).
///
/// ```ignore
/// nabla_optim::optimizer_property_suite!(cases = 32);
/// nabla_optim::optimizer_property_suite!(cases = 32, only = ["lion"]);
/// ```
#[macro_export]
macro_rules! optimizer_property_suite {
    (cases = $cases:expr $(, only = [$($name:expr),* $(,)?])? $(,)?) => {
        $crate::optimizer_property_suite!(@tests ($cases) [$($($name),*)?]
            zero_gradient_changes_nothing
            zero_lr_changes_nothing
            descends_convex_quadratic
            commutes_with_permutation
            commutes_with_splitting
            resume_is_bitwise
            skips_parameters_without_gradient
            rejects_bad_input_atomically
        );
    };
    (@tests ($cases:expr) $names:tt $($property:ident)*) => {
        ::proptest::proptest! {
            #![proptest_config(::proptest::prelude::ProptestConfig::with_cases($cases))]
            $(
                #[test]
                fn $property(
                    n in 1usize..12,
                    steps in 1usize..6,
                    seed in ::proptest::prelude::any::<u64>(),
                    flags in ::proptest::prelude::any::<u64>(),
                ) {
                    let case = $crate::testing::Case::generate(n, steps, seed, flags);
                    if let Err(e) = $crate::testing::check(&$names, $crate::testing::$property, &case) {
                        return Err(::proptest::test_runner::TestCaseError::fail(e));
                    }
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_holds_for_a_few_cases() {
        for seed in 0..4 {
            let case = Case::generate(5, 4, seed, seed * 0x9e37);
            check_all(&[], &case).unwrap();
        }
    }

    #[test]
    fn configurations_cover_aliases_and_flags() {
        let sgd = registered(&["sgd"])[0];
        let configs = configurations(sgd, 0, &RawParams::new()).unwrap();
        let labels: Vec<&str> = configs.iter().map(|(l, _)| l.as_str()).collect();
        assert!(labels.contains(&"alias momentum") && labels.contains(&"alias nag"), "{labels:?}");
        // nesterov=true without momentum is rejected by the factory: the defaults stand in.
        let configs = configurations(sgd, 1, &RawParams::new()).unwrap();
        assert_eq!(configs[0].0, "sgd");
        assert!(check(&["no_such_optimizer"], zero_gradient_changes_nothing, &Case::generate(1, 1, 0, 0))
            .is_err());
    }
}
