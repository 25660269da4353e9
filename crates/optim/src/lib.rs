//! `nabla-optim`: filled by its issue.
