//! `nabla-data`: filled by its issue.
