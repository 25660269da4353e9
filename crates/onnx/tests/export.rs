//! The written bytes decode (with prost) to the expected graph: nodes, attributes,
//! initializers named and filled as in the checkpoint, the input's dynamic batch; and every
//! bad input is an error naming the layer, tensor or file. Runs without Python.

mod common;

use common::{attr, attr_int, attr_ints, conv_config, ops, tensors, train};
use nabla_onnx::proto::{tensor_proto::DataType, tensor_shape_proto::dimension, ModelProto};
use nabla_onnx::{
    decode, encode, export_model, export_run, write_onnx, ExportOptions, OnnxError, OutputHead, RunModel,
    Tensor,
};
use std::collections::BTreeMap;

fn dims(model: &ModelProto, output: bool) -> Vec<String> {
    let g = model.graph.as_ref().unwrap();
    let v = if output { &g.output[0] } else { &g.input[0] };
    let Some(nabla_onnx::proto::type_proto::Value::TensorType(t)) = &v.r#type.as_ref().unwrap().value else {
        panic!("not a tensor type")
    };
    assert_eq!(t.elem_type, DataType::Float as i32);
    t.shape
        .as_ref()
        .unwrap()
        .dim
        .iter()
        .map(|d| match d.value.as_ref().unwrap() {
            dimension::Value::DimParam(p) => p.clone(),
            dimension::Value::DimValue(v) => v.to_string(),
        })
        .collect()
}

fn floats(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[test]
fn digits_run_decodes_to_the_expected_graph() {
    let dir = tempfile::tempdir().unwrap();
    let run = train(nabla_train::DEFAULT_CONFIG, &["epochs=1"], dir.path(), "digits");
    let path = dir.path().join("out/model.onnx");
    let model = export_run(&run, &ExportOptions::default()).unwrap();
    let written = write_onnx(&model, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, written);
    assert_eq!(bytes, encode(&model));
    let back = decode(&bytes).unwrap();
    assert_eq!(back, model);

    assert_eq!((back.ir_version, back.opset_import[0].version), (9, 20));
    assert_eq!(back.opset_import[0].domain, "");
    assert_eq!(back.producer_name, "nabla");
    assert_eq!(back.producer_version, env!("CARGO_PKG_VERSION"));
    assert!(back
        .metadata_props
        .iter()
        .any(|p| p.key == "nabla.checkpoint" && p.value == "checkpoint-epoch0001"));
    // Linear -> BatchNorm1d -> ReLU -> Dropout, twice, then Linear: the dropouts vanish.
    assert_eq!(
        ops(&back),
        ["Gemm", "BatchNormalization", "Relu", "Gemm", "BatchNormalization", "Relu", "Gemm"]
    );
    let g = back.graph.as_ref().unwrap();
    assert_eq!(g.input.len(), 1);
    assert_eq!(g.input[0].name, "input");
    assert_eq!(dims(&back, false), ["batch", "64"]);
    assert_eq!(g.output[0].name, "logits");
    assert_eq!(dims(&back, true), ["batch", "10"]);
    assert_eq!(g.node[0].input, ["input", "0.weight", "0.bias"]);
    assert_eq!(attr_int(&g.node[0], "transB"), 1);
    assert_eq!(g.node[1].input[1..], ["1.weight", "1.bias", "1.running_mean", "1.running_var"]);
    assert_eq!(attr(&g.node[1], "epsilon").f, 1e-5);
    assert_eq!(g.node[6].input, [g.node[5].output[0].as_str(), "8.weight", "8.bias"]);
    assert_eq!(g.node[6].output, ["logits"]);

    // Initializers: exactly the checkpoint's tensors but num_batches_tracked, same bits.
    let checkpoint =
        nabla_train::read_safetensors(&run.join("checkpoint-epoch0001/model.safetensors"), None).unwrap();
    let inits: BTreeMap<&str, _> = g.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    let expected: Vec<&str> = checkpoint
        .tensors()
        .keys()
        .map(String::as_str)
        .filter(|k| !k.ends_with("num_batches_tracked"))
        .collect();
    assert_eq!(inits.keys().copied().collect::<Vec<_>>(), expected);
    for name in expected {
        let (t, a) = (inits[name], &checkpoint.f32(name).unwrap().0);
        assert_eq!(t.data_type, DataType::Float as i32);
        assert_eq!(t.dims, a.shape().iter().map(|&d| d as i64).collect::<Vec<_>>(), "{name}");
        let same_bits = floats(&t.raw_data).iter().zip(a.iter()).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same_bits && t.raw_data.len() == 4 * a.len(), "{name}");
    }

    // Heads: an appended softmax renames the output; a model already ending in one refuses.
    let soft = export_run(&run, &ExportOptions { head: OutputHead::Softmax, ..Default::default() }).unwrap();
    let sg = soft.graph.as_ref().unwrap();
    assert_eq!(sg.node.last().unwrap().op_type, "Softmax");
    assert_eq!(attr_int(sg.node.last().unwrap(), "axis"), 1);
    assert_eq!(sg.output[0].name, "probabilities");
    let log =
        export_run(&run, &ExportOptions { head: OutputHead::LogSoftmax, ..Default::default() }).unwrap();
    assert_eq!(log.graph.as_ref().unwrap().output[0].name, "log_probabilities");
    assert!(matches!(decode(b"\xff\xff\xff"), Err(OnnxError::Decode(_))));
}

fn synthetic(config: &str, specs: &[(&str, &[usize])]) -> RunModel {
    RunModel::from_config_str(config, "test.toml", tensors(specs, 0), "test.safetensors").unwrap()
}

#[test]
fn bias_false_and_batch_norm_with_dropout() {
    let config = r#"
        [[model.layers]]
        name = "linear"
        out_features = 6
        bias = false
        [[model.layers]]
        name = "BatchNorm1d"
        eps = 0.001
        [[model.layers]]
        name = "dropout"
        p = 0.5
        [[model.layers]]
        name = "leaky_relu"
        negative_slope = 0.2
        [[model.layers]]
        name = "linear"
        out_features = 3
    "#;
    let specs: &[(&str, &[usize])] = &[
        ("0.weight", &[6, 4]),
        ("1.weight", &[6]),
        ("1.bias", &[6]),
        ("1.running_mean", &[6]),
        ("1.running_var", &[6]),
        ("1.num_batches_tracked", &[]),
        ("4.weight", &[3, 6]),
        ("4.bias", &[3]),
    ];
    let model = export_model(&synthetic(config, specs), &ExportOptions::default()).unwrap();
    assert_eq!(ops(&model), ["Gemm", "BatchNormalization", "LeakyRelu", "Gemm"]);
    let g = model.graph.as_ref().unwrap();
    assert_eq!(g.node[0].input, ["input", "0.weight"], "no bias input when bias = false");
    assert!((attr(&g.node[1], "epsilon").f - 1e-3).abs() < 1e-9);
    assert!((attr(&g.node[2], "alpha").f - 0.2).abs() < 1e-7);
    assert_eq!(dims(&model, false), ["batch", "4"], "input size from the first linear's weight");
    assert_eq!(dims(&model, true), ["batch", "3"]);

    // The config says bias = false, but the checkpoint has one: they disagree.
    let mut with_bias = specs.to_vec();
    with_bias.push(("0.bias", &[6]));
    let e = export_model(&synthetic(config, &with_bias), &ExportOptions::default()).unwrap_err();
    assert!(matches!(&e, OnnxError::UnusedTensors { names, .. } if names == &["0.bias"]), "{e}");
}

#[test]
fn activations_gelu_forms_and_opsets() {
    let config = r#"
        [[model.layers]]
        name = "linear"
        out_features = 5
        [[model.layers]]
        name = "gelu"
        [[model.layers]]
        name = "GELU"
        approximate = "tanh"
        [[model.layers]]
        name = "sigmoid"
        [[model.layers]]
        name = "tanh"
        [[model.layers]]
        name = "relu"
        [[model.layers]]
        name = "identity"
        [[model.layers]]
        name = "softmax"
        dim = -1
    "#;
    let specs: &[(&str, &[usize])] = &[("0.weight", &[5, 2]), ("0.bias", &[5])];
    let m = synthetic(config, specs);
    let at20 = export_model(&m, &ExportOptions::default()).unwrap();
    assert_eq!(ops(&at20), ["Gemm", "Gelu", "Gelu", "Sigmoid", "Tanh", "Relu", "Softmax"]);
    let g = at20.graph.as_ref().unwrap();
    assert_eq!(attr(&g.node[1], "approximate").s, b"none");
    assert_eq!(attr(&g.node[2], "approximate").s, b"tanh");
    assert_eq!(attr_int(&g.node[6], "axis"), -1);
    let at17 = export_model(&m, &ExportOptions { opset: 17, ..Default::default() }).unwrap();
    assert_eq!(at17.ir_version, 8);
    let o = ops(&at17);
    assert!(!o.contains(&"Gelu".to_string()), "{o:?}");
    assert_eq!(o.iter().filter(|op| *op == "Erf").count(), 1);
    assert_eq!(o.iter().filter(|op| *op == "Tanh").count(), 2, "the tanh form and the tanh layer");
    let e = export_model(&m, &ExportOptions { head: OutputHead::Softmax, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("already ends with softmax"), "{e}");
    for opset in [16, 23] {
        let e = export_model(&m, &ExportOptions { opset, ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("choose 17..=22"), "{e}");
    }
}

#[test]
fn errors_name_the_layer_the_tensor_and_the_file() {
    let linear = "[[model.layers]]\nname = \"linear\"\nout_features = 3\n";
    let e = export_model(
        &synthetic(
            &format!("{linear}[[model.layers]]\nname = \"lstm\"\n"),
            &[("0.weight", &[3, 2]), ("0.bias", &[3])],
        ),
        &ExportOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("model.layers[1]: layer 'lstm' cannot be exported to ONNX"), "{e}");
    assert!(e.contains("exportable layers: linear, batch_norm1d"), "{e}");
    let e = export_model(&synthetic("[[model.layers]]\nname = \"lineer\"\n", &[]), &ExportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean 'linear'?"), "{e}");

    let e = export_model(&synthetic(linear, &[("0.weight", &[3, 2])]), &ExportOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(e, "model.layers[0] ('linear'): tensor '0.bias' is missing from test.safetensors");
    let e = export_model(
        &synthetic(linear, &[("0.weight", &[3, 2]), ("0.bias", &[4])]),
        &ExportOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("tensor '0.bias' in test.safetensors has shape [4], the config implies [3]"), "{e}");
    let e = export_model(
        &synthetic(linear, &[("0.weight", &[3, 2]), ("0.bias", &[3])]),
        &ExportOptions { input_features: Some(5), ..Default::default() },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("'0.weight' in test.safetensors has shape [3, 2], the config implies [3, 5]"), "{e}");
    let bad = "[[model.layers]]\nname = \"leaky_relu\"\nnegative_slope = \"steep\"\n";
    let e =
        export_model(&synthetic(bad, &[]), &ExportOptions { input_features: Some(2), ..Default::default() })
            .unwrap_err()
            .to_string();
    assert_eq!(e, "model.layers[0] ('leaky_relu'): negative_slope: expects a number, got \"steep\"");

    // Nothing fixes the input size and there is no data set to ask.
    let e = export_model(&synthetic("[[model.layers]]\nname = \"relu\"\n", &[]), &ExportOptions::default())
        .unwrap_err();
    assert!(matches!(e, OnnxError::InputShape(_)), "{e}");
    // A data set fixes it: the embedded digits have 64 features.
    let relu = synthetic("[data]\nname = \"digits\"\n[[model.layers]]\nname = \"relu\"\n", &[]);
    let m = export_model(&relu, &ExportOptions::default()).unwrap();
    assert_eq!(dims(&m, false), ["batch", "64"]);
    // Pass-through layers alone still connect input and output.
    let id = synthetic("[[model.layers]]\nname = \"dropout\"\n", &[]);
    let m = export_model(&id, &ExportOptions { input_features: Some(3), ..Default::default() }).unwrap();
    assert_eq!(ops(&m), ["Identity"]);
    assert_eq!(m.graph.as_ref().unwrap().node[0].output, ["logits"]);
}

#[test]
fn run_directory_problems_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = export_run(dir.path(), &ExportOptions::default()).unwrap_err();
    assert!(matches!(&e, OnnxError::Io { path, .. } if path.ends_with("config.toml")), "{e}");
    std::fs::write(dir.path().join("config.toml"), "[[model.layers]]\nname = \"relu\"\n").unwrap();
    let e = export_run(dir.path(), &ExportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("latest") && e.contains("no checkpoint yet"), "{e}");
    std::fs::write(dir.path().join("latest"), "checkpoint-epoch0001").unwrap();
    std::fs::create_dir(dir.path().join("checkpoint-epoch0001")).unwrap();
    std::fs::write(dir.path().join("checkpoint-epoch0001/model.safetensors"), b"\x10\0\0\0\0\0\0\0{}")
        .unwrap();
    let e = export_run(dir.path(), &ExportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("model.safetensors: not a valid safetensors file"), "{e}");
    std::fs::write(dir.path().join("config.toml"), vec![b'#'; 2 << 20]).unwrap();
    let e = export_run(dir.path(), &ExportOptions::default()).unwrap_err();
    assert!(matches!(e, OnnxError::TooLarge { .. }), "{e}");
    let e = write_onnx(&ModelProto::default(), &dir.path().join("config.toml/x.onnx")).unwrap_err();
    assert!(matches!(e, OnnxError::Io { .. }), "{e}");
}

fn conv_specs() -> Vec<(&'static str, &'static [usize])> {
    vec![
        ("1.weight", &[4, 1, 3, 3]),
        ("1.bias", &[4]),
        ("2.weight", &[4]),
        ("2.bias", &[4]),
        ("2.running_mean", &[4]),
        ("2.running_var", &[4]),
        ("2.num_batches_tracked", &[]),
        ("6.weight", &[6, 2, 4, 2]),
        ("8.weight", &[6, 6, 3, 3]),
        ("8.bias", &[6]),
        ("11.weight", &[10, 6]),
        ("11.bias", &[10]),
    ]
}

#[test]
fn convolution_pool_and_reshape_mappings() {
    let model =
        export_model(&synthetic(&conv_config([1, 8, 8], "1"), &conv_specs()), &ExportOptions::default())
            .unwrap();
    assert_eq!(
        ops(&model),
        [
            "Reshape",
            "Conv",
            "BatchNormalization",
            "Relu",
            "MaxPool",
            "Conv",
            "AveragePool",
            "Pad",
            "Conv",
            "GlobalAveragePool",
            "Flatten",
            "Gemm"
        ]
    );
    let g = model.graph.as_ref().unwrap();
    let init = |name: &str| g.initializer.iter().find(|t| t.name == name).unwrap();
    let i64s = |name: &str| {
        init(name)
            .raw_data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(dims(&model, false), ["batch", "64"], "the input size from unflatten");
    assert_eq!(i64s(&g.node[0].input[1]), [0, 1, 8, 8], "batch copied, then the per-sample shape");
    let conv = &g.node[1];
    assert_eq!(conv.input, [g.node[0].output[0].as_str(), "1.weight", "1.bias"]);
    assert_eq!(attr_ints(conv, "kernel_shape"), [3, 3]);
    assert_eq!(attr_ints(conv, "strides"), [1, 1]);
    assert_eq!(attr_ints(conv, "pads"), [1, 1, 1, 1]);
    assert_eq!(attr_ints(conv, "dilations"), [1, 1]);
    assert_eq!(attr_int(conv, "group"), 1);
    assert_eq!(g.node[2].input[1..], ["2.weight", "2.bias", "2.running_mean", "2.running_var"]);
    let pool = &g.node[4];
    assert_eq!((attr_ints(pool, "kernel_shape"), attr_ints(pool, "strides")), (vec![2, 2], vec![2, 2]));
    assert_eq!(attr_int(pool, "ceil_mode"), 1);
    // "same" with an even kernel (4 rows): PyTorch pads 1 above and 2 below.
    let same = &g.node[5];
    assert_eq!(same.input.len(), 2, "bias = false");
    assert_eq!(attr_ints(same, "pads"), [1, 0, 2, 1]);
    assert_eq!(attr_int(same, "group"), 2);
    let avg = &g.node[6];
    assert_eq!(attr_ints(avg, "pads"), [1, 1, 1, 1]);
    assert_eq!(attr_int(avg, "count_include_pad"), 0);
    assert_eq!(attr_int(avg, "ceil_mode"), 0);
    // Reflect padding: an explicit Pad (begins then ends, for N, C, H, W), then an unpadded Conv.
    let pad = &g.node[7];
    assert_eq!(attr(pad, "mode").s, b"reflect");
    assert_eq!(i64s(&pad.input[1]), [0, 0, 1, 2, 0, 0, 1, 2]);
    let strided = &g.node[8];
    assert_eq!(attr_ints(strided, "pads"), [0, 0, 0, 0]);
    assert_eq!(attr_ints(strided, "strides"), [2, 2]);
    assert_eq!(attr_ints(strided, "dilations"), [1, 2]);
    assert_eq!(attr_int(&g.node[10], "axis"), 1);
    assert_eq!(dims(&model, true), ["batch", "10"]);
}

#[test]
fn convolution_shapes_and_settings_are_checked() {
    let base = synthetic(&conv_config([1, 8, 8], "1"), &conv_specs());
    let with = |index: usize, key: &str, value: toml::Value| {
        let mut m = base.clone();
        m.layers[index].params.insert(key.to_string(), value);
        export_model(&m, &ExportOptions::default()).unwrap_err().to_string()
    };
    let e = with(1, "out_channels", toml::Value::Integer(5));
    assert!(
        e.contains(
            "tensor '1.weight' in test.safetensors has shape [4, 1, 3, 3], the config implies [5, 1, 3, 3]"
        ),
        "{e}"
    );
    let e = with(1, "in_channels", toml::Value::Integer(3));
    assert!(e.contains("in_channels = 3, but 1 channels flow in"), "{e}");
    let e = with(6, "stride", toml::Value::Integer(2));
    assert!(e.contains("\"same\" needs stride 1"), "{e}");
    let e = with(6, "groups", toml::Value::Integer(3));
    assert!(e.contains("groups: 3 does not divide"), "{e}");
    let e = with(8, "padding_mode", toml::Value::String("mirror".into()));
    assert!(e.contains("expects zeros, reflect, replicate or circular"), "{e}");
    let e = with(7, "divisor_override", toml::Value::Integer(4));
    assert!(e.contains("divisor_override"), "{e}");
    let e = with(4, "padding", toml::Value::Integer(2));
    assert!(e.contains("more than half the kernel"), "{e}");
    let e = with(4, "return_indices", toml::Value::Boolean(true));
    assert!(e.contains("return_indices"), "{e}");
    let e = with(9, "output_size", toml::Value::Integer(3));
    assert!(e.contains("does not divide the input 2x2"), "{e}");
    let mut m = base.clone();
    m.layers[0]
        .params
        .insert("unflattened_size".into(), toml::Value::Array(vec![1.into(), 8.into(), 9.into()]));
    let e = export_model(&m, &ExportOptions { input_features: Some(64), ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("has 72 elements, dimension 1 has 64"), "{e}");

    // Absurd sizes are errors, not overflows.
    let e = with(1, "kernel_size", toml::Value::Integer(1 << 40));
    assert!(e.contains("kernel_size: expects an integer in 1..=16777216"), "{e}");
    let e = with(8, "padding", toml::Value::Array(vec![(1i64 << 40).into(), 0.into()]));
    assert!(e.contains("padding: expects an integer in 0..=16777216, a pair"), "{e}");
    let mut m = base.clone();
    let huge = toml::Value::Integer(1 << 40);
    m.layers[0]
        .params
        .insert("unflattened_size".into(), toml::Value::Array(vec![huge.clone(), huge, (-1).into()]));
    let e = export_model(&m, &ExportOptions { input_features: Some(64), ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("the product overflows"), "{e}");
    let e = export_model(&m, &ExportOptions { input_features: Some(usize::MAX), ..Default::default() })
        .unwrap_err();
    assert!(e.to_string().contains("input_features must be in 1..="), "{e}");

    // Conv without an image input, and replicate / circular padding per opset.
    let flat = synthetic(
        "[[model.layers]]\nname = \"conv2d\"\nout_channels = 2\nkernel_size = 1\n",
        &[("0.weight", &[2, 1, 1, 1]), ("0.bias", &[2])],
    );
    let e = export_model(&flat, &ExportOptions { input_features: Some(4), ..Default::default() })
        .unwrap_err()
        .to_string();
    assert!(e.contains("expects an input [N, C, H, W], got [N, 4]; an unflatten layer"), "{e}");
    let mut m = base.clone();
    m.layers[8].params.insert("padding_mode".into(), "circular".into());
    let e = export_model(&m, &ExportOptions { opset: 18, ..Default::default() }).unwrap_err().to_string();
    assert!(e.contains("circular padding needs opset 19"), "{e}");
    let ok = export_model(&m, &ExportOptions { opset: 19, ..Default::default() }).unwrap();
    assert_eq!(attr(&ok.graph.as_ref().unwrap().node[7], "mode").s, b"wrap");
    m.layers[8].params.insert("padding_mode".into(), "replicate".into());
    let ok = export_model(&m, &ExportOptions::default()).unwrap();
    assert_eq!(attr(&ok.graph.as_ref().unwrap().node[7], "mode").s, b"edge");

    // Adaptive pooling to a divisor of the input becomes a plain AveragePool.
    let mut m = base.clone();
    m.layers[9].params.insert("output_size".into(), toml::Value::Array(vec![2.into(), 1.into()]));
    m.layers[11].params.insert("in_features".into(), 12.into());
    m.tensors.insert("11.weight".into(), Tensor::new(vec![10, 12], vec![0.0; 120]).unwrap());
    let ok = export_model(&m, &ExportOptions::default()).unwrap();
    let pool = &ok.graph.as_ref().unwrap().node[9];
    assert_eq!(pool.op_type, "AveragePool");
    assert_eq!((attr_ints(pool, "kernel_shape"), attr_ints(pool, "strides")), (vec![1, 2], vec![1, 2]));
}

#[test]
fn flatten_ranges_and_batch_statistics() {
    // flatten over a middle range becomes a Reshape keeping the other dimensions.
    let config = r#"
        [[model.layers]]
        name = "unflatten"
        dim = -1
        unflattened_size = [2, -1, 3]
        [[model.layers]]
        name = "flatten"
        start_dim = 2
        end_dim = 3
        [[model.layers]]
        name = "batch_norm1d"
        track_running_stats = false
        [[model.layers]]
        name = "flatten"
        [[model.layers]]
        name = "flatten"
    "#;
    let m = synthetic(config, &[("2.weight", &[2]), ("2.bias", &[2])]);
    let model = export_model(&m, &ExportOptions { input_features: Some(12), ..Default::default() }).unwrap();
    let o = ops(&model);
    assert_eq!(o[..2], ["Reshape", "Reshape"]);
    assert_eq!(o.iter().filter(|op| *op == "ReduceMean").count(), 2, "batch mean and variance");
    assert_eq!(o.last().unwrap(), "Flatten", "the second flatten of a flat input adds no node");
    assert_eq!(dims(&model, true), ["batch", "12"]);
    let e = export_model(
        &synthetic("[[model.layers]]\nname = \"flatten\"\nstart_dim = 0\n[[model.layers]]\nname = \"unflatten\"\ndim = 1\nunflattened_size = [2, 2]\n", &[]),
        &ExportOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("start_dim") && e.contains("dynamic batch"), "{e}");
}
