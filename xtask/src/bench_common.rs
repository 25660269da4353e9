//! What the three benchmark drivers (`bench`, `bench_cnn`, `bench_distributed`) share, one
//! concern per submodule, so that an option, a message or a JSON key is written once.

pub(crate) mod build;
pub(crate) mod child;
pub(crate) mod driver;
pub(crate) mod goals;
pub(crate) mod options;
pub(crate) mod report;
pub(crate) mod torch;
