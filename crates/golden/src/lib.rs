//! Test support for nabla's conformance tests against the PyTorch golden vectors
//! (`testdata/golden/*.json`; schema and tolerances in the golden README). Dev-only: never
//! published, and used only as a `[dev-dependencies]` entry.
//!
//! * Where the vectors are: [`golden_dir`] is `$NABLA_GOLDEN_DIR` when that is set (and not
//!   empty), else the bundled `testdata/golden` of the workspace; [`path`] and [`load`] find and
//!   parse one file of it.
//! * JSON to arrays: [`tensor`] turns a `{"shape": [..], "data": [..]}` object into an
//!   `ndarray::ArrayD<T>` for `T` = `f32`/`f64`, [`shape`] reads a list of dimensions and
//!   [`indices`] the class indices of a target; [`field`] reads a required field of a case and
//!   [`pair`] a per-axis hyper-parameter (an integer or two, as PyTorch's `_pair`);
//!   [`CONV2D_ARGUMENTS`] are the names of a `Conv2d` case's hyper-parameters.
//! * Comparing: [`Tolerance`] holds the README's `atol + rtol * |reference|` criterion
//!   ([`Tolerance::for_element`]: f64 1e-10 + 1e-9, f32 1e-6 + 1e-5); [`assert_close`],
//!   [`assert_close_tol`], [`assert_close_scalar`] and [`assert_close_scalar_tol`] check a result
//!   against a reference and name what, which element type and which element differed.
//! * Both precisions: [`Precisions`] runs a test's check of a whole file in f64 and in f32
//!   and asserts that both checked the same cases; [`tests_in_f64_and_f32!`] declares the
//!   tests that run a generic check in both.
//! * Failing on purpose: [`ModifiedVectors`] writes a modified file to a temporary directory,
//!   [`first_case`] finds the case to change, [`bump`] and [`change_element`] move one
//!   reference number, and [`panic_message`] and [`failure`] (for both precisions
//!   [`Precisions::failures`]) read what a check of it panicked with.
//!
//! ```
//! use nabla_golden::{assert_close, tensor};
//!
//! let golden = nabla_golden::load("layers.json");
//! let relu = &golden["cases"]["ReLU"];
//! let x = tensor::<f32>(&relu["input"]);
//! assert_close("ReLU output", &x.mapv(|v| v.max(0.0)), &relu["output"]);
//! ```
//!
//! Everything here panics on a missing file, malformed JSON or a value outside tolerance, with
//! a message that says what and where: it is test support, and a panic is a test failure.

use nabla_tensor::Element;
use ndarray::{ArrayD, Dimension, IxDyn};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable that, when set to a non-empty directory, replaces the bundled
/// vectors (same file names, same schema).
pub const DIR_VAR: &str = "NABLA_GOLDEN_DIR";

/// The bundled vectors: `testdata/golden` at the root of the workspace.
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden")
}

/// The directory the vectors are read from: `$NABLA_GOLDEN_DIR` if set and not empty, else
/// [`bundled_dir`].
pub fn golden_dir() -> PathBuf {
    golden_dir_from(std::env::var_os(DIR_VAR))
}

/// [`golden_dir`] for a given value of [`DIR_VAR`] (`None` when unset): the override itself
/// unless it is absent or empty, else [`bundled_dir`].
pub fn golden_dir_from(var: Option<OsString>) -> PathBuf {
    match var {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => bundled_dir(),
    }
}

/// Whether [`DIR_VAR`] points elsewhere than the bundled vectors (set and not empty), for
/// checks that hold only for the bundled set, such as its number of cases.
pub fn is_overridden() -> bool {
    std::env::var_os(DIR_VAR).is_some_and(|dir| !dir.is_empty())
}

/// The path of one vector file, e.g. `path("optim.json")`, in [`golden_dir`].
pub fn path(file_name: &str) -> PathBuf {
    golden_dir().join(file_name)
}

/// Reads and parses one vector file of [`golden_dir`], e.g. `load("layers.json")`.
///
/// # Panics
/// If the file cannot be read or is not valid JSON; the message has the path and the cause.
pub fn load(file_name: &str) -> Value {
    read_json(&path(file_name))
}

/// Reads and parses the JSON file at `path`.
///
/// # Panics
/// If the file cannot be read or is not valid JSON; the message has the path and the cause.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("cannot read golden vectors {} ({DIR_VAR} selects another directory): {e}", path.display())
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// A list of dimensions such as `[4, 3]` (the `shape` of a tensor object, or a bare shape).
///
/// # Panics
/// If `v` is not an array of non-negative integers.
pub fn shape(v: &Value) -> Vec<usize> {
    let dims = v.as_array().unwrap_or_else(|| panic!("a shape must be an array of dimensions, not {v}"));
    dims.iter()
        .map(|d| match d.as_u64() {
            Some(n) => n as usize,
            None => panic!("dimension {d} of shape {v} is not a non-negative integer"),
        })
        .collect()
}

/// The array of a tensor object `{"shape": [..], "data": [..]}` (data flattened in row-major
/// order, as the README specifies), converted to `T`.
///
/// # Panics
/// If `shape` or `data` is missing or malformed, a datum is not a number, or the number of
/// data does not match the shape.
pub fn tensor<T: Element>(v: &Value) -> ArrayD<T> {
    let dims = shape(v.get("shape").unwrap_or_else(|| panic!("tensor object without \"shape\"")));
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("tensor object of shape {dims:?} without a \"data\" array"));
    let data: Vec<T> = data
        .iter()
        .enumerate()
        .map(|(i, x)| match x.as_f64() {
            Some(x) => T::from_f64(x),
            None => panic!("datum {i} of a tensor of shape {dims:?} is not a number: {x}"),
        })
        .collect();
    let len = data.len();
    ArrayD::from_shape_vec(IxDyn(&dims), data)
        .unwrap_or_else(|e| panic!("tensor of shape {dims:?} with {len} data: {e}"))
}

/// The field `key` of a case object (hyper-parameter or tensor).
///
/// # Panics
/// If `case` has no such field; the message names the field and lists those present, so a
/// case missing a field fails rather than being checked with a default.
#[track_caller]
pub fn field<'a>(case: &'a Value, key: &str) -> &'a Value {
    case.get(key).unwrap_or_else(|| {
        let present: Vec<&str> =
            case.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        panic!("golden case has no field {key:?} (fields: {present:?})")
    })
}

/// A per-axis pair of sizes as PyTorch's `_pair` reads it: an integer `n` is `[n, n]`, a list
/// must have exactly two non-negative integers.
///
/// # Panics
/// For anything else (a float, a negative number, a list of another length).
pub fn pair(v: &Value) -> [usize; 2] {
    let one = |x: &Value| {
        x.as_u64().map(|n| n as usize).unwrap_or_else(|| panic!("{x} in {v} is not a non-negative integer"))
    };
    match v {
        Value::Array(xs) if xs.len() == 2 => [one(&xs[0]), one(&xs[1])],
        Value::Number(_) => [one(v); 2],
        _ => panic!("expected an integer or a list of two integers, got {v}"),
    }
}

/// The arguments of PyTorch's `torch.nn.Conv2d` in the order of its constructor, as the
/// golden files' `Conv2d` cases name their fields and module reprs take them by position.
pub const CONV2D_ARGUMENTS: [&str; 9] = [
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "padding_mode",
];

/// The class indices of a target object `{"shape": [n], "data": [..]}`.
///
/// # Panics
/// If `data` is missing or an entry is not a non-negative integer.
pub fn indices(v: &Value) -> Vec<usize> {
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("class-index target without a \"data\" array"));
    data.iter()
        .enumerate()
        .map(|(i, x)| match x.as_u64() {
            Some(n) => n as usize,
            None => panic!("class index {i} is not a non-negative integer: {x}"),
        })
        .collect()
}

/// The criterion `|got - reference| <= atol + rtol * |reference|` (that of `torch.allclose`);
/// a NaN on either side never passes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Absolute part.
    pub atol: f64,
    /// Part relative to the magnitude of the reference.
    pub rtol: f64,
}

impl Tolerance {
    /// The README's tolerance for f64 results: atol 1e-10, rtol 1e-9.
    pub const F64: Tolerance = Tolerance { atol: 1e-10, rtol: 1e-9 };
    /// The README's tolerance for f32 results: atol 1e-6, rtol 1e-5.
    pub const F32: Tolerance = Tolerance { atol: 1e-6, rtol: 1e-5 };

    /// The README's tolerance for results computed in `T` ([`Tolerance::F64`] or
    /// [`Tolerance::F32`]).
    ///
    /// # Panics
    /// For an element type other than `f32` and `f64`.
    pub fn for_element<T: Element>() -> Tolerance {
        match T::NAME {
            "f64" => Tolerance::F64,
            "f32" => Tolerance::F32,
            other => panic!("no golden tolerance for element type {other}"),
        }
    }

    /// The largest difference allowed from `reference`: `atol + rtol * |reference|`.
    pub fn allowed(self, reference: f64) -> f64 {
        self.atol + self.rtol * reference.abs()
    }

    /// Whether `got` is within tolerance of `reference` (false if either is NaN).
    pub fn accepts(self, got: f64, reference: f64) -> bool {
        (got - reference).abs() <= self.allowed(reference)
    }

    /// How much of the tolerance the worst element of `got` uses: the largest
    /// `|got - reference| / (atol + rtol * |reference|)`, so at most 1 passes. Infinite if the
    /// shapes differ, an element is NaN, or an element differs where nothing is allowed.
    pub fn budget_used<T: Element>(self, got: &ArrayD<T>, reference: &ArrayD<f64>) -> f64 {
        if got.shape() != reference.shape() {
            return f64::INFINITY;
        }
        got.iter()
            .zip(reference)
            .map(|(&g, &r)| {
                let diff = (g.to_f64() - r).abs();
                if diff.is_nan() {
                    f64::INFINITY
                } else if diff == 0.0 {
                    0.0
                } else {
                    diff / self.allowed(r)
                }
            })
            .fold(0.0, f64::max)
    }
}

/// Asserts that `got` matches the tensor object `want` within the README tolerance of `T`.
///
/// # Panics
/// On a shape mismatch or an element outside tolerance, naming `what`, `T`, the element and
/// both values.
#[track_caller]
pub fn assert_close<T: Element>(what: &str, got: &ArrayD<T>, want: &Value) {
    assert_close_tol(what, got, want, Tolerance::for_element::<T>());
}

/// Asserts that `got` matches the tensor object `want` within `tol`.
///
/// # Panics
/// On a shape mismatch or an element outside tolerance, naming `what`, `T`, the element and
/// both values.
#[track_caller]
pub fn assert_close_tol<T: Element>(what: &str, got: &ArrayD<T>, want: &Value, tol: Tolerance) {
    let want = tensor::<f64>(want);
    assert_eq!(got.shape(), want.shape(), "{what} ({}): shape", T::NAME);
    for (i, ((index, g), w)) in got.indexed_iter().zip(want.iter()).enumerate() {
        let g = (*g).to_f64();
        assert!(
            tol.accepts(g, *w),
            "{what} ({}): element {i} {:?}: got {g:e}, want {w:e} (difference {:e}, allowed {:e} = atol {:e} + rtol {:e} * |want|)",
            T::NAME,
            index.slice(),
            (g - w).abs(),
            tol.allowed(*w),
            tol.atol,
            tol.rtol,
        );
    }
}

/// Asserts that the scalar `got` matches `want` within the README tolerance of `T`.
///
/// # Panics
/// If it does not, naming `what`, `T` and both values.
#[track_caller]
pub fn assert_close_scalar<T: Element>(what: &str, got: T, want: f64) {
    assert_close_scalar_tol(what, got, want, Tolerance::for_element::<T>());
}

/// Asserts that the scalar `got` matches `want` within `tol`.
///
/// # Panics
/// If it does not, naming `what`, `T` and both values.
#[track_caller]
pub fn assert_close_scalar_tol<T: Element>(what: &str, got: T, want: f64, tol: Tolerance) {
    let g = got.to_f64();
    assert!(
        tol.accepts(g, want),
        "{what} ({}): got {g:e}, want {want:e} (difference {:e}, allowed {:e} = atol {:e} + rtol {:e} * |want|)",
        T::NAME,
        (g - want).abs(),
        tol.allowed(want),
        tol.atol,
        tol.rtol,
    );
}

/// Where a case of a file was checked, as [`check_every_case`]'s callback reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// Checked by this call.
    Here,
    /// A case of another crate's test (the file holds cases of several crates' levels).
    Elsewhere,
}

/// Runs `check(name, module, case)` on every case of a parsed vector file (its `"cases"`
/// object, each case naming its `"module"`) and returns the names of the cases checked here,
/// in file order. The callback dispatches on the module and panics on one it does not know,
/// so a file with other case names and hyper-parameters is checked in full.
///
/// # Panics
/// When `"cases"` is not an object or a case's `"module"` is not a string.
pub fn check_every_case(golden: &Value, mut check: impl FnMut(&str, &str, &Value) -> Checked) -> Vec<String> {
    let cases = field(golden, "cases").as_object().expect("\"cases\" is an object of named cases");
    let mut checked = Vec::new();
    for (name, case) in cases {
        let module =
            field(case, "module").as_str().unwrap_or_else(|| panic!("case {name}: module is not a string"));
        if check(name, module, case) == Checked::Here {
            checked.push(name.clone());
        }
    }
    checked
}

/// A temporary directory holding one modified vector file, removed on drop: the tests that
/// a corrupted, renamed or other-shaped file is checked in full write theirs through it.
pub struct ModifiedVectors {
    dir: PathBuf,
    file_name: String,
}

impl ModifiedVectors {
    /// Writes `golden` as `file_name` into a fresh directory named after the process and `tag`.
    pub fn with(file_name: &str, tag: &str, golden: &Value) -> ModifiedVectors {
        let stem = file_name.trim_end_matches(".json");
        let dir = std::env::temp_dir().join(format!("nabla-golden-{stem}-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join(file_name), serde_json::to_string(golden).expect("serialize"))
            .expect("write");
        ModifiedVectors { dir, file_name: file_name.to_string() }
    }

    /// The modified file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.file_name)
    }
}

impl Drop for ModifiedVectors {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The message of the panic `f` raises; panics with `expected` when `f` returns normally.
pub fn panic_message(expected: &str, f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err(expected);
    match err.downcast::<String>() {
        Ok(s) => *s,
        Err(err) => err.downcast::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
}

/// The check of a whole vector file in both precisions the golden tests run in: `f64` and
/// `f32` are one generic check instantiated twice (`check_all::<f64>`, `check_all::<f32>`),
/// each returning the names of the cases it checked (as [`check_every_case`] does).
#[derive(Clone, Copy)]
pub struct Precisions {
    /// The check in `f64`.
    pub f64: fn(&Value) -> Vec<String>,
    /// The check in `f32`.
    pub f32: fn(&Value) -> Vec<String>,
}

impl Precisions {
    /// Checks `golden` in f64, then in f32, and returns the names of the cases checked.
    ///
    /// # Panics
    /// On any failure of either check, or when the two checked different cases.
    pub fn check(self, golden: &Value) -> Vec<String> {
        let names = (self.f64)(golden);
        assert_eq!((self.f32)(golden), names, "f32 and f64 checked different cases");
        names
    }

    /// Checks the vector file `file_name` of [`golden_dir`] ([`Precisions::check`]), fails
    /// when no case of it is checked here and, for the bundled vectors only, hands the names
    /// of the cases checked to `bundled` (which knows what the bundled file holds). Returns
    /// the names.
    ///
    /// # Panics
    /// On any failure of either check, when they checked different cases or none, or when
    /// `bundled` panics.
    pub fn check_file(self, file_name: &str, bundled: impl FnOnce(&[String])) -> Vec<String> {
        let names = self.check(&load(file_name));
        assert!(!names.is_empty(), "no case of {file_name} is checked here");
        if !is_overridden() {
            bundled(&names);
        }
        names
    }

    /// The panic messages of checking the file at `path` in f64 and in f32 ([`failure`]).
    ///
    /// # Panics
    /// When the check passes in either precision: the file must fail.
    pub fn failures(self, path: &Path) -> [String; 2] {
        [failure(path, self.f64), failure(path, self.f32)]
    }
}

/// The panic message of checking the file at `path` with `check`, for the tests that a
/// corrupted file fails.
///
/// # Panics
/// When the check passes.
pub fn failure(path: &Path, check: fn(&Value) -> Vec<String>) -> String {
    let golden = read_json(path);
    panic_message("a corrupted file must fail", || {
        check(&golden);
    })
}

/// Declares `#[test]` functions that each run a generic golden check in f64, then in f32:
/// `tests_in_f64_and_f32! { linear_matches_pytorch: linear_case }` is the test
/// `linear_matches_pytorch` calling `linear_case::<f64>()` and `linear_case::<f32>()`.
#[macro_export]
macro_rules! tests_in_f64_and_f32 {
    ($($test:ident: $check:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                $check::<f64>();
                $check::<f32>();
            }
        )*
    };
}

/// The name of the first case of `module` in a parsed vector file: the corrupted-file tests
/// change that one.
///
/// # Panics
/// When the file has no case of `module`.
pub fn first_case(golden: &Value, module: &str) -> String {
    let cases = field(golden, "cases").as_object().expect("\"cases\" is an object of named cases");
    cases
        .iter()
        .find(|(_, case)| case["module"] == module)
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| panic!("no case of module {module}"))
}

/// Replaces element `i` of the tensor object `t` (`{"shape": [..], "data": [..]}`) by `change`
/// of it: the corrupted-file tests move one reference number beyond the tolerances this way.
///
/// # Panics
/// If that element is not a number.
pub fn change_element(t: &mut Value, i: usize, change: impl FnOnce(f64) -> f64) {
    let d = &mut t["data"][i];
    let x = d.as_f64().unwrap_or_else(|| panic!("element {i} of a tensor object is not a number: {d}"));
    *d = change(x).into();
}

/// Adds `delta` to element `i` of the tensor object `t` (see [`change_element`]).
///
/// # Panics
/// If that element is not a number.
pub fn bump(t: &mut Value, i: usize, delta: f64) {
    change_element(t, i, |x| x + delta);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        super::panic_message("expected a panic", f)
    }

    #[test]
    fn the_override_directory_is_honoured_and_empty_means_unset() {
        assert_eq!(golden_dir_from(Some("/elsewhere/vectors".into())), PathBuf::from("/elsewhere/vectors"));
        assert_eq!(golden_dir_from(None), bundled_dir());
        assert_eq!(golden_dir_from(Some(OsString::new())), bundled_dir());
    }

    #[test]
    fn the_bundled_directory_holds_the_vector_files() {
        for file in ["layers.json", "init.json", "optim.json", "conv.json"] {
            assert!(bundled_dir().join(file).is_file(), "{file} missing from {}", bundled_dir().display());
        }
        let layers = read_json(&bundled_dir().join("layers.json"));
        assert!(layers["cases"].is_object());
    }

    #[test]
    fn unreadable_and_malformed_files_panic_with_path_and_cause() {
        let missing = bundled_dir().join("no-such-vectors.json");
        let msg = panic_message(|| {
            read_json(&missing);
        });
        assert!(msg.contains("no-such-vectors.json") && msg.contains("cannot read"), "{msg}");
        let not_json = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let msg = panic_message(move || {
            read_json(&not_json);
        });
        assert!(msg.contains("Cargo.toml is not valid JSON"), "{msg}");
    }

    #[test]
    fn tensors_are_row_major_in_either_precision() {
        let v = json!({"shape": [2, 3], "data": [1.0, 2.0, 3.0, 4.0, 5.0, 0.1]});
        let a = tensor::<f64>(&v);
        assert_eq!(a.shape(), &[2, 3]);
        assert_eq!(a[IxDyn(&[1, 0])], 4.0);
        assert_eq!(a[IxDyn(&[1, 2])], 0.1);
        let b = tensor::<f32>(&v);
        assert_eq!(b[IxDyn(&[0, 2])], 3.0f32);
        assert_eq!(b[IxDyn(&[1, 2])], 0.1f32);
        let scalar = tensor::<f64>(&json!({"shape": [], "data": [2.5]}));
        assert_eq!(scalar.ndim(), 0);
        assert_eq!(scalar[IxDyn(&[])], 2.5);
        assert_eq!(shape(&json!([4, 1, 3])), vec![4, 1, 3]);
    }

    #[test]
    #[should_panic(expected = "tensor of shape [2, 2] with 3 data")]
    fn a_tensor_whose_data_does_not_fill_its_shape_panics() {
        tensor::<f64>(&json!({"shape": [2, 2], "data": [1.0, 2.0, 3.0]}));
    }

    #[test]
    #[should_panic(expected = "datum 1 of a tensor of shape [2] is not a number")]
    fn a_tensor_with_a_non_number_panics() {
        tensor::<f32>(&json!({"shape": [2], "data": [1.0, "x"]}));
    }

    #[test]
    fn class_indices_are_read_and_must_be_non_negative_integers() {
        assert_eq!(indices(&json!({"shape": [3], "data": [2, 0, 1]})), vec![2, 0, 1]);
        let msg = panic_message(|| {
            indices(&json!({"shape": [2], "data": [1, -1]}));
        });
        assert!(msg.contains("class index 1"), "{msg}");
    }

    #[test]
    fn fields_are_required_and_pairs_read_as_pytorch() {
        let case = json!({"stride": 2, "padding": [1, 0], "groups": 1});
        assert_eq!(field(&case, "groups"), &json!(1));
        let msg = panic_message(|| {
            field(&json!({"stride": 2}), "dilation");
        });
        assert!(msg.contains("\"dilation\"") && msg.contains("stride"), "{msg}");
        assert_eq!(pair(&case["stride"]), [2, 2]);
        assert_eq!(pair(&case["padding"]), [1, 0]);
        for bad in [json!([1, 2, 3]), json!(-1), json!(1.5), json!("same"), json!([1, -2])] {
            let msg = panic_message(move || {
                pair(&bad);
            });
            assert!(!msg.is_empty());
        }
    }

    #[test]
    fn tolerances_are_those_of_the_readme() {
        assert_eq!(Tolerance::for_element::<f64>(), Tolerance { atol: 1e-10, rtol: 1e-9 });
        assert_eq!(Tolerance::for_element::<f32>(), Tolerance { atol: 1e-6, rtol: 1e-5 });
        let t = Tolerance { atol: 1e-3, rtol: 1e-2 };
        assert_eq!(t.allowed(-10.0), 1e-3 + 1e-1);
        assert!(t.accepts(10.1, 10.0));
        assert!(!t.accepts(10.102, 10.0));
        assert!(!t.accepts(f64::NAN, 1.0));
        assert!(!t.accepts(1.0, f64::NAN));
    }

    #[test]
    fn budget_used_is_the_worst_fraction_of_the_tolerance() {
        let t = Tolerance { atol: 1.0, rtol: 0.0 };
        let reference = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.0, 1.0, 2.0]).unwrap();
        let got = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.25f32, 1.0, 1.5]).unwrap();
        assert_eq!(t.budget_used(&got, &reference), 0.5);
        let nan = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.0f64, f64::NAN, 2.0]).unwrap();
        assert_eq!(t.budget_used(&nan, &reference), f64::INFINITY);
        let other_shape = ArrayD::from_shape_vec(IxDyn(&[1, 3]), vec![0.0f64, 1.0, 2.0]).unwrap();
        assert_eq!(t.budget_used(&other_shape, &reference), f64::INFINITY);
        let exact = Tolerance { atol: 0.0, rtol: 0.0 };
        assert_eq!(exact.budget_used(&reference, &reference), 0.0);
        assert_eq!(exact.budget_used(&(&reference + 1e-300), &reference), f64::INFINITY);
    }

    fn want() -> Value {
        json!({"shape": [2, 2], "data": [1.0, -2.0, 0.0, 1e3]})
    }

    #[test]
    fn values_within_tolerance_pass_in_both_precisions() {
        let w = tensor::<f64>(&want());
        // f64: within 1e-10 + 1e-9 |w| of each element.
        let got = w.mapv(|x| x + 5e-11 + 5e-10 * x.abs());
        assert_close("f64 within", &got, &want());
        // f32: rounding to f32 alone is well inside 1e-6 + 1e-5 |w|.
        assert_close("f32 within", &tensor::<f32>(&want()), &want());
        assert_close_scalar("scalar", 1.0f64 + 1e-10, 1.0);
        assert_close_scalar("scalar", 1.0f32 + 1e-6, 1.0);
    }

    #[test]
    fn a_value_outside_tolerance_fails_and_is_located() {
        let mut got = tensor::<f64>(&want());
        got[IxDyn(&[1, 1])] += 1e-5; // 1e-10 + 1e-9 * 1e3 = 1.0000001e-6 allowed
        let msg = panic_message(|| assert_close("grad_weight", &got, &want()));
        assert!(msg.contains("grad_weight (f64): element 3 [1, 1]"), "{msg}");
    }

    #[test]
    fn f64_is_held_to_the_tighter_tolerance() {
        // A difference of 1e-7 at a zero reference passes in f32 but not in f64.
        let got32 = tensor::<f32>(&want()).mapv(|x| if x == 0.0 { 1e-7 } else { x });
        assert_close("f32", &got32, &want());
        let got64 = tensor::<f64>(&want()).mapv(|x| if x == 0.0 { 1e-7 } else { x });
        let msg = panic_message(|| assert_close("f64", &got64, &want()));
        assert!(msg.contains("element 2 [1, 0]"), "{msg}");
    }

    #[test]
    #[should_panic(expected = "output (f32): shape")]
    fn a_shape_mismatch_fails() {
        let got = tensor::<f32>(&json!({"shape": [4], "data": [1.0, -2.0, 0.0, 1e3]}));
        assert_close("output", &got, &want());
    }

    #[test]
    #[should_panic(expected = "element 0 [0, 0]: got NaN")]
    fn nan_fails() {
        let mut got = tensor::<f64>(&want());
        got[IxDyn(&[0, 0])] = f64::NAN;
        assert_close("output", &got, &want());
    }

    #[test]
    fn an_explicit_tolerance_is_used_as_given() {
        // Only absolute: rounding noise around zero against the absolute part alone.
        let noise = json!({"shape": [2], "data": [1e-17, -3e-17]});
        let zeros = ArrayD::<f64>::zeros(IxDyn(&[2]));
        assert_close_tol("bias grad", &zeros, &noise, Tolerance { atol: 1e-10, rtol: 0.0 });
        let msg = panic_message(|| {
            assert_close_tol("bias grad", &zeros, &noise, Tolerance { atol: 2e-17, rtol: 0.0 })
        });
        assert!(msg.contains("element 1 [1]"), "{msg}");
        // Only relative: 1e-12 of the reference.
        let rel = Tolerance { atol: 0.0, rtol: 1e-12 };
        assert_close_scalar_tol("gain", 2.0f64 * (1.0 + 5e-13), 2.0, rel);
        let msg = panic_message(|| assert_close_scalar_tol("gain", 2.0f64 * (1.0 + 5e-12), 2.0, rel));
        assert!(msg.contains("gain (f64): got"), "{msg}");
        let msg = panic_message(|| assert_close_scalar_tol("zero", 1e-300f64, 0.0, rel));
        assert!(msg.contains("zero (f64)"), "{msg}");
    }

    #[test]
    fn one_element_of_a_tensor_object_is_changed() {
        let mut t = json!({"shape": [3], "data": [1.0, 2.0, 4.0]});
        bump(&mut t, 1, 0.5);
        change_element(&mut t, 2, |x| x * 2.0);
        assert_eq!(t, json!({"shape": [3], "data": [1.0, 2.5, 8.0]}));
    }

    fn names_of_cases(golden: &Value) -> Vec<String> {
        check_every_case(golden, |_, module, _| {
            assert_eq!(module, "ReLU", "a corrupted module");
            Checked::Here
        })
    }

    #[test]
    fn both_precisions_check_the_same_cases_and_a_corrupted_file_fails_in_each() {
        let both = Precisions { f64: names_of_cases, f32: names_of_cases };
        let golden = json!({"cases": {"a": {"module": "ReLU"}, "b": {"module": "ReLU"}}});
        assert_eq!(both.check(&golden), ["a", "b"]);
        assert_eq!(first_case(&golden, "ReLU"), "a");
        let corrupted =
            ModifiedVectors::with("layers.json", "unit", &json!({"cases": {"a": {"module": "Tanh"}}}));
        for msg in both.failures(&corrupted.path()) {
            assert!(msg.contains("a corrupted module"), "{msg}");
        }
        let other = Precisions { f64: names_of_cases, f32: |_| Vec::new() };
        let msg = panic_message(|| {
            other.check(&golden);
        });
        assert!(msg.contains("f32 and f64 checked different cases"), "{msg}");
        let none = Precisions { f64: |_| Vec::new(), f32: |_| Vec::new() };
        let msg = panic_message(|| {
            none.check_file("layers.json", |_| {});
        });
        assert!(msg.contains("no case of layers.json is checked here"), "{msg}");
    }

    #[test]
    #[should_panic(expected = "loss (f32): got")]
    fn a_scalar_outside_tolerance_fails() {
        assert_close_scalar("loss", 1.0f32 + 1e-4, 1.0);
    }
}
