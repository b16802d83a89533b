//! session-cookie-signed (in progress).
