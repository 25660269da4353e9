//! Test support shared by the layers' unit tests: finite-difference checks of a layer's
//! forward, whose [`LayerError`] gradcheck carries as an [`AutogradError::Invalid`].

use crate::{LayerError, Module};
use nabla_autograd::{gradcheck, AutogradError, GradcheckOptions, GradcheckReport, Var};
use nabla_tensor::ndarray::ArrayD;

/// Gradcheck (default options) of `f` over `inputs`, in f64; panics on a mismatch.
pub fn gradcheck_layer(
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>, LayerError>,
    inputs: &[ArrayD<f64>],
) -> GradcheckReport {
    let carried = |e: LayerError| AutogradError::Invalid { op: "module", message: e.to_string() };
    gradcheck(|v| f(v).map_err(carried), inputs, &GradcheckOptions::default()).unwrap()
}

/// Gradcheck of a module's forward on `x`, each evaluation on a fresh copy of `module`.
pub fn check_gradient<M: Module<f64> + Clone>(module: M, x: ArrayD<f64>) {
    gradcheck_layer(|v| module.clone().forward(&v[0]), &[x]);
}
