//! The linker pitfall, shown: this test binary depends on the plugin crate (it is in
//! Cargo.toml) but never references it, so the plugin is not linked and its registration is
//! absent. The trainer then reports an unknown optimizer with the registered names.

use nabla_train::{TrainConfig, Trainer};

#[test]
fn without_a_reference_the_plugin_is_not_linked_and_the_error_says_so() {
    let config = TrainConfig::from_toml_str(
        "[data]\nname = \"digits\"\n[[model.layers]]\nname = \"linear\"\nout_features = 10\n\
         [loss]\nname = \"cross_entropy\"\n[optimizer]\nname = \"lion\"\n",
        "lion.toml",
        &[],
    )
    .unwrap();
    let err = Trainer::new(config).err().expect("lion must be unknown here").to_string();
    assert!(err.contains("lion.toml: [optimizer]"), "{err}");
    assert!(err.contains("unknown optimizer 'lion'"), "{err}");
    for builtin in ["adam", "radam", "sgd", "adadelta"] {
        assert!(err.contains(builtin), "the error lists the registered optimizers: {err}");
    }
}
