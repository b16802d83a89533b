#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::HttpMessage as _;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use session_core::{DynSessionStore, SessionConfig, Settings};
use session_middleware::{Outcome, SessionRules};
use tracing::Instrument as _;

pub use session_middleware::{SessionError, SessionHandle, Typed};

/// Django's `SessionMiddleware` as an actix-web middleware (`App::wrap`).
#[derive(Clone, Debug)]
pub struct SessionMiddleware {
    rules: Arc<SessionRules>,
}

impl SessionMiddleware {
    /// The middleware over `store`, with the cookie and expiry settings of `settings`.
    pub fn new(store: Arc<DynSessionStore>, settings: &Settings) -> SessionMiddleware {
        Self::from_rules(SessionRules::new(store, settings))
    }

    /// As [`new`](Self::new), with an explicit session configuration (an injected clock).
    pub fn with_config(
        store: Arc<DynSessionStore>,
        settings: &Settings,
        config: SessionConfig,
    ) -> SessionMiddleware {
        Self::from_rules(SessionRules::with_config(store, settings, config))
    }

    /// The middleware over rules built elsewhere (shared with a tower layer, say).
    pub fn from_rules(rules: SessionRules) -> SessionMiddleware {
        SessionMiddleware {
            rules: Arc::new(rules),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            service: Rc::new(service),
            rules: self.rules.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around the application.
#[derive(Debug)]
pub struct SessionService<S> {
    service: Rc<S>,
    rules: Arc<SessionRules>,
}

type Answer<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Answer<B>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let rules = self.rules.clone();
        let request = rules.start(
            req.headers()
                .get_all(header::COOKIE)
                .map(HeaderValue::as_bytes),
        );
        req.extensions_mut().insert(request.handle.clone());
        let service = self.service.clone();
        let span = request.span.clone();
        Box::pin(
            async move {
                let res = service.call(req).await?;
                let vary: Vec<String> = res
                    .headers()
                    .get_all(header::VARY)
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect();
                let outcome = rules
                    .finish(
                        &request,
                        res.status().as_u16(),
                        vary.iter().map(String::as_str),
                    )
                    .await;
                Ok(apply(outcome, res))
            }
            .instrument(span),
        )
    }
}

/// Applies the response phase's decision to an actix response.
fn apply<B>(outcome: Outcome, mut res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    match outcome {
        Outcome::Replace { status, body } => replaced(res, status, body),
        Outcome::Keep { set_cookie, vary } => {
            if let Some(cookie) = set_cookie {
                match HeaderValue::from_str(&cookie) {
                    Ok(v) => res.headers_mut().append(header::SET_COOKIE, v),
                    Err(_) => {
                        tracing::error!(target: "django.request", "session cookie is not a header value");
                        return replaced(res, 500, session_middleware::SERVER_ERROR_BODY);
                    }
                }
            }
            if let Some(vary) = vary {
                if let Ok(v) = HeaderValue::from_str(&vary) {
                    res.headers_mut().insert(header::VARY, v);
                }
            }
            res.map_into_left_body()
        }
    }
}

fn replaced<B>(
    res: ServiceResponse<B>,
    status: u16,
    body: &'static str,
) -> ServiceResponse<EitherBody<B>> {
    let (req, _) = res.into_parts();
    let answer = actix_web::HttpResponse::build(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    )
    .content_type("text/html; charset=utf-8")
    .body(body);
    ServiceResponse::new(req, answer).map_into_right_body()
}
