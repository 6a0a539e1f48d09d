//! What an inbound WhatsApp message means, once the webhook has checked and
//! parsed it: each message is handled once (by its id; Meta redelivers), in
//! one unit of work.
//!
//! * `DAFTAR#<name>#<address>#<city>` creates the sender's customer record
//!   (`created_via = whatsapp`, the phone verified: the message came from
//!   it) or fills what is blank in an existing one, and queues a
//!   confirmation; a malformed one gets the format back.
//! * Any other text from a known customer goes into their WhatsApp
//!   conversation (a new one, routed round-robin, if they have none).
//! * An image from a known customer is fetched from the Cloud API into the
//!   photo store ([`super::media`]) and goes into that conversation as a
//!   message carrying it (its caption the text); one that cannot be kept is
//!   recorded as such, and the customer told. Voice notes, videos,
//!   documents, stickers, places and contacts are recorded as "sent
//!   something fieldops cannot show", and the customer is asked for text or
//!   a photo.
//! * A stranger gets the registration format; an inactive customer is told
//!   their record is inactive, and nothing reaches a chat.
//! * A customer's words are never refused (Meta would redeliver them
//!   forever): what no text may hold is dropped
//!   (`fieldops_sync::text::sanitize`), and a message with no text left is
//!   acknowledged and ignored.

use serde_json::json;

use super::media::{self, Unkept};
use super::{Parsed, Registration, parse_registration, registration_help};
use crate::AppState;
use crate::db::customers::{self, CustomerFields};
use crate::db::{Tx, audit, blobs, chat, whatsapp};
use crate::domain::{CreatedVia, Status};
use crate::events::{CustomerFacts, Happened, Notice, RegistrationDiffers};
use crate::i18n::Arg;
use crate::work::{Effects, Work};

/// Longest chat message kept from WhatsApp, in characters.
const MAX_CHAT_CHARS: usize = 4000;

/// One delivered message, as the webhook parsed it.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Meta's message id (`wamid…`).
    pub message_id: String,
    /// The sender, E.164.
    pub phone: String,
    pub content: Content,
}

/// What a delivered message carries, as the webhook parsed it.
pub use fieldops_inbound::whatsapp::Content;

/// What reaches a customer's conversation.
enum Said {
    Text(String),
    /// An image: its stored hash, or why it was not kept.
    Image {
        caption: String,
        kept: Result<String, Unkept>,
    },
    Unsupported(String),
}

/// Handles `m` once (see the module docs).
pub async fn receive(state: &AppState, m: Inbound) -> anyhow::Result<()> {
    // A WhatsApp sender's language is not known: every reply is wholly in
    // Bahasa Indonesia, field problems included.
    let work = Box::pin(receive_in_bahasa(state, m));
    crate::i18n::speaking(Some(crate::i18n::Lang::Id), work).await
}

async fn receive_in_bahasa(state: &AppState, m: Inbound) -> anyhow::Result<()> {
    if whatsapp::seen(&state.db, &m.message_id).await? {
        tracing::info!(id = %m.message_id, "WhatsApp message already handled; ignored");
        return Ok(());
    }
    let text = |t: &str| {
        let t: String = fieldops_sync::text::sanitize(t)
            .chars()
            .take(MAX_CHAT_CHARS)
            .collect();
        t.trim().to_owned()
    };
    let said = match &m.content {
        Content::Text(t) => {
            let t = text(t);
            (!t.is_empty()).then_some(Said::Text(t))
        }
        // Fetched before the unit of work (no transaction waits on Meta),
        // and only for a customer who may chat: a stranger's image is not
        // kept. A fetch that fails for now fails the delivery, which Meta
        // repeats.
        Content::Image { media_id, caption } => {
            let kept = match customers::by_phone(state.db.pool(), &m.phone).await? {
                Some(c) if c.status == Status::Active => {
                    media::fetch_image(state, media_id).await?
                }
                _ => Err(Unkept::Unavailable),
            };
            let caption = caption.as_deref().map(text).unwrap_or_default();
            Some(Said::Image { caption, kept })
        }
        Content::Unsupported(kind) => Some(Said::Unsupported(kind.clone())),
    };
    let mut work = Work::begin(state).await?;
    let tx = work.tx();
    let (claimed, effects) = match said {
        None => {
            tracing::info!(id = %m.message_id, "WhatsApp message without text ignored");
            (claim(tx, &m, "ignored").await?, Effects::none())
        }
        Some(Said::Text(text)) => match parse_registration(&text) {
            Parsed::Registration(r) => match claim(tx, &m, "registration").await? {
                true => (true, register(tx, &m, r).await?),
                false => (false, Effects::none()),
            },
            Parsed::BadRegistration(why) => {
                let claimed = claim(tx, &m, "bad_registration").await?;
                if claimed {
                    let reply = t!("wa-register-bad", why = &why, help = &registration_help());
                    whatsapp::enqueue(tx, &m.phone, &reply).await?;
                }
                (claimed, Effects::none())
            }
            Parsed::NotRegistration => from_customer(tx, state, &m, Said::Text(text)).await?,
        },
        Some(said) => from_customer(tx, state, &m, said).await?,
    };
    if !claimed {
        // Another delivery of the same message got here first.
        return Ok(());
    }
    work.commit(effects).await?;
    state.helpdesk.wake.notify_one();
    Ok(())
}

/// What a sender who is not registering said: into their chat if they are
/// an active customer; otherwise the registration format, or word that
/// their record is inactive. Whether the message was claimed here, and
/// what to announce.
async fn from_customer(
    tx: &mut Tx,
    state: &AppState,
    m: &Inbound,
    said: Said,
) -> anyhow::Result<(bool, Effects)> {
    match customers::by_phone(&mut **tx, &m.phone).await? {
        None => {
            let claimed = claim(tx, m, "unknown_sender").await?;
            if claimed {
                whatsapp::enqueue(tx, &m.phone, &registration_help()).await?;
            }
            Ok((claimed, Effects::none()))
        }
        // A soft-deleted customer is inactive here too: told so, and
        // nothing reaches the chat until CS restore them.
        Some(customer) if customer.status == Status::Inactive => {
            let claimed = claim(tx, m, "inactive_customer").await?;
            if claimed {
                whatsapp::enqueue(tx, &m.phone, &t!("wa-customer-inactive")).await?;
            }
            Ok((claimed, Effects::none()))
        }
        Some(customer) => match claim(tx, m, "chat").await? {
            true => Ok((true, into_chat(tx, state, m, &customer.id, said).await?)),
            false => Ok((false, Effects::none())),
        },
    }
}

/// Records that message `m` is handled (as `outcome`); false when it was.
async fn claim(tx: &mut Tx, m: &Inbound, outcome: &str) -> sqlx::Result<bool> {
    whatsapp::claim_inbound(tx, &m.message_id, &m.phone, outcome).await
}

async fn register(tx: &mut Tx, m: &Inbound, r: Registration) -> anyhow::Result<Effects> {
    let (row, action) = match customers::by_phone(&mut **tx, &m.phone).await? {
        // Registering again does not bring a soft-deleted record back:
        // restoring is CS's decision.
        Some(existing) if existing.status == Status::Inactive => {
            whatsapp::enqueue(tx, &m.phone, &t!("wa-customer-inactive")).await?;
            return Ok(Effects::none());
        }
        // The number already has a record: whoever sends `DAFTAR` from it
        // fills only what is blank; anything else that differs (a new
        // name above all) is CS's to confirm, never silently overwritten.
        Some(existing) => {
            let differs = differences(&existing, &r);
            let fill = |current: &str, sent: String| {
                if current.trim().is_empty() {
                    sent
                } else {
                    current.to_owned()
                }
            };
            let fields = CustomerFields {
                name: fill(&existing.name, r.name),
                phone: existing.phone.clone(),
                email: existing.email.clone(),
                address: fill(&existing.address, r.address),
                city: fill(&existing.city, r.city),
                location: existing.lat.zip(existing.lon),
            };
            let row = customers::update(tx, &existing.id, &fields).await?;
            if row.name != existing.name {
                crate::db::tickets::rename_customer(tx, &row.id, &row.name).await?;
            }
            if !differs.is_empty() {
                return registration_differs(tx, m, row, differs).await;
            }
            (
                row,
                Happened::CustomerUpdated as fn(CustomerFacts) -> Happened,
            )
        }
        None => {
            let fields = CustomerFields {
                name: r.name,
                phone: m.phone.clone(),
                email: None,
                address: r.address,
                city: r.city,
                location: None,
            };
            let row = customers::insert(tx, &fields, CreatedVia::Whatsapp, true).await?;
            (
                row,
                Happened::CustomerCreated as fn(CustomerFacts) -> Happened,
            )
        }
    };
    let what = action(CustomerFacts {
        created_via: Some(row.created_via),
        ..(&row).into()
    });
    audit::record(
        tx,
        None,
        what.kind(),
        "customer",
        &row.id,
        json!({ "via": "whatsapp", "message_id": m.message_id }),
    )
    .await?;
    let reply = t!("wa-register-done", name = &row.name);
    whatsapp::enqueue(tx, &m.phone, &reply).await?;
    Ok(Effects::told(vec![Notice::staff(what)]))
}

/// What a repeated registration says differently from the record, field by
/// field: `{"name": {"current": "Rina Wati", "sent": "Rina W."}}`.
fn differences(
    existing: &customers::CustomerRow,
    sent: &Registration,
) -> serde_json::Map<String, serde_json::Value> {
    let same = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
    [
        ("name", &existing.name, &sent.name),
        ("address", &existing.address, &sent.address),
        ("city", &existing.city, &sent.city),
    ]
    .into_iter()
    .filter(|(_, current, sent)| !current.trim().is_empty() && !same(current, sent))
    .map(|(field, current, sent)| {
        (
            field.to_owned(),
            json!({ "current": current, "sent": sent }),
        )
    })
    .collect()
}

/// Tells CS (audit and event) what a repeated registration wanted changed,
/// and the sender that CS will confirm it.
async fn registration_differs(
    tx: &mut Tx,
    m: &Inbound,
    row: customers::CustomerRow,
    differs: serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<Effects> {
    audit::record(
        tx,
        None,
        "customer.registration_differs",
        "customer",
        &row.id,
        json!({ "via": "whatsapp", "message_id": m.message_id, "differs": differs }),
    )
    .await?;
    whatsapp::enqueue(tx, &m.phone, &t!("wa-register-differs", name = &row.name)).await?;
    let what = Happened::CustomerRegistrationDiffers(RegistrationDiffers {
        id: row.id,
        name: row.name,
        phone: row.phone,
        differs,
    });
    Ok(Effects::told(vec![Notice::staff(what)]))
}

async fn into_chat(
    tx: &mut Tx,
    state: &AppState,
    m: &Inbound,
    customer_id: &str,
    said: Said,
) -> anyhow::Result<Effects> {
    // Two first messages at once: the second waits, then finds the first's
    // conversation.
    customers::lock(tx, state.db.backend(), customer_id).await?;
    let (conversation_id, opened) = match chat::latest_of_customer(tx, customer_id, "whatsapp")
        .await?
    {
        Some(id) => (id, None),
        None => {
            let opened = crate::helpdesk::chat::open(tx, state, customer_id, "whatsapp").await?;
            (opened.id.clone(), Some(opened))
        }
    };
    // What staff read (in their language, for what the server says about
    // the message), what it carries, and what the customer is told back.
    let (body, image, reply) = match said {
        Said::Text(text) => (text, None, None),
        Said::Image {
            caption,
            kept: Ok(sha256),
        } => {
            let body = if caption.is_empty() {
                crate::i18n::stored("stored-chat-photo", &[])
            } else {
                caption
            };
            (body, Some(sha256), None)
        }
        Said::Image {
            caption,
            kept: Err(why),
        } => {
            let (key, reply) = match why {
                Unkept::TooLarge { max } => (
                    "stored-chat-photo-too-large",
                    t!("wa-photo-too-large", max_mb = max.div_ceil(1 << 20)),
                ),
                Unkept::NotAnImage => ("stored-chat-photo-unreadable", t!("wa-photo-unreadable")),
                Unkept::Unavailable => {
                    ("stored-chat-photo-unavailable", t!("wa-photo-unavailable"))
                }
            };
            let body = crate::i18n::stored(key, &[("caption", Arg::Text(&caption))]);
            (body, None, Some(reply))
        }
        Said::Unsupported(kind) => (
            crate::i18n::stored("stored-chat-unsupported", &[("kind", Arg::Text(&kind))]),
            None,
            Some(t!("wa-media-unsupported")),
        ),
    };
    let sender = (None, "customer");
    let (row, new) = chat::add_message(
        tx,
        &conversation_id,
        sender,
        &body,
        Some(&m.message_id),
        image.as_deref(),
    )
    .await?;
    if !new {
        return Ok(Effects::none());
    }
    if let Some(sha256) = &image {
        blobs::add_fetched_to_conversation(tx, sha256, &conversation_id).await?;
    }
    if let Some(reply) = reply {
        whatsapp::enqueue(tx, &m.phone, &reply).await?;
    }
    let mut notices = crate::helpdesk::chat::notices(state, customer_id, &row).await;
    if let Some(opened) = &opened {
        notices.extend(
            crate::helpdesk::chat::after_first_message(tx, state, opened, customer_id, "whatsapp")
                .await?,
        );
    }
    Ok(Effects::told(notices))
}
