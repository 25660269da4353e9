//! Property tests of the compact `name:key=value,...` form.

use nabla_registry::{format_compact, parse_compact, Value};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(Value::Float),
        prop_oneof![Just(f64::INFINITY), Just(f64::NEG_INFINITY)].prop_map(Value::Float),
        "[a-z_][a-z0-9_]{0,8}".prop_map(Value::Str),
        "\\PC{0,12}".prop_map(Value::Str),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => scalar(),
        1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::List),
        1 => prop::collection::vec(prop::collection::vec(scalar(), 0..3).prop_map(Value::List), 0..3).prop_map(Value::List),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_valid_map_round_trips(
        name in "[a-z][a-z0-9_]{0,10}",
        params in prop::collection::btree_map("[a-z_][a-z0-9_]{0,6}", value(), 0..5),
    ) {
        let text = format_compact(&name, &params);
        let (parsed_name, parsed) = parse_compact(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed_name, name);
        prop_assert_eq!(parsed, params.into_iter().collect::<BTreeMap<_, _>>());
    }

    #[test]
    fn arbitrary_strings_never_panic(input in "\\PC{0,40}") {
        let _ = parse_compact(&input);
    }

    #[test]
    fn arbitrary_punctuation_never_panics(input in "[a-z:=,\\[\\]\"\\\\0-9.e+-]{0,30}") {
        let _ = parse_compact(&input);
    }
}
