//! Photos on the server: checking uploaded bytes (sniffed type, pixel count,
//! a full decode), finishing an upload into content-addressed storage,
//! who may read a photo ([`may_read`]), server-side thumbnails, signed
//! download links and the garbage collector.
//!
//! A SHA-256 is a name, not a secret: it travels in photo documents, ticket
//! attachments and links. So nothing is granted for naming a hash, and no
//! answer tells a caller who may not read some bytes whether they exist.
//! Access comes from proof of possession (having uploaded the bytes) or from
//! what the photo is attached to, and an attachment or a thumbnail claim
//! counts only when the account that made it uploaded the bytes it names.

use std::io::Cursor;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac as _};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest as _, Sha256};

use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::{self, Tx, assignments, blobs, tickets, uploads, visits};
use crate::service::ServiceError;
use crate::work::{Effects, Work};

/// Longest edge of a server-made thumbnail, as on devices.
pub const THUMBNAIL_EDGE: u32 = 320;

/// What an uploaded image turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspected {
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Why bytes are not an acceptable photo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the bytes are not a JPEG, PNG or WebP image, nor a PDF")]
    NotAnImage,
    #[error("the image is {width}×{height} pixels; at most {max} pixels are accepted")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("the image is damaged or incomplete")]
    Corrupt,
    #[error("the PDF is damaged or incomplete")]
    CorruptPdf,
}

impl Rejection {
    /// The rejection for a person, in the request's language (`Display`
    /// is the English of logs).
    pub fn detail(&self) -> String {
        match *self {
            Rejection::NotAnImage => crate::t!("problem-photo-not-an-image"),
            Rejection::TooManyPixels { width, height, max } => crate::t!(
                "problem-photo-too-many-pixels",
                width = width,
                height = height,
                max = max
            ),
            Rejection::Corrupt => crate::t!("problem-photo-corrupt"),
            Rejection::CorruptPdf => crate::t!("problem-photo-corrupt-pdf"),
        }
    }
}

impl From<Rejection> for ServiceError {
    fn from(r: Rejection) -> Self {
        let kind = match r {
            Rejection::NotAnImage => "not-an-image",
            Rejection::TooManyPixels { .. } => "too-many-pixels",
            Rejection::Corrupt => "corrupt-image",
            Rejection::CorruptPdf => "corrupt-pdf",
        };
        ServiceError::Unprocessable {
            kind,
            detail: r.detail(),
        }
    }
}

fn sniff(bytes: &[u8]) -> Result<(ImageFormat, &'static str), Rejection> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => Ok((ImageFormat::Jpeg, "image/jpeg")),
        Ok(ImageFormat::Png) => Ok((ImageFormat::Png, "image/png")),
        Ok(ImageFormat::WebP) => Ok((ImageFormat::WebP, "image/webp")),
        _ => Err(Rejection::NotAnImage),
    }
}

fn reader(bytes: &[u8], format: ImageFormat, max_pixels: u64) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(4).saturating_add(64 << 20));
    reader.limits(limits);
    reader
}

fn check_pixels(width: u32, height: u32, max: u64) -> Result<(), Rejection> {
    if u64::from(width) * u64::from(height) > max {
        return Err(Rejection::TooManyPixels { width, height, max });
    }
    if width == 0 || height == 0 {
        return Err(Rejection::Corrupt);
    }
    Ok(())
}

/// The dimensions a header declares, read without decoding any pixels.
fn header_dimensions(bytes: &[u8], format: ImageFormat) -> Option<(u32, u32)> {
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(format);
    reader.no_limits();
    reader.into_dimensions().ok()
}

/// The type of a PDF (a proof of payment may be one).
pub const PDF: &str = "application/pdf";

/// Whether bytes start as a PDF does.
fn is_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-")
}

/// A PDF is whole when its end-of-file marker is near the end (writers
/// may add a newline or a little padding after it).
fn check_pdf(bytes: &[u8]) -> Result<(), Rejection> {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    if tail.windows(5).any(|w| w == b"%%EOF") {
        Ok(())
    } else {
        Err(Rejection::CorruptPdf)
    }
}

/// An early look at the first bytes of an upload: refuses what is plainly
/// neither an image nor a PDF, or declares too many pixels, before the rest
/// is sent. Returns `Ok` when the start is too short to tell.
pub fn precheck(first_bytes: &[u8], max_pixels: u64) -> Result<(), Rejection> {
    if first_bytes.len() < 16 || is_pdf(first_bytes) {
        return Ok(());
    }
    let (format, _) = sniff(first_bytes)?;
    if let Some((w, h)) = header_dimensions(first_bytes, format) {
        check_pixels(w, h, max_pixels)?;
    }
    Ok(())
}

/// Sniffs the type, checks the pixel count from the header, then decodes the
/// whole image under limits (a truncated or damaged file fails here). A PDF
/// (proof of payment) is accepted whole, never rendered; it has no pixels.
pub fn inspect(bytes: &[u8], max_pixels: u64) -> Result<Inspected, Rejection> {
    if is_pdf(bytes) {
        check_pdf(bytes)?;
        return Ok(Inspected {
            content_type: PDF,
            width: 0,
            height: 0,
        });
    }
    let (format, content_type) = sniff(bytes)?;
    let (width, height) = header_dimensions(bytes, format).ok_or(Rejection::Corrupt)?;
    check_pixels(width, height, max_pixels)?;
    let too_big = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => Rejection::TooManyPixels {
            width,
            height,
            max: max_pixels,
        },
        _ => Rejection::Corrupt,
    };
    let decoder = reader(bytes, format, max_pixels)
        .into_decoder()
        .map_err(too_big)?;
    DynamicImage::from_decoder(decoder).map_err(too_big)?;
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(Rejection::Corrupt);
    }
    Ok(Inspected {
        content_type,
        width,
        height,
    })
}

/// Whether a JPEG is complete: the end-of-image marker follows the first
/// scan. Entropy-coded data never contains `FF D9` (a data `FF` is stuffed as
/// `FF 00`), so a file cut anywhere after its header lacks it, though lenient
/// decoders fill the missing rows with grey instead of failing.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// A JPEG thumbnail (longest edge 320 px, orientation applied, no metadata).
pub fn make_thumbnail(bytes: &[u8], max_pixels: u64) -> anyhow::Result<Vec<u8>> {
    let (format, _) = sniff(bytes)?;
    let mut decoder = reader(bytes, format, max_pixels).into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    let thumbnail = image.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE).into_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 75).encode_image(&thumbnail)?;
    Ok(out)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks assembled upload bytes and stores them under their hash: the hash
/// must be the claimed one, the bytes an acceptable image. On success the
/// blob is stored (once, however many uploads carry it) and `user_id` is
/// recorded as an uploader; on failure nothing is stored. The upload's
/// thumbnail claim is linked once the same account has uploaded both files,
/// in either order ([`blobs::link_thumbnail`]).
pub async fn store_verified(
    state: &AppState,
    upload: &uploads::UploadRow,
    bytes: Bytes,
) -> Result<(), ServiceError> {
    let actual = sha256_hex(&bytes);
    if actual != upload.sha256 {
        return Err(ServiceError::Unprocessable {
            kind: "hash-mismatch",
            detail: crate::t!("problem-photo-hash-mismatch"),
        });
    }
    let byte_size = store_inspected(state, &upload.sha256, bytes).await?;
    let mut work = Work::begin(state).await?;
    let tx = work.tx();
    if !uploads::complete(tx, &upload.id).await? {
        // Another instance finished it while we verified: it recorded
        // the uploader and the audit row, once.
        return Ok(());
    }
    record_uploader(tx, &upload.sha256, &upload.user_id).await?;
    if let Some(thumbnail) = &upload.thumbnail_sha256 {
        blobs::link_thumbnail(tx, &upload.sha256, thumbnail, &upload.user_id).await?;
    }
    db::audit::record(
        tx,
        Some(&upload.user_id),
        "blob.uploaded",
        "blob",
        &upload.sha256,
        serde_json::json!({ "upload_id": upload.id, "bytes": byte_size }),
    )
    .await?;
    work.commit(Effects::none()).await?;
    if let Err(e) = state.blobs.delete_upload(&upload.id).await {
        tracing::warn!(error = %e, upload = %upload.id, "deleting the chunks of a finished upload");
    }
    Ok(())
}

/// Inspects `bytes` (a photo or a PDF, within `max_photo_pixels`) and
/// stores them under `sha256`, once however often they are sent; returns
/// their size. Nobody is recorded as their uploader yet.
async fn store_inspected(
    state: &AppState,
    sha256: &str,
    bytes: Bytes,
) -> Result<i64, ServiceError> {
    let inspected = inspect_off_thread(state, &bytes).await??;
    store_checked(state, sha256, bytes, inspected).await
}

/// [`inspect`], on a blocking thread (a full decode).
async fn inspect_off_thread(
    state: &AppState,
    bytes: &Bytes,
) -> Result<Result<Inspected, Rejection>, ServiceError> {
    let max_pixels = state.config.max_photo_pixels;
    let checked = bytes.clone();
    tokio::task::spawn_blocking(move || inspect(&checked, max_pixels))
        .await
        .map_err(|e| ServiceError::Internal(e.into()))
}

/// Stores inspected bytes under `sha256` (see [`store_inspected`]).
async fn store_checked(
    state: &AppState,
    sha256: &str,
    bytes: Bytes,
    inspected: Inspected,
) -> Result<i64, ServiceError> {
    let byte_size = i64::try_from(bytes.len()).map_err(|e| ServiceError::Internal(e.into()))?;
    let blob = blobs::NewBlob {
        sha256,
        byte_size,
        content_type: inspected.content_type,
        width: i64::from(inspected.width),
        height: i64::from(inspected.height),
    };
    store_blob(state, &blob, bytes).await?;
    Ok(byte_size)
}

/// Stores an image the server fetched on a customer's behalf (one they
/// sent on WhatsApp), checked like an upload; returns its hash, or why it
/// is not a photo fieldops keeps (a PDF is not an image here). Nothing
/// refers to it yet: the caller records what it belongs to in the unit of
/// work that uses it, or the collector takes it after its grace period.
pub async fn store_fetched_image(
    state: &AppState,
    bytes: Bytes,
) -> Result<Result<String, Rejection>, ServiceError> {
    let inspected = match inspect_off_thread(state, &bytes).await? {
        Ok(i) if i.content_type.starts_with("image/") => i,
        Ok(_) => return Ok(Err(Rejection::NotAnImage)),
        Err(rejection) => return Ok(Err(rejection)),
    };
    let sha256 = sha256_hex(&bytes);
    store_checked(state, &sha256, bytes, inspected).await?;
    Ok(Ok(sha256))
}

/// Stores bytes a person sent whole through a form (the console's "attach
/// an image"), checked like an upload's; returns their hash. The caller
/// records the sender with [`record_uploader`] in the unit of work that
/// uses them: until then they are nobody's, and the collector takes them
/// after its grace period.
pub async fn store_sent(state: &AppState, bytes: Bytes) -> Result<String, ServiceError> {
    let sha256 = sha256_hex(&bytes);
    store_inspected(state, &sha256, bytes).await?;
    Ok(sha256)
}

/// Records `user_id` as an uploader of stored bytes `sha256`, and links
/// them as the thumbnail of photos that user named them for.
pub async fn record_uploader(tx: &mut Tx, sha256: &str, user_id: &str) -> sqlx::Result<()> {
    blobs::add_uploader(tx, sha256, user_id).await?;
    for photo in blobs::claimed_by_uploads(tx, sha256, user_id).await? {
        blobs::link_thumbnail(tx, &photo, sha256, user_id).await?;
    }
    Ok(())
}

/// Stores `bytes` as `blob`, once however often they come: its row is
/// claimed first, in a change of its own so that concurrent uploads of the
/// same bytes agree, then the bytes are put and the row marked stored.
async fn store_blob(
    state: &AppState,
    blob: &blobs::NewBlob<'_>,
    bytes: Bytes,
) -> Result<(), ServiceError> {
    let mut work = Work::begin(state).await?;
    let claim = blobs::claim(work.tx(), blob).await?;
    work.commit(Effects::none()).await?;
    match claim {
        blobs::Claim::BeingDeleted => return Err(ServiceError::Unavailable),
        blobs::Claim::Store => {
            state.blobs.put_blob(blob.sha256, bytes).await?;
            blobs::mark_stored(state.db.pool(), blob.sha256).await?;
        }
        blobs::Claim::AlreadyStored => {}
    }
    Ok(())
}

/// Whether `actor` may read blob `sha256` (which need not exist): admins
/// all; the accounts that uploaded it; whoever may see a ticket or visit it
/// is attached to by an uploader ([`blobs::owners`]); and, for a thumbnail,
/// whoever may read a photo it is the thumbnail of. Callers that may not read
/// a blob must not learn whether it exists.
pub async fn may_read(state: &AppState, actor: &Actor, sha256: &str) -> Result<bool, ServiceError> {
    if reads_directly(state, actor, sha256).await? {
        return Ok(true);
    }
    for photo in blobs::photos_with_thumbnail(state.db.pool(), sha256).await? {
        if reads_directly(state, actor, &photo).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn reads_directly(
    state: &AppState,
    actor: &Actor,
    sha256: &str,
) -> Result<bool, ServiceError> {
    let uploader_or_owner = blobs::user_may_read(&state.db, sha256, &actor.user_id).await?;
    let sees_an_owner = !uploader_or_owner && sees_an_owner(state, actor, sha256).await?;
    Ok(actor
        .authorize(Action::DownloadPhoto {
            uploader_or_owner,
            sees_an_owner,
        })
        .is_ok())
}

/// Whether `actor` may see a ticket, visit, invoice or conversation that
/// photo `sha256` is attached to: the ticket itself ([`Action::ViewTicket`]),
/// a visit's photos ([`Action::ViewVisitPhotos`]: its current holders, not
/// the pool), the invoice, the conversation ([`Action::UseConversation`]).
async fn sees_an_owner(
    state: &AppState,
    actor: &Actor,
    sha256: &str,
) -> Result<bool, ServiceError> {
    let pool = state.db.pool();
    for (kind, id) in blobs::owners(pool, sha256).await? {
        let allowed = match kind.as_str() {
            "ticket" => match tickets::get(pool, &id).await? {
                Some(t) => actor
                    .authorize(Action::ViewTicket {
                        department_id: &t.department_id,
                        customer_id: &t.customer_id,
                    })
                    .is_ok(),
                None => false,
            },
            "visit" => match visits::get(pool, &id).await? {
                Some(v) => {
                    let holder = assignments::holds(pool, &v.id, &actor.user_id).await?;
                    actor
                        .authorize(Action::ViewVisitPhotos {
                            customer_id: &v.customer_id,
                            holder,
                        })
                        .is_ok()
                }
                None => false,
            },
            // An image a customer sent on WhatsApp: whoever may use the
            // conversation (its customer, CS and admins).
            "conversation" => match crate::db::chat::customer_and_channel(pool, &id).await? {
                Some((customer_id, _)) => actor
                    .authorize(Action::UseConversation {
                        customer_id: &customer_id,
                    })
                    .is_ok(),
                None => false,
            },
            // A proof of payment: whoever may see the invoice.
            "invoice" => match crate::db::invoices::get(pool, &id).await? {
                Some(i) => crate::invoices::may_view(actor, &i),
                None => false,
            },
            _ => false,
        };
        if allowed {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The thumbnail blob of a stored photo, made and stored by the server if the
/// device sent none (or its claim was never backed by an upload of both).
pub async fn thumbnail_of(
    state: &AppState,
    photo: &blobs::BlobRow,
) -> Result<String, ServiceError> {
    if let Some(thumb) = &photo.thumbnail_sha256
        && blobs::get(state.db.pool(), thumb).await?.is_some()
    {
        return Ok(thumb.clone());
    }
    if !photo.content_type.starts_with("image/") {
        // A PDF has no thumbnail: the app shows a document icon.
        return Err(Rejection::NotAnImage.into());
    }
    let bytes = state
        .blobs
        .get_blob(&photo.sha256)
        .await?
        .ok_or_else(|| ServiceError::not_found("photo bytes"))?;
    let max_pixels = state.config.max_photo_pixels;
    let thumbnail = tokio::task::spawn_blocking(move || make_thumbnail(&bytes, max_pixels))
        .await
        .map_err(|e| ServiceError::Internal(e.into()))??;
    let inspected = inspect(&thumbnail, max_pixels)?;
    let size = (i64::from(inspected.width), i64::from(inspected.height));
    let sha256 = store_made(state, thumbnail, inspected.content_type, size).await?;
    blobs::set_thumbnail(&state.db, &photo.sha256, &sha256).await?;
    Ok(sha256)
}

/// Stores bytes the server made (a thumbnail, an invoice's PDF) under their
/// hash, once however often they are made; returns the hash. Nothing refers
/// to them yet: the caller records what they belong to, or the collector
/// takes them after its grace period.
pub async fn store_made(
    state: &AppState,
    bytes: Vec<u8>,
    content_type: &'static str,
    (width, height): (i64, i64),
) -> Result<String, ServiceError> {
    let sha256 = sha256_hex(&bytes);
    let blob = blobs::NewBlob {
        sha256: &sha256,
        byte_size: bytes.len() as i64,
        content_type,
        width,
        height,
    };
    store_blob(state, &blob, Bytes::from(bytes)).await?;
    Ok(sha256)
}

type HmacSha256 = Hmac<Sha256>;

/// Signs download links: `/api/v1/files/{sha256}?expires=<unix s>&sig=<hex>`.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(..)")
    }
}

impl LinkSigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, sha256: &str, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(b"fieldops-download\n");
        mac.update(sha256.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// A path that downloads `sha256` until `expires` (unix seconds).
    pub fn sign(&self, sha256: &str, expires: i64) -> String {
        let sig = hex::encode(self.mac(sha256, expires).finalize().into_bytes());
        format!("/api/v1/files/{sha256}?expires={expires}&sig={sig}")
    }

    /// Whether `sig` is this server's signature for `(sha256, expires)` and it
    /// has not expired at `now` (unix seconds). Constant-time comparison.
    pub fn verify(&self, sha256: &str, expires: i64, sig: &str, now: i64) -> bool {
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        expires >= now && self.mac(sha256, expires).verify_slice(&sig).is_ok()
    }
}

/// How long an upload may sit untouched before its chunks are deleted.
pub const UPLOAD_TTL: Duration = Duration::from_secs(24 * 3600);
/// A `storing` row older than this was left by a crash.
const STALE_STORING: Duration = Duration::from_secs(3600);

/// One garbage-collection run; any instance may run it at any time, and a run
/// cut short by a crash is finished by the next. Returns how many blobs were
/// deleted.
///
/// 1. Abandoned uploads (untouched for a day) lose their chunks and rows.
/// 2. Blobs that nothing refers to are stamped; stamps are cleared when a
///    reference appears again.
/// 3. Blobs stamped longer ago than the grace period move to `deleting` (an
///    upload of the same bytes then waits), their bytes are deleted, then
///    their rows. Bytes in the store with no row at all (a crash between the
///    two) are deleted once older than the grace period.
pub async fn collect_garbage(state: &AppState) -> anyhow::Result<usize> {
    let now = db::now_ms();
    for id in uploads::stale(&state.db, now - UPLOAD_TTL.as_millis() as i64).await? {
        state.blobs.delete_upload(&id).await?;
        uploads::delete(state.db.pool(), &id).await?;
    }
    blobs::mark_unreferenced(&state.db, now).await?;
    let grace = state.config.blob_gc_grace.as_millis() as i64;
    let mut work = Work::begin(state).await?;
    let stale_storing = now - STALE_STORING.as_millis() as i64;
    blobs::start_deleting(work.tx(), now - grace, stale_storing).await?;
    work.commit(Effects::none()).await?;
    let doomed = blobs::deleting(&state.db).await?;
    for sha256 in &doomed {
        state.blobs.delete_blob(sha256).await?;
        blobs::finish_deleting(&state.db, sha256).await?;
    }
    for (sha256, modified_ms) in state.blobs.list_blobs().await? {
        if modified_ms <= now - grace && !blobs::known(&state.db, &sha256).await? {
            state.blobs.delete_blob(&sha256).await?;
        }
    }
    Ok(doomed.len())
}
