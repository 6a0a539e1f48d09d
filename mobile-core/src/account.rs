//! The signed-in account's tokens: the `account` table, and the token
//! calls to the server (`login`, `refresh`).
//!
//! Tokens live in the store's `account` row so the app works offline after
//! a restart and can resume syncing without asking for the password again.
//! (On a phone the platform keychain is the better home for the refresh
//! token; the app can wrap the store file with platform encryption.)
//!
//! This module is below the shared state, which holds the [`Session`]; the
//! sign-in use cases (wiping another user's data, reindexing) are the
//! [`Auth`](crate::Auth) handle's, in [`crate::auth`].

use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;

use crate::error::{CoreError, Result};
use crate::model::Account;
use crate::store::now_ms;

/// An account with its tokens.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) account: Account,
    pub(crate) access_token: String,
    pub(crate) access_expires_at_ms: i64,
    pub(crate) refresh_token: String,
}

impl Session {
    /// Whether the access token is expired or about to (30 s margin).
    pub(crate) fn access_expired(&self) -> bool {
        self.access_expires_at_ms - 30_000 <= now_ms()
    }
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    refresh_token: String,
    user: UserView,
}

#[derive(Debug, Deserialize)]
struct UserView {
    id: String,
    email: String,
    name: String,
    role: String,
    #[serde(default)]
    department_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Problem {
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

fn session_from(base_url: &str, response: TokenResponse) -> Result<Session> {
    let bad = |what: &str| CoreError::Network(format!("server sent an invalid {what}"));
    let user = response.user;
    Ok(Session {
        account: Account {
            base_url: base_url.to_owned(),
            user_id: user.id.parse().map_err(|_| bad("user id"))?,
            role: user.role.parse().map_err(|_| bad("role"))?,
            name: user.name,
            email: user.email,
            department_ids: user
                .department_ids
                .iter()
                .map(|d| d.parse().map_err(|_| bad("department id")))
                .collect::<Result<_>>()?,
        },
        access_token: response.access_token,
        access_expires_at_ms: now_ms() + (response.expires_in as i64) * 1000,
        refresh_token: response.refresh_token,
    })
}

/// Checks and normalises a server base URL.
pub(crate) fn normalize_base_url(base_url: &str) -> Result<String> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(trimmed.to_owned())
        }
        _ => Err(CoreError::invalid(
            "base_url",
            "must be an http:// or https:// URL",
        )),
    }
}

async fn post_tokens(
    client: &reqwest::Client,
    base_url: &str,
    path: &str,
    body: serde_json::Value,
) -> Result<Session> {
    let response = client
        .post(format!("{base_url}{path}"))
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    if status.is_success() {
        let tokens: TokenResponse = response.json().await?;
        return session_from(base_url, tokens);
    }
    let problem: Option<Problem> = response.json().await.ok();
    let text = problem
        .and_then(|p| p.detail.or(p.title))
        .unwrap_or_else(|| status.to_string());
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        Err(CoreError::Unauthorized(text))
    } else if status.is_client_error() {
        Err(CoreError::invalid("credentials", text))
    } else {
        Err(CoreError::Network(text))
    }
}

/// `POST /api/v1/auth/login`.
pub(crate) async fn login(
    client: &reqwest::Client,
    base_url: &str,
    email: &str,
    password: &str,
    device_name: &str,
) -> Result<Session> {
    let body =
        serde_json::json!({"email": email, "password": password, "device_name": device_name});
    post_tokens(client, base_url, "/api/v1/auth/login", body).await
}

/// `POST /api/v1/auth/refresh`.
pub(crate) async fn refresh(client: &reqwest::Client, session: &Session) -> Result<Session> {
    let body = serde_json::json!({"refresh_token": session.refresh_token});
    post_tokens(
        client,
        &session.account.base_url,
        "/api/v1/auth/refresh",
        body,
    )
    .await
}

/// Persists the session (replacing any other).
pub(crate) fn save(conn: &Connection, session: &Session) -> Result<()> {
    let a = &session.account;
    let departments: Vec<String> = a.department_ids.iter().map(|d| d.to_string()).collect();
    conn.execute(
        "INSERT INTO account (id, base_url, user_id, role, name, email, department_ids,
            access_token, access_expires_at_ms, refresh_token)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO UPDATE SET base_url = excluded.base_url, user_id = excluded.user_id,
            role = excluded.role, name = excluded.name, email = excluded.email,
            department_ids = excluded.department_ids, access_token = excluded.access_token,
            access_expires_at_ms = excluded.access_expires_at_ms,
            refresh_token = excluded.refresh_token",
        params![
            a.base_url,
            a.user_id.to_string(),
            a.role.as_str(),
            a.name,
            a.email,
            departments.join(","),
            session.access_token,
            session.access_expires_at_ms,
            session.refresh_token
        ],
    )?;
    Ok(())
}

/// The persisted session, if any.
pub(crate) fn load(conn: &Connection) -> Result<Option<Session>> {
    let row = conn
        .query_row(
            "SELECT base_url, user_id, role, name, email, department_ids, access_token,
                access_expires_at_ms, refresh_token FROM account WHERE id = 1",
            [],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, i64>(7)?,
                    row.get::<_, String>(8)?,
                ))
            },
        )
        .optional()?;
    let Some((base_url, user_id, role, name, email, departments, access, expires, refresh)) = row
    else {
        return Ok(None);
    };
    let corrupt = || CoreError::StoreCorrupt("unreadable account row".into());
    Ok(Some(Session {
        account: Account {
            base_url,
            user_id: user_id.parse().map_err(|_| corrupt())?,
            role: role.parse().map_err(|_| corrupt())?,
            name,
            email,
            department_ids: departments
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(|_| corrupt()))
                .collect::<Result<_>>()?,
        },
        access_token: access,
        access_expires_at_ms: expires,
        refresh_token: refresh,
    }))
}

/// Forgets the session.
pub(crate) fn clear(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM account", [])?;
    Ok(())
}
