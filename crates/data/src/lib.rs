//! Data sets and loaders of nabla.
//!
//! * Registered data sets, loaded by name with hyper-parameters through the registry's one
//!   build API (`nabla_registry::build::<DataSplits>("mnist:limit_train=1000", ())`):
//!   `digits` (scikit-learn's 8x8 digits, embedded in the binary: training needs no
//!   download; seeded stratified held-out split), `mnist` and `fashion_mnist` (the standard
//!   four IDX files from `data_dir` or `$NABLA_DATA_DIR`). Every data set accepts
//!   `limit_train`/`limit_test` (seeded subsets), `split_seed`, `scale` (to [0, 1], default
//!   on) and `standardize` (`none`, `global`, `per_feature`, with training statistics).
//! * [`Dataset`] (images `[N, rows*cols]` as `f32`, labels, classes, image shape) and
//!   [`DataSplits`] (`train`, `test`, the normalization applied).
//! * [`DataLoader`]: seeded shuffling per epoch (the order depends only on the seed and the
//!   epoch number), batch size, drop_last; batches are copied into reused buffers.
//! * [`idx`]: the IDX reader (raw or gzip); hostile files are errors, never panics and never
//!   large allocations.
//! * [`fetch()`]: checked, atomic downloads of MNIST and Fashion-MNIST from a mirror list.
//!   The HTTP client is behind the `fetch` cargo feature (off by default; the `nabla` CLI
//!   enables it, the `nabla` facade forwards it); without it, files already present are
//!   still verified and a needed download is [`DataError::FetchDisabled`].
//!
//! ```
//! use nabla_data::DataSplits;
//! let splits = nabla_registry::build::<DataSplits>("digits:test_fraction=0.2,split_seed=0", ()).unwrap().value;
//! assert_eq!(splits.train.len() + splits.test.len(), 1797);
//! assert_eq!(splits.train.features(), 64);
//! ```

mod common;
mod dataset;
mod digits;
mod error;
mod fashion_mnist;
mod fetch;
mod file;
pub mod idx;
mod loader;
mod local;
mod mnist;

pub use dataset::{stratified_split, DataSplits, Dataset, Normalization, Standardize, Standardizer};
pub use digits::{digits, DIGITS_MAX_VALUE};
pub use error::DataError;
pub use fashion_mnist::FASHION_MNIST_SUBDIRS;
pub use fetch::{
    fetch, fetch_spec, sha256_file, FetchEvent, FetchReport, FetchSpec, FetchedFile, RemoteFile,
    FASHION_MNIST_MIRRORS, MNIST_MIRRORS,
};
pub use idx::IdxImages;
pub use loader::{epoch_seed, Batch, DataLoader, LoaderConfig};
pub use local::{find_idx_files, load_idx_dir, DATA_DIR_ENV, IDX_FILES};
pub use mnist::MNIST_SUBDIRS;

use nabla_registry::{ComponentInfo, Params};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

#[doc(hidden)]
pub mod __private {
    pub use nabla_registry;
}

/// The registration record of a data set (collected with `inventory`).
pub struct DatasetRegistration {
    /// Name, aliases, summary, module and hyper-parameter schema.
    pub info: ComponentInfo,
    /// Loads the train and test splits from validated hyper-parameters.
    pub load: fn(&Params) -> Result<DataSplits, DataError>,
}

nabla_registry::collect_records!(DatasetRegistration, Dataset);

/// Registers a data set by name: a type deriving
/// [`HyperParams`](nabla_registry::HyperParams) (the one declaration of its keys) and a loader
/// taking it:
///
/// ```ignore
/// register_dataset!(MyParams,
///     name: "my_set",
///     aliases: [Alias::new("mine")],
///     summary: "...",
///     load: load, // fn(&MyParams) -> Result<DataSplits, DataError>
/// );
/// ```
#[macro_export]
macro_rules! register_dataset {
    ($params:ty,
        name: $name:expr,
        $(aliases: [$($alias:expr),* $(,)?],)?
        summary: $summary:expr,
        load: $load:expr $(,)?
    ) => {
        $crate::__private::nabla_registry::submit_typed!($crate::DatasetRegistration, $params, {
            load: |params| {
                let typed = <$params as $crate::__private::nabla_registry::HyperParams>::from_params(params)?;
                $load(&typed)
            },
        }, name: $name, $(aliases: [$($alias),*],)? summary: $summary);
    };
}

nabla_registry::context_free_kind! {
    /// Data sets are built by name with [`nabla_registry::build`]:
    /// `build::<DataSplits>("mnist:data_dir=/data,limit_train=10000", ())` loads the splits, and
    /// [`Built::params`](nabla_registry::Built) holds the effective hyper-parameters (defaults
    /// filled in) for saving with a run.
    ///
    /// Errors: unknown names (with suggestions), invalid hyper-parameters, missing, unreadable or
    /// corrupt files, and an empty training or test split ([`DataError::EmptySplit`]).
    impl Kind for DataSplits {
        fn build(record: &'static DatasetRegistration, params) -> Result<DataSplits, DataError> {
            let splits = (record.load)(params)?;
            check_loaded(record.info.name, &splits)?;
            Ok(splits)
        }
    }
}

/// The built-in data sets name the file or setting behind an empty split themselves; this
/// catches the data sets of plugins.
fn check_loaded(name: &str, splits: &DataSplits) -> Result<(), DataError> {
    common::check_not_empty(splits, name, |split| format!("its loader returned no {split} examples"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_registry::{duplicates, names, RawParams, Value};

    #[test]
    fn data_sets_are_registered_once() {
        assert!(duplicates::<DatasetRegistration>().is_empty());
        assert_eq!(names::<DatasetRegistration>(), ["digits", "fashion_mnist", "mnist"]);
    }

    #[test]
    fn unknown_names_and_keys_are_errors() {
        let err = nabla_registry::build::<DataSplits>("digit", ()).map(|b| b.value).unwrap_err().to_string();
        assert!(err.contains("digits"), "{err}");
        assert!(nabla_registry::build::<DataSplits>("digits:bogus=1", ()).map(|b| b.value).is_err());
        assert!(nabla_registry::build::<DataSplits>("digits:standardize=sometimes", ())
            .map(|b| b.value)
            .is_err());
        let raw: RawParams =
            [("data_dir".to_string(), Value::Str("/nonexistent/nabla".into()))].into_iter().collect();
        let err = nabla_registry::build::<DataSplits>(("mnist", &raw), ()).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/nabla") && err.contains("nabla data fetch mnist"), "{err}");
    }

    #[test]
    fn effective_params_are_returned() {
        let nabla_registry::Built { value: splits, params } =
            nabla_registry::build::<DataSplits>("digits", ()).unwrap();
        assert_eq!(params.f64("test_fraction").unwrap(), 0.2);
        assert_eq!(params.str("standardize").unwrap(), "none");
        assert_eq!(splits.train.num_classes(), 10);
    }
}
