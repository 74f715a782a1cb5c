//! Float64 arrays: input checks, exact sums, metrics and telemetry summaries, synaptic decay and VCG auction prices.

pub mod auction;
pub mod checks;
pub mod exact_sum;
pub mod metrics;
pub mod pruning;
pub mod telemetry;
