//! Customer records as CS keep them: creating one by hand, changing its
//! contact details, soft-deleting and restoring it. (A customer's own app
//! account comes from [`super::registration`]; WhatsApp senders become
//! customers in `helpdesk::whatsapp::inbound`.) Every change is audited and
//! announced to the staff consoles. A soft-deleted customer's app account
//! is switched off with the record (and back on with its restore).

use serde_json::json;

use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::customers::{self, CustomerFields, CustomerRow};
use crate::db::{Tx, audit, sessions, tickets, users};
use crate::domain::{self, CreatedVia, GeoPoint, Status, Validator};
use crate::events::{CustomerFacts, Happened, Notice};
use crate::service::{ServiceError, taken};
use crate::sync::{self, SignedOut};
use crate::work::Effects;

/// A customer's fields as asked, validated by [`create`] and [`update`].
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub address: String,
    pub city: String,
    pub location: Option<GeoPoint>,
}

/// A change to a customer's fields: `None` keeps one; `Some(None)` clears
/// the e-mail address or the location.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<Option<String>>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub location: Option<Option<GeoPoint>>,
}

/// Validates a full set of customer fields, collecting every error.
fn validate(state: &AppState, input: &Input) -> Result<CustomerFields, ServiceError> {
    let mut v = Validator::new();
    let name = v.check("name", domain::line(&input.name, 120));
    let phone = v.check(
        "phone",
        domain::phone_e164(&input.phone, &state.config.default_phone_region),
    );
    let email = input
        .email
        .as_deref()
        .map(|e| v.check("email", domain::email(e)));
    let address = v.check("address", domain::optional_text(&input.address, 500));
    let city = v.check("city", domain::optional_line(&input.city, 120));
    let location = input.location.and_then(|l| match l.validate() {
        Ok(l) => Some((l.lat, l.lon)),
        Err(m) => {
            v.add("location", m);
            None
        }
    });
    v.finish()?;
    Ok(CustomerFields {
        name,
        phone,
        email,
        address,
        city,
        location,
    })
}

/// The event that tells the staff consoles.
/// Audits a change of customer `row` and tells staff about it.
async fn announced(
    tx: &mut Tx,
    actor: &Actor,
    what: fn(CustomerFacts) -> Happened,
    row: &CustomerRow,
) -> Result<Effects, ServiceError> {
    let what = what(row.into());
    audit::record(
        tx,
        Some(&actor.user_id),
        what.kind(),
        "customer",
        &row.id,
        json!({}),
    )
    .await?;
    Ok(Effects::told(vec![Notice::staff(what)]))
}

async fn load(tx: &mut Tx, id: &str) -> Result<CustomerRow, ServiceError> {
    customers::get(&mut **tx, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("customer"))
}

/// CS create a customer record by hand (a phone call, a walk-in).
pub async fn create(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    input: &Input,
) -> Result<(CustomerRow, Effects), ServiceError> {
    actor.authorize(Action::ManageCustomers)?;
    let fields = validate(state, input)?;
    let row = customers::insert(tx, &fields, CreatedVia::Manual, true)
        .await
        .map_err(taken("phone"))?;
    let effects = announced(tx, actor, Happened::CustomerCreated, &row).await?;
    Ok((row, effects))
}

/// Changes a customer's contact details, address or location; the tickets
/// that show the customer's name follow.
pub async fn update(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    edit: Edit,
) -> Result<(CustomerRow, Effects), ServiceError> {
    actor.authorize(Action::ManageCustomers)?;
    let current = load(tx, id).await?;
    let current_location = current
        .lat
        .zip(current.lon)
        .map(|(lat, lon)| GeoPoint { lat, lon });
    let input = Input {
        name: edit.name.unwrap_or(current.name),
        phone: edit.phone.unwrap_or(current.phone),
        email: edit.email.unwrap_or(current.email),
        address: edit.address.unwrap_or(current.address),
        city: edit.city.unwrap_or(current.city),
        location: edit.location.unwrap_or(current_location),
    };
    let fields = validate(state, &input)?;
    let row = customers::update(tx, &current.id, &fields)
        .await
        .map_err(taken("phone"))?;
    tickets::rename_customer(tx, &row.id, &row.name).await?;
    let effects = announced(tx, actor, Happened::CustomerUpdated, &row).await?;
    Ok((row, effects))
}

/// Soft-deletes (`Inactive`: the history stays) or restores a customer.
/// Asking for the status it has changes nothing.
pub async fn set_status(
    tx: &mut Tx,
    actor: &Actor,
    id: &str,
    status: Status,
) -> Result<(CustomerRow, Effects), ServiceError> {
    actor.authorize(Action::ManageCustomers)?;
    let current = load(tx, id).await?;
    if current.status == status {
        return Ok((current, Effects::none()));
    }
    let row = customers::set_status(tx, &current.id, status).await?;
    let what = if status == Status::Inactive {
        Happened::CustomerDeactivated
    } else {
        Happened::CustomerRestored
    };
    let mut effects = announced(tx, actor, what, &row).await?;
    // The customer's app account follows the record: switched off (signed
    // out everywhere) with it, back on with its restore.
    if let Some(account) = users::account_of_customer(&mut **tx, &row.id).await? {
        let changes = users::UserChanges {
            status: Some(status),
            ..Default::default()
        };
        users::update(tx, &account, &changes).await?;
        let ending = if status == Status::Inactive {
            sessions::revoke_all(tx, &account, None, "customer deactivated").await?;
            sync::signed_out(&account, SignedOut::All)
        } else {
            sync::account_changed(&account)
        };
        effects = effects.and(Effects::told(vec![ending]));
    }
    Ok((row, effects))
}
