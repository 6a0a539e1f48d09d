//! Live events for consoles and devices: ticket and visit changes, pool
//! changes, attendance, chat messages, call signals, SLA breaches.
//!
//! Every event is written to `event_log` (so a console that reconnects can
//! catch up with `?since=<id>`) and then fanned out:
//!
//! * **SQLite** (one instance): straight into an in-process broadcast channel.
//! * **Postgres** (any number of instances): `pg_notify('fieldops_events', …)`
//!   with the event itself as JSON (or, past Postgres' 8000-byte payload
//!   limit, its id, and the listener loads it); every instance, the publisher
//!   included, LISTENs and broadcasts it locally. One path for all, so every
//!   instance sees the same order.
//!
//! A change and the events that report it are written in **one transaction**
//! ([`EventBus::record`] inside it, [`EventBus::deliver`] after commit, both
//! called by the unit of work, `crate::work`): an event exists exactly when
//! its change does, and a busy write path pays for one commit, not one per
//! event. On Postgres `NOTIFY` is itself transactional, so listeners hear of
//! the events only once they are committed.
//!
//! Who receives an event is decided twice, by [`Event::readable_by`]: its
//! [`Audience`] names the people it is about (a department's staff, one
//! account, a customer's accounts), and for events sent to staff the policy
//! says which roles may read that [kind](KINDS) at all
//! (`Actor::reads_staff_event`) — the same roles that may read the same
//! thing over HTTP, so a technician, who is staff, never hears of a new
//! customer's name or a WhatsApp recipient's number.
//!
//! What an event says is typed where it is said: a service returns
//! [`Notice`]s of a [`Happened`] variant and its payload struct, and the
//! bus writes its kind and JSON data once, here. Readers (consoles, the
//! sync feed) receive the [`Event`] as it travels: kind and JSON.

mod happened;
pub mod messages;
#[cfg(test)]
mod wire_tests;

pub use happened::*;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::auth::cache::CallerCache;
use crate::db::event_log::{self, EventRow};
use crate::db::{Backend, Db, Tx, new_id, now_ms};
use crate::domain::Role;

/// Who may receive an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Audience {
    /// Staff of one department (and admins); every staff member when `None`.
    Staff { department_id: Option<String> },
    /// One account.
    User { user_id: String },
    /// The accounts of one customer.
    Customer { customer_id: String },
    /// These staff members: the ones on duty when it happened (a
    /// customer's chat message reaches nobody whose presence is `offline`).
    /// Judged by `reads_staff_event` like [`Audience::Staff`].
    OnDuty { user_ids: Vec<String> },
    /// Server internals (sync wake-ups): never sent to a console.
    Internal,
}

impl Audience {
    pub fn admits(&self, actor: &Actor) -> bool {
        match self {
            Audience::Staff {
                department_id: None,
            } => actor.role.is_staff(),
            Audience::Staff {
                department_id: Some(d),
            } => actor.role == Role::Admin || (actor.role.is_staff() && actor.in_department(d)),
            Audience::User { user_id } => &actor.user_id == user_id,
            Audience::Customer { customer_id } => actor.customer_id.as_deref() == Some(customer_id),
            Audience::OnDuty { user_ids } => {
                actor.role.is_staff() && user_ids.contains(&actor.user_id)
            }
            Audience::Internal => false,
        }
    }
}

/// Every kind of event the server records ([`Happened::KINDS`]). Each is
/// judged by `Actor::reads_staff_event` when sent to staff; the policy lets
/// only admins read a kind it does not know.
pub const KINDS: &[&str] = Happened::KINDS;

/// Something that happened, for the people who may know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Time-ordered; pass the last one seen as `since` to catch up.
    pub id: String,
    /// e.g. `ticket.created`, `visit.claimed`, `chat.message`.
    pub kind: String,
    #[serde(skip_serializing)]
    #[schema(ignore)]
    pub audience: Option<Audience>,
    pub data: serde_json::Value,
    /// Unix milliseconds.
    pub at: i64,
}

/// A live event for the unit of work to record with its change: what
/// happened, and who may hear of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub audience: Audience,
    pub what: Happened,
}

impl Notice {
    /// For `audience`.
    pub fn to(audience: Audience, what: Happened) -> Self {
        Self { audience, what }
    }

    /// For every staff console and technician (the pool is everyone's).
    pub fn staff(what: Happened) -> Self {
        Self::to(
            Audience::Staff {
                department_id: None,
            },
            what,
        )
    }

    /// For the staff of one department (and admins).
    pub fn department(department_id: &str, what: Happened) -> Self {
        Self::to(
            Audience::Staff {
                department_id: Some(department_id.to_owned()),
            },
            what,
        )
    }

    /// For one account.
    pub fn user(user_id: &str, what: Happened) -> Self {
        Self::to(
            Audience::User {
                user_id: user_id.to_owned(),
            },
            what,
        )
    }

    /// For the accounts of one customer.
    pub fn customer(customer_id: &str, what: Happened) -> Self {
        Self::to(
            Audience::Customer {
                customer_id: customer_id.to_owned(),
            },
            what,
        )
    }

    /// For the server itself (sync wake-ups, ended sessions).
    pub fn internal(what: Happened) -> Self {
        Self::to(Audience::Internal, what)
    }
}

/// Events written in a transaction, to [`EventBus::deliver`] after it commits.
#[derive(Debug, Default)]
#[must_use = "recorded events reach subscribers only through EventBus::deliver"]
pub struct Recorded(Vec<Event>);

/// Publishes and distributes events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    db: Db,
    local: broadcast::Sender<Event>,
    /// The NOTIFY channel: one per schema, since notifications are per database.
    channel: String,
    /// Forgets the callers whose account an event says changed.
    callers: Arc<CallerCache>,
}

/// How far before a lost connection the replay after it reaches back: an
/// event's id is taken when it is recorded, a little before its commit and
/// its notification.
const REPLAY_MARGIN_MS: i64 = 5_000;

/// The ids of the events a listener passed on lately, so an event heard by
/// notification and read back by a replay goes out once.
#[derive(Default)]
struct RecentIds {
    order: std::collections::VecDeque<String>,
    set: std::collections::HashSet<String>,
}

impl RecentIds {
    const KEEP: usize = 4096;

    /// Records `id`; whether it was new.
    fn first_time(&mut self, id: &str) -> bool {
        if !self.set.insert(id.to_owned()) {
            return false;
        }
        self.order.push_back(id.to_owned());
        if self.order.len() > Self::KEEP
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

impl Event {
    /// Whether `actor` may receive this event: its audience includes them
    /// and, when it is sent to staff, their role may read its kind.
    pub fn readable_by(&self, actor: &Actor) -> bool {
        match &self.audience {
            Some(audience @ (Audience::Staff { .. } | Audience::OnDuty { .. })) => {
                audience.admits(actor) && actor.reads_staff_event(&self.kind)
            }
            Some(audience) => audience.admits(actor),
            None => false,
        }
    }
}

/// A stored event as the bus knows it; `None` for a row it cannot read.
fn event_of(row: EventRow) -> Option<Event> {
    Some(Event {
        id: row.id,
        kind: row.kind,
        audience: Some(serde_json::from_str(&row.audience).ok()?),
        data: serde_json::from_str(&row.data).ok()?,
        at: row.at,
    })
}

/// Postgres caps a notification's payload at 8000 bytes.
const MAX_NOTIFY_PAYLOAD: usize = 7900;

/// An event as a `NOTIFY` carries it, audience included.
#[derive(Serialize, Deserialize)]
struct Notified {
    id: String,
    kind: String,
    audience: Audience,
    data: serde_json::Value,
    at: i64,
}

/// What a `NOTIFY` carries: the whole event as JSON when it fits, so that
/// listeners need not read it back (a query per event on every instance),
/// and otherwise its id.
fn notification(event: &Event) -> String {
    let Some(audience) = event.audience.clone() else {
        return event.id.clone();
    };
    let wire = Notified {
        id: event.id.clone(),
        kind: event.kind.clone(),
        audience,
        data: event.data.clone(),
        at: event.at,
    };
    match serde_json::to_string(&wire) {
        Ok(json) if json.len() <= MAX_NOTIFY_PAYLOAD => json,
        _ => event.id.clone(),
    }
}

impl From<Notified> for Event {
    fn from(n: Notified) -> Self {
        Event {
            id: n.id,
            kind: n.kind,
            audience: Some(n.audience),
            data: n.data,
            at: n.at,
        }
    }
}

impl EventBus {
    /// A bus over `db`; on Postgres also starts the LISTEN task, which stops
    /// with `shutdown`.
    pub async fn start(
        db: Db,
        database_url: &str,
        callers: Arc<CallerCache>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let (local, _) = broadcast::channel(4096);
        let channel = crate::db::event_log::channel(&db, "fieldops_events").await?;
        let bus = Self {
            db,
            local,
            channel,
            callers,
        };
        if bus.db.backend() == Backend::Postgres {
            // LISTEN before returning: a change committed once the server is
            // up must reach this instance (it used to LISTEN from the task,
            // and a peer started under load could miss the first events).
            let mut listener = PgListener::connect(database_url).await?;
            listener
                .listen(&bus.channel)
                .await
                .context("LISTEN for live events")?;
            tokio::spawn(bus.clone().listen(listener, shutdown));
        }
        Ok(bus)
    }

    /// Receives every event published from now on (filter with [`Event::readable_by`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.local.subscribe()
    }

    /// Writes `events` to the log inside `tx` (and, on Postgres, queues
    /// their NOTIFY, sent by the database at commit). Pass the result to
    /// [`EventBus::deliver`] once `tx` has committed; if it rolls back, the
    /// events never existed.
    pub async fn record(&self, tx: &mut Tx, notices: Vec<Notice>) -> anyhow::Result<Recorded> {
        let events = notices
            .into_iter()
            .map(|n| Ok((n.what.kind(), n.audience, n.what.data()?)))
            .collect::<serde_json::Result<Vec<_>>>()?;
        self.record_raw(tx, events).await
    }

    /// [`EventBus::record`] for events as they travel, kind and JSON (the
    /// wire-level door of `crate::work::publish`). Refuses a kind not in
    /// [`KINDS`].
    pub async fn record_raw(
        &self,
        tx: &mut Tx,
        events: Vec<(&str, Audience, Value)>,
    ) -> anyhow::Result<Recorded> {
        if let Some((kind, ..)) = events.iter().find(|(kind, ..)| !KINDS.contains(kind)) {
            anyhow::bail!("{kind:?} is not an event kind (events::KINDS)");
        }
        if events.is_empty() {
            return Ok(Recorded::default());
        }
        let at = now_ms();
        let recorded: Vec<Event> = events
            .into_iter()
            .map(|(kind, audience, data)| Event {
                id: new_id(),
                kind: kind.to_owned(),
                audience: Some(audience),
                data,
                at,
            })
            .collect();
        // One statement for a batch of them (and one for their
        // notifications): this runs inside every write, often while it holds
        // the feed counter. Batches keep within the bind-parameter limits.
        for batch in recorded.chunks(event_log::ROWS_PER_STATEMENT) {
            self.insert(tx, batch).await?;
        }
        Ok(Recorded(recorded))
    }

    async fn insert(&self, tx: &mut Tx, batch: &[Event]) -> anyhow::Result<()> {
        let rows = batch
            .iter()
            .map(|e| {
                Ok(EventRow {
                    id: e.id.clone(),
                    kind: e.kind.clone(),
                    audience: serde_json::to_string(&e.audience)?,
                    data: e.data.to_string(),
                    at: e.at,
                })
            })
            .collect::<serde_json::Result<Vec<_>>>()?;
        event_log::insert(tx, &rows).await?;
        if self.db.backend() == Backend::Postgres {
            let payloads: Vec<String> = batch.iter().map(notification).collect();
            event_log::notify(tx, &self.channel, &payloads).await?;
        }
        Ok(())
    }

    /// Hands committed events to this instance's subscribers. On Postgres
    /// that is the LISTEN task's job (it hears every instance's events), so
    /// all this does there is forget the cached callers of changed accounts
    /// at once, before the change is answered (`auth::cache`).
    pub fn deliver(&self, recorded: Recorded) {
        for event in &recorded.0 {
            self.forget_caller(event);
        }
        if self.db.backend() == Backend::Sqlite {
            for event in recorded.0 {
                let _ = self.local.send(event);
            }
        }
    }

    /// Events after `since` (exclusive), oldest first, at most `limit`.
    pub async fn since(&self, since: &str, limit: u32) -> sqlx::Result<Vec<Event>> {
        let rows = event_log::after(&self.db, since, limit).await?;
        Ok(rows.into_iter().filter_map(event_of).collect())
    }

    async fn load(&self, id: &str) -> sqlx::Result<Option<Event>> {
        Ok(event_log::get(&self.db, id).await?.and_then(event_of))
    }

    /// An account event (sign-out, role or department change, deactivation)
    /// ends the cached caller of that account.
    fn forget_caller(&self, event: &Event) {
        if event.kind == crate::sync::ACCOUNT_EVENT {
            match event
                .data
                .get("user_id")
                .and_then(serde_json::Value::as_str)
            {
                Some(user_id) => self.callers.forget_user(user_id),
                None => self.callers.forget_all(),
            }
        }
    }

    /// Broadcasts an event heard from the database, after forgetting the
    /// cached caller it ends.
    fn heard(&self, event: Event) {
        self.forget_caller(&event);
        let _ = self.local.send(event);
    }

    /// Passes on what `listener` (already listening) hears, until shutdown.
    ///
    /// Notifications sent while the connection is down (a database restart,
    /// a failover, a cut) are lost with it, so after a reconnect the events
    /// logged since shortly before the loss are read back from the log and
    /// passed on, skipping those already heard.
    async fn listen(self, mut listener: PgListener, shutdown: CancellationToken) {
        let mut heard = RecentIds::default();
        loop {
            let notification = tokio::select! {
                () = shutdown.cancelled() => break,
                n = listener.recv() => n,
            };
            match notification {
                Ok(n) => {
                    let event = match serde_json::from_str::<Notified>(n.payload()) {
                        Ok(event) => Some(event.into()),
                        // Too big to travel in the notification: its id did.
                        Err(_) => match self.load(n.payload()).await {
                            Ok(Some(event)) => Some(event),
                            Ok(None) => {
                                tracing::warn!(id = n.payload(), "notified of an unknown event");
                                None
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "loading a notified event");
                                None
                            }
                        },
                    };
                    if let Some(event) = event.filter(|e: &Event| heard.first_time(&e.id)) {
                        self.heard(event);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event listener connection lost; reconnecting");
                    // Account events may be missed until it is back.
                    self.callers.forget_all();
                    let lost_at = now_ms();
                    self.reconnect(&mut listener, &shutdown).await;
                    self.replay_since(lost_at - REPLAY_MARGIN_MS, &mut heard)
                        .await;
                }
            }
        }
    }

    /// LISTENs again, retrying until it works or the server shuts down.
    async fn reconnect(&self, listener: &mut PgListener, shutdown: &CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            match listener.listen(&self.channel).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "event listener still reconnecting"),
            }
        }
    }

    /// Passes on the logged events recorded after `from_ms` that were not
    /// heard (recorded, then notified while the connection was down).
    async fn replay_since(&self, from_ms: i64, heard: &mut RecentIds) {
        // Event ids are UUIDv7, whose text sorts by the millisecond in its
        // first 48 bits: this is below every id of `from_ms` and later.
        let ms = u64::try_from(from_ms).unwrap_or_default();
        let mut since = format!(
            "{:08x}-{:04x}-0000-0000-000000000000",
            ms >> 16,
            ms & 0xffff
        );
        loop {
            let events = match self.since(&since, 500).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "replaying events after a reconnect");
                    return;
                }
            };
            let full = events.len() == 500;
            for event in events {
                since.clone_from(&event.id);
                if heard.first_time(&event.id) {
                    self.heard(event);
                }
            }
            if !full {
                return;
            }
        }
    }

    /// Deletes events older than `max_age_ms`.
    pub async fn expire(&self, max_age_ms: i64) -> sqlx::Result<u64> {
        event_log::delete_before(&self.db, now_ms() - max_age_ms).await
    }
}
