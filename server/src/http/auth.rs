//! Login, token refresh with reuse detection, logout and customer self-registration.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Json;
use super::views::UserView;
use crate::AppState;
use crate::accounts::{phone_codes, registration, sessions};
use crate::auth::{Actor, throttle};
use crate::domain::{self, Validator};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Shown in the list of a user's sessions, e.g. "Pixel 8".
    pub device_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub name: String,
    pub email: String,
    /// Any common format; stored as E.164.
    pub phone: String,
    pub password: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub device_name: Option<String>,
    /// Proves the phone: the `code_id` from `POST /auth/phone-codes` and the
    /// code WhatsApp delivered. Needed to take over the customer record CS
    /// or WhatsApp already made for this phone; without it a separate
    /// record is made.
    pub phone_code: Option<PhoneCode>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneCode {
    pub code_id: String,
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneCodeRequest {
    /// Any common format.
    pub phone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneCodeSent {
    /// Pass back with the code in `phone_code.code_id`.
    pub code_id: String,
    /// Seconds the code stays valid.
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single use: each refresh returns a new one. Presenting a used one ends the session.
    pub refresh_token: String,
    pub user: UserView,
}

impl From<sessions::Tokens> for TokenResponse {
    fn from(t: sessions::Tokens) -> Self {
        Self {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            refresh_token: t.refresh_token,
            user: UserView::new(t.user, t.department_ids),
        }
    }
}

/// Log in with e-mail and password; opens a device session.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::Problem),
              (status = 403, description = "The password is right but the account is inactive (`account-inactive`): deactivated, or a soft-deleted customer", body = crate::error::Problem),
              (status = 429, description = "Too many failed sign-ins for this account or address; see Retry-After", body = crate::error::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    client: throttle::ClientAddr,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let device = req.device_name.as_deref();
    let tokens = sessions::sign_in(&state, &req.email, req.password, device, client).await?;
    Ok(Json(tokens.into()))
}

/// Trade a refresh token for new tokens. Each refresh token works once; using
/// one again revokes the whole device session (it was probably stolen).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let tokens = sessions::refresh(&state, &req.refresh_token).await?;
    Ok(Json(tokens.into()))
}

/// End the caller's device session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem)))]
pub async fn logout(State(state): State<AppState>, actor: Actor) -> ApiResult<StatusCode> {
    sessions::sign_out(&state, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a one-time code to a phone over WhatsApp, to prove it when
/// registering. Answers the same whether or not the number is known;
/// limited per phone and per client address (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/phone-codes", tag = "auth", request_body = PhoneCodeRequest,
    responses((status = 202, body = PhoneCodeSent), (status = 422, body = crate::error::Problem),
              (status = 429, description = "Too many codes for this phone or address; see Retry-After", body = crate::error::Problem)))]
pub async fn send_phone_code(
    State(state): State<AppState>,
    client: throttle::ClientAddr,
    Json(req): Json<PhoneCodeRequest>,
) -> ApiResult<(StatusCode, Json<PhoneCodeSent>)> {
    let phone = domain::phone_e164(&req.phone, &state.config.default_phone_region)
        .map_err(|m| ApiError::field("phone", m))?;
    let from = client.0.map(throttle::address_key);
    let sent = phone_codes::send(&state, &phone, from.as_deref()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PhoneCodeSent {
            code_id: sent.id,
            expires_in: sent.expires_in.as_secs(),
        }),
    ))
}

/// Register as a customer. With a proved phone (`phone_code`), the
/// customer record CS or WhatsApp made for it becomes the account's;
/// without, the account gets a record of its own that CS can merge.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = TokenResponse), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn register(
    State(state): State<AppState>,
    Json(req): Json<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    let mut v = Validator::new();
    let name = v.check("name", domain::line(&req.name, 120));
    let email = v.check("email", domain::email(&req.email));
    let phone = v.check(
        "phone",
        domain::phone_e164(&req.phone, &state.config.default_phone_region),
    );
    let pass = v.check("password", domain::new_password(&req.password));
    let address = v.check(
        "address",
        domain::optional_text(req.address.as_deref().unwrap_or(""), 500),
    );
    let city = v.check(
        "city",
        domain::optional_line(req.city.as_deref().unwrap_or(""), 120),
    );
    v.finish()?;
    let code = req.phone_code.map(|c| (c.code_id, c.code));
    let sign_up = registration::SignUp {
        name,
        email,
        phone,
        password: pass,
        address,
        city,
    };
    let tokens = registration::sign_up(&state, sign_up, code, req.device_name.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(tokens.into())))
}
