//! session-cached-db (in progress).
