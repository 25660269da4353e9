//! Loads the real MNIST and Fashion-MNIST files when they are available: from
//! `$NABLA_DATA_DIR`, or else from `/work/shared/data` (the project's reference copies).
//! Without them the test prints a note and passes: the project stays self-contained.

use nabla_data::DATA_DIR_ENV;
use nabla_registry::{RawParams, Value};
use std::path::PathBuf;

/// Loads a data set by name through the registry's generic build (splits and effective params).
fn load(
    name: &str,
    raw: &nabla_registry::RawParams,
) -> Result<(nabla_data::DataSplits, nabla_registry::Params), nabla_data::DataError> {
    nabla_registry::build::<nabla_data::DataSplits>((name, raw), ()).map(|b| (b.value, b.params))
}

fn data_root() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let shared = PathBuf::from("/work/shared/data");
    shared.join("mnist").is_dir().then_some(shared)
}

#[test]
fn real_mnist_and_fashion_mnist_load_with_published_counts() {
    let Some(root) = data_root() else {
        eprintln!(
            "note: neither ${DATA_DIR_ENV} nor /work/shared/data/mnist exists; real MNIST test skipped"
        );
        return;
    };
    let params = |extra: &[(&str, Value)]| -> RawParams {
        let mut p: RawParams =
            [("data_dir".to_string(), Value::Str(root.display().to_string()))].into_iter().collect();
        p.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        p
    };

    match load("mnist", &params(&[])) {
        Ok((s, _)) => {
            assert_eq!((s.train.len(), s.test.len()), (60_000, 10_000));
            assert_eq!(s.train.image_shape(), [28, 28]);
            assert_eq!(
                s.train.class_counts(),
                vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
            );
            assert_eq!(s.test.class_counts(), vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
            let max = s.train.images().iter().fold(0.0f32, |m, &x| m.max(x));
            assert_eq!(max, 1.0, "scaled by 255");
            // The classic MNIST normalization constants: mean 0.1307, std 0.3081 (global).
            drop(s);
            let (g, _) = load("mnist", &params(&[("standardize", Value::Str("global".into()))])).unwrap();
            let st = g.standardizer.unwrap();
            assert!((st.mean[0] - 0.1307).abs() < 1e-4 && (st.std[0] - 0.3081).abs() < 1e-4, "{st:?}");
        }
        Err(e) => panic!("MNIST files under {} do not load: {e}", root.display()),
    }

    let fashion = root.join("fashion-mnist");
    if fashion.is_dir() || std::env::var_os(DATA_DIR_ENV).is_none() {
        let (s, _) = load("fashion_mnist", &params(&[("limit_test", Value::Int(1000))]))
            .unwrap_or_else(|e| panic!("Fashion-MNIST under {} does not load: {e}", root.display()));
        assert_eq!(s.train.len(), 60_000);
        assert_eq!(s.train.class_counts(), vec![6000; 10]);
        assert_eq!(s.test.len(), 1000);
    }
}
