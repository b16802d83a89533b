//! session-cache (in progress).
