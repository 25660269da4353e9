//! `nabla-layers`: filled by its issue.
