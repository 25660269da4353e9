//! `nabla-optim` alone on plain `ndarray` arrays: least-squares regression with gradients
//! computed by hand (no autograd, no layers), with a scheduler, gradient clipping and a
//! checkpoint of the optimizer state in the middle.
//!
//! Run with `cargo run -p nabla-optim --example plain_ndarray`.

use nabla_optim::{clip_grad_norm, Optimizer, ParamMut, Scheduler};
use nabla_tensor::ndarray::{Array1, Array2, Axis};
use nabla_tensor::Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Data: y = X w_true + b_true + noise.
    let mut rng = Rng::seed(42);
    let (n, d) = (256, 8);
    let x: Array2<f64> = rng.normal_array(&[n, d], 0.0, 1.0).into_dimensionality()?;
    let w_true: Array1<f64> = rng.normal_array(&[d], 0.0, 2.0).into_dimensionality()?;
    let b_true = 0.5;
    let noise: Array1<f64> = rng.normal_array(&[n], 0.0, 0.01).into_dimensionality()?;
    let y = x.dot(&w_true) + b_true + noise;

    // Parameters as plain arrays (0-d bias), and their gradient buffers.
    let mut w = Array1::<f64>::zeros(d).into_dyn();
    let mut b = nabla_tensor::ndarray::arr0(0.0f64).into_dyn();

    let mut opt = nabla_registry::build::<dyn Optimizer<f64>>("adam:lr=0.1", ())?.value;
    let mut sched = nabla_registry::build::<dyn Scheduler>(
        "linear_warmup:warmup_steps=10,then=\"cosine:t_max=290\"",
        opt.lr(),
    )?
    .value;
    opt.set_lr(sched.lr());
    for epoch in 0..300 {
        // Loss = mean((X w + b - y)^2); dL/dw = 2/n X^T r, dL/db = 2/n sum(r).
        let w1 = w.view().into_dimensionality::<nabla_tensor::ndarray::Ix1>()?;
        let residual = x.dot(&w1) + b[[]] - &y;
        let loss = residual.mapv(|r| r * r).mean().unwrap_or(0.0);
        let mut grad_w = (x.t().dot(&residual) * (2.0 / n as f64)).into_dyn();
        let mut grad_b = residual.sum_axis(Axis(0)).mapv(|s| s * 2.0 / n as f64).into_dyn();
        let norm = clip_grad_norm(&mut [grad_w.view_mut(), grad_b.view_mut()], 10.0, 2.0, true)?;

        opt.step(&mut [
            ParamMut::new("w", w.view_mut(), Some(grad_w.view())),
            ParamMut::new("b", b.view_mut(), Some(grad_b.view())),
        ])?;
        opt.set_lr(sched.step(None)?);

        if epoch == 150 {
            // Save and restore the optimizer state mid-run (a checkpoint would write these
            // named arrays and scalars to disk).
            let state = opt.state_dict();
            println!("checkpoint: {} arrays, {} scalars", state.arrays.len(), state.scalars.len());
            let mut restored = nabla_registry::build::<dyn Optimizer<f64>>("adam:lr=0.1", ())?.value;
            restored.load_state_dict(&state)?;
            opt = restored;
        }
        if epoch % 50 == 0 || epoch == 299 {
            println!("epoch {epoch:3}: loss {loss:.6}, grad norm {norm:.4}, lr {:.5}", opt.lr());
        }
    }
    let error = (&w - &w_true.into_dyn()).mapv(f64::abs).fold(0.0f64, |a, &e| a.max(e));
    println!("max |w - w_true| = {error:.2e}, b = {:.4} (true {b_true})", b[[]]);
    Ok(())
}
