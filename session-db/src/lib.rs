//! session-db (in progress).
