//! Criterion benchmarks of nabla live in `benches/benches/`.
