//! The export: layers in order to one ONNX graph with a named, batch-dynamic input.

use crate::layers::{find, Flow, Lowering, MAPPINGS};
use crate::params::Layer;
use crate::proto::{
    tensor_proto::DataType, tensor_shape_proto::dimension, tensor_shape_proto::Dimension, type_proto,
    GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use crate::{OnnxError, RunModel};
use prost::Message;
use std::io::Write;
use std::path::Path;

/// The opset written unless [`ExportOptions::opset`] says otherwise: 20, the first with a
/// `Gelu` operator, run by ONNX Runtime 1.17 and newer.
pub const DEFAULT_OPSET: i64 = 20;

/// The oldest opset the exporter writes.
pub const MIN_OPSET: i64 = 17;

/// The newest opset the exporter writes.
pub const MAX_OPSET: i64 = 22;

/// The largest input size accepted in [`ExportOptions::input_features`].
pub const MAX_INPUT_FEATURES: usize = 1 << 31;

/// The name of the graph's input.
pub const INPUT_NAME: &str = "input";

/// The name of the batch dimension (`dim_param`) of the input and the output.
pub const BATCH_DIM: &str = "batch";

/// The ONNX IR version that goes with an opset (the ONNX release that introduced it), or
/// `None` outside [`MIN_OPSET`]..=[`MAX_OPSET`].
pub fn ir_version(opset: i64) -> Option<i64> {
    match opset {
        17 | 18 => Some(8),
        19 | 20 => Some(9),
        21 | 22 => Some(10),
        _ => None,
    }
}

/// What the graph's output is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputHead {
    /// The model's own output, named `logits`.
    #[default]
    Logits,
    /// A `Softmax` over axis 1 appended, output named `probabilities`.
    Softmax,
    /// A `LogSoftmax` over axis 1 appended, output named `log_probabilities`.
    LogSoftmax,
}

impl OutputHead {
    /// The graph output's name.
    pub fn output_name(&self) -> &'static str {
        match self {
            OutputHead::Logits => "logits",
            OutputHead::Softmax => "probabilities",
            OutputHead::LogSoftmax => "log_probabilities",
        }
    }
}

/// How to export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    /// The default-domain opset, [`MIN_OPSET`]..=[`MAX_OPSET`] (default [`DEFAULT_OPSET`]).
    pub opset: i64,
    /// The output: logits, or probabilities appended.
    pub head: OutputHead,
    /// The number of input features per sample; by default taken from the first layer that
    /// fixes it (`linear`, `batch_norm1d`, `unflatten`), else from the run's data set.
    pub input_features: Option<usize>,
    /// The data set's `data_dir` when it must be loaded to find the input size (the run's
    /// data has moved); `None`: the saved config's.
    pub data_dir: Option<String>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions { opset: DEFAULT_OPSET, head: OutputHead::Logits, input_features: None, data_dir: None }
    }
}

/// The registered layer names that can be exported, with the ONNX operators each becomes.
pub fn exportable_layers() -> Vec<(&'static str, &'static str)> {
    MAPPINGS.iter().map(|m| (m.name, m.onnx)).collect()
}

fn exportable_list() -> String {
    MAPPINGS.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
}

/// The input size the model's layers fix, walking over layers that keep the size.
fn features_from_layers(model: &RunModel) -> Option<usize> {
    for (index, spec) in model.layers.iter().enumerate() {
        let layer = Layer { index, name: &spec.name, params: &spec.params };
        let tensor = |param: &str| model.tensors.get(&layer.tensor_name(param)).map(|t| t.shape().to_vec());
        match find(&spec.name)?.name {
            "linear" => {
                return layer.opt_positive("in_features").ok().flatten().or_else(|| {
                    match tensor("weight")?[..] {
                        [_, inp] => Some(inp),
                        _ => None,
                    }
                })
            }
            "batch_norm1d" => {
                return layer.opt_positive("num_features").ok().flatten().or_else(|| {
                    let t = tensor("running_mean").or_else(|| tensor("weight"))?;
                    (t.len() == 1).then(|| t[0])
                })
            }
            "unflatten" => {
                let sizes = layer.int_list("unflattened_size").ok()??;
                if sizes.iter().any(|&s| s < 1) {
                    return None;
                }
                return crate::layers::checked_product(
                    &sizes.iter().map(|&s| s as usize).collect::<Vec<_>>(),
                );
            }
            // These keep a flat input's size.
            "relu" | "sigmoid" | "tanh" | "leaky_relu" | "gelu" | "softmax" | "log_softmax" | "identity"
            | "dropout" | "dropout2d" | "flatten" => {}
            _ => return None,
        }
    }
    None
}

/// The input size per sample: the option, the layers, or the data set.
fn input_features(model: &RunModel, options: &ExportOptions) -> Result<usize, OnnxError> {
    if let Some(f) = options.input_features {
        return if (1..=MAX_INPUT_FEATURES).contains(&f) {
            Ok(f)
        } else {
            Err(OnnxError::Options(format!("input_features must be in 1..={MAX_INPUT_FEATURES}, got {f}")))
        };
    }
    if let Some(f) = features_from_layers(model) {
        return Ok(f);
    }
    // Loading the data set is the fallback: MNIST, say, needs its files on this machine.
    let Some(data) = &model.data else {
        return Err(OnnxError::InputShape(format!(
            "no layer of {} fixes it and the config names no data set; give the number of input features",
            model.config_file
        )));
    };
    let mut raw = nabla_registry::raw_params_from_toml(&data.params, "data").map_err(|m| {
        OnnxError::Config { file: model.config_file.clone(), message: format!("[data]: {m}") }
    })?;
    if let Some(dir) = &options.data_dir {
        raw.insert("data_dir".to_string(), nabla_registry::Value::Str(dir.clone()));
    }
    let splits = nabla_registry::build::<nabla_data::DataSplits>((data.name.as_str(), &raw), ())
        .map(|b| b.value)
        .map_err(|e| {
            OnnxError::InputShape(format!(
                "no layer fixes it, and the data set '{}' could not be loaded to find it ({e}); give the \
             number of input features",
                data.name
            ))
        })?;
    Ok(splits.train.features())
}

fn tensor_type(shape: &[usize]) -> TypeProto {
    let batch =
        Dimension { value: Some(dimension::Value::DimParam(BATCH_DIM.to_string())), ..Default::default() };
    let dims =
        std::iter::once(batch)
            .chain(shape.iter().map(|&d| Dimension {
                value: Some(dimension::Value::DimValue(d as i64)),
                ..Default::default()
            }))
            .collect();
    TypeProto {
        value: Some(type_proto::Value::TensorType(type_proto::Tensor {
            elem_type: DataType::Float as i32,
            shape: Some(TensorShapeProto { dim: dims }),
        })),
        ..Default::default()
    }
}

fn value_info(name: &str, shape: &[usize], doc: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(tensor_type(shape)),
        doc_string: doc.to_string(),
        ..Default::default()
    }
}

/// Exports a model (layers and tensors) as an ONNX graph in evaluation mode.
///
/// # Errors
/// [`OnnxError::Options`] for an opset outside the supported range;
/// [`OnnxError::UnsupportedLayer`], [`OnnxError::Parameter`], [`OnnxError::Shape`],
/// [`OnnxError::MissingTensor`], [`OnnxError::TensorShape`] naming the layer;
/// [`OnnxError::UnusedTensors`] when the checkpoint holds tensors the config does not
/// explain; [`OnnxError::InputShape`] when the input size cannot be found.
pub fn export_model(model: &RunModel, options: &ExportOptions) -> Result<ModelProto, OnnxError> {
    let ir = ir_version(options.opset).ok_or_else(|| {
        OnnxError::Options(format!(
            "opset {} is not supported; choose {MIN_OPSET}..={MAX_OPSET} (default {DEFAULT_OPSET})",
            options.opset
        ))
    })?;
    // Every layer must be known before the input size is looked for (which may load data).
    let mut mappings = Vec::with_capacity(model.layers.len());
    for (index, spec) in model.layers.iter().enumerate() {
        let mapping = find(&spec.name).ok_or_else(|| {
            let near = nabla_registry::suggest(&spec.name, MAPPINGS.iter().map(|m| m.name));
            OnnxError::UnsupportedLayer {
                index,
                layer: spec.name.clone(),
                hint: near.first().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default(),
                exportable: exportable_list(),
            }
        })?;
        mappings.push(mapping);
    }
    let features = input_features(model, options)?;
    let mut low = Lowering::new(&model.tensors, &model.checkpoint_file, options.opset);
    let input = low.graph.fresh(INPUT_NAME);
    let mut flow = Flow { name: input.clone(), shape: vec![features] };
    let mut last_op = None;
    for (index, (spec, mapping)) in model.layers.iter().zip(&mappings).enumerate() {
        let layer = Layer { index, name: &spec.name, params: &spec.params };
        let before = flow.name.clone();
        flow = mapping.lower(&mut low, &layer, flow)?;
        if flow.name != before {
            last_op = Some(mapping.name);
        }
    }
    let unused = low.unused();
    if !unused.is_empty() {
        return Err(OnnxError::UnusedTensors { file: model.checkpoint_file.clone(), names: unused });
    }
    let head_op = match options.head {
        OutputHead::Logits => None,
        OutputHead::Softmax => Some("Softmax"),
        OutputHead::LogSoftmax => Some("LogSoftmax"),
    };
    if let Some(op) = head_op {
        if let Some(last @ ("softmax" | "log_softmax")) = last_op {
            return Err(OnnxError::Options(format!(
                "the model already ends with {last}; export it without a {} head",
                op.to_ascii_lowercase()
            )));
        }
        let name = low.graph.node(op, &[&flow.name], "head", vec![crate::graph::int("axis", 1)]);
        flow = Flow { name, ..flow };
    }
    let output = options.head.output_name();
    if flow.name == input {
        // A model of pass-through layers still needs a node between input and output.
        low.graph.node("Identity", &[&input], output, vec![]);
    } else if !low.graph.rename_output(&flow.name, output) {
        return Err(OnnxError::Options(format!("internal: no node produces '{}'", flow.name)));
    }

    let layers: Vec<&str> = mappings.iter().map(|m| m.name).collect();
    let mut metadata = vec![StringStringEntryProto { key: "nabla.layers".into(), value: layers.join(",") }];
    if let Some(checkpoint) = &model.checkpoint {
        metadata.push(StringStringEntryProto { key: "nabla.checkpoint".into(), value: checkpoint.clone() });
    }
    let output_doc = match options.head {
        OutputHead::Logits => "the model's output (logits for a classifier)",
        OutputHead::Softmax => "softmax over axis 1 of the model's output",
        OutputHead::LogSoftmax => "log-softmax over axis 1 of the model's output",
    };
    let graph = GraphProto {
        name: "nabla".to_string(),
        node: low.graph.nodes,
        initializer: low.graph.initializers,
        doc_string: format!("evaluation-mode model of {}", model.checkpoint_file),
        input: vec![value_info(&input, &[features], "one row of features per sample")],
        output: vec![value_info(output, &flow.shape, output_doc)],
        ..Default::default()
    };
    Ok(ModelProto {
        ir_version: ir,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: options.opset }],
        producer_name: "nabla".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        doc_string: "exported by nabla export --format onnx".to_string(),
        graph: Some(graph),
        metadata_props: metadata,
        ..Default::default()
    })
}

/// Reads a run directory (effective `config.toml`, the checkpoint `latest` names) and
/// exports its model in evaluation mode.
///
/// # Errors
/// As [`RunModel::load`] and [`export_model`].
pub fn export_run(run_dir: &Path, options: &ExportOptions) -> Result<ModelProto, OnnxError> {
    export_model(&RunModel::load(run_dir)?, options)
}

/// The model's protobuf bytes (what a `.onnx` file holds).
pub fn encode(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Decodes the protobuf bytes of an ONNX model.
///
/// # Errors
/// [`OnnxError::Decode`] when the bytes are not a `ModelProto`.
pub fn decode(bytes: &[u8]) -> Result<ModelProto, OnnxError> {
    Ok(ModelProto::decode(bytes)?)
}

/// Writes the model to `path` atomically (a temporary file beside it, then a rename), so an
/// interrupted export never leaves a truncated model under the final name. Returns the
/// number of bytes written.
///
/// # Errors
/// [`OnnxError::Io`] naming the file.
pub fn write_onnx(model: &ModelProto, path: &Path) -> Result<u64, OnnxError> {
    let io = |source| OnnxError::Io { path: path.to_path_buf(), source };
    let bytes = encode(model);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)?;
    Ok(bytes.len() as u64)
}
