//! `orthogonal(gain)`: a (semi-)orthogonal matrix times `gain`.

use crate::{register_initializer, Distribution, InitError, Initializer, Role, Validate};
use nabla_registry::HyperParams;

/// Fills the tensor, viewed as a matrix `[rows, cols] = [shape[0], numel / shape[0]]`, with
/// `gain * Q` where `Q` has orthonormal rows (`rows <= cols`: `W W^T = gain^2 I`) or
/// orthonormal columns (`rows > cols`: `W^T W = gain^2 I`). `Q` comes from the QR
/// factorization (Gram-Schmidt with reorthogonalization, positive diagonal of `R`) of a
/// matrix of standard normal draws, so it is uniformly (Haar) distributed. Each element has
/// mean 0 and variance `gain^2 / max(rows, cols)`.
///
/// Saxe, McClelland and Ganguli (2014), "Exact solutions to the nonlinear dynamics of
/// learning in deep linear neural networks", ICLR; PyTorch `orthogonal_(tensor, gain=1)`.
///
/// Hyper-parameters: `gain` (default 1, `>= 0`). Needs at least 2 dimensions (a bias cannot be
/// orthogonal). Costs `O(rows * cols * min(rows, cols))` once, at initialization.
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
#[hyper(check = crate::check)]
pub struct Orthogonal {
    /// scale factor (see calculate_gain)
    #[param(default = 1.0, range = NON_NEGATIVE)]
    gain: f64,
}

impl Orthogonal {
    /// An orthogonal initializer.
    ///
    /// # Errors
    /// [`InitError::Invalid`] unless `gain` is finite and `>= 0`.
    pub fn new(gain: f64) -> Result<Orthogonal, InitError> {
        Orthogonal { gain }.validated()
    }
}

impl Validate for Orthogonal {
    fn validate(&self) -> Result<(), InitError> {
        crate::check_gain("orthogonal", self.gain)
    }
}

impl Initializer for Orthogonal {
    fn name(&self) -> &'static str {
        "orthogonal"
    }
    fn distribution(&self, shape: &[usize], _role: Role) -> Result<Distribution, InitError> {
        if shape.len() < 2 {
            return Err(InitError::NeedsMatrix { initializer: "orthogonal", shape: shape.to_vec() });
        }
        Ok(Distribution::Orthogonal { gain: self.gain })
    }
}

register_initializer!(Orthogonal,
    name: "orthogonal",
    summary: "gain * a random (semi-)orthogonal matrix (Saxe et al. 2014)",
);

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_tensor::{ndarray::ArrayD, ndarray::IxDyn, Rng};

    #[test]
    fn conv_shaped_weight_has_orthonormal_columns() {
        // [8, 2, 3, 3] is viewed as [8, 18]: rows <= cols, so W W^T = gain^2 I.
        let mut w = ArrayD::<f32>::zeros(IxDyn(&[8, 2, 3, 3]));
        crate::build("orthogonal:gain=0.5").unwrap().fill_f32(w.view_mut(), &mut Rng::seed(1)).unwrap();
        let m = w.into_shape_with_order((8, 18)).unwrap();
        let gram = m.dot(&m.t());
        for i in 0..8 {
            for j in 0..8 {
                let expect = if i == j { 0.25 } else { 0.0 };
                assert!((gram[[i, j]] - expect).abs() < 1e-6, "gram[{i},{j}] = {}", gram[[i, j]]);
            }
        }
        let bias_fans = crate::fans(&[8, 18]).unwrap();
        assert!(matches!(
            Orthogonal::new(1.0).unwrap().distribution(&[8], Role::Bias { weight_fans: bias_fans }),
            Err(InitError::NeedsMatrix { .. })
        ));
    }
}
