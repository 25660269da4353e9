//! The registered learning-rate schedules, one per file.

mod constant;
mod cosine;
mod exponential;
mod multistep;
mod plateau;
mod step;
mod warmup;

pub use constant::Constant;
pub use cosine::CosineAnnealing;
pub use exponential::Exponential;
pub use multistep::MultiStep;
pub use plateau::ReduceOnPlateau;
pub use step::StepDecay;
pub use warmup::LinearWarmup;
