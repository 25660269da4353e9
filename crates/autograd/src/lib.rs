//! `nabla-autograd`: filled by its issue.
