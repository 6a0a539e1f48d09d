//! The HTTP API under `/api/v1`, its OpenAPI document and the ops endpoints.

pub mod alerts;
pub mod auth;
pub mod blobs;
pub mod body_limit;
pub mod calls;
pub mod chat;
pub mod customers;
pub mod departments;
pub mod extract;
pub mod field;
pub mod health;
pub mod idempotency;
pub mod invoices;
pub mod journeys;
pub mod kpi;
pub mod live;
pub mod me;
mod openapi;
pub mod ratings;
pub mod settings;
pub mod shifts;
pub mod sockets;
pub mod sync;
pub mod ticket_stats;
pub mod ticket_views;
pub mod tickets;
pub mod upgrade;
pub mod uploads;
pub mod users;
pub mod views;
pub mod visit_views;
pub mod visits;
pub mod whatsapp;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, problem_response};

#[derive(OpenApi)]
#[openapi(
    info(title = "fieldops API", description = "Offline-first field service and customer service."),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem, crate::error::FieldError))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route with its OpenAPI description.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::register))
        .routes(routes!(auth::send_phone_code))
        .routes(routes!(me::get_me))
        .routes(routes!(me::set_status))
        .routes(routes!(me::set_language))
        .routes(routes!(me::change_password))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update))
        .routes(routes!(users::deactivate))
        .routes(routes!(users::activate))
        .routes(routes!(users::reset_password))
        .routes(routes!(departments::list, departments::create))
        .routes(routes!(departments::update))
        .routes(routes!(customers::list, customers::create))
        .routes(routes!(
            customers::get,
            customers::update,
            customers::delete
        ))
        .routes(routes!(customers::restore))
        .routes(routes!(customers::merge))
        .routes(routes!(live::events))
        .routes(routes!(sync::socket))
        .routes(routes!(sync::batch))
        .routes(routes!(uploads::discover, uploads::create))
        .routes(routes!(uploads::offset, uploads::append, uploads::cancel))
        .routes(routes!(blobs::check))
        .routes(routes!(blobs::link))
        .routes(routes!(blobs::download))
        .routes(routes!(tickets::list, tickets::create))
        .routes(routes!(ticket_stats::stats))
        .routes(routes!(kpi::board))
        .routes(routes!(kpi::board_csv))
        .routes(routes!(kpi::series))
        .routes(routes!(kpi::series_csv))
        .routes(routes!(kpi::live))
        .routes(routes!(ratings::ratings_csv))
        .routes(routes!(ratings::visit_rating))
        .routes(routes!(ratings::ticket_rating))
        .routes(routes!(alerts::list))
        .routes(routes!(settings::get))
        .routes(routes!(settings::put_sla))
        .routes(routes!(settings::put_assignment))
        .routes(routes!(settings::put_ratings))
        .routes(routes!(alerts::dismiss))
        .routes(routes!(calls::log))
        .routes(routes!(calls::set_push_token, calls::delete_push_token))
        .routes(routes!(journeys::list, journeys::create))
        .routes(routes!(journeys::check))
        .routes(routes!(journeys::published))
        .routes(routes!(journeys::get))
        .routes(routes!(journeys::save_draft))
        .routes(routes!(journeys::publish))
        .routes(routes!(journeys::retire))
        .routes(routes!(journeys::submit))
        .routes(routes!(journeys::ticket_answers))
        .routes(routes!(tickets::get, tickets::update))
        .routes(routes!(tickets::set_status))
        .routes(routes!(tickets::assign))
        .routes(routes!(tickets::post_message))
        .routes(routes!(tickets::attach, tickets::attachments))
        .routes(routes!(shifts::set_shift))
        .routes(routes!(invoices::list, invoices::create))
        .routes(routes!(invoices::get, invoices::update))
        .routes(routes!(invoices::submit))
        .routes(routes!(invoices::approve))
        .routes(routes!(invoices::return_to_draft))
        .routes(routes!(invoices::send))
        .routes(routes!(invoices::pdf))
        .routes(routes!(invoices::void))
        .routes(routes!(invoices::write_off))
        .routes(routes!(invoices::add_payment))
        .routes(routes!(invoices::check_payment))
        .routes(routes!(invoices::credit_note))
        .routes(routes!(chat::list, chat::start))
        .routes(routes!(chat::messages, chat::send))
        .routes(routes!(chat::read))
        .routes(routes!(whatsapp::verify, whatsapp::receive))
        .routes(routes!(visits::list, visits::create))
        .routes(routes!(visits::get, visits::update))
        .routes(routes!(visits::cancel))
        .routes(routes!(visits::claim))
        .routes(routes!(visits::withdraw))
        .routes(routes!(field::check_in))
        .routes(routes!(field::check_out))
        .routes(routes!(field::complete))
        .routes(routes!(field::reopen))
        .routes(routes!(field::return_to_pool))
        .routes(routes!(field::request_extension))
        .routes(routes!(field::list_extensions))
        .routes(routes!(field::approve_extension))
        .routes(routes!(field::reject_extension))
        .routes(routes!(field::report))
}

static SPEC: std::sync::LazyLock<utoipa::openapi::OpenApi> = std::sync::LazyLock::new(|| {
    let mut doc = api().into_openapi();
    openapi::document_shared_answers(&mut doc);
    doc
});

/// The OpenAPI document of every route.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    &SPEC
}

/// This document: OpenAPI 3.1 for every route.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "ops", responses((status = 200, body = Object)))]
async fn openapi_json() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    axum::Json(openapi())
}

/// The whole application: routes, OpenAPI, and the middleware stack.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let cors = cors(&state.config.cors_origins);
    let routes: Router<AppState> = api().into();
    let routes = routes
        .merge(crate::console::router(state.clone()))
        .fallback(fallback)
        .method_not_allowed_fallback(|| async {
            problem_response(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", &t!("problem-title-method-not-allowed"), None, vec![])
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), body_limit::layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::metrics::track))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| panic_response()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .extensions()
                    .get::<RequestId>()
                    .and_then(|id| id.header_value().to_str().ok())
                    .unwrap_or_default();
                let path = logged_path(request.uri().path());
                tracing::info_span!("http", method = %request.method(), path = %path, request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        // Outside everything that can answer on its own (idempotency
        // replays, body limits, timeouts): they speak the caller's language.
        .layer(axum::middleware::from_fn(speak_the_callers_language));
    // Outermost, so a browser's preflight is answered before anything else.
    match cors {
        Some(cors) => routes.layer(cors).with_state(state),
        None => routes.with_state(state),
    }
}

/// Serves the request in the language its `Accept-Language` prefers among
/// those the catalogue speaks; when it names none, authentication fills in
/// the caller's saved language, else English ([`crate::i18n`]).
async fn speak_the_callers_language(
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    let lang = request
        .headers()
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::i18n::Lang::preferred);
    crate::i18n::speaking(lang, next.run(request)).await
}

/// An unknown API route is a problem+json 404; anything else, the
/// console's page saying so.
async fn fallback(request: Request<axum::body::Body>) -> Response {
    if crate::console::owns(request.uri().path()) {
        crate::console::pages_not_found(request.headers()).await
    } else {
        ApiError::NotFound("route").into_response()
    }
}

/// CORS for the configured browser origins; `None` (no CORS headers at all,
/// so browsers refuse cross-origin calls) when there are none.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT_LANGUAGE,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                header::LOCATION,
                header::RETRY_AFTER,
                HeaderName::from_static("x-request-id"),
            ])
            .max_age(Duration::from_secs(3600)),
    )
}

fn panic_response() -> Response {
    tracing::error!("a request handler panicked");
    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}

/// A request's path as the logs show it: a rating link's token is a
/// credential (whoever has it rates the visit) and never reaches a log.
fn logged_path(path: &str) -> &str {
    if path.starts_with("/rate/") {
        "/rate/[token]"
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rating_tokens_never_reach_the_logs() {
        assert_eq!(super::logged_path("/rate/abcDEF123"), "/rate/[token]");
        assert_eq!(super::logged_path("/api/v1/visits"), "/api/v1/visits");
    }
}
