//! `nabla experiment`: the thin front end of `nabla-experiments`.

use std::process::Command;

#[test]
fn an_experiment_writes_its_figures_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(["experiment", "init", "--data", "digits", "--quick", "--quiet", "--out"])
        .arg(dir.path())
        .output()
        .expect("the nabla binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("init "), "{stdout}");
    assert!(stdout.contains("report: "), "{stdout}");
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(readme.contains("## 1. `init`: The initializer changes the speed of learning"), "{readme}");
    for figure in ["init-loss.svg", "init-activation-std.svg"] {
        let svg = std::fs::read_to_string(dir.path().join("figures").join(figure)).unwrap();
        assert!(svg.contains("<polyline"), "{figure} has no lines");
    }
}

#[test]
fn unknown_experiments_and_data_sets_are_errors() {
    let run = |args: &[&str]| {
        let out =
            Command::new(env!("CARGO_BIN_EXE_nabla")).args(args).output().expect("the nabla binary runs");
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = run(&["experiment", "dropot", "--quick"]);
    assert!(!ok && err.contains("did you mean 'dropout'"), "{err}");
    let (ok, err) = run(&["experiment", "dropout", "--data", "cifar"]);
    assert!(!ok && err.contains("mnist or digits"), "{err}");
}
