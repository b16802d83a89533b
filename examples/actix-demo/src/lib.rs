//! The demo's pages (`session_demo::pages`) on actix-web, behind `session_actix`'s
//! middleware. Run it with
//!
//! ```sh
//! cargo run -p example-actix-demo        # http://127.0.0.1:8001/, the same settings as session-demo
//! ```
//!
//! With the same `SECRET_KEY` and engine settings as the axum demo (or a Django app), the
//! three serve the same visitors: a browser moves between them and keeps its session.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use session_actix::{SessionHandle, SessionMiddleware};
use session_core::{DynSessionStore, Error, Settings};
use session_demo::pages::{self, Page};

fn respond(page: Result<Page, Error>) -> Result<HttpResponse, session_actix::SessionError> {
    let page = page?;
    Ok(
        HttpResponse::build(StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK))
            .content_type("text/html; charset=utf-8")
            .body(page.html()),
    )
}

#[derive(serde::Deserialize)]
struct Login {
    #[serde(default)]
    username: String,
}

/// Django's `APPEND_SLASH` (301 to the path with its slash) or its 404 page.
async fn fallback(req: HttpRequest) -> Result<HttpResponse, session_actix::SessionError> {
    match pages::append_slash(req.path(), Some(req.query_string()), pages::ROUTES) {
        Some(to) => Ok(HttpResponse::MovedPermanently()
            .insert_header(("Location", to))
            .finish()),
        None => respond(Ok(pages::not_found())),
    }
}

/// The demo's routes and the session middleware, for `App::configure`-style use:
/// `App::new().wrap(middleware(store, &settings)).configure(|c| routes(c, &settings))`.
pub fn routes(cfg: &mut web::ServiceConfig, settings: &Settings) {
    let engine = settings.engine_name().to_owned();
    cfg.route(
        "/",
        web::get().to(|s: SessionHandle| async move { respond(pages::index(&s).await) }),
    )
    .route(
        "/about/",
        web::get().to(|s: SessionHandle| async move { respond(pages::about(&s).await) }),
    )
    .route(
        "/reset/",
        web::get().to(|s: SessionHandle| async move { respond(pages::reset(&s).await) }),
    )
    .route(
        "/connection/",
        web::get().to(|s: SessionHandle| async move { respond(pages::connection(&s).await) }),
    )
    .route(
        "/login/",
        web::post().to(|s: SessionHandle, form: web::Form<Login>| async move {
            respond(pages::login(&s, &form.username).await)
        }),
    )
    .route(
        "/logout/",
        web::route().to(|s: SessionHandle| async move { respond(pages::logout(&s).await) }),
    )
    .route(
        "/session/",
        web::get().to(move |s: SessionHandle| {
            let engine = engine.clone();
            async move { respond(pages::session_view(&s, &engine).await) }
        }),
    )
    .default_service(web::to(fallback));
}

/// The session middleware for `store`.
pub fn middleware(store: Arc<DynSessionStore>, settings: &Settings) -> SessionMiddleware {
    SessionMiddleware::new(store, settings)
}
