//! The web console CS, sales and admins work in: server-rendered HTML
//! (askama templates under `server/templates/console/`), htmx 2 vendored and
//! embedded in the binary (`server/assets/`), one Server-Sent Events stream
//! per tab for live updates ([`live`]), and every string from the one
//! catalogue ([`crate::i18n`]), Bahasa Indonesia unless the user or their
//! browser asks for English.
//!
//! It is an adapter beside the HTTP API: pages read through the storage
//! layer's queries and every change goes through a service and the unit of
//! work, authorised by the same policy. Sessions and CSRF: [`session`].
//!
//! Every response carries a Content-Security-Policy that allows scripts,
//! styles and connections from this origin only — no inline script or
//! style anywhere (htmx's own indicator styles are switched off in the
//! page's `htmx-config`) — and refuses framing.

mod calls;
mod chat;
mod common;
mod customers;
mod dashboard;
mod dispatch;
mod field;
mod invoices;
mod journeys;
mod kpi;
mod live;
mod rating;
pub mod render;
pub mod session;
mod settings;
mod sign_in;
mod ticket_record;
mod tickets;
mod user_edit;
mod users;
mod visit_edit;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// The console's routes: pages at the root of the site, beside `/api/v1`.
pub fn router(state: AppState) -> Router<AppState> {
    let image_form = image_form_limit(&state.config);
    Router::new()
        .route("/", get(dashboard::dashboard))
        .route(
            "/sign-in",
            get(sign_in::sign_in_form).post(sign_in::sign_in),
        )
        .route("/sign-out", post(sign_in::sign_out))
        .route("/rate/{token}", get(rating::show).post(rating::submit))
        .route("/language", post(sign_in::choose_language))
        .route("/language/{code}", get(sign_in::language))
        .route("/presence", post(sign_in::set_presence))
        .route("/dispatch", get(dispatch::dispatch))
        .route("/dispatch/cards/{id}", get(dispatch::card_fragment))
        .route("/dispatch/visits", post(dispatch::create_visit))
        .route(
            "/dispatch/visits/{id}",
            get(visit_edit::show).post(visit_edit::save),
        )
        .route("/dispatch/visits/{id}/cancel", post(dispatch::cancel_visit))
        .route(
            "/dispatch/assignments/{id}/return",
            post(dispatch::return_assignment),
        )
        .route("/tickets", get(tickets::list))
        .route("/tickets/{id}", get(tickets::show))
        .route("/tickets/{id}/messages", post(tickets::post_message))
        .route("/tickets/{id}/status", post(tickets::set_status))
        .route("/tickets/{id}/assign", post(tickets::assign))
        .route(
            "/tickets/{id}/attachments",
            post(ticket_record::attach).layer(DefaultBodyLimit::max(image_form)),
        )
        .route("/tickets/{id}/files/{sha256}", get(ticket_record::file))
        .route("/customers", get(customers::list).post(customers::create))
        .route("/customers/{id}", post(customers::update))
        .route("/customers/{id}/delete", post(customers::delete))
        .route("/customers/{id}/restore", post(customers::restore))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(user_edit::show).post(user_edit::save))
        .route("/users/{id}/deactivate", post(users::deactivate))
        .route("/users/{id}/activate", post(users::activate))
        .route("/users/{id}/reset-password", post(users::reset_password))
        .route("/users/{id}/shift", post(users::set_shift))
        .route("/calls/signal", post(calls::signal))
        .route("/chat", get(chat::inbox))
        .route("/chat/{id}/messages", post(chat::reply))
        .route("/chat/{id}/files/{sha256}", get(chat::file))
        .route("/attendance", get(field::attendance_page))
        .route("/extensions", get(field::extensions_list))
        .route("/extensions/{id}/decide", post(field::decide_extension))
        .route("/invoices", get(invoices::list).post(invoices::create))
        .route("/invoices/new", get(invoices::new))
        .route("/invoices/{id}", get(invoices::show))
        .route("/invoices/{id}/lines", post(invoices::edit))
        .route("/invoices/{id}/{action}", post(invoices::act))
        .route("/alerts/{id}/dismiss", post(dashboard::dismiss_alert))
        .route("/kpi", get(kpi::page_))
        .route("/kpi/live", get(kpi::live_cards))
        .route("/journeys", get(journeys::list).post(journeys::create))
        .route("/journeys/{id}", get(journeys::show))
        .route(
            "/journeys/{id}/preview",
            get(journeys::preview).post(journeys::preview_step),
        )
        .route("/journeys/{id}/add", post(journeys::add_node))
        .route("/journeys/{id}/title", post(journeys::save_title))
        .route("/journeys/{id}/nodes/{node}", post(journeys::save_node))
        .route(
            "/journeys/{id}/nodes/{node}/{action}",
            post(journeys::node_action),
        )
        .route("/journeys/{id}/{action}", post(journeys::act))
        .route("/settings", get(settings::show))
        .route("/settings/{group}", post(settings::update))
        .route("/kpi.csv", get(kpi::board_csv))
        .route("/kpi/series.csv", get(kpi::series_csv))
        .route("/events", get(live::events))
        .route("/assets/{name}", get(asset))
        .layer(axum::middleware::from_fn_with_state(
            state,
            session::csrf_layer,
        ))
        .layer(axum::middleware::map_response(security_headers))
}

/// What the console's image form may weigh: the largest upload the server
/// takes at all (or a ticket's largest image, if larger), and room for the
/// form around it. The form is read whole, so an image over a ticket's
/// limit is answered on the page, in the person's language, rather than
/// cut off mid-send.
fn image_form_limit(config: &crate::config::Config) -> usize {
    let largest = config
        .max_upload_bytes
        .max(config.ticket_max_attachment_bytes);
    usize::try_from(largest)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024)
}

/// The body limit of a console request that may be larger than
/// `max_body_bytes` (a file form: `multipart/form-data` to
/// `/tickets/{id}/attachments`); `None` for everything else.
pub fn form_limit(
    config: &crate::config::Config,
    path: &str,
    headers: &axum::http::HeaderMap,
) -> Option<usize> {
    let multipart = is_multipart(headers);
    let attachments = path
        .strip_prefix("/tickets/")
        .and_then(|rest| rest.strip_suffix("/attachments"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'));
    (multipart && attachments).then(|| image_form_limit(config).max(config.max_body_bytes))
}

/// Whether a request carries a file form (`multipart/form-data`).
pub fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"multipart/form-data"))
}

/// The console's "no such page".
pub async fn pages_not_found(headers: &axum::http::HeaderMap) -> Response {
    common::not_found(headers.clone()).await
}

/// Whether a path belongs to the console (the rest of the site is the API).
pub fn owns(path: &str) -> bool {
    !path.starts_with("/api/")
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A page may be stricter (a rating link's token is in its address).
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The embedded static files: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/htmx-2.0.11.min.js"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/console.js"),
    ),
    (
        "calls.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/calls.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/console.css"),
    ),
];

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, ..)| *n == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                // Versioned by the binary: an hour is safe and saves
                // reloading them on every boosted navigation.
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
