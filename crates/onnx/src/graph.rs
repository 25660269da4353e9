//! A small builder over the generated protobuf types: nodes, attributes and initializers of
//! one graph, with unique value names.

use crate::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, AttributeProto, NodeProto, TensorProto,
};
use std::collections::BTreeSet;

/// The nodes and initializers of the graph being built.
#[derive(Default)]
pub(crate) struct Graph {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    names: BTreeSet<String>,
}

impl Graph {
    /// Reserves `wanted`, or `wanted_1`, `wanted_2`, ... when taken, and returns it. Value
    /// and initializer names share one namespace in ONNX.
    pub fn fresh(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_string();
        let mut n = 1;
        while self.names.contains(&name) {
            name = format!("{wanted}_{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// Appends a node of the default domain whose single output is a fresh name derived from
    /// `output`; returns that name.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attributes: Vec<AttributeProto>,
    ) -> String {
        let output = self.fresh(output);
        self.nodes.push(NodeProto {
            name: format!("{output}/{op}"),
            op_type: op.to_string(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            attribute: attributes,
            ..Default::default()
        });
        output
    }

    /// Adds a float32 initializer under exactly `name` (checkpoint names are kept as they are).
    pub fn init_f32_named(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        self.names.insert(name.to_string());
        let mut raw = Vec::with_capacity(data.len() * 4);
        for x in data {
            raw.extend_from_slice(&x.to_le_bytes());
        }
        self.initializers.push(TensorProto {
            name: name.to_string(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            raw_data: raw,
            ..Default::default()
        });
        name.to_string()
    }

    /// Adds a float32 initializer under a fresh name derived from `name`.
    pub fn init_f32(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        let name = self.fresh(name);
        self.init_f32_named(&name, dims, data)
    }

    /// A float32 scalar constant.
    pub fn scalar(&mut self, name: &str, value: f32) -> String {
        self.init_f32(name, &[], &[value])
    }

    /// Adds an int64 initializer (shapes, axes, pads) under a fresh name derived from `name`.
    pub fn init_i64(&mut self, name: &str, data: &[i64]) -> String {
        let name = self.fresh(name);
        let mut raw = Vec::with_capacity(data.len() * 8);
        for x in data {
            raw.extend_from_slice(&x.to_le_bytes());
        }
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: vec![data.len() as i64],
            data_type: DataType::Int64 as i32,
            raw_data: raw,
            ..Default::default()
        });
        name
    }

    /// Renames the output `from` of the node that produces it to `to` (the graph's output
    /// name); returns false when no node produces `from`.
    pub fn rename_output(&mut self, from: &str, to: &str) -> bool {
        for node in self.nodes.iter_mut().rev() {
            if let Some(out) = node.output.iter_mut().find(|o| *o == from) {
                *out = to.to_string();
                node.name = format!("{to}/{}", node.op_type);
                self.names.insert(to.to_string());
                return true;
            }
        }
        false
    }
}

/// An attribute named `name` of type `kind`, its value fields still empty.
fn attribute(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto { name: name.to_string(), r#type: kind as i32, ..Default::default() }
}

/// An integer attribute.
pub(crate) fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { i: value, ..attribute(name, AttributeType::Int) }
}

/// A list-of-integers attribute.
pub(crate) fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto { ints: values.to_vec(), ..attribute(name, AttributeType::Ints) }
}

/// A float attribute.
pub(crate) fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { f: value, ..attribute(name, AttributeType::Float) }
}

/// A string attribute.
pub(crate) fn string(name: &str, value: &str) -> AttributeProto {
    AttributeProto { s: value.as_bytes().to_vec(), ..attribute(name, AttributeType::String) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_renames_reach_the_producer() {
        let mut g = Graph::default();
        assert_eq!(g.fresh("a"), "a");
        assert_eq!(g.fresh("a"), "a_1");
        let w = g.init_f32_named("0.weight", &[2], &[1.0, 2.0]);
        assert_eq!(g.fresh("0.weight"), "0.weight_1");
        let y = g.node("Relu", &[&w], "y", vec![]);
        assert!(g.rename_output(&y, "logits"));
        assert_eq!(g.nodes[0].output, ["logits"]);
        assert!(!g.rename_output("nothing", "logits"));
        assert_eq!(g.initializers[0].raw_data, [1.0f32.to_le_bytes(), 2.0f32.to_le_bytes()].concat());
        assert_eq!(g.init_i64("shape", &[0, -1]), "shape");
        assert_eq!(g.initializers[1].dims, [2]);
    }
}
