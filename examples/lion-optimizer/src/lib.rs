//! Example plugin: the Lion optimizer (filled by the optimizer issue).
