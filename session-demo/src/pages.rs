//! The demo's pages with no web framework in them: each takes the request's
//! [`SessionHandle`] (and a form field where it needs one) and returns a [`Page`]. The axum
//! routes in this crate and the actix-web example (`examples/actix-demo`) are thin shells
//! over these functions, so both serve the same pages from the same session.

use session_core::Error;
use session_middleware::SessionHandle;

/// A page to answer with: its status, its title and the HTML of its `<main>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// The `<title>` and heading.
    pub title: &'static str,
    /// The message the page is about (`<p id="message">`), plain text.
    pub message: String,
    /// More HTML under the message (forms, tables), already escaped.
    pub extra: String,
}

impl Page {
    fn ok(title: &'static str, message: impl Into<String>) -> Page {
        Page {
            status: 200,
            title,
            message: message.into(),
            extra: String::new(),
        }
    }

    /// The whole HTML document: shared head, navigation and style.
    pub fn html(&self) -> String {
        let nav = [
            ("/", "Counter"),
            ("/about/", "About"),
            ("/reset/", "Reset"),
            ("/connection/", "Log in"),
            ("/logout/", "Log out"),
            ("/session/", "Session"),
        ]
        .iter()
        .map(|(href, label)| format!("<a href=\"{href}\">{label}</a>"))
        .collect::<Vec<_>>()
        .join(" ");
        format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title} · session demo</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<nav>{nav}</nav>\n<main>\n<h1>{title}</h1>\n<p id=\"message\">{message}</p>\n{extra}\n</main>\n</body>\n</html>\n",
            title = self.title,
            message = escape(&self.message),
            extra = self.extra,
        )
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}nav{display:flex;gap:1rem;flex-wrap:wrap;padding-bottom:.75rem;border-bottom:1px solid #ddd}nav a{color:#0b5cad;text-decoration:none}nav a:hover{text-decoration:underline}h1{font-size:1.5rem}#message{font-size:1.15rem}table{border-collapse:collapse;width:100%}td,th{text-align:left;border-bottom:1px solid #eee;padding:.35rem;vertical-align:top}code,pre{font-family:ui-monospace,monospace;font-size:.9rem;word-break:break-all;white-space:pre-wrap}input{padding:.3rem}button{padding:.3rem .8rem}";

/// HTML-escapes text (Django's `escape`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// `/`: counts visits and sets Django's test cookie.
pub async fn index(session: &SessionHandle) -> Result<Page, Error> {
    let mut s = session.lock().await;
    let visits = s.get::<i64>("num_visits").await?.unwrap_or(0) + 1;
    s.insert("num_visits", &visits).await?;
    s.set_test_cookie().await?;
    Ok(Page::ok("Counter", format!("Visit count: {visits}")))
}

/// `/about/`: whether the test cookie came back, and the count.
pub async fn about(session: &SessionHandle) -> Result<Page, Error> {
    let mut s = session.lock().await;
    let tested = if s.test_cookie_worked().await? {
        s.delete_test_cookie().await?;
        "Cookie Tested!"
    } else {
        "Cookie not tested."
    };
    let visits = s.get::<i64>("num_visits").await?.unwrap_or(0);
    Ok(Page::ok("About", format!("{tested} Visit count: {visits}")))
}

/// `/reset/`: forgets the count.
pub async fn reset(session: &SessionHandle) -> Result<Page, Error> {
    session.remove("num_visits").await?;
    Ok(Page::ok("Reset", "Visit count reset."))
}

const LOGIN_FORM: &str = "<form method=\"post\" action=\"/login/\"><label>Username <input name=\"username\" autocomplete=\"username\" required></label> <button>Log in</button></form>";

/// `/connection/`: who is logged in — a user Django's `login()` logged in (its
/// `_auth_user_id` and `_auth_user_backend` keys, shared with the Django app), else the
/// tutorial's username — or the login form.
pub async fn connection(session: &SessionHandle) -> Result<Page, Error> {
    if let Some(id) = session.get::<String>("_auth_user_id").await? {
        let backend = session
            .get::<String>("_auth_user_backend")
            .await?
            .unwrap_or_default();
        return Ok(Page {
            extra: format!(
                "<p>Through Django's login (<code>{}</code>).</p><p><a href=\"/logout/\">Log out</a></p>",
                escape(&backend)
            ),
            ..Page::ok("Log in", format!("Logged in as user #{id}."))
        });
    }
    Ok(match session.get::<String>("username").await? {
        Some(user) => Page {
            extra: "<p><a href=\"/logout/\">Log out</a></p>".into(),
            ..Page::ok("Log in", format!("Logged in as {user}."))
        },
        None => Page {
            extra: LOGIN_FORM.into(),
            ..Page::ok("Log in", "Not logged in.")
        },
    })
}

/// `/login/` (POST): a new session key (no fixation, as Django's `login`), then the name.
pub async fn login(session: &SessionHandle, username: &str) -> Result<Page, Error> {
    let user = username.trim();
    if user.is_empty() {
        return Ok(Page {
            status: 400,
            extra: LOGIN_FORM.into(),
            ..Page::ok("Log in", "A username is required.")
        });
    }
    let mut s = session.lock().await;
    s.cycle_key().await?;
    s.insert("username", user).await?;
    Ok(Page {
        extra: "<p><a href=\"/connection/\">Continue</a></p>".into(),
        ..Page::ok("Log in", format!("Logged in as {user}."))
    })
}

/// `/logout/`: Django's `flush` — the session is deleted, a new empty one begins.
pub async fn logout(session: &SessionHandle) -> Result<Page, Error> {
    session.flush().await?;
    Ok(Page {
        extra: "<p><a href=\"/\">Back to the counter</a> · <a href=\"/connection/\">Log in again</a></p>".into(),
        ..Page::ok("Log out", "You are logged out.")
    })
}

/// `/session/`: the current session as the engine stores it — key, expiry, decoded data,
/// engine — so a person sees what a session is.
pub async fn session_view(session: &SessionHandle, engine: &str) -> Result<Page, Error> {
    let mut s = session.lock().await;
    let data = s.data().await?.clone();
    let key = s.session_key().map(str::to_owned);
    let expiry = s.get_expiry_date().await?;
    let browser_close = s.get_expire_at_browser_close().await?;
    let mut rows = vec![
        ("Engine", escape(engine)),
        (
            "Session key (the cookie's value)",
            key.as_deref().map_or_else(
                || "none yet (nothing stored)".into(),
                |k| format!("<code>{}</code>", escape(k)),
            ),
        ),
        (
            "Expires",
            if browser_close {
                "when the browser closes".into()
            } else {
                escape(&expiry.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            },
        ),
    ];
    let json = session_core::Value::Object(data).to_python_json();
    rows.push((
        "Data (as Django stores it, before signing)",
        format!("<pre>{}</pre>", escape(&json)),
    ));
    let table = rows
        .into_iter()
        .map(|(k, v)| format!("<tr><th>{k}</th><td>{v}</td></tr>"))
        .collect::<String>();
    Ok(Page {
        extra: format!("<table>{table}</table>"),
        ..Page::ok("Session", "This is your session, as the server keeps it.")
    })
}

/// Django's 404 page for a path no route serves.
pub fn not_found() -> Page {
    Page {
        status: 404,
        ..Page::ok(
            "Not Found",
            "The requested resource was not found on this server.",
        )
    }
}

/// Django's `APPEND_SLASH`: where a path without its trailing slash redirects (301), keeping
/// the query string; `None` when it is not one of `routes`.
pub fn append_slash(path: &str, query: Option<&str>, routes: &[&str]) -> Option<String> {
    if path.ends_with('/') {
        return None;
    }
    let with = format!("{path}/");
    routes.contains(&with.as_str()).then(|| match query {
        Some(q) if !q.is_empty() => format!("{with}?{q}"),
        _ => with,
    })
}

/// The demo's paths (for `APPEND_SLASH`).
pub const ROUTES: &[&str] = &[
    "/",
    "/about/",
    "/reset/",
    "/connection/",
    "/login/",
    "/logout/",
    "/session/",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_slash_redirects_known_routes_only() {
        assert_eq!(
            append_slash("/about", None, ROUTES).as_deref(),
            Some("/about/")
        );
        assert_eq!(
            append_slash("/about", Some("a=1"), ROUTES).as_deref(),
            Some("/about/?a=1")
        );
        assert_eq!(append_slash("/about/", None, ROUTES), None);
        assert_eq!(append_slash("/nowhere", None, ROUTES), None);
    }

    #[test]
    fn pages_escape_what_they_show() {
        let page = Page::ok("Log in", "Logged in as <b>&");
        assert!(page.html().contains("Logged in as &lt;b&gt;&amp;"));
        assert!(page.html().contains("<nav>"));
    }
}
