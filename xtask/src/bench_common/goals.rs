//! The goals of a benchmark's issue: a measured ratio against its target, printed as one
//! aligned line each under the tables and written to the JSON report.

use super::report::pct;
use serde_json::{json, Value};

/// One goal: `ratio` must reach `target` (or stay under it, for `at_most`).
pub(crate) struct Goal {
    pub(crate) text: String,
    pub(crate) ratio: f64,
    pub(crate) target: f64,
    /// Met when the ratio is at most the target (memory) instead of at least.
    pub(crate) at_most: bool,
}

impl Goal {
    /// Met when `ratio >= target`.
    pub(crate) fn at_least(text: String, ratio: f64, target: f64) -> Goal {
        Goal { text, ratio, target, at_most: false }
    }

    /// Met when `ratio <= target`.
    pub(crate) fn at_most(text: String, ratio: f64, target: f64) -> Goal {
        Goal { text, ratio, target, at_most: true }
    }

    pub(crate) fn met(&self) -> bool {
        if self.at_most {
            self.ratio <= self.target
        } else {
            self.ratio >= self.target
        }
    }

    /// `met`, else how far off the target the ratio is.
    fn verdict(&self) -> String {
        if self.met() {
            "met".to_string()
        } else if self.at_most {
            format!("over by {:.0} %", 100.0 * (self.ratio / self.target - 1.0))
        } else {
            format!("short by {:.0} %", 100.0 * (1.0 - self.ratio / self.target))
        }
    }

    /// The ratio as the target is written: a factor (`2.00x`) for speed-ups over another
    /// system and for memory bounds, a percentage for fractions of a limit.
    fn shown(&self) -> String {
        if self.target >= 1.0 || self.at_most {
            format!("{:.2}x", self.ratio)
        } else {
            pct(self.ratio)
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({"goal": self.text, "ratio": self.ratio, "target": self.target, "met": self.met()})
    }
}

/// Prints one goal line: the text padded to `width`, the figure, the verdict.
pub(crate) fn print_goal_line(width: usize, text: &str, shown: &str, verdict: &str) {
    println!("  {text:<width$} {shown:>8}  {verdict}");
}

/// Prints every goal's line (see [`print_goal_line`]).
pub(crate) fn print_goals(goals: &[Goal], width: usize) {
    for g in goals {
        print_goal_line(width, &g.text, &g.shown(), &g.verdict());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_are_met_at_or_beyond_their_target() {
        assert!(Goal::at_least("x".into(), 0.7, 0.70).met());
        assert!(!Goal::at_least("x".into(), 0.69, 0.70).met());
        let memory = |ratio| Goal::at_most("rss".into(), ratio, 0.5);
        assert!(memory(0.4).met() && !memory(0.6).met());
    }

    #[test]
    fn goals_show_factors_or_percentages_and_how_far_off_they_are() {
        let short = Goal::at_least("x".into(), 0.6, 0.8);
        assert_eq!((short.shown(), short.verdict()), ("60 %".into(), "short by 25 %".into()));
        let faster = Goal::at_least("x".into(), 3.5, 3.0);
        assert_eq!((faster.shown(), faster.verdict()), ("3.50x".into(), "met".into()));
        let over = Goal::at_most("x".into(), 0.6, 0.5);
        assert_eq!((over.shown(), over.verdict()), ("0.60x".into(), "over by 20 %".into()));
        assert_eq!(short.to_json(), json!({"goal": "x", "ratio": 0.6, "target": 0.8, "met": false}));
    }
}
