//! `batchnorm`: batch normalization lowers the test loss and raises the test accuracy of the
//! MLP.
//!
//! The same ReLU MLP with and without `batch_norm1d` between each hidden Linear and its
//! activation, trained with plain SGD at the same learning rate. Measured: test loss and
//! accuracy per epoch, and — on a fixed probe batch of held-out images, in evaluation mode —
//! the mean and standard deviation of the input to the last hidden layer's activation over
//! training (the distribution whose drift Ioffe and Szegedy call internal covariate shift).

use crate::plot::{Figure, Legend, LinePanel, Panel, Series};
use crate::report::{push_figure, push_table_section};
use crate::runner::{each_epoch, each_step, head, mean_std, probe, Ctx, Mlp, RunSize, Setup};
use crate::stats::{band, last_values, Spread};
use crate::{Budget, ExperimentError, Outcome, Verdict};
use nabla_train::{TrainError, Trainer};

struct Plan {
    size: RunSize,
    hidden: Vec<usize>,
    probe: usize,
    probe_points: usize,
}

/// Plain SGD at the same learning rate with and without batch normalization.
const OPTIMIZER: &str = "sgd:lr=0.01";

fn plan(budget: Budget) -> Plan {
    let (limit_train, limit_test, hidden, epochs, batch_size, probe, probe_points) = match budget {
        Budget::Full => (20_000, 10_000, vec![512, 256], 10, 64, 1000, 40),
        Budget::Quick => (2000, 1000, vec![128, 64], 3, 32, 250, 15),
        Budget::Smoke => (160, 100, vec![32, 16], 2, 32, 50, 5),
    };
    Plan { size: RunSize { limit_train, limit_test, epochs, batch_size }, hidden, probe, probe_points }
}

/// Per-seed measurements of one setting.
#[derive(Default)]
struct Runs {
    test_loss: Vec<Vec<f64>>,
    test_acc: Vec<Vec<f64>>,
    pre_mean: Vec<Vec<f64>>,
    pre_std: Vec<Vec<f64>>,
}

pub(crate) fn run(ctx: &Ctx) -> Result<Outcome, ExperimentError> {
    let plan = plan(ctx.budget());
    let Setup { data, seeds, total, .. } = ctx.setup(&plan.size)?;
    let test = &data.splits.test;
    let every = (total / plan.probe_points).max(1) as u64;
    let (px, _) = head(test, plan.probe);

    let settings = [false, true];
    let mut results: Vec<Runs> = Vec::new();
    for bn in settings {
        let mut runs = Runs::default();
        for &seed in &seeds {
            let mut mlp = Mlp::new(plan.hidden.clone(), "relu", "he_uniform");
            mlp.batch_norm = bn;
            let label = format!("{} seed {seed}", if bn { "with BN" } else { "without BN" });
            let mut s = ctx.session(&label, &mlp, OPTIMIZER, &data, &plan.size, seed)?;
            // The input of the last hidden activation.
            let target = s
                .trainer
                .model()
                .iter()
                .enumerate()
                .filter(|(_, c)| c.name() == "relu")
                .map(|(i, _)| i)
                .last()
                .and_then(|i| i.checked_sub(1))
                .ok_or_else(|| ExperimentError::probe("batchnorm", "the model has no hidden activation"))?;
            let mut means = Vec::new();
            let mut stds = Vec::new();
            let record = |t: &mut Trainer, means: &mut Vec<f64>, stds: &mut Vec<f64>| {
                let mut stat = None;
                probe(t, &px, true, &mut |i, _, out| {
                    if i == target {
                        stat = Some(mean_std(out));
                    }
                })?;
                if let Some((m, sd)) = stat {
                    means.push(m);
                    stds.push(sd);
                }
                Ok::<(), TrainError>(())
            };
            record(&mut s.trainer, &mut means, &mut stds).map_err(|e| s.error(e))?;
            let mut bar = ctx.bar(&label, total as u64);
            let (mut tl, mut ta) = (Vec::new(), Vec::new());
            let mut probe_every = each_step(|t, step| {
                if step.step % every == 0 {
                    record(t, &mut means, &mut stds)?;
                }
                Ok(())
            });
            let mut per_epoch = each_epoch(|_, m| {
                tl.push(m.test_loss);
                ta.push(m.test_accuracy);
                Ok(())
            });
            s.run(&mut bar, &mut [&mut probe_every, &mut per_epoch])?;
            bar.finish(&format!(
                "test loss {:.4} accuracy {}",
                tl.last().copied().unwrap_or(f64::NAN),
                crate::pct(ta.last().copied().unwrap_or(f64::NAN))
            ));
            runs.test_loss.push(tl);
            runs.test_acc.push(ta);
            runs.pre_mean.push(means);
            runs.pre_std.push(stds);
        }
        results.push(runs);
    }

    let names = ["without BatchNorm", "with BatchNorm"];
    // Figure 1: test loss and accuracy per epoch.
    let xs: Vec<f64> = (1..=plan.size.epochs).map(|e| e as f64).collect();
    let mut loss_panel = LinePanel::new("Test loss per epoch", "epoch", "test loss (cross-entropy, nats)");
    let mut acc_panel = LinePanel::new("Test accuracy per epoch", "epoch", "test accuracy (%)");
    acc_panel.legend = Legend::LowerRight;
    loss_panel.integer_x = true;
    acc_panel.integer_x = true;
    for (i, r) in results.iter().enumerate() {
        loss_panel.series.push(Series::new(names[i], i, band(&xs, &r.test_loss)));
        let pct: Vec<Vec<f64>> = r.test_acc.iter().map(|c| c.iter().map(|a| 100.0 * a).collect()).collect();
        acc_panel.series.push(Series::new(names[i], i, band(&xs, &pct)));
    }
    let (test_path, test_rel) = ctx.figure_path("test");
    Figure::new(
        format!(
            "Batch normalization on {}: test loss and accuracy ({}, mean of {} seed(s), band = min-max)",
            data.params.component(),
            OPTIMIZER,
            seeds.len()
        ),
        vec![Panel::Lines(loss_panel), Panel::Lines(acc_panel)],
        2,
    )
    .save(&test_path)?;

    // Figure 2: pre-activation statistics over training.
    let probe_xs: Vec<f64> = (0..=total / every as usize).map(|k| (k as u64 * every) as f64).collect();
    let mut mean_panel = LinePanel::new(
        "Mean of the last hidden layer's pre-activations",
        "training step",
        "mean (pre-activation units)",
    );
    let mut std_panel = LinePanel::new(
        "Standard deviation of the same pre-activations",
        "training step",
        "standard deviation (pre-activation units)",
    );
    mean_panel.legend = Legend::UpperLeft;
    std_panel.legend = Legend::LowerRight;
    for (i, r) in results.iter().enumerate() {
        mean_panel.series.push(Series::new(names[i], i, band(&probe_xs, &r.pre_mean)));
        std_panel.series.push(Series::new(names[i], i, band(&probe_xs, &r.pre_std)));
    }
    let (pre_path, pre_rel) = ctx.figure_path("preactivations");
    Figure::new(
        format!(
            "Input to the last hidden ReLU over training, on a fixed batch of {} held-out images (training mode)",
            px.nrows()
        ),
        vec![Panel::Lines(mean_panel), Panel::Lines(std_panel)],
        2,
    )
    .save(&pre_path)?;

    // Numbers.
    let n = plan.size.epochs;
    let finals: Vec<(Spread, Spread)> =
        results.iter().map(|r| (last_values(&r.test_loss, n), last_values(&r.test_acc, n))).collect();
    let drift = |curves: &[Vec<f64>]| -> (Spread, Spread, Spread) {
        let first =
            Spread::of(&curves.iter().map(|c| c.first().copied().unwrap_or(f64::NAN)).collect::<Vec<_>>());
        let last =
            Spread::of(&curves.iter().map(|c| c.last().copied().unwrap_or(f64::NAN)).collect::<Vec<_>>());
        // The range swept over training, per seed.
        let range = Spread::of(
            &curves
                .iter()
                .map(|c| {
                    let lo = c.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    hi - lo
                })
                .collect::<Vec<_>>(),
        );
        (first, last, range)
    };
    let mut rows = Vec::new();
    let mut drifts = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let (loss, acc) = finals[i];
        let best = r
            .test_acc
            .iter()
            .map(|c| c.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            .collect::<Vec<_>>();
        let (m0, m1, mr) = drift(&r.pre_mean);
        let (s0, s1, sr) = drift(&r.pre_std);
        rows.push(vec![
            names[i].to_string(),
            loss.pm(1.0, 4),
            acc.pm(100.0, 2),
            format!("{:.2} – {:.2}", 100.0 * acc.min, 100.0 * acc.max),
            Spread::of(&best).pm(100.0, 2),
            format!("{} → {}", fixed3(m0.mean), fixed3(m1.mean)),
            format!("{} → {}", fixed3(s0.mean), fixed3(s1.mean)),
            format!("{:.3}", sr.mean / s0.mean.abs().max(1e-12)),
        ]);
        drifts.push((m0, m1, mr, s0, s1, sr));
    }

    let (plain_loss, plain_acc) = finals[0];
    let (bn_loss, bn_acc) = finals[1];
    let loss_better = bn_loss.is_finite() && (!plain_loss.is_finite() || bn_loss.mean < plain_loss.mean);
    let acc_better = bn_acc.is_finite() && (!plain_acc.is_finite() || bn_acc.mean > plain_acc.mean);
    let separated = bn_loss.entirely_below(&plain_loss) && plain_acc.entirely_below(&bn_acc);
    let verdict = if loss_better && acc_better && separated {
        Verdict::Strong
    } else if loss_better || acc_better {
        Verdict::Weak
    } else {
        Verdict::NotHeld
    };
    let headline = format!(
        "test accuracy {:.2}% → {:.2}% and test loss {:.4} → {:.4} with BatchNorm",
        100.0 * plain_acc.mean,
        100.0 * bn_acc.mean,
        plain_loss.mean,
        bn_loss.mean
    );
    let (p_m0, p_m1, _, p_s0, p_s1, p_sr) = drifts[0];
    let (b_m0, b_m1, _, b_s0, b_s1, b_sr) = drifts[1];
    let mut discussion = format!(
        "After {} epochs of `{}` the network without batch normalization reaches {:.2}% test accuracy at a \
         test loss of {:.4}; with batch normalization {:.2}% at {:.4} ({:+.2} accuracy points, test loss \
         {:+.1}%). ",
        plan.size.epochs,
        OPTIMIZER,
        100.0 * plain_acc.mean,
        plain_loss.mean,
        100.0 * bn_acc.mean,
        bn_loss.mean,
        100.0 * (bn_acc.mean - plain_acc.mean),
        100.0 * (bn_loss.mean - plain_loss.mean) / plain_loss.mean.max(1e-12)
    );
    discussion.push_str(&match verdict {
        Verdict::Strong => {
            "The claim held clearly: every seed with batch normalization ended with a lower test loss and a \
                            higher test accuracy than every seed without it. "
                .to_string()
        }
        Verdict::Weak => format!(
            "The claim held only weakly: {}. ",
            match (loss_better, acc_better) {
                (true, true) => "both numbers improved on average, but the ranges over seeds overlap",
                (true, false) =>
                    "the test loss is lower with batch normalization but the accuracy is not higher",
                _ => "the accuracy is higher with batch normalization but the test loss is not lower",
            }
        ),
        Verdict::NotHeld => {
            "The claim did not hold here: neither the test loss nor the test accuracy improved with batch \
                             normalization. "
                .to_string()
        }
    });
    discussion.push_str(&format!(
        "The distribution of the pre-activations tells why: without batch normalization their mean moved \
         from {} to {} and their standard deviation from {} to {} over training (the std swept a \
         range of {:.0}% of its initial value), so every later layer kept receiving inputs on a changing scale; \
         with batch normalization the mean went from {} to {} and the std from {} to {} (a range of \
         {:.0}%).",
        fixed3(p_m0.mean),
        fixed3(p_m1.mean),
        fixed3(p_s0.mean),
        fixed3(p_s1.mean),
        100.0 * p_sr.mean / p_s0.mean.abs().max(1e-12),
        fixed3(b_m0.mean),
        fixed3(b_m1.mean),
        fixed3(b_s0.mean),
        fixed3(b_s1.mean),
        100.0 * b_sr.mean / b_s0.mean.abs().max(1e-12)
    ));

    let mut body = String::new();
    body.push_str("### Setup\n\n");
    body.push_str(&format!("- Data: {}.\n", data.describe()));
    body.push_str(&format!(
        "- Models: MLP {} with `relu`, `he_uniform` weights, `zeros` biases; with BatchNorm, a `batch_norm1d` \
         (eps 1e-5, momentum 0.1, affine) sits between each hidden `linear` and its `relu`.\n",
        Mlp::new(plan.hidden.clone(), "relu", "he_uniform").shape(&data)
    ));
    body.push_str(&format!(
        "- Training: `{}` for both (the same learning rate), `cross_entropy`, {}, {} seed(s) per setting; \
         test loss and accuracy after every epoch in evaluation mode (BatchNorm uses its running statistics).\n",
        OPTIMIZER,
        plan.size.describe(total),
        seeds.len()
    ));
    body.push_str(&format!(
        "- Pre-activations: the input of the last hidden `relu` (the `linear` output without BatchNorm, the \
         `batch_norm1d` output with it) on a fixed batch of the first {} test images, every {} steps, in \
         training mode as a training step sees it (batch statistics; BatchNorm's running statistics are saved \
         before and restored after each probe, so probing changes nothing); the mean and standard deviation \
         are over all units and images.\n\n",
        px.nrows(),
        every
    ));
    push_figure(&mut body, "Test loss and accuracy with and without BatchNorm", &test_rel);
    push_figure(&mut body, "Pre-activation mean and std over training", &pre_rel);
    push_table_section(
        &mut body,
        &format!("Final numbers (after epoch {}; mean ± std over seeds)", plan.size.epochs),
        &[
            "setting",
            "test loss",
            "test accuracy (%)",
            "accuracy range (%)",
            "best-epoch accuracy (%)",
            "pre-activation mean, start → end",
            "pre-activation std, start → end",
            "std range / initial std",
        ],
        &rows,
    );
    Ok(Outcome::new(verdict, headline, body, &discussion, vec![test_path, pre_path]))
}

/// Three decimals, without a sign on zero (`-0.000` is `0.000`).
fn fixed3(x: f64) -> String {
    let s = format!("{x:.3}");
    if s == "-0.000" {
        "0.000".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_has_no_sign() {
        assert_eq!(fixed3(-0.00004), "0.000");
        assert_eq!(fixed3(-0.0123), "-0.012");
    }

    #[test]
    fn every_budget_probes_several_times() {
        for b in [Budget::Full, Budget::Quick, Budget::Smoke] {
            let p = plan(b);
            assert!(
                p.probe_points >= 5 && p.hidden.len() >= 2 && p.size.limit_train >= 2 * p.size.batch_size
            );
        }
    }
}
