//! Login, token refresh with reuse detection, logout and customer self-registration.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Json;
use super::views::UserView;
use crate::AppState;
use crate::accounts::{phone_codes, registration};
use crate::auth::{Actor, password, throttle, tokens};
use crate::db::{self, sessions, users};
use crate::domain::{self, Status, Validator};
use crate::error::{ApiError, ApiResult};
use crate::sync::{SignedOut, signed_out};
use crate::work::{Effects, Work};

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

/// Opens a device session and issues its first tokens, inside `tx`.
async fn open_session(
    state: &AppState,
    tx: &mut db::Tx,
    user: users::UserRow,
    device_name: Option<&str>,
) -> ApiResult<TokenResponse> {
    let device = device_name
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or("unnamed device");
    let device: String = device.chars().take(100).collect();
    let session_id = sessions::create(tx, &user.id, &device).await?;
    let refresh_token = issue_refresh(state, tx, &session_id).await?;
    users::touch_login(tx, &user.id).await?;
    let department_ids = users::department_ids(&mut **tx, &user.id).await?;
    token_response(state, user, department_ids, &session_id, refresh_token)
}

async fn issue_refresh(state: &AppState, tx: &mut db::Tx, session_id: &str) -> ApiResult<String> {
    let (token, hash) = tokens::new_refresh_token();
    let expires_at = db::now_ms() + state.tokens.refresh_ttl.as_millis() as i64;
    sessions::add_refresh_token(tx, session_id, &hash, expires_at).await?;
    Ok(token)
}

fn token_response(
    state: &AppState,
    user: users::UserRow,
    department_ids: Vec<String>,
    session_id: &str,
    refresh_token: String,
) -> ApiResult<TokenResponse> {
    let access_token = state.tokens.issue_access(&user.id, session_id, user.role)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl.as_secs(),
        refresh_token,
        user: UserView::new(user, department_ids),
    })
}

const BAD_CREDENTIALS: ApiError = ApiError::Unauthorized("invalid e-mail or password");

/// Log in with e-mail and password; opens a device session.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::Problem),
              (status = 429, description = "Too many failed sign-ins for this account or address; see Retry-After", body = crate::error::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    client: throttle::ClientAddr,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let email = domain::email(&req.email).map_err(|_| BAD_CREDENTIALS)?;
    let attempt = throttle::admit(&state, &email, client).await?;
    let user = users::by_email(state.db.pool(), &email)
        .await?
        .filter(|u| u.status == Status::Active);
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !password::verify(req.password, hash).await {
        return Err(BAD_CREDENTIALS);
    }
    let user = user.ok_or(BAD_CREDENTIALS)?;
    attempt.succeeded(&state).await?;
    let mut tx = state.db.begin_write().await?;
    let response = open_session(&state, &mut tx, user, req.device_name.as_deref()).await?;
    tx.commit().await?;
    Ok(Json(response))
}

/// Trade a refresh token for new tokens. Each refresh token works once; using
/// one again revokes the whole device session (it was probably stolen).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let hash = tokens::hash_refresh_token(&req.refresh_token);
    let mut tx = state.db.begin_write().await?;
    let found = sessions::find_refresh(&mut tx, &hash)
        .await?
        .ok_or(ApiError::Unauthorized("unknown refresh token"))?;
    if found.revoked_at.is_some() {
        return Err(ApiError::Unauthorized("session has ended"));
    }
    if found.used_at.is_some() || !sessions::use_refresh(&mut tx, &hash).await? {
        sessions::revoke(&mut *tx, &found.session_id, "refresh token reused").await?;
        let ended = signed_out(&found.user_id, SignedOut::Only(&found.session_id));
        state.events.commit(tx, vec![ended]).await?;
        tracing::warn!(session = %found.session_id, "refresh token reuse; session revoked");
        return Err(ApiError::Unauthorized(
            "refresh token already used; session revoked",
        ));
    }
    if found.expires_at < db::now_ms() {
        return Err(ApiError::Unauthorized("refresh token expired"));
    }
    let user = users::get(&mut *tx, &found.user_id)
        .await?
        .filter(|u| u.status == Status::Active)
        .ok_or(ApiError::Unauthorized("account is not active"))?;
    let refresh_token = issue_refresh(&state, &mut tx, &found.session_id).await?;
    sessions::touch(&mut tx, &found.session_id).await?;
    let department_ids = users::department_ids(&mut *tx, &user.id).await?;
    tx.commit().await?;
    Ok(Json(token_response(
        &state,
        user,
        department_ids,
        &found.session_id,
        refresh_token,
    )?))
}

/// End the caller's device session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem)))]
pub async fn logout(State(state): State<AppState>, actor: Actor) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin_write().await?;
    sessions::revoke(&mut *tx, &actor.session_id, "logout").await?;
    let ended = signed_out(&actor.user_id, SignedOut::Only(&actor.session_id));
    state.events.commit(tx, vec![ended]).await?;
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
    let settings = &state.config.whatsapp;
    let template = phone_codes::Template {
        name: &settings.code_template,
        language: &settings.code_template_language,
    };
    let mut work = Work::begin(&state).await?;
    let sent = phone_codes::issue(
        work.tx(),
        &state.codes,
        template,
        &phone,
        from.as_deref(),
        db::now_ms(),
    )
    .await?;
    work.commit(Effects::none()).await?;
    state.helpdesk.wake.notify_one();
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
    // The code is redeemed in a change of its own: a wrong guess stays
    // counted whatever becomes of this request.
    let phone_proved = match &req.phone_code {
        None => false,
        Some(given) => {
            let mut work = Work::begin(&state).await?;
            let redeemed = phone_codes::redeem(
                work.tx(),
                &state.codes,
                &given.code_id,
                &given.code,
                &phone,
                db::now_ms(),
            )
            .await?;
            work.commit(Effects::none()).await?;
            if redeemed.is_err() {
                return Err(ApiError::field(
                    "phone_code",
                    "is wrong, expired or used; ask for a new code",
                ));
            }
            true
        }
    };
    let password_hash = password::hash(pass).await?;
    let mut work = Work::begin(&state).await?;
    let registered = registration::register(
        work.tx(),
        registration::NewCustomerAccount {
            name,
            email,
            phone,
            password_hash,
            address,
            city,
            phone_proved,
        },
    )
    .await?;
    let response = open_session(
        &state,
        work.tx(),
        registered.user,
        req.device_name.as_deref(),
    )
    .await?;
    // Never stored for a retry: the route takes no idempotency key.
    work.commit(registered.effects).await?;
    Ok((StatusCode::CREATED, Json(response)))
}
