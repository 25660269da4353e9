//! The CI smoke test: all five experiments on the embedded digits at the smallest budget,
//! into a temporary directory; every figure and the report must exist and contain data.

use nabla_experiments::{load_records, run, Budget, DataChoice, Experiment, Options, Progress, Verdict};
use std::path::Path;

const FIGURES: [&str; 9] = [
    "dropout-error",
    "activation-loss",
    "activation-gradients",
    "batchnorm-test",
    "batchnorm-preactivations",
    "init-loss",
    "init-activation-std",
    "optimizer-loss",
    "optimizer-accuracy",
];

/// The numbers in the `points="x,y x,y ..."` attributes of an SVG's polylines.
fn polyline_points(svg: &str) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter_map(|el| {
            let start = el.find("points=\"")? + 8;
            let end = el[start..].find('"')? + start;
            Some(
                el[start..end]
                    .split_whitespace()
                    .filter(|p| p.split(',').all(|v| v.parse::<f64>().is_ok()))
                    .count(),
            )
        })
        .sum()
}

fn check_figure(dir: &Path, name: &str) {
    let path = dir.join("figures").join(format!("{name}.svg"));
    let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{name}: not a whole SVG document"
    );
    assert!(svg.contains("<text"), "{name}: no text (title, labels, legend)");
    let data_elements = svg.matches("<polyline").count() + svg.matches("<rect").count();
    assert!(data_elements > 3, "{name}: only {data_elements} drawn elements");
    assert!(polyline_points(&svg) > 10, "{name}: the lines carry almost no points");
}

#[test]
fn all_five_experiments_write_figures_records_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        data: DataChoice::Digits,
        out_dir: dir.path().to_path_buf(),
        progress: Progress::Quiet,
        ..Options::new(Budget::Smoke)
    };
    let summary = run(&Experiment::ALL, &options).unwrap();
    assert_eq!(summary.results.len(), 5);
    assert_eq!(summary.report, dir.path().join("README.md"));
    for name in FIGURES {
        check_figure(dir.path(), name);
    }
    let figures: usize = summary.results.iter().map(|r| r.figures.len()).sum();
    assert_eq!(figures, FIGURES.len());

    let readme = std::fs::read_to_string(&summary.report).unwrap();
    for e in Experiment::ALL {
        assert!(readme.contains(&format!("`{}`: {}", e.name(), e.claim())), "section of {e} missing");
    }
    for name in FIGURES {
        assert!(readme.contains(&format!("(figures/{name}.svg)")), "{name} not linked from the report");
    }
    assert!(readme.contains("Runtime of the suite"), "runtime missing");
    assert!(readme.contains("logical cores") && readme.contains("at commit `"), "machine or commit missing");
    // Tables with numbers: every table row after a header rule has a digit in it.
    let table_rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| #"))
        .collect();
    assert!(table_rows.len() > 20, "too few table rows: {}", table_rows.len());
    let numeric_rows = table_rows.iter().filter(|l| l.chars().any(|c| c.is_ascii_digit())).count();
    assert!(numeric_rows * 10 >= table_rows.len() * 7, "tables without numbers:\n{}", table_rows.join("\n"));
    assert!(readme.contains("### Did the claim hold?"));

    // Records round-trip and agree with the summary; no temporary files are left behind.
    let records = load_records(dir.path()).unwrap();
    assert_eq!(records.len(), 5);
    for ((e, rec), res) in records.iter().zip(&summary.results) {
        assert_eq!(*e, res.experiment);
        assert_eq!(rec.verdict, res.verdict);
        assert_eq!((rec.data.as_str(), rec.budget.as_str(), rec.seeds), ("digits", "smoke", 1));
        assert!(matches!(rec.verdict, Verdict::Strong | Verdict::Weak | Verdict::NotHeld));
    }
    for sub in ["", "figures", "results"] {
        for entry in std::fs::read_dir(dir.path().join(sub)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp"), "temporary file left behind: {name}");
        }
    }

    // Running one experiment again keeps the other sections.
    let again = run(&[Experiment::Dropout], &options).unwrap();
    assert_eq!(again.results.len(), 1);
    let readme = std::fs::read_to_string(&again.report).unwrap();
    assert!(readme.contains("`optimizer`: ") && readme.contains("`dropout`: "));
}

#[test]
fn mnist_without_a_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        data_dir: Some(dir.path().join("nowhere")),
        out_dir: dir.path().join("out"),
        progress: Progress::Quiet,
        ..Options::new(Budget::Smoke)
    };
    let err = run(&[Experiment::Dropout], &options).unwrap_err().to_string();
    assert!(err.contains("dropout") && err.contains("nowhere"), "{err}");
    assert!(!dir.path().join("out").join("README.md").exists(), "no report for a failed run");
}
