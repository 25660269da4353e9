//! Stochastic gradient descent, with momentum (heavy ball) and Nesterov momentum.
//!
//! # Update rule (PyTorch's `torch.optim.SGD`)
//! With `g` the gradient, `p` the parameter, `b` the momentum buffer and `t` the step:
//!
//! ```text
//! g <- g + wd * p                                  (L2 weight decay, added to the gradient)
//! if momentum != 0:
//!     b <- g                                        at t = 1 (no dampening on the first step)
//!     b <- momentum * b + (1 - dampening) * g       at t > 1
//!     g <- g + momentum * b    if nesterov,   else   g <- b
//! p <- p - lr * g
//! ```
//!
//! # Intuition
//! *Momentum as inertia* (Polyak, 1964, "Some methods of speeding up the convergence of
//! iteration methods"): the buffer is a velocity that accumulates past gradients, so steps
//! grow along directions where gradients agree and oscillations across a ravine cancel out;
//! with `momentum = 0.9` a constant gradient eventually moves the parameter ten times as far
//! per step as plain SGD.
//!
//! *Nesterov's accelerated gradient as look-ahead* (Nesterov, 1983; Sutskever et al., 2013,
//! "On the importance of initialization and momentum in deep learning"): evaluate the gradient
//! where the momentum is about to carry the parameter, `v <- mu*v - lr*grad(p + mu*v)`,
//! `p <- p + v`, so the velocity is corrected before it overshoots. PyTorch (and nabla)
//! reparametrise this to use the gradient at the current point: with the shifted variable
//! `p' = p + mu*v` the same iteration becomes `b <- mu*b + g`, `p' <- p' - lr*(g + mu*b)`,
//! which is the `nesterov` branch above. The stored parameter is the look-ahead point itself.
//!
//! # Hyper-parameters (PyTorch's names and defaults)
//! `lr = 1e-3`, `momentum = 0`, `dampening = 0`, `weight_decay = 0` (L2), `nesterov = false`
//! (needs `momentum > 0` and `dampening = 0`), `maximize = false`.
//! Aliases: `momentum` (`momentum = 0.9`), `nag` and `nesterov` (`momentum = 0.9`,
//! `nesterov = true`).

use crate::math::c;
use crate::register_optimizer;
use crate::rule::{Update, UpdateRule};
use crate::shared_keys::L2DecayKeys;
use nabla_registry::{Alias, Const, HyperParams};
use nabla_tensor::ndarray::Zip;
use nabla_tensor::Element;

/// SGD's hyper-parameters (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, HyperParams)]
#[hyper(check = Self::check)]
pub struct Sgd {
    /// learning rate
    #[param(default = 1e-3, range = NON_NEGATIVE)]
    pub lr: f64,
    /// momentum factor (0: plain SGD; below 1, as a momentum of 1 or more never forgets a
    /// gradient and diverges)
    #[param(default = 0.0, range = UNIT_HALF_OPEN)]
    pub momentum: f64,
    /// dampening of the gradient in the momentum buffer
    #[param(default = 0.0)]
    pub dampening: f64,
    /// Nesterov momentum (needs momentum > 0, dampening = 0)
    #[param(default = false)]
    pub nesterov: bool,
    /// `weight_decay` (L2), `maximize`
    #[param(flatten)]
    pub decay: L2DecayKeys,
}

impl Sgd {
    fn check(&self) -> Result<(), String> {
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(format!(
                "Nesterov momentum requires momentum > 0 and dampening = 0 (got momentum = {}, dampening = {})",
                self.momentum, self.dampening
            ));
        }
        Ok(())
    }
}

impl UpdateRule for Sgd {
    fn buffers(&self) -> &'static [&'static str] {
        if self.momentum != 0.0 {
            &["momentum_buffer"]
        } else {
            &[]
        }
    }

    fn update<T: Element>(&self, Update { hyper, state, value, grad }: Update<'_, T>) {
        let decay = self.decay.decay::<T>(hyper);
        let lr: T = c(hyper.lr);
        let [buf] = state.buffers else {
            Zip::from(value).and(grad).for_each(|p, &g| {
                let g = decay.apply(p, g);
                *p = *p - lr * g;
            });
            return;
        };
        let mu: T = c(self.momentum);
        let take: T = c(1.0 - self.dampening);
        // At t = 1 the buffer is the gradient itself (no dampening).
        let first = state.step == 1;
        let nesterov = self.nesterov;
        Zip::from(value).and(grad).and(buf).for_each(|p, &g, b| {
            let g = decay.apply(p, g);
            *b = if first { g } else { *b * mu + take * g };
            let d = if nesterov { g + mu * *b } else { *b };
            *p = *p - lr * d;
        });
    }
}

register_optimizer!(Sgd,
    name: "sgd",
    aliases: [
        Alias::with_presets("momentum", &[("momentum", Const::Float(0.9))]),
        Alias::with_presets("nag", &[("momentum", Const::Float(0.9)), ("nesterov", Const::Bool(true))]),
        Alias::with_presets("nesterov", &[("momentum", Const::Float(0.9)), ("nesterov", Const::Bool(true))]),
    ],
    summary: "stochastic gradient descent, optionally with (Nesterov) momentum",
);

#[cfg(test)]
mod tests {
    use crate::testing::{build_optimizer, OneParam};

    #[test]
    fn momentum_by_hand() {
        let mut run = OneParam::new("sgd:lr=0.1,momentum=0.5,dampening=0.5", &[1.0]);
        run.step(&[2.0]);
        assert_eq!(run.value[0], 1.0 - 0.1 * 2.0); // b = g on the first step
        run.step(&[2.0]);
        // b = 0.5*2 + 0.5*2 = 2
        assert!((run.value[0] - (0.8 - 0.2)).abs() < 1e-15);
    }

    #[test]
    fn nesterov_by_hand_and_aliases() {
        let run = OneParam::after("nag:lr=0.1", &[0.0], [[1.0]]);
        assert_eq!(run.optimizer.name(), "sgd");
        // b = 1, d = 1 + 0.9 * 1
        assert!((run.value[0] + 0.19).abs() < 1e-15);
        assert!(build_optimizer::<f64>("sgd:nesterov=true").is_err());
        assert!(build_optimizer::<f64>("nesterov:dampening=0.1").is_err());
        assert!(build_optimizer::<f32>("momentum").is_ok());
    }
}
