//! The mapping from registered layer names to ONNX nodes, in evaluation mode.
//!
//! Each mapping reads the layer's validated hyper-parameters (PyTorch's `torch.nn` names),
//! checks the checkpoint tensors it needs against the shape those imply, and appends nodes.
//! Shapes are tracked per sample (the batch dimension is symbolic), which is what lets
//! `flatten`, `unflatten` and the adaptive pool be expressed with fixed ONNX attributes.

use crate::graph::{float, int, ints, string, Graph};
use crate::params::{Layer, Padding};
use crate::{OnnxError, Tensor, TensorMismatch};
use std::collections::{BTreeMap, BTreeSet};

/// A value flowing between layers: its graph name and its shape without the batch dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Flow {
    pub name: String,
    pub shape: Vec<usize>,
}

/// The state shared by the mappings of one export.
pub(crate) struct Lowering<'a> {
    pub graph: Graph,
    pub opset: i64,
    tensors: &'a BTreeMap<String, Tensor>,
    used: BTreeSet<String>,
    file: &'a str,
}

impl<'a> Lowering<'a> {
    pub fn new(tensors: &'a BTreeMap<String, Tensor>, file: &'a str, opset: i64) -> Self {
        Lowering { graph: Graph::default(), opset, tensors, used: BTreeSet::new(), file }
    }

    /// Adds the checkpoint tensor `{index}.{param}` as an initializer under its own name,
    /// after checking that it has the `expected` shape.
    fn tensor(&mut self, layer: &Layer<'_>, param: &str, expected: &[usize]) -> Result<String, OnnxError> {
        let name = layer.tensor_name(param);
        let t = self.tensors.get(&name).ok_or_else(|| OnnxError::MissingTensor {
            index: layer.index,
            layer: layer.name.to_string(),
            tensor: name.clone(),
            file: self.file.to_string(),
        })?;
        if t.shape() != expected {
            return Err(OnnxError::TensorShape(Box::new(TensorMismatch {
                index: layer.index,
                layer: layer.name.to_string(),
                tensor: name,
                file: self.file.to_string(),
                expected: expected.to_vec(),
                found: t.shape().to_vec(),
            })));
        }
        self.used.insert(name.clone());
        Ok(self.graph.init_f32_named(&name, t.shape(), t.data()))
    }

    /// Marks a checkpoint tensor the evaluation graph does not need (BatchNorm's
    /// `num_batches_tracked`) as accounted for.
    fn ignore(&mut self, layer: &Layer<'_>, param: &str) {
        let name = layer.tensor_name(param);
        if self.tensors.contains_key(&name) {
            self.used.insert(name);
        }
    }

    /// Checkpoint tensors no layer used, sorted.
    pub fn unused(&self) -> Vec<String> {
        self.tensors.keys().filter(|k| !self.used.contains(*k)).cloned().collect()
    }

    /// `ReduceMean` over `axes` keeping them (the axes moved from an attribute to an input
    /// in opset 18).
    fn reduce_mean(&mut self, x: &str, axes: &[i64], out: &str) -> String {
        if self.opset >= 18 {
            let axes = self.graph.init_i64(&format!("{out}/axes"), axes);
            self.graph.node("ReduceMean", &[x, &axes], out, vec![int("keepdims", 1)])
        } else {
            self.graph.node("ReduceMean", &[x], out, vec![ints("axes", axes), int("keepdims", 1)])
        }
    }

    /// `Reshape` of `x` to the per-sample `shape`, keeping the batch dimension (a 0 in a
    /// Reshape target copies the input's dimension there).
    fn reshape_per_sample(&mut self, layer: &Layer<'_>, x: &str, shape: &[usize]) -> String {
        let target: Vec<i64> = std::iter::once(0).chain(shape.iter().map(|&d| d as i64)).collect();
        let target = self.graph.init_i64(&layer.value_name("shape"), &target);
        self.graph.node("Reshape", &[x, &target], &layer.value_name("reshape"), vec![])
    }
}

/// How a mapping lowers one layer.
type LowerFn = fn(&mut Lowering<'_>, &Layer<'_>, Flow) -> Result<Flow, OnnxError>;

/// One exportable layer name.
pub(crate) struct Mapping {
    /// The registered name.
    pub name: &'static str,
    /// The ONNX operators it becomes (for docs and `nabla export` messages).
    pub onnx: &'static str,
    lower: LowerFn,
}

/// Every exportable layer. Names are matched as the registry matches them (case, `_` and
/// `-` ignored), so `BatchNorm1d` and `batch_norm1d` are the same layer.
pub(crate) const MAPPINGS: &[Mapping] = &[
    Mapping { name: "linear", onnx: "Gemm (MatMul + Add for inputs of rank > 2)", lower: linear },
    Mapping { name: "batch_norm1d", onnx: "BatchNormalization", lower: batch_norm1d },
    Mapping { name: "batch_norm2d", onnx: "BatchNormalization", lower: batch_norm2d },
    Mapping { name: "relu", onnx: "Relu", lower: relu },
    Mapping { name: "sigmoid", onnx: "Sigmoid", lower: sigmoid },
    Mapping { name: "tanh", onnx: "Tanh", lower: tanh },
    Mapping { name: "leaky_relu", onnx: "LeakyRelu", lower: leaky_relu },
    Mapping { name: "gelu", onnx: "Gelu (opset >= 20), else Erf or Tanh composition", lower: gelu },
    Mapping { name: "softmax", onnx: "Softmax", lower: softmax },
    Mapping { name: "log_softmax", onnx: "LogSoftmax", lower: log_softmax },
    Mapping { name: "identity", onnx: "(no node)", lower: pass },
    Mapping { name: "dropout", onnx: "(no node: identity in evaluation)", lower: pass },
    Mapping { name: "dropout2d", onnx: "(no node: identity in evaluation)", lower: pass },
    Mapping { name: "flatten", onnx: "Flatten or Reshape (no node when nothing merges)", lower: flatten },
    Mapping { name: "unflatten", onnx: "Reshape", lower: unflatten },
    Mapping { name: "conv2d", onnx: "Conv (Pad first for non-zero padding modes)", lower: conv2d },
    Mapping { name: "max_pool2d", onnx: "MaxPool", lower: max_pool2d },
    Mapping { name: "avg_pool2d", onnx: "AveragePool", lower: avg_pool2d },
    Mapping {
        name: "adaptive_avg_pool2d",
        onnx: "GlobalAveragePool (1x1), else AveragePool",
        lower: adaptive_avg_pool2d,
    },
];

/// Aliases of the registry that are not spellings of a canonical name.
const ALIASES: &[(&str, &str)] = &[("bn", "batch_norm1d")];

/// The mapping of a layer name, as the registry resolves names.
pub(crate) fn find(name: &str) -> Option<&'static Mapping> {
    let n = nabla_registry::normalize(name);
    let canonical = ALIASES.iter().find(|(a, _)| nabla_registry::normalize(a) == n).map(|(_, c)| *c);
    let n = canonical.map(nabla_registry::normalize).unwrap_or(n);
    MAPPINGS.iter().find(|m| nabla_registry::normalize(m.name) == n)
}

impl Mapping {
    pub fn lower(&self, low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
        (self.lower)(low, layer, x)
    }
}

fn pass(_: &mut Lowering<'_>, _: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    Ok(x)
}

fn unary(
    low: &mut Lowering<'_>,
    layer: &Layer<'_>,
    x: Flow,
    op: &str,
    attributes: Vec<crate::proto::AttributeProto>,
) -> Flow {
    let name = low.graph.node(op, &[&x.name], &layer.value_name(&op.to_ascii_lowercase()), attributes);
    Flow { name, shape: x.shape }
}

fn relu(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    Ok(unary(low, layer, x, "Relu", vec![]))
}

fn sigmoid(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    Ok(unary(low, layer, x, "Sigmoid", vec![]))
}

fn tanh(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    Ok(unary(low, layer, x, "Tanh", vec![]))
}

fn leaky_relu(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let slope = layer.f64("negative_slope", 0.01)?;
    Ok(unary(low, layer, x, "LeakyRelu", vec![float("alpha", slope as f32)]))
}

fn gelu(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let approximate = layer.str("approximate", "none")?.to_ascii_lowercase();
    if approximate != "none" && approximate != "tanh" {
        return Err(layer.param_error("approximate", format!("expects none or tanh, got '{approximate}'")));
    }
    if low.opset >= 20 {
        return Ok(unary(low, layer, x, "Gelu", vec![string("approximate", &approximate)]));
    }
    // Before opset 20 there is no Gelu operator: the same formulas from elementwise ops.
    let v = |what: &str| layer.value_name(&format!("gelu/{what}"));
    let g = &mut low.graph;
    let inner = if approximate == "tanh" {
        // tanh(sqrt(2/pi) (x + 0.044715 x^3))
        let c = g.scalar(&v("c"), (2.0 / std::f64::consts::PI).sqrt() as f32);
        let k = g.scalar(&v("k"), 0.044715);
        let x2 = g.node("Mul", &[&x.name, &x.name], &v("x2"), vec![]);
        let x3 = g.node("Mul", &[&x2, &x.name], &v("x3"), vec![]);
        let kx3 = g.node("Mul", &[&k, &x3], &v("kx3"), vec![]);
        let sum = g.node("Add", &[&x.name, &kx3], &v("sum"), vec![]);
        let arg = g.node("Mul", &[&c, &sum], &v("arg"), vec![]);
        g.node("Tanh", &[&arg], &v("tanh"), vec![])
    } else {
        // erf(x / sqrt(2))
        let r = g.scalar(&v("rsqrt2"), std::f64::consts::FRAC_1_SQRT_2 as f32);
        let arg = g.node("Mul", &[&x.name, &r], &v("arg"), vec![]);
        g.node("Erf", &[&arg], &v("erf"), vec![])
    };
    let one = g.scalar(&v("one"), 1.0);
    let half = g.scalar(&v("half"), 0.5);
    let plus = g.node("Add", &[&inner, &one], &v("plus1"), vec![]);
    let xs = g.node("Mul", &[&x.name, &plus], &v("mul"), vec![]);
    let name = g.node("Mul", &[&xs, &half], &layer.value_name("gelu"), vec![]);
    Ok(Flow { name, shape: x.shape })
}

/// Checks `dim` against an input of `rank` dimensions (batch included), as PyTorch does.
fn check_dim(layer: &Layer<'_>, key: &str, dim: i64, rank: usize) -> Result<i64, OnnxError> {
    let r = rank as i64;
    if dim < -r || dim >= r {
        return Err(layer.param_error(
            key,
            format!("{dim} is out of range for an input of {rank} dimensions (batch included)"),
        ));
    }
    Ok(dim)
}

fn softmax(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let dim = check_dim(layer, "dim", layer.i64("dim", 1)?, x.shape.len() + 1)?;
    Ok(unary(low, layer, x, "Softmax", vec![int("axis", dim)]))
}

fn log_softmax(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let dim = check_dim(layer, "dim", layer.i64("dim", 1)?, x.shape.len() + 1)?;
    Ok(unary(low, layer, x, "LogSoftmax", vec![int("axis", dim)]))
}

fn linear(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let Some(&inp) = x.shape.last() else {
        return Err(layer.shape_error("expects an input [N, ..., in_features], got a 1-d input [N]"));
    };
    let out = layer.required_positive("out_features")?;
    if let Some(given) = layer.opt_positive("in_features")? {
        if given != inp {
            return Err(layer.shape_error(format!("in_features = {given}, but {inp} features flow in")));
        }
    }
    let w = low.tensor(layer, "weight", &[out, inp])?;
    let b = if layer.bool("bias", true)? { Some(low.tensor(layer, "bias", &[out])?) } else { None };
    let mut shape = x.shape.clone();
    *shape.last_mut().expect("checked non-empty") = out;
    let g = &mut low.graph;
    let name = if x.shape.len() == 1 {
        // y = x W^T + b: the checkpoint's [out, in] weight is used as it is, transposed by Gemm.
        let mut inputs = vec![x.name.as_str(), w.as_str()];
        if let Some(b) = &b {
            inputs.push(b);
        }
        g.node("Gemm", &inputs, &layer.value_name("linear"), vec![int("transB", 1)])
    } else {
        // Gemm takes 2-d inputs only; MatMul broadcasts over the leading dimensions.
        let wt = g.node("Transpose", &[&w], &layer.value_name("weight_t"), vec![ints("perm", &[1, 0])]);
        let xw = g.node("MatMul", &[&x.name, &wt], &layer.value_name("matmul"), vec![]);
        match &b {
            Some(b) => g.node("Add", &[&xw, b], &layer.value_name("linear"), vec![]),
            None => xw,
        }
    };
    Ok(Flow { name, shape })
}

fn batch_norm1d(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    if !(x.shape.len() == 1 || x.shape.len() == 2) {
        return Err(
            layer.shape_error(format!("expects an input [N, C] or [N, C, L], got [N, {}]", dims(&x.shape)))
        );
    }
    batch_norm(low, layer, x)
}

fn batch_norm2d(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    if x.shape.len() != 3 {
        return Err(layer.shape_error(format!("expects an input [N, C, H, W], got [N, {}]", dims(&x.shape))));
    }
    batch_norm(low, layer, x)
}

/// BatchNorm over the channel axis 1 of `[N, C, ...]`.
fn batch_norm(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let c = x.shape[0];
    if let Some(n) = layer.opt_positive("num_features")? {
        if n != c {
            return Err(layer.shape_error(format!("num_features = {n}, but {c} channels flow in")));
        }
    }
    let eps = layer.f64("eps", 1e-5)?;
    if eps <= 0.0 {
        return Err(layer.param_error("eps", format!("expects a positive number, got {eps}")));
    }
    let affine = layer.bool("affine", true)?;
    let track = layer.bool("track_running_stats", true)?;
    let (scale, bias) = if affine {
        (Some(low.tensor(layer, "weight", &[c])?), Some(low.tensor(layer, "bias", &[c])?))
    } else {
        (None, None)
    };
    if track {
        let mean = low.tensor(layer, "running_mean", &[c])?;
        let var = low.tensor(layer, "running_var", &[c])?;
        low.ignore(layer, "num_batches_tracked");
        let g = &mut low.graph;
        // ONNX needs a scale and a shift even without affine parameters: ones and zeros.
        let scale = scale.unwrap_or_else(|| g.init_f32(&layer.value_name("scale"), &[c], &vec![1.0; c]));
        let bias = bias.unwrap_or_else(|| g.init_f32(&layer.value_name("bias"), &[c], &vec![0.0; c]));
        let name = g.node(
            "BatchNormalization",
            &[&x.name, &scale, &bias, &mean, &var],
            &layer.value_name("batch_norm"),
            vec![float("epsilon", eps as f32)],
        );
        return Ok(Flow { name, shape: x.shape });
    }
    // Without running statistics PyTorch normalizes with the batch's own mean and biased
    // variance in evaluation too; so does this graph.
    let axes: Vec<i64> = std::iter::once(0).chain(2..=x.shape.len() as i64).collect();
    let v = |what: &str| layer.value_name(&format!("batch_norm/{what}"));
    let mean = low.reduce_mean(&x.name, &axes, &v("mean"));
    let centred = low.graph.node("Sub", &[&x.name, &mean], &v("centred"), vec![]);
    let squared = low.graph.node("Mul", &[&centred, &centred], &v("squared"), vec![]);
    let var = low.reduce_mean(&squared, &axes, &v("var"));
    let g = &mut low.graph;
    let eps = g.scalar(&v("eps"), eps as f32);
    let var_eps = g.node("Add", &[&var, &eps], &v("var_eps"), vec![]);
    let std = g.node("Sqrt", &[&var_eps], &v("std"), vec![]);
    let normalized = g.node("Div", &[&centred, &std], &v("normalized"), vec![]);
    let (Some(scale), Some(bias)) = (scale, bias) else {
        return Ok(Flow { name: normalized, shape: x.shape });
    };
    // [C] parameters broadcast against [N, C, L...] only once shaped [C, 1, ...].
    let (scale, bias) = if x.shape.len() > 1 {
        let mut target = vec![c as i64];
        target.resize(x.shape.len(), 1);
        let target = g.init_i64(&v("param_shape"), &target);
        (
            g.node("Reshape", &[&scale, &target], &v("scale"), vec![]),
            g.node("Reshape", &[&bias, &target], &v("bias"), vec![]),
        )
    } else {
        (scale, bias)
    };
    let scaled = g.node("Mul", &[&normalized, &scale], &v("scaled"), vec![]);
    let name = g.node("Add", &[&scaled, &bias], &layer.value_name("batch_norm"), vec![]);
    Ok(Flow { name, shape: x.shape })
}

/// The product of `dims`, `None` on overflow.
pub(crate) fn checked_product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

fn dims(shape: &[usize]) -> String {
    shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
}

/// Resolves a possibly negative dimension of an input of `rank` dimensions (batch included).
fn resolve(layer: &Layer<'_>, key: &str, dim: i64, rank: usize) -> Result<usize, OnnxError> {
    let d = check_dim(layer, key, dim, rank)?;
    Ok(if d < 0 { (d + rank as i64) as usize } else { d as usize })
}

fn flatten(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let rank = x.shape.len() + 1;
    let start = resolve(layer, "start_dim", layer.i64("start_dim", 1)?, rank)?;
    let end = resolve(layer, "end_dim", layer.i64("end_dim", -1)?, rank)?;
    if start > end {
        return Err(layer.param_error(
            "start_dim",
            format!("start_dim {start} comes after end_dim {end} for an input of {rank} dimensions"),
        ));
    }
    if start == end {
        return Ok(x);
    }
    if start == 0 {
        return Err(layer.param_error(
            "start_dim",
            "flattening the batch dimension into the features is not exportable with a dynamic batch",
        ));
    }
    // Per-sample dimensions start - 1 ..= end - 1 merge into one.
    let merged = checked_product(&x.shape[start - 1..end])
        .ok_or_else(|| layer.shape_error(format!("flattening [N, {}] overflows", dims(&x.shape))))?;
    let mut shape = x.shape[..start - 1].to_vec();
    shape.push(merged);
    shape.extend_from_slice(&x.shape[end..]);
    let name = if start == 1 && end == rank - 1 {
        low.graph.node("Flatten", &[&x.name], &layer.value_name("flatten"), vec![int("axis", 1)])
    } else {
        low.reshape_per_sample(layer, &x.name, &shape)
    };
    Ok(Flow { name, shape })
}

fn unflatten(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let rank = x.shape.len() + 1;
    let Some(dim) = layer.params.get("dim").map(|_| layer.i64("dim", 1)).transpose()? else {
        return Err(layer.param_error("dim", "missing (required)"));
    };
    let dim = resolve(layer, "dim", dim, rank)?;
    if dim == 0 {
        return Err(layer.param_error("dim", "unflattening the batch dimension is not exportable"));
    }
    let sizes = layer
        .int_list("unflattened_size")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| layer.param_error("unflattened_size", "missing (required): a list of sizes"))?;
    let size = x.shape[dim - 1];
    let unknown = sizes.iter().filter(|&&s| s == -1).count();
    if unknown > 1 || sizes.iter().any(|&s| s == 0 || s < -1) {
        return Err(layer
            .param_error("unflattened_size", format!("{sizes:?}: sizes must be >= 1, with at most one -1")));
    }
    let positive: Vec<usize> = sizes.iter().filter(|&&s| s > 0).map(|&s| s as usize).collect();
    let known = checked_product(&positive)
        .ok_or_else(|| layer.param_error("unflattened_size", format!("{sizes:?}: the product overflows")))?;
    let resolved: Vec<usize> = if unknown == 1 {
        if known == 0 || !size.is_multiple_of(known) {
            return Err(layer.shape_error(format!(
                "unflattened_size {sizes:?} does not divide dimension {dim} of size {size}"
            )));
        }
        sizes.iter().map(|&s| if s == -1 { size / known } else { s as usize }).collect()
    } else {
        if known != size {
            return Err(layer.shape_error(format!(
                "unflattened_size {sizes:?} has {known} elements, dimension {dim} has {size}"
            )));
        }
        sizes.iter().map(|&s| s as usize).collect()
    };
    let mut shape = x.shape[..dim - 1].to_vec();
    shape.extend_from_slice(&resolved);
    shape.extend_from_slice(&x.shape[dim..]);
    let name = low.reshape_per_sample(layer, &x.name, &shape);
    Ok(Flow { name, shape })
}

/// The `[C, H, W]` of an image input.
fn image(layer: &Layer<'_>, x: &Flow) -> Result<[usize; 3], OnnxError> {
    match x.shape[..] {
        [c, h, w] => Ok([c, h, w]),
        _ => Err(layer.shape_error(format!(
            "expects an input [N, C, H, W], got [N, {}]; an unflatten layer turns flat features into images",
            dims(&x.shape)
        ))),
    }
}

/// Output size of a convolution or pool along one dimension, as PyTorch computes it.
fn out_size(
    input: usize,
    pad_total: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    ceil: bool,
    pad_begin: usize,
) -> Option<usize> {
    let span = dilation.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
    let numerator = input.checked_add(pad_total)?.checked_sub(span)?;
    let mut out = if ceil { numerator.div_ceil(stride) } else { numerator / stride } + 1;
    // PyTorch (and ONNX) drop a last window that would start inside the end padding.
    if ceil && (out - 1).checked_mul(stride)? >= input.checked_add(pad_begin)? {
        out -= 1;
    }
    Some(out)
}

/// Spatial hyper-parameters shared by convolutions and pools, ready for ONNX attributes.
struct Window {
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    /// top, left, bottom, right (ONNX's begin-then-end order).
    pads: [usize; 4],
    ceil: bool,
}

impl Window {
    fn attributes(&self, with_dilations: bool) -> Vec<crate::proto::AttributeProto> {
        let i = |v: &[usize]| v.iter().map(|&x| x as i64).collect::<Vec<_>>();
        let mut a = vec![
            ints("kernel_shape", &i(&self.kernel)),
            ints("strides", &i(&self.stride)),
            ints("pads", &i(&self.pads)),
        ];
        if with_dilations {
            a.push(ints("dilations", &i(&self.dilation)));
        }
        a
    }

    fn output(&self, layer: &Layer<'_>, h: usize, w: usize) -> Result<[usize; 2], OnnxError> {
        let mut out = [0; 2];
        for (axis, input) in [h, w].into_iter().enumerate() {
            let pad_total = self.pads[axis] + self.pads[axis + 2];
            out[axis] = out_size(
                input,
                pad_total,
                self.kernel[axis],
                self.stride[axis],
                self.dilation[axis],
                self.ceil,
                self.pads[axis],
            )
            .filter(|&o| o >= 1)
            .ok_or_else(|| {
                layer.shape_error(format!(
                    "kernel {:?} (dilation {:?}) does not fit the input {h}x{w} with padding {:?}",
                    self.kernel, self.dilation, self.pads
                ))
            })?;
        }
        Ok(out)
    }
}

fn conv2d(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let [c, h, w] = image(layer, &x)?;
    if let Some(given) = layer.opt_positive("in_channels")? {
        if given != c {
            return Err(layer.shape_error(format!("in_channels = {given}, but {c} channels flow in")));
        }
    }
    let out_channels = layer.required_positive("out_channels")?;
    let kernel = layer
        .pair("kernel_size", 1)?
        .ok_or_else(|| layer.param_error("kernel_size", "missing (required)"))?;
    let stride = layer.pair("stride", 1)?.unwrap_or([1, 1]);
    let dilation = layer.pair("dilation", 1)?.unwrap_or([1, 1]);
    let groups = layer.opt_positive("groups")?.unwrap_or(1);
    if c % groups != 0 || out_channels % groups != 0 {
        return Err(layer.param_error(
            "groups",
            format!("{groups} does not divide in_channels {c} and out_channels {out_channels}"),
        ));
    }
    let pads = match layer.padding("padding")? {
        Padding::Explicit([ph, pw]) => [ph, pw, ph, pw],
        Padding::Same => {
            if stride != [1, 1] {
                return Err(layer.param_error("padding", "\"same\" needs stride 1 (as in PyTorch)"));
            }
            let total = [dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)];
            [total[0] / 2, total[1] / 2, total[0] - total[0] / 2, total[1] - total[1] / 2]
        }
    };
    let mode = layer.str("padding_mode", "zeros")?.to_ascii_lowercase();
    let pad_mode = match mode.as_str() {
        "zeros" => None,
        "reflect" => Some("reflect"),
        "replicate" => Some("edge"),
        "circular" if low.opset >= 19 => Some("wrap"),
        "circular" => {
            return Err(
                layer.param_error("padding_mode", "circular padding needs opset 19 or newer (Pad mode wrap)")
            )
        }
        other => {
            return Err(layer.param_error(
                "padding_mode",
                format!("expects zeros, reflect, replicate or circular, got '{other}'"),
            ))
        }
    };
    let window = Window { kernel, stride, dilation, pads, ceil: false };
    let [oh, ow] = window.output(layer, h, w)?;
    let weight = low.tensor(layer, "weight", &[out_channels, c / groups, kernel[0], kernel[1]])?;
    let bias =
        if layer.bool("bias", true)? { Some(low.tensor(layer, "bias", &[out_channels])?) } else { None };

    let g = &mut low.graph;
    let (input, window) = match pad_mode {
        None => (x.name.clone(), window),
        Some(mode) => {
            if mode == "reflect" && (pads[0].max(pads[2]) >= h || pads[1].max(pads[3]) >= w) {
                return Err(layer.shape_error(format!(
                    "reflect padding {pads:?} must be smaller than the input {h}x{w}"
                )));
            }
            // ONNX Pad lists all begins, then all ends, for every axis (batch and channel too).
            let p = |i: usize| pads[i] as i64;
            let amounts = g.init_i64(&layer.value_name("pads"), &[0, 0, p(0), p(1), 0, 0, p(2), p(3)]);
            let padded =
                g.node("Pad", &[&x.name, &amounts], &layer.value_name("pad"), vec![string("mode", mode)]);
            (padded, Window { pads: [0; 4], ..window })
        }
    };
    let mut inputs = vec![input.as_str(), weight.as_str()];
    if let Some(b) = &bias {
        inputs.push(b);
    }
    let mut attributes = window.attributes(true);
    attributes.push(int("group", groups as i64));
    let name = g.node("Conv", &inputs, &layer.value_name("conv"), attributes);
    Ok(Flow { name, shape: vec![out_channels, oh, ow] })
}

/// Kernel, stride (default: the kernel) and padding of a pool, with PyTorch's limit of half
/// the kernel on the padding.
fn pool_window(layer: &Layer<'_>, dilation: [usize; 2]) -> Result<Window, OnnxError> {
    let kernel = layer
        .pair("kernel_size", 1)?
        .ok_or_else(|| layer.param_error("kernel_size", "missing (required)"))?;
    let stride = layer.pair("stride", 1)?.unwrap_or(kernel);
    let [ph, pw] = layer.pair("padding", 0)?.unwrap_or([0, 0]);
    if ph > kernel[0] / 2 || pw > kernel[1] / 2 {
        return Err(layer.param_error(
            "padding",
            format!("[{ph}, {pw}] is more than half the kernel {kernel:?} (PyTorch refuses it too)"),
        ));
    }
    let ceil = layer.bool("ceil_mode", false)?;
    Ok(Window { kernel, stride, dilation, pads: [ph, pw, ph, pw], ceil })
}

fn max_pool2d(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let [c, h, w] = image(layer, &x)?;
    if layer.bool("return_indices", false)? {
        return Err(
            layer.param_error("return_indices", "a pool returning indices is not a Sequential layer output")
        );
    }
    let dilation = layer.pair("dilation", 1)?.unwrap_or([1, 1]);
    let window = pool_window(layer, dilation)?;
    let [oh, ow] = window.output(layer, h, w)?;
    let mut attributes = window.attributes(true);
    attributes.push(int("ceil_mode", window.ceil as i64));
    let name = low.graph.node("MaxPool", &[&x.name], &layer.value_name("max_pool"), attributes);
    Ok(Flow { name, shape: vec![c, oh, ow] })
}

fn avg_pool2d(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let [c, h, w] = image(layer, &x)?;
    // PyTorch's None is written as an absent key (or 0 by a schema without optional ints).
    if layer.has("divisor_override") && layer.i64("divisor_override", 0)? != 0 {
        return Err(layer.param_error("divisor_override", "has no ONNX AveragePool equivalent"));
    }
    let window = pool_window(layer, [1, 1])?;
    let [oh, ow] = window.output(layer, h, w)?;
    let mut attributes = window.attributes(false);
    attributes.push(int("ceil_mode", window.ceil as i64));
    attributes.push(int("count_include_pad", layer.bool("count_include_pad", true)? as i64));
    let name = low.graph.node("AveragePool", &[&x.name], &layer.value_name("avg_pool"), attributes);
    Ok(Flow { name, shape: vec![c, oh, ow] })
}

fn adaptive_avg_pool2d(low: &mut Lowering<'_>, layer: &Layer<'_>, x: Flow) -> Result<Flow, OnnxError> {
    let [c, h, w] = image(layer, &x)?;
    let [oh, ow] = layer
        .pair("output_size", 1)?
        .ok_or_else(|| layer.param_error("output_size", "missing (required)"))?;
    if [oh, ow] == [1, 1] {
        let name =
            low.graph.node("GlobalAveragePool", &[&x.name], &layer.value_name("global_avg_pool"), vec![]);
        return Ok(Flow { name, shape: vec![c, 1, 1] });
    }
    // Adaptive windows are all equal, and do not overlap, exactly when the sizes divide.
    if h % oh != 0 || w % ow != 0 {
        return Err(layer.param_error(
            "output_size",
            format!(
                "[{oh}, {ow}] does not divide the input {h}x{w}: only 1x1 (GlobalAveragePool) or \
                 divisors (AveragePool) are exportable"
            ),
        ));
    }
    let kernel = [h / oh, w / ow];
    let window = Window { kernel, stride: kernel, dilation: [1, 1], pads: [0; 4], ceil: false };
    let name = low.graph.node(
        "AveragePool",
        &[&x.name],
        &layer.value_name("adaptive_avg_pool"),
        window.attributes(false),
    );
    Ok(Flow { name, shape: vec![c, oh, ow] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_like_the_registry() {
        assert_eq!(find("BatchNorm1d").unwrap().name, "batch_norm1d");
        assert_eq!(find("bn").unwrap().name, "batch_norm1d");
        assert_eq!(find("LeakyReLU").unwrap().name, "leaky_relu");
        assert_eq!(find("MaxPool2d").unwrap().name, "max_pool2d");
        assert_eq!(find("AdaptiveAvgPool2d").unwrap().name, "adaptive_avg_pool2d");
        assert!(find("lstm").is_none());
    }

    #[test]
    fn output_sizes_follow_pytorch() {
        // Conv: 28 -> 26 (k3), 28 -> 28 (k3, pad 1), 28 -> 14 (k3, s2, pad 1), dilation 2: 24.
        assert_eq!(out_size(28, 0, 3, 1, 1, false, 0), Some(26));
        assert_eq!(out_size(28, 2, 3, 1, 1, false, 1), Some(28));
        assert_eq!(out_size(28, 2, 3, 2, 1, false, 1), Some(14));
        assert_eq!(out_size(28, 0, 3, 1, 2, false, 0), Some(24));
        // Pools with ceil_mode: 5 -> 3 (k2 s2); the window starting in the padding is dropped.
        assert_eq!(out_size(5, 0, 2, 2, 1, false, 0), Some(2));
        assert_eq!(out_size(5, 0, 2, 2, 1, true, 0), Some(3));
        assert_eq!(out_size(6, 2, 2, 2, 1, true, 1), Some(4));
        assert_eq!(out_size(2, 0, 3, 1, 1, false, 0), None);
    }
}
