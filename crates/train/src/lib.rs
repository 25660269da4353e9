//! `nabla-train`: filled by its issue.
