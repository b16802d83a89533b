//! The `Cookie` header as browsers (and attackers) send it: any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = session_core::cookie::parse_cookie_header(&String::from_utf8_lossy(data));
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut headers = http::HeaderMap::new();
        headers.append(http::header::COOKIE, value);
        let _ = session_middleware::request_cookie(&headers, "sessionid");
    }
});
