//! How call messages reach devices: a channel of [`Delivery`]s every socket
//! of the instance listens to, each taking what is addressed to its device.
//!
//! Call messages are not events: a description or a candidate means nothing
//! a minute later, so none is logged for a reconnecting console to replay
//! (the call's state is in `calls`; a device that reconnects asks for it).
//! On SQLite (one instance) a delivery goes straight into the channel. On
//! Postgres it travels by `pg_notify` to every instance, the sender's
//! included, as the events do; one too big for a notification (a video
//! offer) is kept in `call_relay` for a minute and the notification carries
//! its id.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use fieldops_sync::call::CallUpdate;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::auth::Actor;
use crate::db::{Backend, Db, calls, new_id};

/// Which devices a delivery is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Recipient {
    /// One device session.
    Session { session_id: String },
    /// Every device of one account but `except_session`.
    User {
        user_id: String,
        except_session: Option<String>,
    },
    /// Every device of a customer's accounts but `except_session`.
    Customer {
        customer_id: String,
        except_session: Option<String>,
    },
}

impl Recipient {
    /// Whether the device `actor` is signed in on receives it.
    pub fn admits(&self, actor: &Actor) -> bool {
        match self {
            Recipient::Session { session_id } => &actor.session_id == session_id,
            Recipient::User {
                user_id,
                except_session,
            } => &actor.user_id == user_id && except_session.as_ref() != Some(&actor.session_id),
            Recipient::Customer {
                customer_id,
                except_session,
            } => {
                actor.customer_id.as_ref() == Some(customer_id)
                    && except_session.as_ref() != Some(&actor.session_id)
            }
        }
    }
}

/// A call message for some devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub to: Recipient,
    pub update: CallUpdate,
}

/// Postgres caps a notification's payload at 8000 bytes.
const MAX_NOTIFY_PAYLOAD: usize = 7900;
/// Marks a notification that carries the id of a kept delivery.
const KEPT: char = '@';
/// How long a kept delivery stays readable.
const KEEP_MS: i64 = 60_000;

/// Passes deliveries to every socket of every instance. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CallRelay {
    db: Db,
    local: broadcast::Sender<Arc<Delivery>>,
    channel: String,
}

impl CallRelay {
    /// A relay over `db`; on Postgres also starts its LISTEN task, which
    /// stops with `shutdown`.
    pub async fn start(
        db: Db,
        database_url: &str,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let (local, _) = broadcast::channel(4096);
        let channel = crate::db::event_log::channel(&db, "fieldops_calls").await?;
        let relay = Self { db, local, channel };
        if relay.db.backend() == Backend::Postgres {
            let mut listener = PgListener::connect(database_url).await?;
            listener
                .listen(&relay.channel)
                .await
                .context("LISTEN for call messages")?;
            tokio::spawn(relay.clone().listen(listener, shutdown));
        }
        Ok(relay)
    }

    /// Receives every delivery from now on (filter with [`Recipient::admits`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Delivery>> {
        self.local.subscribe()
    }

    /// Sends `deliveries`, in order. Call it once the state change they
    /// report has committed.
    pub async fn send(&self, deliveries: Vec<Delivery>) -> anyhow::Result<()> {
        if self.db.backend() == Backend::Sqlite {
            for delivery in deliveries {
                let _ = self.local.send(Arc::new(delivery));
            }
            return Ok(());
        }
        for delivery in deliveries {
            let mut payload = serde_json::to_string(&delivery)?;
            if payload.len() > MAX_NOTIFY_PAYLOAD {
                let id = new_id();
                calls::keep_relayed(self.db.pool(), &id, &payload).await?;
                payload = format!("{KEPT}{id}");
            }
            calls::notify(self.db.pool(), &self.channel, &payload).await?;
        }
        Ok(())
    }

    /// Forgets kept deliveries every instance has had time to read.
    pub async fn expire(&self) -> sqlx::Result<u64> {
        calls::forget_relayed(self.db.pool(), crate::db::now_ms() - KEEP_MS).await
    }

    async fn read(&self, payload: &str) -> anyhow::Result<Delivery> {
        let json = match payload.strip_prefix(KEPT) {
            Some(id) => calls::relayed(self.db.pool(), id)
                .await?
                .with_context(|| format!("a kept call message {id} is gone"))?,
            None => payload.to_owned(),
        };
        Ok(serde_json::from_str(&json)?)
    }

    async fn listen(self, mut listener: PgListener, shutdown: CancellationToken) {
        loop {
            let notification = tokio::select! {
                () = shutdown.cancelled() => break,
                n = listener.recv() => n,
            };
            match notification {
                Ok(n) => match self.read(n.payload()).await {
                    Ok(delivery) => {
                        let _ = self.local.send(Arc::new(delivery));
                    }
                    Err(e) => tracing::warn!(error = ?e, "reading a relayed call message"),
                },
                Err(e) => {
                    // PgListener reconnects on the next recv; a message lost
                    // meanwhile is a call that times out or is retried.
                    tracing::warn!(error = %e, "call relay connection lost; reconnecting");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}
