//! The registered learning-rate schedules, one per file.

/// Writes the [`ClosedFormSchedule`](crate::ClosedFormSchedule) accessors `progress` and
/// `progress_mut` of a schedule that keeps its [`ScheduleProgress`](crate::ScheduleProgress)
/// in the field `$field`: invoked inside the trait impl, after `NAME` and `lr_at`, so that a
/// closed-form schedule states only its name and formula.
macro_rules! progress_in_field {
    ($field:ident) => {
        fn progress(&self) -> &$crate::ScheduleProgress {
            &self.$field
        }
        fn progress_mut(&mut self) -> &mut $crate::ScheduleProgress {
            &mut self.$field
        }
    };
}

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
