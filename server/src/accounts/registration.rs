//! Customer self-registration, and merging duplicate customer records.
//!
//! A registration links the new account to the existing customer record of
//! its phone only when the phone is **proved** (a one-time code, see
//! [`super::phone_codes`]). Without proof it gets a customer record of its
//! own, marked `phone_verified = false`: its owner sees only what they
//! create, staff see a new customer flagged as a possible duplicate
//! (`customer.registered`, with `possible_duplicate_of`), and CS, having
//! checked who it is, merge it into the existing record ([`merge`]).

use serde_json::json;

use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::customers::{self, CustomerFields, CustomerRow};
use crate::db::users::{self, UserRow};
use crate::db::{Tx, audit};
use crate::domain::{CreatedVia, Role, Status};
use crate::events::{CustomerMerged, CustomerRegistered, Happened, Notice};
use crate::service::{ServiceError, reject_as, taken};
use crate::sync::FeedPosition;
use crate::work::{Effects, Work};
use fieldops_sync::commands::RejectReason;

/// A registration, validated.
#[derive(Debug, Clone)]
pub struct NewCustomerAccount {
    pub name: String,
    pub email: String,
    /// E.164.
    pub phone: String,
    pub password_hash: String,
    pub address: String,
    pub city: String,
    /// The phone was proved by a code redeemed for it.
    pub phone_proved: bool,
}

/// What a registration made.
#[derive(Debug)]
pub struct Registered {
    pub user: UserRow,
    pub customer: CustomerRow,
    pub effects: Effects,
}

/// A sign-up, its fields validated.
#[derive(Debug)]
pub struct SignUp {
    pub name: String,
    pub email: String,
    /// E.164.
    pub phone: String,
    /// As typed; hashed here.
    pub password: String,
    pub address: String,
    pub city: String,
}

/// Signs `new` up as a customer and opens their first device session.
/// `code` (`code_id`, code) proves the phone; it is redeemed in a change of
/// its own, so that a wrong guess stays counted whatever becomes of the
/// sign-up.
pub async fn sign_up(
    state: &AppState,
    new: SignUp,
    code: Option<(String, String)>,
    device_name: Option<&str>,
) -> Result<super::sessions::Tokens, ServiceError> {
    let phone_proved = match code {
        None => false,
        Some((code_id, code)) => {
            let mut work = Work::begin(state).await?;
            let redeemed = super::phone_codes::redeem(
                work.tx(),
                &state.codes,
                &code_id,
                &code,
                &new.phone,
                crate::db::now_ms(),
            )
            .await?;
            work.commit(Effects::none()).await?;
            if redeemed.is_err() {
                return Err(ServiceError::field(
                    "phone_code",
                    crate::t!("problem-registration-code-wrong"),
                ));
            }
            true
        }
    };
    let password_hash = crate::auth::password::hash(new.password).await?;
    let mut work = Work::begin(state).await?;
    let registered = register(
        work.tx(),
        NewCustomerAccount {
            name: new.name,
            email: new.email,
            phone: new.phone,
            password_hash,
            address: new.address,
            city: new.city,
            phone_proved,
        },
    )
    .await?;
    let tokens = super::sessions::open(state, work.tx(), registered.user, device_name).await?;
    work.commit(registered.effects).await?;
    Ok(tokens)
}

/// Registers `new` as a customer account in `tx` (see the module docs).
pub async fn register(tx: &mut Tx, new: NewCustomerAccount) -> Result<Registered, ServiceError> {
    if users::by_email(&mut **tx, &new.email).await?.is_some() {
        return Err(ServiceError::Duplicate("email"));
    }
    let existing = customers::by_phone(&mut **tx, &new.phone).await?;
    if let Some(existing) = &existing
        && customers::has_account(tx, &existing.id).await?
    {
        return Err(ServiceError::Duplicate("phone"));
    }
    let (customer, duplicate_of) = match existing {
        // A soft-deleted record stays inactive until CS restore it: an
        // account is not a way back in.
        Some(existing) if new.phone_proved && existing.status == Status::Inactive => {
            return Err(reject_as(
                RejectReason::Forbidden,
                "account-inactive",
                t!("problem-register-customer-inactive"),
            ));
        }
        Some(existing) if new.phone_proved => (existing, None),
        existing => {
            let fields = CustomerFields {
                name: new.name.clone(),
                phone: new.phone.clone(),
                email: Some(new.email.clone()),
                address: new.address.clone(),
                city: new.city.clone(),
                location: None,
            };
            let row = customers::insert(tx, &fields, CreatedVia::App, new.phone_proved).await?;
            (row, existing.map(|e| e.id))
        }
    };
    let user = users::insert(
        tx,
        &users::NewUser {
            email: new.email,
            name: new.name,
            phone: Some(customer.phone.clone()),
            role: Role::Customer,
            password_hash: new.password_hash,
            customer_id: Some(customer.id.clone()),
        },
    )
    .await
    .map_err(taken("email"))?;
    let registered = CustomerRegistered {
        id: customer.id.clone(),
        name: customer.name.clone(),
        status: customer.status,
        phone_verified: customer.phone_verified(),
        possible_duplicate_of: duplicate_of,
    };
    let registered = Happened::CustomerRegistered(registered);
    audit::record(
        tx,
        Some(&user.id),
        registered.kind(),
        "customer",
        &customer.id,
        registered
            .data()
            .map_err(|e| ServiceError::Internal(e.into()))?,
    )
    .await?;
    Ok(Registered {
        user,
        customer,
        effects: Effects::told(vec![Notice::staff(registered)]),
    })
}

/// Merges customer `from` into customer `into` in `tx`: the app account,
/// tickets, visits, conversations and documents of `from` move to `into`,
/// and `from` is retired (inactive, `merged_into`). For the duplicate an
/// unproved registration leaves, once CS know whose it is.
pub async fn merge(
    tx: &mut Tx,
    db: &crate::db::Db,
    actor: &Actor,
    from: &str,
    into: &str,
) -> Result<(CustomerRow, Effects), ServiceError> {
    actor.authorize(Action::ManageCustomers)?;
    if from == into {
        return Err(ServiceError::field(
            "into",
            crate::t!("problem-customer-merge-self"),
        ));
    }
    let source = customers::get(&mut **tx, from)
        .await?
        .ok_or_else(|| ServiceError::not_found("customer"))?;
    let target = customers::get(&mut **tx, into)
        .await?
        .ok_or_else(|| ServiceError::field("into", crate::t!("problem-customer-merge-unknown")))?;
    if source.merged_into.is_some() {
        return Err(ServiceError::conflict(
            "customer-merged",
            crate::t!("problem-customer-merged-already"),
        ));
    }
    if target.merged_into.is_some() {
        return Err(ServiceError::field(
            "into",
            crate::t!("problem-customer-merge-target-merged"),
        ));
    }
    if customers::has_account(tx, from).await? && customers::has_account(tx, into).await? {
        return Err(ServiceError::conflict(
            "both-have-accounts",
            crate::t!("problem-customer-both-have-accounts"),
        ));
    }
    let moved = customers::merge(tx, from, into).await?;
    crate::db::tickets::rename_customer(tx, into, &target.name).await?;
    // Every document of either record is re-sent whole under its new
    // scope, so the moved account's phone receives what it may now read.
    let mut position = FeedPosition::default();
    let mut changed = crate::sync::move_customer_documents(tx, from, into, &mut position).await?;
    for ticket in &moved.ticket_ids {
        changed.extend(crate::sync::tickets::project(tx, db, ticket).await?);
    }
    audit::record(
        tx,
        Some(&actor.user_id),
        "customer.merged",
        "customer",
        into,
        json!({ "from": from, "tickets": moved.ticket_ids.len(), "visits": moved.visit_ids.len() }),
    )
    .await?;
    let merged = customers::get(&mut **tx, into)
        .await?
        .ok_or_else(|| ServiceError::not_found("customer"))?;
    let what = Happened::CustomerMerged(CustomerMerged {
        id: into.to_owned(),
        from: from.to_owned(),
        name: merged.name.clone(),
    });
    let mut effects = Effects::told(vec![Notice::staff(what)])
        .with_changed(changed)
        .with_visits(moved.visit_ids);
    if let Some(user_id) = &moved.user_id {
        // What the account may read changed: its sessions reconnect.
        effects = effects.with_told([crate::sync::account_changed(user_id)]);
    }
    Ok((merged, effects))
}
