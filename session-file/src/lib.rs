//! session-file (in progress).
