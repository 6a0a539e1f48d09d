//! Settings admins change while the server runs (seed 004: *System
//! Configuration: Manage SLA settings and queue configuration*): the SLA
//! targets and business calendar with its holidays, the round-robin
//! switches, and when and how customers are asked to rate.
//!
//! The configuration file gives the defaults; a group an admin saved is
//! stored whole in the database and wins. Each change is validated, audited
//! (before and after) and applied at once on the instance that made it;
//! every other instance notices the new stamp on its next help-desk job
//! tick (`helpdesk_job_interval_secs`) and reloads, so no restart is
//! needed anywhere. Readers take an `Arc` snapshot ([`Live::get`]): a
//! change never tears a computation in half.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{Action, Actor};
use crate::db::{self, Db, Tx, audit, now_ms};
use crate::events::{Happened, SettingsChanged};
use crate::helpdesk::sla::{Calendar, SlaSettings, Target};
use crate::service::{Applied, FieldError, Notice, ServiceError, ServiceResult, allow};

/// Who gets work without anyone handing it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentSettings {
    /// Queued tickets go to the available agent of their department who was
    /// assigned least recently; off, they wait for CS to assign them.
    pub tickets_round_robin: bool,
    /// New chats go round-robin the same way; off, they wait in the inbox.
    pub chats_round_robin: bool,
}

/// When and how customers are asked to rate a visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingSettings {
    /// Ask when a visit is done.
    pub after_visit: bool,
    /// Ask when a ticket is resolved (once per ticket).
    #[serde(default)]
    pub after_ticket: bool,
    /// Wait this long after the visit is done before sending (0–10080).
    pub delay_minutes: u32,
    /// The approved WhatsApp template (body: the customer's name and the
    /// visit's title; URL button: the token).
    pub template: String,
    /// Its language code (`id`, `en`, `en_US`).
    pub template_language: String,
}

/// Every group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    pub sla: SlaSettings,
    pub assignment: AssignmentSettings,
    pub ratings: RatingSettings,
}

impl Settings {
    /// The configuration file's values.
    pub fn defaults(config: &crate::Config) -> Self {
        Self {
            sla: config.sla.clone(),
            assignment: AssignmentSettings {
                tickets_round_robin: true,
                chats_round_robin: true,
            },
            ratings: RatingSettings {
                after_visit: true,
                after_ticket: false,
                delay_minutes: 0,
                template: config.whatsapp.rating_template.clone(),
                template_language: config.whatsapp.rating_template_language.clone(),
            },
        }
    }
}

/// The settings in force, with the calendar they make.
#[derive(Debug)]
pub struct Current {
    pub settings: Settings,
    pub calendar: Arc<Calendar>,
    /// The stored stamp these came from (`None`: the defaults).
    stamp: Option<i64>,
}

/// The settings of this instance, reloaded when they change.
#[derive(Debug)]
pub struct Live {
    current: RwLock<Arc<Current>>,
    defaults: Settings,
}

impl Live {
    /// The defaults of `config` overlaid with what admins stored.
    pub async fn load(db: &Db, config: &crate::Config) -> anyhow::Result<Self> {
        let defaults = Settings::defaults(config);
        // The file's calendar must be valid on its own: a typo fails the start.
        let calendar = Arc::new(Calendar::new(&defaults.sla)?);
        let live = Self {
            current: RwLock::new(Arc::new(Current {
                settings: defaults.clone(),
                calendar,
                stamp: None,
            })),
            defaults,
        };
        live.refresh(db).await?;
        Ok(live)
    }

    /// A snapshot of the settings in force.
    pub fn get(&self) -> Arc<Current> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reloads when the stored stamp moved; true when something changed.
    pub async fn refresh(&self, db: &Db) -> anyhow::Result<bool> {
        let stamp = db::settings::stamp(db.pool()).await?;
        if stamp == self.get().stamp {
            return Ok(false);
        }
        let mut settings = self.defaults.clone();
        for (name, value) in db::settings::all(db.pool()).await? {
            // A stored group that no longer reads (an older shape) keeps
            // the default, loudly, rather than stopping the server.
            let applied = match name.as_str() {
                "sla" => serde_json::from_str(&value).map(|v| settings.sla = v),
                "assignment" => serde_json::from_str(&value).map(|v| settings.assignment = v),
                "ratings" => serde_json::from_str(&value).map(|v| settings.ratings = v),
                _ => Ok(()),
            };
            if let Err(e) = applied {
                tracing::error!(group = %name, error = %e, "stored settings do not read; using the defaults");
            }
        }
        let calendar = match Calendar::new(&settings.sla) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::error!(error = %e, "stored SLA calendar is invalid; using the defaults");
                settings.sla = self.defaults.sla.clone();
                Arc::new(Calendar::new(&settings.sla)?)
            }
        };
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Current {
            settings,
            calendar,
            stamp,
        });
        tracing::info!("settings reloaded");
        Ok(true)
    }
}

/// One group of settings, as stored and checked.
pub trait Group: Serialize + Clone {
    /// Its name in storage, the API path and the audit log.
    const NAME: &'static str;
    /// The group within all settings.
    fn of(settings: &Settings) -> &Self;
    /// Field problems, named as the API names them.
    fn problems(&self) -> Vec<FieldError>;
}

impl Group for SlaSettings {
    const NAME: &'static str = "sla";

    fn of(settings: &Settings) -> &Self {
        &settings.sla
    }

    fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        if jiff::tz::TimeZone::get(&self.timezone).is_err() {
            out.push(FieldError::new(
                "timezone",
                crate::t!("problem-settings-timezone"),
            ));
        }
        if self.working_days.is_empty() || self.working_days.iter().any(|d| !(1..=7).contains(d)) {
            out.push(FieldError::new(
                "working_days",
                crate::t!("problem-settings-working-days"),
            ));
        }
        let time = |v: &str| jiff::civil::Time::strptime("%H:%M", v).ok();
        match (time(&self.day_start), time(&self.day_end)) {
            (None, _) => out.push(FieldError::new(
                "day_start",
                crate::t!("problem-settings-time-format"),
            )),
            (_, None) => out.push(FieldError::new(
                "day_end",
                crate::t!("problem-settings-time-format"),
            )),
            (Some(s), Some(e)) if s >= e => {
                out.push(FieldError::new(
                    "day_end",
                    crate::t!("problem-settings-day-end-order"),
                ));
            }
            _ => {}
        }
        for (i, h) in self.holidays.iter().enumerate() {
            if h.parse::<jiff::civil::Date>().is_err() {
                out.push(FieldError::new(
                    &format!("holidays[{i}]"),
                    crate::t!("problem-settings-holiday-format"),
                ));
            }
        }
        let targets = &self.targets;
        for (name, t) in [
            ("low", targets.low),
            ("normal", targets.normal),
            ("high", targets.high),
            ("urgent", targets.urgent),
        ] {
            let Target {
                response_minutes: r,
                resolution_minutes: s,
                ..
            } = t;
            if !(1..=525_600).contains(&r) {
                out.push(FieldError::new(
                    &format!("targets.{name}.response_minutes"),
                    crate::t!("problem-settings-response-range"),
                ));
            }
            if !(1..=525_600).contains(&s) || s < r {
                out.push(FieldError::new(
                    &format!("targets.{name}.resolution_minutes"),
                    crate::t!("problem-settings-resolution-range"),
                ));
            }
        }
        out
    }
}

impl Group for AssignmentSettings {
    const NAME: &'static str = "assignment";

    fn of(settings: &Settings) -> &Self {
        &settings.assignment
    }

    fn problems(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

impl Group for RatingSettings {
    const NAME: &'static str = "ratings";

    fn of(settings: &Settings) -> &Self {
        &settings.ratings
    }

    fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        if self.delay_minutes > 7 * 24 * 60 {
            out.push(FieldError::new(
                "delay_minutes",
                crate::t!("problem-settings-rating-delay"),
            ));
        }
        let name_ok = |s: &str, max: usize| {
            !s.is_empty()
                && s.len() <= max
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if !name_ok(&self.template, 512) || self.template.chars().any(|c| c.is_ascii_uppercase()) {
            out.push(FieldError::new(
                "template",
                crate::t!("problem-settings-template-name"),
            ));
        }
        if !name_ok(&self.template_language, 15) {
            out.push(FieldError::new(
                "template_language",
                crate::t!("problem-settings-template-language"),
            ));
        }
        out
    }
}

/// Every setting in force (admins).
pub fn current(state: &crate::AppState, actor: &Actor) -> Result<Settings, ServiceError> {
    allow(actor, Action::ManageSettings)?;
    Ok(state.settings.get().settings.clone())
}

/// Stores `value` as its group, audited with what it replaces. The caller
/// commits, then calls [`applied`].
pub async fn update<G: Group>(
    tx: &mut Tx,
    state: &crate::AppState,
    actor: &Actor,
    value: G,
) -> ServiceResult<G> {
    allow(actor, Action::ManageSettings)?;
    let problems = value.problems();
    if !problems.is_empty() {
        return Err(ServiceError::Invalid(problems));
    }
    let before =
        serde_json::to_value(G::of(&state.settings.get().settings)).map_err(anyhow::Error::from)?;
    let after = serde_json::to_value(&value).map_err(anyhow::Error::from)?;
    db::settings::put(tx, G::NAME, &after.to_string(), &actor.user_id, now_ms()).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "settings.changed",
        "settings",
        G::NAME,
        json!({ "before": before, "after": after }),
    )
    .await?;
    Ok(Applied {
        value,
        notices: vec![Notice::staff(Happened::SettingsChanged(SettingsChanged {
            group: G::NAME,
        }))],
    })
}

/// After a change committed: applies it on this instance at once.
pub async fn applied(state: &crate::AppState) -> anyhow::Result<()> {
    state.settings.refresh(&state.db).await.map(|_| ())
}
