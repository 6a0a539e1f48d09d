//! The records several parts of the core share: who is signed in
//! ([`Account`]) and a command in the outbox ([`OutboxEntry`]).
//!
//! They sit below everything else so that the shared state (which holds the
//! signed-in account) and the events (which carry answered commands) can
//! name them without importing the features that produce them. Each feature
//! keeps its own records (a visit list's [`ListItem`](crate::ListItem), a
//! photo's [`PhotoUpload`](crate::PhotoUpload)) beside its SQL.

use fieldops_sync::ids::{CommandId, DepartmentId, DocId, UserId};
use fieldops_sync::rules::{Actor, Role};

/// Who is signed in on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Server base URL, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The user.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
    /// Display name.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// Departments (staff, technicians).
    pub department_ids: Vec<DepartmentId>,
}

impl Account {
    /// The write-rule actor for local pre-checks.
    pub fn actor(&self) -> Actor {
        Actor::staff(self.role, self.user_id, self.department_ids.clone())
    }
}

/// Where a command is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandState {
    /// Saved on the device, not sent yet.
    Pending,
    /// Sent; the answer has not arrived.
    Sending,
    /// Applied by the server.
    Accepted,
    /// Refused by the server; see the reason.
    Rejected,
}

impl CommandState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CommandState::Pending => "pending",
            CommandState::Sending => "sending",
            CommandState::Accepted => "accepted",
            CommandState::Rejected => "rejected",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "sending" => CommandState::Sending,
            "accepted" => CommandState::Accepted,
            "rejected" => CommandState::Rejected,
            _ => CommandState::Pending,
        }
    }

    /// Whether the server has not answered yet.
    pub fn is_open(self) -> bool {
        matches!(self, CommandState::Pending | CommandState::Sending)
    }
}

/// One outbox row, as the app shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Idempotency key.
    pub command_id: CommandId,
    /// Order on this device.
    pub device_seq: u64,
    /// `claim_visit`, `check_in`, ...
    pub name: String,
    /// The visit or ticket the command is about.
    pub target_id: Option<DocId>,
    /// State.
    pub state: CommandState,
    /// Machine-readable rejection reason.
    pub reason: Option<String>,
    /// Human rejection message.
    pub message: Option<String>,
    /// When the user acted, Unix ms.
    pub created_at_ms: i64,
    /// Last state change, Unix ms.
    pub updated_at_ms: i64,
}
