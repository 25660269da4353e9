//! `dropout`: an MLP with dropout has a lower test error than the same MLP without.
//!
//! A ReLU MLP is trained on a reduced training set (so that without dropout it fits the
//! training images and overfits) with `dropout:p` after every hidden activation, p in
//! {0, 0.2, 0.5}. After every epoch the training error (evaluation mode, on the whole
//! training subset) and the test error are measured. The verdict compares the final test
//! error of the best p > 0 with p = 0, and whether their ranges over seeds overlap.

use crate::plot::{Figure, Legend, LinePanel, Panel, Series};
use crate::report::{push_figure, push_table_section};
use crate::runner::{each_epoch, Ctx, Mlp, RunSize, Setup};
use crate::stats::{band, last_values, Spread};
use crate::{Budget, ExperimentError, Outcome, Verdict};

struct Plan {
    size: RunSize,
    hidden: Vec<usize>,
}

/// The dropout probabilities compared (0: no dropout), the same at every budget.
const DROPOUT_PROBABILITIES: [f64; 3] = [0.0, 0.2, 0.5];

/// One optimizer for every dropout probability, so only it differs.
const OPTIMIZER: &str = "momentum:lr=0.02";

fn plan(budget: Budget) -> Plan {
    let (limit_train, limit_test, hidden, epochs, batch_size) = match budget {
        Budget::Full => (1000, 5000, vec![1024, 1024], 40, 32),
        Budget::Quick => (500, 1000, vec![256, 256], 12, 32),
        Budget::Smoke => (160, 100, vec![32, 32], 3, 32),
    };
    Plan { size: RunSize { limit_train, limit_test, epochs, batch_size }, hidden }
}

/// Per-seed curves of one setting, one value per epoch.
#[derive(Default)]
struct Curves {
    train_error: Vec<Vec<f64>>,
    test_error: Vec<Vec<f64>>,
    test_loss: Vec<Vec<f64>>,
}

pub(crate) fn run(ctx: &Ctx) -> Result<Outcome, ExperimentError> {
    let plan = plan(ctx.budget());
    let Setup { data, seeds, total: steps, .. } = ctx.setup(&plan.size)?;
    let train = &data.splits.train;
    let mut settings: Vec<Curves> = Vec::new();
    for &p in &DROPOUT_PROBABILITIES {
        let mut curves = Curves::default();
        for &seed in &seeds {
            let mut mlp = Mlp::new(plan.hidden.clone(), "relu", "he_uniform");
            mlp.dropout = p;
            let label = format!("p={p} seed {seed}");
            let mut s = ctx.session(&label, &mlp, OPTIMIZER, &data, &plan.size, seed)?;
            let mut bar = ctx.bar(&label, steps as u64);
            let (mut tr, mut te, mut tl) = (Vec::new(), Vec::new(), Vec::new());
            // After every epoch: the trainer's test metrics, and the error on the whole
            // training subset in evaluation mode.
            let mut per_epoch = each_epoch(|t, m| {
                let (_, train_acc) = t.evaluate_on(train)?;
                tr.push(1.0 - train_acc);
                te.push(1.0 - m.test_accuracy);
                tl.push(m.test_loss);
                Ok(())
            });
            s.run(&mut bar, &mut [&mut per_epoch])?;
            bar.finish(&format!(
                "train error {} test error {}",
                crate::pct(tr.last().copied().unwrap_or(f64::NAN)),
                crate::pct(te.last().copied().unwrap_or(f64::NAN))
            ));
            curves.train_error.push(tr);
            curves.test_error.push(te);
            curves.test_loss.push(tl);
        }
        settings.push(curves);
    }

    // Figures.
    let xs: Vec<f64> = (1..=plan.size.epochs).map(|e| e as f64).collect();
    let pct_curves = |c: &[Vec<f64>]| -> Vec<Vec<f64>> {
        c.iter().map(|v| v.iter().map(|x| 100.0 * x).collect()).collect()
    };
    let mut test_panel = LinePanel::new("Test error per epoch", "epoch", "test error (%)");
    let mut train_panel =
        LinePanel::new("Training error per epoch (evaluation mode)", "epoch", "training error (%)");
    let mut loss_panel = LinePanel::new("Test loss per epoch", "epoch", "test loss (cross-entropy, nats)");
    test_panel.legend = Legend::UpperRight;
    train_panel.legend = Legend::UpperRight;
    loss_panel.legend = Legend::UpperLeft;
    for p in [&mut test_panel, &mut train_panel, &mut loss_panel] {
        p.integer_x = true;
    }
    for (i, (p, c)) in DROPOUT_PROBABILITIES.iter().zip(&settings).enumerate() {
        let name = format!("dropout p = {p}");
        test_panel.series.push(Series::new(&name, i, band(&xs, &pct_curves(&c.test_error))));
        train_panel.series.push(Series::new(&name, i, band(&xs, &pct_curves(&c.train_error))));
        loss_panel.series.push(Series::new(&name, i, band(&xs, &c.test_loss)));
    }
    let (path, rel) = ctx.figure_path("error");
    Figure::new(
        format!(
            "Dropout on {}: error per epoch (mean of {} seed(s), band = min-max)",
            data.params.component(),
            seeds.len()
        ),
        vec![Panel::Lines(test_panel), Panel::Lines(train_panel), Panel::Lines(loss_panel)],
        3,
    )
    .save(&path)?;

    // Numbers.
    let n = plan.size.epochs;
    let finals: Vec<(Spread, Spread, Spread)> = settings
        .iter()
        .map(|c| {
            (last_values(&c.train_error, n), last_values(&c.test_error, n), last_values(&c.test_loss, n))
        })
        .collect();
    let rows: Vec<Vec<String>> = DROPOUT_PROBABILITIES
        .iter()
        .zip(&settings)
        .zip(&finals)
        .map(|((p, c), (tr, te, tl))| {
            let best = best_epoch(&c.test_error);
            vec![
                format!("{p}"),
                tr.pm(100.0, 2),
                te.pm(100.0, 2),
                format!("{:.2} – {:.2}", 100.0 * te.min, 100.0 * te.max),
                best.map(|(e, v)| format!("{:.2} (epoch {e})", 100.0 * v)).unwrap_or_else(|| "n/a".into()),
                format!("{:.2}", 100.0 * (te.mean - tr.mean)),
                tl.pm(1.0, 3),
            ]
        })
        .collect();

    let base = finals[0].1;
    let (best_i, best) = finals
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, f)| f.1.is_finite())
        .min_by(|a, b| a.1 .1.mean.total_cmp(&b.1 .1.mean))
        .map(|(i, f)| (i, f.1))
        .unwrap_or((0, base));
    let delta = base.mean - best.mean;
    let verdict = if best_i > 0 && delta > 0.0 && best.entirely_below(&base) {
        Verdict::Strong
    } else if best_i > 0 && delta > 0.0 {
        Verdict::Weak
    } else {
        Verdict::NotHeld
    };
    let best_p = DROPOUT_PROBABILITIES[best_i];
    let headline = format!(
        "test error {:.2}% without dropout vs {:.2}% with p = {best_p} ({:+.2} points)",
        100.0 * base.mean,
        100.0 * best.mean,
        -100.0 * delta
    );

    let gap0 = finals[0].1.mean - finals[0].0.mean;
    let gap_best = best.mean - finals[best_i].0.mean;
    let mut discussion = format!(
        "Without dropout the network ends at a training error of {:.2}% and a test error of {:.2}%: a \
         generalization gap of {:.2} points on {} training images. ",
        100.0 * finals[0].0.mean,
        100.0 * base.mean,
        100.0 * gap0,
        data.splits.train.len()
    );
    for (p, f) in DROPOUT_PROBABILITIES.iter().zip(&finals).skip(1) {
        discussion.push_str(&format!(
            "With p = {p} the final test error is {:.2}% ({:+.2} points, {:+.1}% relative). ",
            100.0 * f.1.mean,
            100.0 * (f.1.mean - base.mean),
            100.0 * (f.1.mean - base.mean) / base.mean.max(1e-12)
        ));
    }
    discussion.push_str(&match verdict {
        Verdict::Strong => format!(
            "The claim held clearly: with p = {best_p} every seed ended below every seed without dropout \
             (worst {:.2}% vs best {:.2}%), and the gap between test and training error shrank from {:.2} to \
             {:.2} points.",
            100.0 * best.max,
            100.0 * base.min,
            100.0 * gap0,
            100.0 * gap_best
        ),
        Verdict::Weak => format!(
            "The claim held only weakly: the mean test error with p = {best_p} is lower, but the ranges over \
             seeds overlap (p = {best_p}: {:.2}–{:.2}%, p = 0: {:.2}–{:.2}%), so the difference is within the \
             seed-to-seed spread.",
            100.0 * best.min,
            100.0 * best.max,
            100.0 * base.min,
            100.0 * base.max
        ),
        Verdict::NotHeld => "The claim did not hold here: no dropout rate ended with a lower mean test error \
                             than the plain network."
            .to_string(),
    });

    let mut body = String::new();
    body.push_str("### Setup\n\n");
    body.push_str(&format!(
        "- Data: {}. The training set is reduced on purpose so that the plain network overfits.\n",
        data.describe()
    ));
    body.push_str(&format!(
        "- Model: MLP {} with `relu`, `he_uniform` weights and `zeros` biases; `dropout:p=P` after every \
         hidden activation, P in {{{}}}.\n",
        Mlp::new(plan.hidden.clone(), "relu", "he_uniform").shape(&data),
        DROPOUT_PROBABILITIES.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
    ));
    body.push_str(&format!(
        "- Training: `{}` (SGD with momentum 0.9, as in Srivastava et al. 2014), `cross_entropy`, {}, {} \
         seed(s) per setting.\n",
        OPTIMIZER,
        plan.size.describe(steps),
        seeds.len()
    ));
    body.push_str(
        "- Measured after every epoch in evaluation mode (dropout off): error on the whole training subset \
         and on the test subset.\n\n",
    );
    push_figure(&mut body, "Dropout: test and training error per epoch", &rel);
    push_table_section(
        &mut body,
        &format!("Final numbers (after epoch {}; mean ± std over seeds)", plan.size.epochs),
        &[
            "dropout p",
            "training error (%)",
            "test error (%)",
            "test error range (%)",
            "best mean test error (%)",
            "gap test − train (points)",
            "test loss",
        ],
        &rows,
    );
    Ok(Outcome::new(verdict, headline, body, &discussion, vec![path]))
}

/// The epoch (from 1) with the lowest mean over seeds, and that mean.
fn best_epoch(curves: &[Vec<f64>]) -> Option<(usize, f64)> {
    let len = curves.iter().map(Vec::len).max().unwrap_or(0);
    (0..len)
        .filter_map(|i| {
            let s = Spread::of(&curves.iter().filter_map(|c| c.get(i).copied()).collect::<Vec<_>>());
            s.is_finite().then_some((i + 1, s.mean))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_epoch_is_the_lowest_mean() {
        assert_eq!(best_epoch(&[vec![0.5, 0.2, 0.3], vec![0.5, 0.4, 0.1]]), Some((3, 0.2)));
        assert_eq!(best_epoch(&[]), None);
    }

    #[test]
    fn every_budget_has_at_least_two_batches() {
        for b in [Budget::Full, Budget::Quick, Budget::Smoke] {
            let p = plan(b);
            assert!(p.size.limit_train >= 2 * p.size.batch_size);
        }
    }
}
