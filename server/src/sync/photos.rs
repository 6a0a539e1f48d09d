//! Photo documents written by devices.
//!
//! A phone creates a photo's document itself, offline, the moment the photo
//! is taken (`upload_state: pending`), and pushes it with its other changes.
//! Unlike every other kind, the server does not know such a document before
//! it arrives, so [`create_from_device`] admits it: the write rules judge the
//! creation (the author is the actor, only device fields are set), the owner
//! must be a ticket or visit the author may attach to ([`Action::AttachPhoto`],
//! [`Action::AttachToTicket`]; a ticket takes at most
//! `ticket_max_attachments` images, refused as `wrong_state` past that),
//! and the document takes the owner's scope (its customer and department;
//! the author, and for a visit its current holders, read it by access; a
//! technician who joins the visit later is given its photos, and one who
//! leaves loses those others took, when the visit is projected). The photo's bytes and thumbnail are then
//! recorded as owned by that ticket or visit on the author's word, which
//! keeps them from the garbage collector and, once the author has uploaded
//! them, lets whoever may see the owner download them. The document names
//! its hashes before the bytes travel, so the author cannot be asked to
//! prove possession here; a document naming someone else's photo is stored
//! like any other but shows that photo to nobody (`db::blobs::owners`).
//!
//! The device marks the photo `stored` once its bytes are uploaded. The
//! rules allow the author that move; [`check_upload_claim`] adds what the
//! rules cannot see: the server must hold the photo's and its thumbnail's
//! bytes from the author's own uploads, otherwise the change is refused with
//! `bytes_missing` and never stored. So a document never says "stored" for
//! bytes nobody can download through it.

use automerge::AutoCommit;
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::docs::photo::{OwnerKind, Photo, UploadState};
use fieldops_sync::ids::DocKind;
use fieldops_sync::rules::{self, Actor as RuleActor, Violation, ViolationReason, WriteError};

use super::{DocScope, DocWriteError, Stored};
use crate::auth::{Action, Actor};
use crate::db::{Db, Tx, assignments, blobs};

fn refuse(field: &str, reason: ViolationReason) -> DocWriteError {
    DocWriteError::Rejected(WriteError::Violations(vec![Violation {
        field: field.to_owned(),
        reason,
    }]))
}

/// The scope a photo of `photo.owner` gets, if `actor` may attach to it.
async fn owner_scope(
    tx: &mut Tx,
    actor: &Actor,
    photo: &Photo,
) -> Result<(DocScope, blobs::OwnerKind), DocWriteError> {
    let id = photo.owner.id.to_string();
    let (target, kind) = match photo.owner.kind {
        OwnerKind::Ticket => (
            blobs::ticket_target(tx, &id, &actor.user_id).await?,
            blobs::OwnerKind::Ticket,
        ),
        OwnerKind::Visit => (
            blobs::visit_target(tx, &id, &actor.user_id).await?,
            blobs::OwnerKind::Visit,
        ),
        // Check-in photos come with check-in documents, not from here yet.
        OwnerKind::CheckIn => return Err(refuse("owner", ViolationReason::NotOwner)),
        OwnerKind::Invoice => return invoice_scope(tx, actor, &id).await,
    };
    let row = target.ok_or_else(|| refuse("owner", ViolationReason::NotOwner))?;
    let action = match kind {
        blobs::OwnerKind::Ticket => Action::AttachToTicket {
            department_id: row.department_id.as_deref().unwrap_or_default(),
            customer_id: &row.customer_id,
            holder: row.held_by_user,
        },
        _ => Action::AttachPhoto {
            customer_id: &row.customer_id,
            holder: row.held_by_user,
        },
    };
    actor
        .authorize(action)
        .map_err(|_| refuse("owner", ViolationReason::NotOwner))?;
    if matches!(row.status.as_str(), "closed" | "cancelled") {
        return Err(refuse("owner", ViolationReason::WrongState));
    }
    let scope = DocScope {
        customer_id: Some(row.customer_id),
        department_id: row.department_id,
        in_pool: false,
    };
    Ok((scope, kind))
}

/// The scope of a receipt photo for invoice `id`: only someone who may pay
/// it (its customer, or CS) attaches one, and only once it is sent.
async fn invoice_scope(
    tx: &mut Tx,
    actor: &Actor,
    id: &str,
) -> Result<(DocScope, blobs::OwnerKind), DocWriteError> {
    let invoice = crate::db::invoices::get(&mut **tx, id)
        .await?
        .filter(|i| crate::invoices::may_view(actor, i))
        .ok_or_else(|| refuse("owner", ViolationReason::NotOwner))?;
    actor
        .authorize(Action::SubmitPayment {
            customer_id: &invoice.customer_id,
            issued: invoice.status.is_issued(),
        })
        .map_err(|_| refuse("owner", ViolationReason::NotOwner))?;
    let scope = DocScope {
        customer_id: Some(invoice.customer_id),
        department_id: None,
        in_pool: false,
    };
    Ok((scope, blobs::OwnerKind::Invoice))
}

/// Refuses a move to `stored` (from `before`, `None` for a creation) unless
/// the server holds the photo's bytes and its thumbnail's, uploaded by the
/// photo's author (a zero-byte upload of one's own earlier photo counts: its
/// first upload proved possession).
pub async fn check_upload_claim(
    tx: &mut Tx,
    before: Option<&Photo>,
    after: &Photo,
) -> Result<(), DocWriteError> {
    let claims = after.upload_state == UploadState::Stored
        && before.is_none_or(|b| b.upload_state != UploadState::Stored);
    if !claims {
        return Ok(());
    }
    let author = after.author_id.to_string();
    for sha in [&after.sha256, &after.thumbnail_sha256] {
        if !blobs::uploaded_by(&mut **tx, sha.as_str(), &author).await? {
            return Err(refuse("upload_state", ViolationReason::BytesMissing));
        }
        // A photo is an image: a PDF (a proof of payment) is not one.
        let is_image = blobs::get(&mut **tx, sha.as_str())
            .await?
            .is_some_and(|b| b.content_type.starts_with("image/"));
        if !is_image {
            return Err(refuse("sha256", ViolationReason::Malformed));
        }
    }
    Ok(())
}

/// Creates the photo document `id` from a device's first changes, inside
/// `tx`, if the rules and the owner allow it. Nothing is stored otherwise.
pub async fn create_from_device(
    tx: &mut Tx,
    actor: &Actor,
    rule_actor: &RuleActor,
    id: &str,
    changes: &[u8],
    backend: crate::db::Backend,
    max_attachments: u32,
) -> Result<Stored, DocWriteError> {
    let mut doc = AutoCommit::new();
    rules::apply_checked(&mut doc, DocKind::Photo, changes, rule_actor)?;
    let photo = Photo::hydrate(&doc).map_err(|_| refuse("", ViolationReason::Malformed))?;
    let (scope, owner_kind) = owner_scope(tx, actor, &photo).await?;
    check_upload_claim(tx, None, &photo).await?;
    let owner_id = photo.owner.id.to_string();
    if owner_kind == blobs::OwnerKind::Ticket
        && tickets_full(
            tx,
            backend,
            &owner_id,
            photo.sha256.as_str(),
            max_attachments,
        )
        .await?
    {
        return Err(refuse("owner", ViolationReason::WrongState));
    }
    // The author reads it by access, and so do the visit's other holders
    // (before/after photos are the crew's, not one technician's).
    let mut readers = vec![photo.author_id.to_string()];
    if owner_kind == blobs::OwnerKind::Visit {
        let held = assignments::for_visits(&mut **tx, &[owner_id.as_str()]).await?;
        readers.extend(
            held.into_iter()
                .filter(|a| a.state != "released")
                .map(|a| a.technician_id),
        );
        readers.sort();
        readers.dedup();
    }
    let changed = super::create(tx, id, DocKind::Photo, scope, &mut doc, &readers).await?;
    // Whoever joins the visit's crew later is given it too (sync::project).
    super::store::set_parent(tx, id, &owner_id, &photo.author_id.to_string()).await?;
    for sha in [&photo.sha256, &photo.thumbnail_sha256] {
        blobs::add_owner(tx, sha.as_str(), owner_kind, &owner_id, &actor.user_id).await?;
    }
    if owner_kind == blobs::OwnerKind::Ticket {
        blobs::attach_to_ticket(tx, &owner_id, photo.sha256.as_str(), &actor.user_id).await?;
    }
    let seq = changed.seq;
    Ok(Stored {
        changed: Some(changed),
        doc,
        seq,
    })
}

/// Whether ticket `ticket_id` already holds `max` images, `sha256` not
/// among them; the ticket stays locked until `tx` ends, so two attaches at
/// once cannot both take the last place.
async fn tickets_full(
    tx: &mut Tx,
    backend: crate::db::Backend,
    ticket_id: &str,
    sha256: &str,
    max: u32,
) -> sqlx::Result<bool> {
    crate::db::tickets::lock(tx, backend, ticket_id).await?;
    let held = crate::db::tickets::attachments(&mut **tx, ticket_id).await?;
    Ok(!held.iter().any(|h| h == sha256) && held.len() >= max as usize)
}

/// Applies a device's changes to the existing photo document `id` inside
/// `tx`: the write rules, then [`check_upload_claim`].
pub async fn apply_device_changes(
    tx: &mut Tx,
    db: &Db,
    id: &str,
    changes: &[u8],
    rule_actor: &RuleActor,
) -> Result<Stored, DocWriteError> {
    let mut before = None;
    let stored = super::update(tx, db, id, DocKind::Photo, |doc| {
        before = Photo::hydrate(doc).ok();
        rules::apply_checked(doc, DocKind::Photo, changes, rule_actor).map_err(DocWriteError::from)
    })
    .await?;
    if stored.changed.is_some() {
        check_stored(tx, before.as_ref(), &stored.doc).await?;
    }
    Ok(stored)
}

/// [`check_upload_claim`] on a stored document.
pub async fn check_stored(
    tx: &mut Tx,
    before: Option<&Photo>,
    after: &AutoCommit,
) -> Result<(), DocWriteError> {
    let after = Photo::hydrate(after).map_err(|_| refuse("", ViolationReason::Malformed))?;
    check_upload_claim(tx, before, &after).await
}
