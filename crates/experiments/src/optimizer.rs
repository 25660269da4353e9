//! `optimizer`: every registered optimizer, compared fairly.
//!
//! The optimizers are taken from the registry — every record, plus every alias that presets
//! hyper-parameters (`momentum`, `nag`) — so a plugin linked into the binary is compared too.
//! Each one's learning rate is chosen by a small sweep: a grid of decades, extended by one
//! decade when the best value sits at an edge, then refined by √10 on both sides of the best,
//! each candidate trained on the training part of the data and scored on a validation split
//! carved from the training data (never on the test set). Then every optimizer is trained
//! with its chosen learning rate and several seeds: training-loss curves and test accuracy.

use crate::activation::sci;
use crate::plot::{Bar, BarPanel, Figure, Legend, LinePanel, Panel, Series};
use crate::report::{push_figure, push_table_section};
use crate::runner::{Ctx, Data, Mlp, RunSize, Session};
use crate::stats::{band, bin, BandPoint, Spread};
use crate::{Budget, ExperimentError, Outcome, Verdict};
use nabla_data::DataSplits;
use nabla_registry::RawParams;

struct Plan {
    size: RunSize,
    hidden: Vec<usize>,
    grid: Vec<f64>,
    extend: bool,
    refine: bool,
}

/// The share of the training data carved off to score the learning-rate sweep.
const VAL_FRACTION: f64 = 0.2;

fn plan(budget: Budget) -> Plan {
    let decades = vec![1e-4, 1e-3, 1e-2, 1e-1, 1.0];
    let (limit_train, limit_test, hidden, epochs, batch_size, grid, extend, refine) = match budget {
        Budget::Full => (20_000, 10_000, vec![256, 128], 5, 64, decades, true, true),
        Budget::Quick => (2000, 1000, vec![64], 2, 32, decades, false, false),
        Budget::Smoke => (200, 60, vec![16], 1, 32, vec![1e-2, 1.0], false, false),
    };
    Plan { size: RunSize { limit_train, limit_test, epochs, batch_size }, hidden, grid, extend, refine }
}

/// An optimizer as the experiment names it: a registered name or a preset alias.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Variant {
    /// The name passed to the registry (`adam`, `momentum`, `lion`).
    pub name: String,
    /// Whether the schema has an `lr` to sweep.
    pub has_lr: bool,
    /// The learning rate it would use by default, if any.
    pub default_lr: Option<f64>,
}

/// The textbook's order first; every other registered optimizer after, by name.
const PREFERRED: [&str; 8] = ["sgd", "momentum", "nag", "adagrad", "rmsprop", "adadelta", "adam", "radam"];

/// Every registered optimizer, and every alias with its own presets (`momentum`, `nag`; an
/// alias whose presets equal an earlier one's, such as `nesterov`, is left out).
pub(crate) fn variants() -> Vec<Variant> {
    let mut out = Vec::new();
    for r in nabla_registry::list::<nabla_optim::OptimizerRegistration>() {
        let lr = r.info.params.iter().find(|p| p.name == "lr");
        let default_lr = lr.and_then(|p| p.default.to_value()).and_then(|v| match v {
            nabla_registry::Value::Float(x) => Some(x),
            nabla_registry::Value::Int(i) => Some(i as f64),
            _ => None,
        });
        let base = Variant { name: r.info.name.to_string(), has_lr: lr.is_some(), default_lr };
        out.push(base.clone());
        let mut seen: Vec<RawParams> = Vec::new();
        for alias in r.info.aliases.iter().filter(|a| !a.presets.is_empty()) {
            let presets = alias.preset_params();
            if seen.contains(&presets) {
                continue;
            }
            seen.push(presets);
            out.push(Variant { name: alias.name.to_string(), ..base.clone() });
        }
    }
    let rank = |v: &Variant| PREFERRED.iter().position(|p| *p == v.name).unwrap_or(PREFERRED.len());
    out.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.name.cmp(&b.name)));
    out
}

/// One sweep candidate.
#[derive(Clone, Copy, Debug)]
struct Trial {
    lr: f64,
    val_acc: f64,
    val_loss: f64,
}

/// Higher validation accuracy wins; on a tie, lower validation loss; a diverged run loses.
fn better(a: &Trial, b: &Trial) -> bool {
    let key = |t: &Trial| {
        (
            if t.val_acc.is_finite() { t.val_acc } else { -1.0 },
            if t.val_loss.is_finite() { -t.val_loss } else { f64::NEG_INFINITY },
        )
    };
    key(a) > key(b)
}

/// The learning rates tried for one optimizer and the one chosen.
struct Sweep {
    trials: Vec<Trial>,
    chosen: f64,
}

fn spec(name: &str, lr: Option<f64>) -> String {
    match lr {
        Some(lr) => format!("{name}:lr={lr:e}"),
        None => name.to_string(),
    }
}

/// What one run measured.
struct RunResult {
    /// The loss of every step.
    losses: Vec<f64>,
    /// Loss on the whole training split after training (evaluation mode).
    train_loss: f64,
    /// Loss and accuracy on the split's `test` part (validation or test).
    eval_loss: f64,
    eval_acc: f64,
}

/// Trains one run: per-step losses and, at the end, the loss on the training split and the
/// loss and accuracy on its `test` part. `full_train_loss` evaluates the whole training split.
#[allow(clippy::too_many_arguments)]
fn train(
    ctx: &Ctx,
    label: &str,
    optimizer: &str,
    mlp: &Mlp,
    data: &Data,
    splits: &DataSplits,
    plan: &Plan,
    seed: u64,
    full_train_loss: bool,
) -> Result<RunResult, ExperimentError> {
    let mut s = Session::new(
        format!("optimizer {label}"),
        mlp,
        optimizer,
        data,
        splits.clone(),
        plan.size.batch_size,
        seed,
        plan.size.epochs,
    )?;
    let total = Session::steps_per_epoch(splits.train.len(), plan.size.batch_size) * plan.size.epochs;
    let mut bar = ctx.bar(label, total as u64);
    let run = s.run(&mut bar, &mut [])?;
    let diverged = run.summary.is_none();
    // The trainer evaluates its `test` split (validation or test) after every epoch.
    let (loss, acc) = run.final_test();
    let losses = run.losses;
    let train_loss = if diverged || !full_train_loss { f64::NAN } else { s.evaluate(&splits.train)?.0 };
    bar.finish(&if diverged {
        format!("diverged after {} steps", losses.len())
    } else {
        format!("loss {loss:.4} accuracy {}", crate::pct(acc))
    });
    Ok(RunResult { losses, train_loss, eval_loss: loss, eval_acc: acc })
}

fn sweep(
    ctx: &Ctx,
    plan: &Plan,
    v: &Variant,
    mlp: &Mlp,
    data: &Data,
    sweep_splits: &DataSplits,
    seed: u64,
) -> Result<Sweep, ExperimentError> {
    if !v.has_lr {
        return Ok(Sweep { trials: Vec::new(), chosen: f64::NAN });
    }
    let mut trials: Vec<Trial> = Vec::new();
    let try_lr = |lr: f64, trials: &mut Vec<Trial>| -> Result<(), ExperimentError> {
        if trials.iter().any(|t| (t.lr / lr - 1.0).abs() < 1e-9) {
            return Ok(());
        }
        let label = format!("sweep {} lr={lr:e}", v.name);
        let r = train(ctx, &label, &spec(&v.name, Some(lr)), mlp, data, sweep_splits, plan, seed, false)?;
        trials.push(Trial { lr, val_acc: r.eval_acc, val_loss: r.eval_loss });
        Ok(())
    };
    let best_of = |trials: &[Trial]| -> Trial {
        let mut best = trials[0];
        for t in &trials[1..] {
            if better(t, &best) {
                best = *t;
            }
        }
        best
    };
    for &lr in &plan.grid {
        try_lr(lr, &mut trials)?;
    }
    if plan.extend {
        let lo = plan.grid.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = plan.grid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let best = best_of(&trials);
        if best.lr == lo {
            try_lr(lo / 10.0, &mut trials)?;
        } else if best.lr == hi {
            try_lr(hi * 10.0, &mut trials)?;
        }
    }
    if plan.refine {
        let best = best_of(&trials);
        let r = 10f64.sqrt();
        try_lr(best.lr / r, &mut trials)?;
        try_lr(best.lr * r, &mut trials)?;
    }
    trials.sort_by(|a, b| a.lr.total_cmp(&b.lr));
    let chosen = best_of(&trials).lr;
    Ok(Sweep { trials, chosen })
}

/// Per-seed final runs of one optimizer.
#[derive(Default)]
struct Runs {
    losses: Vec<Vec<f64>>,
    train_loss: Vec<f64>,
    test_acc: Vec<f64>,
    test_loss: Vec<f64>,
}

pub(crate) fn run(ctx: &Ctx) -> Result<Outcome, ExperimentError> {
    let plan = plan(ctx.budget());
    let data = ctx.load(plan.size.limit_train, plan.size.limit_test)?;
    let seeds = ctx.seeds();
    let carved = nabla_data::stratified_split(&data.splits.train, VAL_FRACTION, 0)
        .map_err(|source| ExperimentError::data("optimizer: validation split", source))?;
    // Sweep: train on the training part, score on the validation part.
    let sweep_splits =
        DataSplits { train: carved.train.clone(), test: carved.test.clone(), ..data.splits.clone() };
    // Final runs: the same training part, scored on the test split.
    let final_splits =
        DataSplits { train: carved.train.clone(), test: data.splits.test.clone(), ..data.splits.clone() };
    let mlp = Mlp::new(plan.hidden.clone(), "relu", "he_uniform");
    let vs = variants();

    let mut sweeps = Vec::new();
    let mut results = Vec::new();
    for v in &vs {
        let sw = sweep(ctx, &plan, v, &mlp, &data, &sweep_splits, seeds[0])?;
        let lr = v.has_lr.then_some(sw.chosen);
        let mut runs = Runs::default();
        for &seed in &seeds {
            let label = format!("{} seed {seed}", spec(&v.name, lr));
            let r = train(ctx, &label, &spec(&v.name, lr), &mlp, &data, &final_splits, &plan, seed, true)?;
            runs.losses.push(r.losses);
            runs.train_loss.push(r.train_loss);
            runs.test_loss.push(r.eval_loss);
            runs.test_acc.push(r.eval_acc);
        }
        sweeps.push(sw);
        results.push(runs);
    }

    let per_epoch = Session::steps_per_epoch(final_splits.train.len(), plan.size.batch_size);
    let total = per_epoch * plan.size.epochs;
    // "Trains faster": the loss on the whole training split after the same number of steps.
    let finals: Vec<Spread> = results.iter().map(|r| Spread::of(&r.train_loss)).collect();
    let curve_mean: Vec<Spread> = results
        .iter()
        .map(|r| {
            Spread::of(
                &r.losses
                    .iter()
                    .map(|l| if l.len() == total { l.iter().sum::<f64>() / total as f64 } else { f64::NAN })
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let accs: Vec<Spread> = results.iter().map(|r| Spread::of(&r.test_acc)).collect();

    // Figure 1: training loss, in panels of a few optimizers each (plain SGD in every panel
    // as the reference).
    let width = (total / 50).max(1);
    let (_, ends) = bin(&vec![0.0; total], width);
    let xs: Vec<f64> = ends.iter().map(|e| e / per_epoch as f64).collect();
    let sgd_index = vs.iter().position(|v| v.name == "sgd");
    let groups: Vec<(String, Vec<usize>)> = {
        let named = |names: &[&str]| -> Vec<usize> {
            names.iter().filter_map(|n| vs.iter().position(|v| v.name == *n)).collect()
        };
        let first = named(&["sgd", "momentum", "nag", "adagrad"]);
        let second = named(&["rmsprop", "adadelta", "adam", "radam"]);
        let rest: Vec<usize> = (0..vs.len()).filter(|i| !first.contains(i) && !second.contains(i)).collect();
        vec![
            ("SGD, Momentum, NAG, Adagrad".to_string(), first),
            ("RMSprop, Adadelta, Adam, RAdam".to_string(), second),
            ("Every other registered optimizer".to_string(), rest),
        ]
        .into_iter()
        .filter(|(_, g)| !g.is_empty())
        .collect()
    };
    let mut loss_panels = Vec::new();
    for (title, group) in &groups {
        let mut p = LinePanel::new(title.clone(), "epoch", "training loss (cross-entropy, nats; log scale)");
        p.log_y = true;
        let mut members = group.clone();
        if let Some(sgd) = sgd_index.filter(|i| !members.contains(i)) {
            members.insert(0, sgd);
        }
        for &i in &members {
            let binned: Vec<Vec<f64>> = results[i].losses.iter().map(|l| bin(l, width).0).collect();
            let label = format!("{} (lr {})", vs[i].name, lr_text(&vs[i], &sweeps[i]));
            let s = Series::new(label, i, band(&xs, &binned));
            p.series.push(if Some(i) == sgd_index && !group.contains(&i) { s.dashed() } else { s });
        }
        loss_panels.push(Panel::Lines(p));
    }
    let (loss_path, loss_rel) = ctx.figure_path("loss");
    let columns = loss_panels.len();
    Figure::new(
        format!(
            "Optimizers on {}: training loss at each one's swept learning rate (MLP {}, mean of {} seed(s), band = min-max)",
            data.params.component(),
            mlp.shape(&data),
            seeds.len()
        ),
        loss_panels,
        columns,
    )
    .save(&loss_path)?;

    // Figure 2: test accuracy and the sweep.
    let mut order: Vec<usize> = (0..vs.len()).collect();
    order.sort_by(|&a, &b| accs[b].mean.total_cmp(&accs[a].mean));
    let bars = BarPanel {
        title: "Test accuracy after training (whiskers: min-max over seeds)".into(),
        value_label: "test accuracy (%)".into(),
        bars: order
            .iter()
            .map(|&i| Bar {
                label: vs[i].name.clone(),
                mean: 100.0 * accs[i].mean,
                lo: 100.0 * accs[i].min,
                hi: 100.0 * accs[i].max,
                color: i,
            })
            .collect(),
    };
    let mut sweep_panel = LinePanel::new(
        "Learning-rate sweep (one seed, validation split)",
        "learning rate (log scale)",
        "validation accuracy (%)",
    );
    sweep_panel.log_x = true;
    sweep_panel.legend = Legend::LowerLeft;
    for (i, (v, sw)) in vs.iter().zip(&sweeps).enumerate() {
        let pts: Vec<BandPoint> = sw
            .trials
            .iter()
            .filter(|t| t.val_acc.is_finite())
            .map(|t| BandPoint {
                x: t.lr,
                mean: 100.0 * t.val_acc,
                lo: 100.0 * t.val_acc,
                hi: 100.0 * t.val_acc,
            })
            .collect();
        let s = Series::new(v.name.clone(), i, pts).markers();
        sweep_panel.series.push(if i >= 10 { s.dashed() } else { s });
    }
    let (acc_path, acc_rel) = ctx.figure_path("accuracy");
    let mut fig = Figure::new(
        format!("Optimizers on {}: test accuracy and the learning-rate sweep", data.params.component()),
        vec![Panel::Bars(bars), Panel::Lines(sweep_panel)],
        2,
    );
    fig.panel_size = (620, 520);
    fig.save(&acc_path)?;

    // Table.
    let rows: Vec<Vec<String>> = vs
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let sw = &sweeps[i];
            let chosen = sw.trials.iter().find(|t| t.lr == sw.chosen);
            vec![
                format!("`{}`", v.name),
                sw.trials.iter().map(|t| sci(t.lr)).collect::<Vec<_>>().join(", "),
                lr_text(v, sw),
                chosen.map(|t| crate::pct(t.val_acc)).unwrap_or_else(|| "n/a".into()),
                curve_mean[i].pm(1.0, 4),
                finals[i].pm(1.0, 4),
                accs[i].pm(100.0, 2),
                format!("{:.2} – {:.2}", 100.0 * accs[i].min, 100.0 * accs[i].max),
            ]
        })
        .collect();

    // Verdict: Momentum, NAG and Adam against plain SGD, on two measures of training speed: the
    // mean mini-batch loss over the whole run (how fast the loss came down) and the loss on
    // the whole training split at the end (how far training got).
    let find = |n: &str| vs.iter().position(|v| v.name == n);
    let others: Vec<usize> = vs
        .iter()
        .enumerate()
        .filter(|(_, v)| !["sgd", "momentum", "nag"].contains(&v.name.as_str()))
        .map(|(i, _)| i)
        .collect();
    let (verdict, headline, discussion) = match (find("sgd"), find("momentum"), find("nag"), find("adam")) {
        (Some(sgd), Some(mom), Some(nag), Some(adam)) => {
            let below =
                |m: &[Spread], i: usize| m[i].is_finite() && (!m[sgd].is_finite() || m[i].mean < m[sgd].mean);
            let clearly =
                |m: &[Spread], i: usize| m[i].entirely_below(&m[sgd]) || (below(m, i) && !m[sgd].is_finite());
            let contenders = [("Momentum", mom), ("NAG", nag), ("Adam", adam)];
            let metrics: [&[Spread]; 2] = [&curve_mean, &finals];
            let all_clear = metrics.iter().all(|m| contenders.iter().all(|&(_, i)| clearly(m, i)));
            let any_below = metrics.iter().any(|m| contenders.iter().any(|&(_, i)| below(m, i)));
            let verdict = if all_clear {
                Verdict::Strong
            } else if any_below {
                Verdict::Weak
            } else {
                Verdict::NotHeld
            };
            let best_acc = order[0];
            let worst_acc = *order.last().unwrap_or(&0);
            let four = |m: &[Spread]| {
                format!("{:.3} / {:.3} / {:.3} / {:.3}", m[sgd].mean, m[mom].mean, m[nag].mean, m[adam].mean)
            };
            let headline = format!(
                "SGD / Momentum / NAG / Adam: mean training loss over the run {}, final training loss {}; test accuracy {:.2}% ({}) to {:.2}% ({})",
                four(&curve_mean),
                four(&finals),
                100.0 * accs[best_acc].mean,
                vs[best_acc].name,
                100.0 * accs[worst_acc].mean,
                vs[worst_acc].name
            );
            let lr = |i: usize| lr_text(&vs[i], &sweeps[i]);
            let mut d = format!(
                "Each optimizer ran at the learning rate its sweep chose: SGD {}, Momentum {}, NAG {}, Adam {}. How \
                 fast the loss came down — the mean mini-batch loss over all {} steps — is {:.4} for plain SGD, {:.4} \
                 for Momentum, {:.4} for NAG and {:.4} for Adam. How far training got — the loss on the whole \
                 training split after {} epochs — is {:.4}, {:.4}, {:.4} and {:.4}. Of the {} other optimizers ({}), \
                 {} have a lower mean loss over the run than plain SGD and {} a lower final loss. ",
                lr(sgd),
                lr(mom),
                lr(nag),
                lr(adam),
                total,
                curve_mean[sgd].mean,
                curve_mean[mom].mean,
                curve_mean[nag].mean,
                curve_mean[adam].mean,
                plan.size.epochs,
                finals[sgd].mean,
                finals[mom].mean,
                finals[nag].mean,
                finals[adam].mean,
                others.len().saturating_sub(1),
                others.iter().filter(|&&i| i != adam).map(|&i| vs[i].name.as_str()).collect::<Vec<_>>().join(", "),
                others.iter().filter(|&&i| i != adam && below(&curve_mean, i)).count(),
                others.iter().filter(|&&i| i != adam && below(&finals, i)).count()
            );
            d.push_str(&format!(
                "On the test set the tuned optimizers span {:.2}% ({}) to {:.2}% ({}), a spread of {:.2} points. ",
                100.0 * accs[best_acc].mean,
                vs[best_acc].name,
                100.0 * accs[worst_acc].mean,
                vs[worst_acc].name,
                100.0 * (accs[best_acc].mean - accs[worst_acc].mean)
            ));
            // "Momentum, NAG, Adam (all without overlap between seeds)" or "none of the three".
            let part = |m: &[Spread]| -> String {
                let lower: Vec<&str> =
                    contenders.iter().filter(|&&(_, i)| below(m, i)).map(|&(n, _)| n).collect();
                let clear: Vec<&str> =
                    contenders.iter().filter(|&&(_, i)| clearly(m, i)).map(|&(n, _)| n).collect();
                match (lower.len(), clear.len()) {
                    (0, _) => "none of the three".to_string(),
                    (n, c) if c == n => format!("{} (without overlap between seeds)", lower.join(", ")),
                    (_, 0) => format!("{} (within the spread over seeds)", lower.join(", ")),
                    _ => {
                        format!("{} (without overlap between seeds: {})", lower.join(", "), clear.join(", "))
                    }
                }
            };
            d.push_str(&match verdict {
                Verdict::Strong => "The claim held clearly: Momentum, NAG and Adam each bring the loss down faster and end \
                                    lower than plain SGD at its own best learning rate, with no overlap between seeds."
                    .to_string(),
                Verdict::Weak => format!(
                    "The claim held only in part. A lower mean loss over the run than plain SGD: {}. A lower final \
                     training loss: {}.",
                    part(&curve_mean),
                    part(&finals)
                ),
                Verdict::NotHeld => "The claim did not hold here: with tuned learning rates neither the momentum methods nor \
                                     Adam brought the loss down faster or further than plain SGD."
                    .to_string(),
            });
            // How much the sweep mattered for plain SGD: its registered default against its choice.
            let at = |lr: Option<f64>| {
                lr.and_then(|lr| sweeps[sgd].trials.iter().find(|t| (t.lr / lr - 1.0).abs() < 1e-9))
            };
            if let (Some(default), Some(chosen)) = (at(vs[sgd].default_lr), at(Some(sweeps[sgd].chosen))) {
                if default.lr != chosen.lr {
                    d.push_str(&format!(
                        " In the sweep, plain SGD at its registered default learning rate ({}) reached {} validation \
                         accuracy, against {} at its chosen {}: the comparison is only fair with every learning rate \
                         tuned.",
                        sci(default.lr),
                        crate::pct(default.val_acc),
                        crate::pct(chosen.val_acc),
                        sci(chosen.lr)
                    ));
                }
            }
            (verdict, headline, d)
        }
        _ => (
            Verdict::NotHeld,
            "sgd, momentum, nag or adam is not registered".to_string(),
            "The comparison needs `sgd`, `momentum`, `nag` and `adam` in the registry; one is missing."
                .to_string(),
        ),
    };

    let mut body = String::new();
    body.push_str("### Setup\n\n");
    body.push_str(&format!(
        "- Data: {}; a stratified validation split of {:.0}% ({} images) is carved from the training subset \
         for the sweep; every run trains on the remaining {} images.\n",
        data.describe(),
        100.0 * VAL_FRACTION,
        carved.test.len(),
        carved.train.len()
    ));
    body.push_str(&format!(
        "- Optimizers, from the registry ({} in this binary: every registered optimizer and every alias with its \
         own presets, plugins included when linked): {}.\n",
        vs.len(),
        vs.iter().map(|v| format!("`{}`", v.name)).collect::<Vec<_>>().join(", ")
    ));
    body.push_str(&format!(
        "- Model: MLP {} with `relu`, `he_uniform` weights, `zeros` biases; `cross_entropy`, {}; every other \
         hyper-parameter at its registered default. \"Trains faster\" is measured as the loss on the whole \
         training split (evaluation mode) after the same number of steps.\n",
        mlp.shape(&data),
        plan.size.describe(total)
    ));
    body.push_str(&format!(
        "- Learning-rate sweep (seed 0, same epochs): the grid {}{}{}; the learning rate with the best validation \
         accuracy (ties: lower validation loss) is kept. Then {} seed(s) per optimizer at that rate, scored on the \
         test split.\n\n",
        plan.grid.iter().map(|x| sci(*x)).collect::<Vec<_>>().join(", "),
        if plan.extend { ", one more decade beyond an edge when the best value sits there" } else { "" },
        if plan.refine { ", then √10 below and above the best" } else { "" },
        seeds.len()
    ));
    push_figure(&mut body, "Training loss per optimizer", &loss_rel);
    push_figure(&mut body, "Test accuracy per optimizer and the learning-rate sweep", &acc_rel);
    push_table_section(
        &mut body,
        "Numbers (mean ± std over seeds)",
        &[
            "optimizer",
            "learning rates tried",
            "chosen lr",
            "validation accuracy at the chosen lr",
            "mean mini-batch loss over training",
            "training loss after training (whole training split)",
            "test accuracy (%)",
            "test accuracy range (%)",
        ],
        &rows,
    );
    Ok(Outcome::new(verdict, headline, body, &discussion, vec![loss_path, acc_path]))
}

fn lr_text(v: &Variant, sw: &Sweep) -> String {
    if v.has_lr {
        sci(sw.chosen)
    } else {
        "default".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_optimizer_and_preset_alias_is_compared() {
        let names: Vec<String> = variants().into_iter().map(|v| v.name).collect();
        assert_eq!(&names[..8], PREFERRED);
        for builtin in ["adamw", "nadam", "adamax"] {
            assert!(names.iter().any(|n| n == builtin), "{names:?}");
        }
        assert!(!names.iter().any(|n| n == "nesterov"), "nesterov has the same presets as nag: {names:?}");
        let registered = nabla_registry::list::<nabla_optim::OptimizerRegistration>().len();
        assert_eq!(names.len(), registered + 2);
        assert!(variants().iter().all(|v| v.has_lr && v.default_lr.is_some()));
    }

    #[test]
    fn trials_rank_by_accuracy_then_loss_and_diverged_runs_lose() {
        let t = |lr, val_acc, val_loss| Trial { lr, val_acc, val_loss };
        assert!(better(&t(1.0, 0.9, 0.5), &t(2.0, 0.8, 0.1)));
        assert!(better(&t(1.0, 0.9, 0.3), &t(2.0, 0.9, 0.5)));
        assert!(better(&t(1.0, 0.1, 2.0), &t(2.0, f64::NAN, f64::NAN)));
        assert_eq!(spec("adam", Some(0.001)), "adam:lr=1e-3");
        assert_eq!(spec("adam", None), "adam");
    }
}
