//! `trunc_normal(mean, std, a, b)`: `N(mean, std^2)` restricted to `[a, b]`.

use crate::distribution::TruncatedSampler;
use crate::{register_initializer, Distribution, InitError, Initializer, Role, Validate};
use nabla_registry::{Alias, HyperParams};

/// Draws every element from `N(mean, std^2)` conditioned on `[a, b]` (PyTorch
/// `trunc_normal_(tensor, mean=0, std=1, a=-2, b=2)`; the ViT/timm initialization with
/// `std=0.02`). `a` and `b` are absolute values, not multiples of `std`: with the defaults
/// and `std=0.02` nothing is cut.
///
/// With `alpha = (a-mean)/std`, `beta = (b-mean)/std`, `Z = Phi(beta) - Phi(alpha)`, the
/// variance is `std^2 [1 + (alpha phi(alpha) - beta phi(beta))/Z - ((phi(alpha) - phi(beta))/Z)^2]`
/// (0.8796^2 for the defaults). Sampling is exact (Robert 1995 rejection samplers), not
/// PyTorch's inverse-CDF method, so it stays accurate far in the tails.
///
/// Hyper-parameters: `mean` (default 0), `std` (default 1, `> 0`), `a` (default -2),
/// `b` (default 2), `a < b`.
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
#[hyper(check = crate::check)]
pub struct TruncNormal {
    /// mean of the untruncated normal
    #[param(default = 0.0)]
    mean: f64,
    /// standard deviation of the untruncated normal
    #[param(default = 1.0, range = POSITIVE)]
    std: f64,
    /// lower cut-off (absolute value)
    #[param(default = -2.0)]
    a: f64,
    /// upper cut-off (absolute value)
    #[param(default = 2.0)]
    b: f64,
}

impl TruncNormal {
    /// A truncated normal initializer.
    ///
    /// # Errors
    /// [`InitError::Invalid`] unless `mean` is finite, `std > 0` finite, `a < b`, and `[a, b]`
    /// lies within 1000 standard deviations of the mean.
    pub fn new(mean: f64, std: f64, a: f64, b: f64) -> Result<TruncNormal, InitError> {
        TruncNormal { mean, std, a, b }.validated()
    }
}

impl Validate for TruncNormal {
    /// The sampler's own checks: they are exactly what makes sampling possible.
    fn validate(&self) -> Result<(), InitError> {
        TruncatedSampler::new(self.mean, self.std, self.a, self.b).map(drop)
    }
}

impl Initializer for TruncNormal {
    fn name(&self) -> &'static str {
        "trunc_normal"
    }
    fn distribution(&self, _shape: &[usize], _role: Role) -> Result<Distribution, InitError> {
        Ok(Distribution::TruncatedNormal { mean: self.mean, std: self.std, a: self.a, b: self.b })
    }
}

register_initializer!(TruncNormal,
    name: "trunc_normal",
    aliases: [Alias::new("truncated_normal")],
    summary: "N(mean, std^2) restricted to [a, b]",
);

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_tensor::{ndarray::Array2, Rng};

    #[test]
    fn stays_within_the_cut_offs() {
        let init = crate::build("trunc_normal:std=0.02,a=-0.04,b=0.04").unwrap();
        let mut w = Array2::<f32>::zeros((100, 50));
        init.fill_f32(w.view_mut().into_dyn(), &mut Rng::seed(9)).unwrap();
        assert!(w.iter().all(|&x| (-0.04f32..=0.04).contains(&x)));
        let d = init.distribution(&[100, 50], Role::Weight).unwrap();
        assert!((d.std(&[100, 50]) - 0.017592513220684797).abs() < 1e-15);
        assert!(crate::build("trunc_normal:a=1,b=-1").is_err());
        assert!(crate::build("trunc_normal:std=0").is_err());
    }
}
