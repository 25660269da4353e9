//! `nabla-init`: filled by its issue.
