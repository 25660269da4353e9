//! Elementwise update rules and the one generic [`Optimizer`] that drives them.
//!
//! An optimizer such as Adam is written as an [`UpdateRule`]: the names of its per-parameter
//! state buffers and one function that updates one parameter. [`RuleOptimizer`] supplies
//! everything else once for all of them: state kept by parameter name, step counters,
//! parameter groups, the learning rate, input checks and the state dictionary.

use crate::optimizer::{ParamGroup, ParamMut, Scalar, StateDict};
use crate::{OptimError, Optimizer};
use nabla_registry::{HyperParams, ParamError, Params};
use nabla_tensor::ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use nabla_tensor::{threads, Element};
use std::collections::BTreeMap;

/// The hyper-parameters of a parameter's group at this step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupHyper {
    /// Effective learning rate (`optimizer.lr() * lr_scale`).
    pub lr: f64,
    /// Weight decay of the group.
    pub weight_decay: f64,
}

/// One parameter's optimizer state, as an [`UpdateRule`] sees it.
#[derive(Debug)]
pub struct RuleState<'s, T> {
    /// The step number of this update, starting at 1 (already incremented).
    pub step: u64,
    /// The buffers named by [`UpdateRule::buffers`], in that order, shaped like the parameter.
    pub buffers: &'s mut [ArrayD<T>],
    /// The scalars named by [`UpdateRule::scalars`], in that order.
    pub scalars: &'s mut [f64],
}

/// Everything one parameter's update works on, handed to [`UpdateRule::update`] (destructure
/// it: `Update { hyper, state, value, grad }`).
#[derive(Debug)]
pub struct Update<'a, T> {
    /// This group's learning rate and weight decay.
    pub hyper: GroupHyper,
    /// The step number (from 1), the buffers and the scalars of this parameter.
    pub state: RuleState<'a, T>,
    /// The parameter, updated in place.
    pub value: ArrayViewMutD<'a, T>,
    /// Its gradient, shaped like `value` (checked before the call).
    pub grad: ArrayViewD<'a, T>,
}

/// The update of one parameter by an optimizer: what state it keeps and how it steps.
///
/// Implement this (plus [`HyperParams`], usually derived) and register the type with
/// [`register_optimizer!`](crate::register_optimizer); [`RuleOptimizer`] does the rest.
/// `update` should make one fused pass over memory (`ndarray::Zip` over value, gradient and
/// buffers) and must not allocate.
pub trait UpdateRule: Send + Sync + std::fmt::Debug + 'static {
    /// Whether the update of each element depends only on that element (see
    /// [`Optimizer::is_elementwise`]).
    const ELEMENTWISE: bool = true;

    /// Names of the per-parameter state buffers (PyTorch's state names where they exist).
    /// May depend on the configuration (Adam's `max_exp_avg_sq` only with `amsgrad`), but must
    /// not change after construction.
    fn buffers(&self) -> &'static [&'static str];

    /// The value buffer `index` starts with (0 unless overridden; Adagrad's `sum` starts at
    /// `initial_accumulator_value`).
    fn buffer_init(&self, index: usize) -> f64 {
        let _ = index;
        0.0
    }

    /// Names and initial values of per-parameter scalar state other than the step counter
    /// (NAdam's `mu_product`).
    fn scalars(&self) -> &'static [(&'static str, f64)] {
        &[]
    }

    /// Updates one parameter in place. The shapes of `value`, `grad` and every buffer agree
    /// (checked by the caller).
    fn update<T: Element>(&self, update: Update<'_, T>);
}

#[derive(Clone, Debug)]
struct ParamState<T> {
    step: u64,
    buffers: Vec<ArrayD<T>>,
    scalars: Vec<f64>,
}

/// The [`Optimizer`] of an [`UpdateRule`]: per-parameter state by name, step counters,
/// parameter groups, learning rate, input checks and state import/export.
#[derive(Debug)]
pub struct RuleOptimizer<T, R> {
    name: String,
    rule: R,
    lr: f64,
    groups: Vec<ParamGroup>,
    state: BTreeMap<String, ParamState<T>>,
    /// Reused scratch for the duplicate-name check (so `step` does not allocate).
    order: Vec<usize>,
    /// Reused scratch of one step: each updated parameter's index, its state and the thread
    /// part that updates it. Empty between steps.
    jobs: Vec<Job<T>>,
}

/// One parameter's update within a step, for the parts of a split.
#[derive(Debug)]
struct Job<T> {
    param: usize,
    state: StatePtr<T>,
    len: usize,
    part: usize,
}

/// A parameter's state, reached by the one part that updates it.
#[derive(Debug)]
struct StatePtr<T>(*mut ParamState<T>);

// SAFETY: a `StatePtr` is created from a unique borrow of one entry of the state map inside
// `step`, used by exactly one part of that step's split, and dropped (the scratch cleared)
// before `step` returns, so it never outlives or aliases the borrow.
unsafe impl<T: Send> Send for StatePtr<T> {}
// SAFETY: as above; no two parts touch the same state.
unsafe impl<T: Send> Sync for StatePtr<T> {}

impl<T: Element, R: UpdateRule> RuleOptimizer<T, R> {
    /// An optimizer named `name` running `rule` with learning rate `lr` and one group with
    /// `weight_decay`.
    pub fn new(name: impl Into<String>, rule: R, lr: f64, weight_decay: f64) -> Self {
        RuleOptimizer {
            name: name.into(),
            rule,
            lr,
            groups: vec![ParamGroup::new(1.0, weight_decay)],
            state: BTreeMap::new(),
            order: Vec::new(),
            jobs: Vec::new(),
        }
    }

    /// Builds from validated hyper-parameters: the rule from its [`HyperParams`] declaration,
    /// the learning rate from `lr` and group 0's weight decay from `weight_decay` (0 when the
    /// rule has none): the two keys every parameter group may override.
    pub fn from_params(params: &Params) -> Result<Self, ParamError>
    where
        R: HyperParams,
    {
        let rule = R::from_params(params)?;
        let lr = params.f64("lr")?;
        let weight_decay = params.opt_f64("weight_decay")?.unwrap_or(0.0);
        Ok(Self::new(params.component(), rule, lr, weight_decay))
    }

    /// The update rule (its hyper-parameters).
    pub fn rule(&self) -> &R {
        &self.rule
    }

    fn check(&mut self, params: &[ParamMut<'_, T>]) -> Result<(), OptimError> {
        for p in params {
            if p.group >= self.groups.len() {
                return Err(OptimError::UnknownGroup {
                    param: p.name.to_string(),
                    group: p.group,
                    groups: self.groups.len(),
                });
            }
            let Some(grad) = &p.grad else { continue };
            if grad.shape() != p.value.shape() {
                return Err(OptimError::GradShape {
                    param: p.name.to_string(),
                    value: p.value.shape().to_vec(),
                    grad: grad.shape().to_vec(),
                });
            }
            if let Some(state) = self.state.get(p.name) {
                if let Some(b) = state.buffers.iter().find(|b| b.shape() != p.value.shape()) {
                    return Err(OptimError::StateShape {
                        param: p.name.to_string(),
                        value: p.value.shape().to_vec(),
                        state: b.shape().to_vec(),
                    });
                }
            }
        }
        self.order.clear();
        self.order.extend(0..params.len());
        self.order.sort_unstable_by(|&a, &b| params[a].name.cmp(params[b].name));
        for pair in self.order.windows(2) {
            if params[pair[0]].name == params[pair[1]].name {
                return Err(OptimError::DuplicateParam { name: params[pair[0]].name.to_string() });
            }
        }
        Ok(())
    }

    fn fresh_state(&self, shape: &[usize]) -> ParamState<T> {
        let buffers = (0..self.rule.buffers().len())
            .map(|i| ArrayD::from_elem(shape, T::from_f64(self.rule.buffer_init(i))))
            .collect();
        let scalars = self.rule.scalars().iter().map(|&(_, init)| init).collect();
        ParamState { step: 0, buffers, scalars }
    }

    fn expected_entries(&self) -> String {
        let mut names = vec!["step"];
        names.extend(self.rule.buffers());
        names.extend(self.rule.scalars().iter().map(|(n, _)| *n));
        names.iter().map(|n| format!("<param>.{n}")).collect::<Vec<_>>().join(", ")
    }
}

fn group_key(i: usize, field: &str) -> String {
    format!("groups.{i}.{field}")
}

impl<T: Element, R: UpdateRule> Optimizer<T> for RuleOptimizer<T, R> {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_elementwise(&self) -> bool {
        R::ELEMENTWISE
    }

    /// Updates every parameter that has a gradient. Parameters are independent, so whole
    /// parameters are shared out over the threads (largest first, each to the least loaded
    /// part); each is updated exactly as on one thread, so the result is the same.
    fn step(&mut self, params: &mut [ParamMut<'_, T>]) -> Result<(), OptimError> {
        self.check(params)?;
        for p in params.iter() {
            if p.grad.is_some() && !self.state.contains_key(p.name) {
                let fresh = self.fresh_state(p.value.shape());
                self.state.insert(p.name.to_string(), fresh);
            }
        }
        self.jobs.clear();
        for (i, p) in params.iter().enumerate() {
            if p.grad.is_none() {
                continue;
            }
            let state = self.state.get_mut(p.name).expect("inserted above");
            state.step += 1;
            self.jobs.push(Job { param: i, state: StatePtr(state), len: p.value.len(), part: 0 });
        }
        // Fewer elements than two elementwise parts' worth: not worth a hand-off.
        let total: usize = self.jobs.iter().map(|j| j.len).sum();
        let parts = if total < 2 * threads::MIN_PART_ELEMENTS {
            1
        } else {
            threads::threads().min(self.jobs.len()).max(1)
        };
        if parts > 1 {
            self.jobs.sort_unstable_by(|a, b| b.len.cmp(&a.len).then(a.param.cmp(&b.param)));
            let mut load = [0usize; 64];
            let parts = parts.min(load.len());
            for job in self.jobs.iter_mut() {
                let lightest = (0..parts).min_by_key(|&k| load[k]).expect("at least one part");
                job.part = lightest;
                load[lightest] += job.len;
            }
        }
        let (rule, lr, groups, jobs) = (&self.rule, self.lr, &self.groups, &self.jobs);
        let shared = threads::DisjointSlice::new(params);
        threads::split(parts, |part| {
            for job in jobs.iter().filter(|j| j.part == part) {
                // SAFETY: every parameter index and every state occurs in one job only (names
                // are unique, checked above), and each job belongs to one part.
                let (p, state) =
                    unsafe { (&mut shared.range(job.param, job.param + 1)[0], &mut *job.state.0) };
                let grad = p.grad.as_ref().expect("jobs are the parameters with a gradient");
                let group = groups[p.group];
                let hyper = GroupHyper { lr: lr * group.lr_scale, weight_decay: group.weight_decay };
                let view =
                    RuleState { step: state.step, buffers: &mut state.buffers, scalars: &mut state.scalars };
                rule.update(Update { hyper, state: view, value: p.value.view_mut(), grad: grad.view() });
            }
        });
        self.jobs.clear();
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn groups(&self) -> &[ParamGroup] {
        &self.groups
    }

    fn add_group(&mut self, group: ParamGroup) -> Result<usize, OptimError> {
        group.validate()?;
        self.groups.push(group);
        Ok(self.groups.len() - 1)
    }

    fn set_group(&mut self, index: usize, group: ParamGroup) -> Result<(), OptimError> {
        group.validate()?;
        let count = self.groups.len();
        let slot = self.groups.get_mut(index).ok_or_else(|| OptimError::InvalidGroup {
            message: format!("no group {index}; the optimizer has {count} group(s)"),
        })?;
        *slot = group;
        Ok(())
    }

    fn state_dict(&self) -> StateDict<T> {
        let mut out = StateDict::default();
        out.scalars.insert("lr".to_string(), Scalar::F64(self.lr));
        for (i, g) in self.groups.iter().enumerate() {
            out.scalars.insert(group_key(i, "lr_scale"), Scalar::F64(g.lr_scale));
            out.scalars.insert(group_key(i, "weight_decay"), Scalar::F64(g.weight_decay));
        }
        for (name, state) in &self.state {
            out.scalars.insert(format!("{name}.step"), Scalar::U64(state.step));
            for (buffer, array) in self.rule.buffers().iter().zip(&state.buffers) {
                out.arrays.insert(format!("{name}.{buffer}"), array.clone());
            }
            for ((scalar, _), value) in self.rule.scalars().iter().zip(&state.scalars) {
                out.scalars.insert(format!("{name}.{scalar}"), Scalar::F64(*value));
            }
        }
        out
    }

    fn load_state_dict(&mut self, dict: &StateDict<T>) -> Result<(), OptimError> {
        let owner = self.name.clone();
        let missing = |key: String| OptimError::MissingState { owner: owner.clone(), key };
        let bad = |key: &str, message: &str| OptimError::BadState {
            owner: owner.clone(),
            key: key.to_string(),
            message: message.to_string(),
        };
        let get_f64 = |key: String| -> Result<f64, OptimError> {
            match dict.scalars.get(&key) {
                None => Err(missing(key)),
                Some(Scalar::F64(x)) => Ok(*x),
                Some(Scalar::U64(_)) => Err(bad(&key, "must be a float (F64), found a counter (U64)")),
            }
        };

        let mut used_scalars = 1;
        let lr = get_f64("lr".to_string())?;
        let saved_groups =
            dict.scalars.keys().filter(|k| k.starts_with("groups.") && k.ends_with(".lr_scale")).count();
        if saved_groups != self.groups.len() {
            return Err(OptimError::GroupCount { owner, saved: saved_groups, current: self.groups.len() });
        }
        let mut groups = Vec::with_capacity(saved_groups);
        for i in 0..saved_groups {
            let group =
                ParamGroup::new(get_f64(group_key(i, "lr_scale"))?, get_f64(group_key(i, "weight_decay"))?);
            group.validate()?;
            groups.push(group);
            used_scalars += 2;
        }

        let mut state = BTreeMap::new();
        for (key, value) in &dict.scalars {
            // Every `<param>.step` counter introduces one parameter's state.
            let Some(name) = key.strip_suffix(".step") else { continue };
            let step =
                value.as_u64().ok_or_else(|| bad(key, "must be a counter (U64), found a float (F64)"))?;
            used_scalars += 1;
            let mut buffers = Vec::with_capacity(self.rule.buffers().len());
            for buffer in self.rule.buffers() {
                let k = format!("{name}.{buffer}");
                let array = dict.arrays.get(&k).ok_or_else(|| missing(k.clone()))?;
                if let Some(first) = buffers.first() {
                    let first: &ArrayD<T> = first;
                    if first.shape() != array.shape() {
                        return Err(bad(
                            &k,
                            &format!(
                                "has shape {:?} but the other state of '{name}' has shape {:?}",
                                array.shape(),
                                first.shape()
                            ),
                        ));
                    }
                }
                buffers.push(array.clone());
            }
            let mut scalars = Vec::with_capacity(self.rule.scalars().len());
            for (scalar, _) in self.rule.scalars() {
                scalars.push(get_f64(format!("{name}.{scalar}"))?);
                used_scalars += 1;
            }
            state.insert(name.to_string(), ParamState { step, buffers, scalars });
        }

        let used_arrays = state.len() * self.rule.buffers().len();
        if used_arrays != dict.arrays.len() || used_scalars != dict.scalars.len() {
            // A parameter's state is introduced by its `step` counter, so without that counter
            // its buffers and scalars look like strays; the counter is what is missing.
            let orphan = dict.arrays.keys().chain(dict.scalars.keys()).find_map(|key| {
                let (name, field) = key.rsplit_once('.')?;
                let owned = self.rule.buffers().contains(&field)
                    || self.rule.scalars().iter().any(|(s, _)| *s == field);
                let step = format!("{name}.step");
                (owned && !dict.scalars.contains_key(&step)).then_some(step)
            });
            if let Some(step) = orphan {
                return Err(missing(step));
            }
            let known = |key: &str| -> bool {
                if key == "lr" {
                    return true;
                }
                if let Some(rest) = key.strip_prefix("groups.") {
                    if let Some((i, field)) = rest.split_once('.') {
                        if i.parse::<usize>().is_ok_and(|i| i < groups.len())
                            && matches!(field, "lr_scale" | "weight_decay")
                        {
                            return true;
                        }
                    }
                }
                state.keys().any(|name| {
                    key.strip_prefix(name.as_str()).and_then(|r| r.strip_prefix('.')).is_some_and(|field| {
                        field == "step"
                            || self.rule.buffers().contains(&field)
                            || self.rule.scalars().iter().any(|(s, _)| *s == field)
                    })
                })
            };
            let stray = dict.arrays.keys().chain(dict.scalars.keys()).find(|k| !known(k));
            let key =
                stray.cloned().unwrap_or_else(|| "(a key appears as both array and scalar)".to_string());
            return Err(OptimError::UnexpectedState { owner, key, expected: self.expected_entries() });
        }

        self.lr = lr;
        self.groups = groups;
        self.state = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_tensor::ndarray::{arr1, ArrayD, IxDyn, Zip};

    /// A toy rule: `acc += g`, `p -= lr * acc`, with a scalar counting updates.
    #[derive(Debug)]
    struct Accumulate;

    impl UpdateRule for Accumulate {
        fn buffers(&self) -> &'static [&'static str] {
            &["acc"]
        }
        fn buffer_init(&self, _: usize) -> f64 {
            0.5
        }
        fn scalars(&self) -> &'static [(&'static str, f64)] {
            &[("calls", 10.0)]
        }
        fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
            let lr = T::from_f64(hyper.lr);
            state.scalars[0] += 1.0;
            Zip::from(value).and(grad).and(&mut state.buffers[0]).for_each(|p, &g, a| {
                *a = *a + g;
                *p = *p - lr * *a;
            });
        }
    }

    fn opt() -> RuleOptimizer<f64, Accumulate> {
        RuleOptimizer::new("accumulate", Accumulate, 0.1, 0.0)
    }

    #[test]
    fn state_starts_from_init_and_is_kept_by_name() {
        let mut o = opt();
        let mut a = arr1(&[1.0, 2.0]).into_dyn();
        let g = arr1(&[1.0, 1.0]).into_dyn();
        for _ in 0..2 {
            o.step(&mut [ParamMut::new("a", a.view_mut(), Some(g.view()))]).unwrap();
        }
        // acc: 1.5 then 2.5; p: 1 - 0.15 - 0.25.
        assert!((a[0] - 0.6).abs() < 1e-15);
        let sd = o.state_dict();
        assert_eq!(sd.scalars["a.step"], Scalar::U64(2));
        assert_eq!(sd.scalars["a.calls"], Scalar::F64(12.0));
        assert_eq!(sd.arrays["a.acc"], arr1(&[2.5, 2.5]).into_dyn());
        assert_eq!(sd.scalars["lr"], Scalar::F64(0.1));
        assert_eq!(sd.scalars["groups.0.lr_scale"], Scalar::F64(1.0));
    }

    #[test]
    fn errors_leave_everything_unchanged() {
        let mut o = opt();
        let mut a = ArrayD::<f64>::zeros(IxDyn(&[2]));
        let mut b = ArrayD::<f64>::zeros(IxDyn(&[3]));
        let g2 = ArrayD::<f64>::ones(IxDyn(&[2]));
        let g3 = ArrayD::<f64>::ones(IxDyn(&[3]));
        let err = o
            .step(&mut [
                ParamMut::new("a", a.view_mut(), Some(g2.view())),
                ParamMut::new("b", b.view_mut(), Some(g2.view())),
            ])
            .unwrap_err();
        assert!(matches!(err, OptimError::GradShape { ref param, .. } if param == "b"), "{err}");
        assert!(a.iter().all(|&x| x == 0.0));
        assert!(o.state_dict().arrays.is_empty());
        let err = o
            .step(&mut [
                ParamMut::new("a", a.view_mut(), Some(g2.view())),
                ParamMut::new("a", b.view_mut(), Some(g3.view())),
            ])
            .unwrap_err();
        assert_eq!(err, OptimError::DuplicateParam { name: "a".into() });
        let err = o.step(&mut [ParamMut::new("a", a.view_mut(), Some(g2.view())).in_group(1)]).unwrap_err();
        assert!(matches!(err, OptimError::UnknownGroup { group: 1, groups: 1, .. }));
        // State of shape [2] under name "a", then "a" comes back with shape [3].
        o.step(&mut [ParamMut::new("a", a.view_mut(), Some(g2.view()))]).unwrap();
        let err = o.step(&mut [ParamMut::new("a", b.view_mut(), Some(g3.view()))]).unwrap_err();
        assert!(matches!(err, OptimError::StateShape { .. }), "{err}");
    }

    #[test]
    fn groups_scale_the_learning_rate() {
        let mut o = opt();
        let g1 = o.add_group(ParamGroup::new(2.0, 0.0)).unwrap();
        assert_eq!(g1, 1);
        assert!(o.add_group(ParamGroup::new(-1.0, 0.0)).is_err());
        assert!(o.set_group(5, ParamGroup::new(1.0, 0.0)).is_err());
        o.set_lr(0.5);
        assert_eq!(o.group_lr(1), Some(1.0));
        let mut a = arr1(&[0.0]).into_dyn();
        let mut b = arr1(&[0.0]).into_dyn();
        let g = arr1(&[0.5]).into_dyn();
        o.step(&mut [
            ParamMut::new("a", a.view_mut(), Some(g.view())),
            ParamMut::new("b", b.view_mut(), Some(g.view())).in_group(1),
        ])
        .unwrap();
        assert_eq!(a[0], -0.5);
        assert_eq!(b[0], -1.0);
    }

    #[test]
    fn load_rejects_missing_unexpected_and_mistyped_entries() {
        let mut o = opt();
        let mut a = arr1(&[1.0, 2.0]).into_dyn();
        let g = arr1(&[1.0, 1.0]).into_dyn();
        o.step(&mut [ParamMut::new("a", a.view_mut(), Some(g.view()))]).unwrap();
        let good = o.state_dict();

        let mut d = good.clone();
        d.arrays.remove("a.acc");
        assert_eq!(
            opt().load_state_dict(&d).unwrap_err(),
            OptimError::MissingState { owner: "accumulate".into(), key: "a.acc".into() }
        );
        let mut d = good.clone();
        d.arrays.insert("a.exp_avg".into(), arr1(&[0.0, 0.0]).into_dyn());
        let err = opt().load_state_dict(&d).unwrap_err();
        assert!(matches!(err, OptimError::UnexpectedState { ref key, .. } if key == "a.exp_avg"), "{err}");
        let mut d = good.clone();
        d.scalars.remove("a.step");
        assert_eq!(
            opt().load_state_dict(&d).unwrap_err(),
            OptimError::MissingState { owner: "accumulate".into(), key: "a.step".into() },
            "the state of 'a' without its step counter: the counter is missing, not the rest unexpected"
        );
        let mut d = good.clone();
        d.scalars.insert("a.step".into(), Scalar::F64(1.0));
        assert!(matches!(opt().load_state_dict(&d).unwrap_err(), OptimError::BadState { .. }));
        let mut d = good.clone();
        d.scalars.insert("groups.1.lr_scale".into(), Scalar::F64(1.0));
        assert!(matches!(opt().load_state_dict(&d).unwrap_err(), OptimError::GroupCount { saved: 2, .. }));

        let mut fresh = opt();
        fresh.load_state_dict(&good).unwrap();
        assert_eq!(fresh.state_dict(), good);
    }
}
