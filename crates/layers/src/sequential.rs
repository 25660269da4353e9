//! `Sequential`: the container that chains modules.

use crate::module::join_name;
use crate::{LayerError, Module};
use nabla_autograd::{fused_linear, is_grad_enabled, Var};
use nabla_tensor::ndarray::ArrayD;
use nabla_tensor::{Element, Rng};

/// Modules applied one after the other, PyTorch's `nn.Sequential`:
/// `y = m_{n-1}(... m_1(m_0(x)))`.
///
/// Children are named by their index, so child `i`'s parameters and buffers are
/// `"{i}.weight"`, `"{i}.running_mean"`, ... exactly as in PyTorch's `state_dict` (nested
/// containers add more dots: `"1.0.weight"`). An error in a child is reported with its
/// position ([`LayerError::InLayer`]).
///
/// It is the model container the trainer builds from a config's list of layers; it is not
/// itself registered by name. `set_training` switches every child.
pub struct Sequential<T: Element = f32> {
    children: Vec<Box<dyn Module<T>>>,
    training: bool,
}

impl<T: Element> Default for Sequential<T> {
    fn default() -> Self {
        Sequential::new()
    }
}

impl<T: Element> std::fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl<T: Element> Sequential<T> {
    /// An empty container (the identity) in training mode.
    pub fn new() -> Self {
        Sequential { children: Vec::new(), training: true }
    }

    /// Appends a module (it becomes child `len()`).
    pub fn push(&mut self, module: Box<dyn Module<T>>) {
        self.children.push(module);
    }

    /// Appends a module, builder style: `Sequential::new().with(Linear::..).with(Relu::new())`.
    pub fn with(mut self, module: impl Module<T> + 'static) -> Self {
        self.children.push(Box::new(module));
        self
    }

    /// The number of children.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether there are no children.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// The children, in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module<T>> + '_ {
        self.children.iter().map(|m| m.as_ref() as &dyn Module<T>)
    }

    /// The children, mutably, in order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn Module<T>>> + '_ {
        self.children.iter_mut()
    }

    /// Child `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&dyn Module<T>> {
        self.children.get(i).map(|m| m.as_ref() as &dyn Module<T>)
    }

    /// Child `i`, mutably, if there is one.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut Box<dyn Module<T>>> {
        self.children.get_mut(i)
    }
}

impl<T: Element> FromIterator<Box<dyn Module<T>>> for Sequential<T> {
    fn from_iter<I: IntoIterator<Item = Box<dyn Module<T>>>>(iter: I) -> Self {
        Sequential { children: iter.into_iter().collect(), training: true }
    }
}

impl<T: Element> Module<T> for Sequential<T> {
    fn name(&self) -> &str {
        "sequential"
    }

    /// Runs the children in order. Without a graph (grad mode off: inference), a fully
    /// connected layer on a `[N, F]` input and the per-column layers after it (batch norm with
    /// running statistics, ReLU, dropout in evaluation mode, identity) run as one
    /// [`fused_linear`]: the same result bit for bit, in one pass over the output while it
    /// is in cache, split over the threads.
    fn forward(&mut self, input: &Var<T>) -> Result<Var<T>, LayerError> {
        let fuse = !is_grad_enabled();
        let mut steps = Vec::new();
        let mut x = input.clone();
        let mut i = 0;
        while i < self.children.len() {
            if fuse && x.value().ndim() == 2 {
                if let Some((weight, bias)) = self.children[i].as_linear() {
                    steps.clear();
                    let mut end = i + 1;
                    while end < self.children.len() && self.children[end].column_steps(&mut steps) {
                        end += 1;
                    }
                    // On an error the layers run one by one below, so that it names its layer.
                    if let Ok(y) = fused_linear(&x, weight, bias, &steps) {
                        x = y;
                        i = end;
                        continue;
                    }
                }
            }
            let child = &mut self.children[i];
            x = child.forward(&x).map_err(|e| e.in_layer(i, child.name()))?;
            i += 1;
        }
        Ok(x)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, LayerError> {
        let mut shape = input.to_vec();
        for (i, child) in self.children.iter().enumerate() {
            shape = child.output_shape(&shape).map_err(|e| e.in_layer(i, child.name()))?;
        }
        Ok(shape)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<T>)) {
        for (i, child) in self.children.iter().enumerate() {
            child.visit_parameters(&join_name(prefix, &i.to_string()), f);
        }
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &ArrayD<T>)) {
        for (i, child) in self.children.iter().enumerate() {
            child.visit_buffers(&join_name(prefix, &i.to_string()), f);
        }
    }

    fn visit_buffers_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut ArrayD<T>)) {
        for (i, child) in self.children.iter_mut().enumerate() {
            child.visit_buffers_mut(&join_name(prefix, &i.to_string()), f);
        }
    }

    fn visit_counters(&self, prefix: &str, f: &mut dyn FnMut(&str, u64)) {
        for (i, child) in self.children.iter().enumerate() {
            child.visit_counters(&join_name(prefix, &i.to_string()), f);
        }
    }

    fn visit_counters_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut u64)) {
        for (i, child) in self.children.iter_mut().enumerate() {
            child.visit_counters_mut(&join_name(prefix, &i.to_string()), f);
        }
    }

    fn visit_rngs_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Rng)) {
        for (i, child) in self.children.iter_mut().enumerate() {
            child.visit_rngs_mut(&join_name(prefix, &i.to_string()), f);
        }
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
        for child in &mut self.children {
            child.set_training(training);
        }
    }

    fn is_training(&self) -> bool {
        self.training
    }

    fn describe(&self) -> String {
        if self.children.is_empty() {
            return "Sequential()".to_string();
        }
        let mut s = String::from("Sequential(\n");
        for (i, child) in self.children.iter().enumerate() {
            let d = child.describe().replace('\n', "\n  ");
            s.push_str(&format!("  ({i}): {d}\n"));
        }
        s.push(')');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::gradcheck_layer;
    use crate::{BatchNorm1d, Dropout, Linear, Relu, Tanh};
    use nabla_tensor::ndarray::arr2;

    fn model(rng: &mut Rng) -> Sequential<f64> {
        Sequential::new()
            .with(Linear::new(3, 4, true, rng).unwrap())
            .with(BatchNorm1d::new(4, 1e-5, 0.1, true, true).unwrap())
            .with(Relu::new())
            .with(Dropout::new(0.5, rng.fork()).unwrap())
            .with(Linear::new(4, 2, false, rng).unwrap())
    }

    #[test]
    fn names_follow_the_child_index() {
        let m = model(&mut Rng::seed(0));
        let names: Vec<String> = m.parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight"]);
        let buffers: Vec<String> = m.buffers().into_iter().map(|(n, _)| n).collect();
        assert_eq!(buffers, ["1.running_mean", "1.running_var"]);
        assert_eq!(m.counters(), [("1.num_batches_tracked".to_string(), 0)]);
        let nested = Sequential::<f64>::new().with(Tanh::new()).with(model(&mut Rng::seed(0)));
        assert_eq!(nested.parameters()[0].0, "1.0.weight");
        let mut rngs = Vec::new();
        let mut nested = nested;
        nested.visit_rngs_mut("", &mut |name, _| rngs.push(name.to_string()));
        assert_eq!(rngs, ["1.3.rng"]);
        assert_eq!(m.num_parameters(), 12 + 4 + 4 + 4 + 8);
        assert_eq!(m.output_shape(&[3]).unwrap(), [2]);
        let err = m.output_shape(&[4]).unwrap_err();
        assert!(matches!(&err, LayerError::InLayer { path, .. } if path == "0"), "{err}");
        assert_eq!(m.len(), 5);
        assert_eq!(
            m.iter().map(|c| c.name()).collect::<Vec<_>>(),
            ["linear", "batch_norm1d", "relu", "dropout", "linear"]
        );
    }

    /// A wider variant of [`model`] with trained running statistics, in evaluation mode.
    fn trained_model(rng: &mut Rng) -> Sequential<f64> {
        let mut m = Sequential::new()
            .with(Linear::new(24, 96, true, rng).unwrap())
            .with(BatchNorm1d::new(96, 1e-5, 0.1, true, true).unwrap())
            .with(Relu::new())
            .with(Dropout::new(0.5, rng.fork()).unwrap())
            .with(Linear::new(96, 5, false, rng).unwrap())
            .with(Relu::new());
        for seed in 0..3 {
            m.forward(&Var::constant(Rng::seed(seed).normal_array::<f64>(&[64, 24], 0.3, 2.0))).unwrap();
        }
        m.set_training(false);
        m
    }

    #[test]
    fn the_fused_inference_forward_equals_the_layers_one_by_one() {
        let mut m = trained_model(&mut Rng::seed(1));
        for rows in [1, 70, 300] {
            let x = Var::constant(Rng::seed(9).normal_array::<f64>(&[rows, 24], 0.0, 1.0));
            // With grad mode on, every layer runs on its own and records the graph.
            let layered = m.forward(&x).unwrap().value().clone();
            let fused = nabla_autograd::no_grad(|| m.forward(&x)).unwrap();
            assert!(!fused.requires_grad());
            let same = fused.value().iter().zip(layered.iter()).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{rows} rows: the fused forward differs");
        }
        // Training mode: batch statistics and dropout masks are not per-column maps, so only
        // the products are fused and the result is still that of the layers.
        m.set_training(true);
        let mut twin = trained_model(&mut Rng::seed(1));
        twin.set_training(true);
        let x = Var::constant(Rng::seed(4).normal_array::<f64>(&[32, 24], 0.0, 1.0));
        let layered = twin.forward(&x).unwrap().value().clone();
        let fused = nabla_autograd::no_grad(|| m.forward(&x)).unwrap();
        assert!(fused.value().iter().zip(layered.iter()).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn a_layer_that_does_not_fit_is_named_by_the_fused_forward_too() {
        let mut rng = Rng::seed(2);
        let mut m = Sequential::<f64>::new()
            .with(Linear::new(3, 4, true, &mut rng).unwrap())
            .with(BatchNorm1d::new(5, 1e-5, 0.1, true, true).unwrap());
        m.set_training(false);
        let x = Var::constant(arr2(&[[1.0, 2.0, 3.0]]).into_dyn());
        let err = nabla_autograd::no_grad(|| m.forward(&x)).unwrap_err().to_string();
        assert!(err.contains("layer 1") && err.contains("batch_norm1d"), "{err}");
    }

    #[test]
    fn training_mode_reaches_every_child() {
        let mut m = model(&mut Rng::seed(0));
        assert!(m.iter().all(|c| c.is_training()));
        m.eval();
        assert!(!m.is_training() && m.iter().all(|c| !c.is_training()));
        m.train();
        assert!(m.iter().all(|c| c.is_training()));
    }

    #[test]
    fn errors_name_the_failing_child() {
        let mut m = model(&mut Rng::seed(0));
        let err = m.forward(&Var::constant(arr2(&[[1.0, 2.0], [3.0, 4.0]]).into_dyn())).unwrap_err();
        assert!(
            matches!(&err, LayerError::InLayer { path, layer, .. } if path == "0" && layer == "linear"),
            "{err}"
        );
        assert!(err.to_string().starts_with("layer 0 (linear): "), "{err}");
    }

    #[test]
    fn describe_lists_children() {
        let m = Sequential::<f32>::new().with(Relu::new()).with(Sequential::new().with(Tanh::new()));
        assert_eq!(m.describe(), "Sequential(\n  (0): ReLU()\n  (1): Sequential(\n    (0): Tanh()\n  )\n)");
        assert_eq!(Sequential::<f32>::new().describe(), "Sequential()");
    }

    #[test]
    fn empty_is_the_identity_and_push_appends() {
        let mut m = Sequential::<f32>::new();
        assert!(m.is_empty());
        let x = Var::constant(arr2(&[[1.0f32, -2.0]]).into_dyn());
        assert!(m.forward(&x).unwrap().ptr_eq(&x));
        m.push(Box::new(Relu::new()));
        assert_eq!(*m.forward(&x).unwrap().value(), arr2(&[[1.0f32, 0.0]]).into_dyn());
        let collected: Sequential<f32> =
            vec![Box::new(Relu::new()) as Box<dyn Module<f32>>].into_iter().collect();
        assert_eq!(collected.len(), 1);
    }

    /// A small network (Linear, BatchNorm in training mode, tanh, Linear) against finite
    /// differences, for the input and every parameter.
    #[test]
    fn gradcheck_of_a_small_network() {
        let mut rng = Rng::seed(5);
        let inputs = vec![
            rng.normal_array::<f64>(&[5, 3], 0.0, 1.0),
            rng.normal_array::<f64>(&[4, 3], 0.0, 0.7),
            rng.normal_array::<f64>(&[4], 0.0, 0.3),
            rng.uniform_array::<f64>(&[4], 0.5, 1.5),
            rng.normal_array::<f64>(&[4], 0.0, 0.3),
            rng.normal_array::<f64>(&[2, 4], 0.0, 0.7),
            rng.normal_array::<f64>(&[2], 0.0, 0.3),
        ];
        let report = gradcheck_layer(
            |v| {
                let bn =
                    BatchNorm1d::new(4, 1e-5, 0.1, true, true)?.with_affine(v[3].clone(), v[4].clone())?;
                let mut m = Sequential::new()
                    .with(Linear::from_vars(v[1].clone(), Some(v[2].clone()))?)
                    .with(bn)
                    .with(Tanh::new())
                    .with(Linear::from_vars(v[5].clone(), Some(v[6].clone()))?);
                m.forward(&v[0])
            },
            &inputs,
        );
        assert_eq!(report.checked, 15 + 12 + 4 + 4 + 4 + 8 + 2);
    }
}
