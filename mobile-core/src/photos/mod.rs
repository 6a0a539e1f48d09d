//! Photos on the device (`core.photos()`): attaching, reading, the durable
//! upload queue and the worker that uploads it, fetching photos other
//! devices took, and freeing space.
//!
//! # Attaching
//!
//! [`Photos::attach`] runs the pipeline ([`crate::photo`]), writes the
//! normalised JPEG and its thumbnail as files named by their SHA-256 next to
//! the store ([`crate::files`]), and then, in one store transaction, creates
//! the photo document (`upload_state: pending`, checked against the write
//! rules like any local edit) and queues one upload row per file. The files
//! are durable before the transaction commits, so a crash at any instant
//! leaves either nothing the app was told about, or a photo whose bytes are
//! on disk; a crash between the two leaves an unused, content-addressed file
//! that the next attach of the same photo reuses. The photo is visible at
//! once ([`Photos::get`], [`Photos::of`]) and its document syncs like any
//! other.
//!
//! # The queue
//!
//! `photo_uploads` ([`queue`]) holds one row per file (photo or thumbnail),
//! keyed by its hash, so a photo attached twice is uploaded once: `pending →
//! uploading → done | failed`. While uploading, the row keeps the server's
//! upload URL and the offset the server acknowledged, written after every
//! chunk, so a dropped connection or an app restart resumes from the
//! server's `HEAD` offset and re-sends at most one chunk.
//!
//! The worker that sends the queue is in [`worker`], fetching in
//! [`download`], freeing space in [`prune`]. This module and [`queue`] hold
//! all of the feature's SQL.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fieldops_sync::docs::photo::{Owner, OwnerKind, Sha256Hex, UploadState};
use fieldops_sync::docs::{DocumentSchema, Photo};
use fieldops_sync::ids::{DocId, DocKind};
use fieldops_sync::rules;
use rusqlite::Connection;

use crate::documents::{self, LIST_COLUMNS, ListItem, Me};
use crate::error::{CoreError, Result, check_len};
use crate::events::CoreEvent;
use crate::files::PhotoFiles;
use crate::photo;
use crate::shared::Shared;
use crate::store::id_at;

mod download;
mod prune;
mod queue;
mod worker;
pub use prune::KEEP_UPLOADED_PHOTOS;
pub(crate) use worker::{upload_loop, upload_pass};

/// Longest photo caption, in characters.
pub const MAX_CAPTION_CHARS: usize = 2_000;
/// Bytes per `PATCH`: what a cut connection costs at most.
pub const DEFAULT_CHUNK_BYTES: usize = 1 << 20;
const TUS_VERSION: &str = "1.0.0";

/// Which file of a photo an upload row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    /// The normalised photo.
    Image,
    /// Its thumbnail.
    Thumbnail,
}

impl UploadKind {
    fn as_str(self) -> &'static str {
        match self {
            UploadKind::Image => "image",
            UploadKind::Thumbnail => "thumbnail",
        }
    }
}

/// Where an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStatus {
    /// Queued; nothing acknowledged yet.
    Pending,
    /// Some bytes are on the server; resumes from `bytes_sent`.
    Uploading,
    /// The server holds the bytes.
    Done,
    /// The server refused the bytes; not retried. See `last_error`.
    Failed,
}

impl UploadStatus {
    fn parse(text: &str) -> Self {
        match text {
            "uploading" => UploadStatus::Uploading,
            "done" => UploadStatus::Done,
            "failed" => UploadStatus::Failed,
            _ => UploadStatus::Pending,
        }
    }
}

/// One file in the upload queue, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoUpload {
    /// Content hash, hex.
    pub sha256: String,
    /// The (latest) photo document the file belongs to.
    pub photo_doc_id: DocId,
    /// Photo or thumbnail.
    pub kind: UploadKind,
    /// The file on the device.
    pub path: PathBuf,
    /// Its size.
    pub bytes_total: u64,
    /// Bytes the server acknowledged.
    pub bytes_sent: u64,
    /// State.
    pub status: UploadStatus,
    /// The server's upload URL once created (a path on the server).
    pub upload_url: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last failure, as a stable code and a short text.
    pub last_error: Option<String>,
}

/// What [`Photos::attach`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPhoto {
    /// The photo document.
    pub photo_id: DocId,
    /// SHA-256 of the normalised JPEG.
    pub sha256: String,
    /// SHA-256 of the thumbnail.
    pub thumbnail_sha256: String,
    /// Size of the normalised JPEG.
    pub byte_size: u64,
    /// Its dimensions.
    pub width: u32,
    pub height: u32,
    /// The normalised JPEG on the device.
    pub path: PathBuf,
    /// The thumbnail on the device.
    pub thumbnail_path: PathBuf,
}

/// `(pending or uploading, failed)` photo files, for the sync status.
pub(crate) fn upload_counts(conn: &Connection) -> Result<(u64, u64)> {
    queue::counts(conn)
}

/// Forgets the upload queue (another user signed in; the files go with
/// [`PhotoFiles::clear`](crate::files::PhotoFiles::clear)).
pub(crate) fn clear_queue(conn: &Connection) -> Result<()> {
    queue::clear(conn)
}

/// A photo through the pipeline, its files written, its document made and
/// checked: what [`record`] stores in a store transaction (with whatever
/// else the caller's action writes), and [`announce`] tells the app of.
pub(crate) struct Prepared {
    photo: AttachedPhoto,
    doc: automerge::AutoCommit,
    /// The files' bytes, written again by [`record`] if a pruning removed
    /// a file of the same hash between the pipeline and the transaction.
    image: Vec<u8>,
    thumbnail: Vec<u8>,
    me: Me,
}

impl Prepared {
    /// The photo's SHA-256.
    pub(crate) fn sha256(&self) -> &str {
        &self.photo.sha256
    }
}

/// A prepared photo put aside: its files are written; its document and
/// uploads are recorded when the action it belongs to is (a journey's
/// photos, when the journey is submitted). Kept as JSON in the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SavedPhoto {
    photo_id: DocId,
    sha256: String,
    thumbnail_sha256: String,
    byte_size: u64,
    width: u32,
    height: u32,
    /// The photo document, saved.
    doc: Vec<u8>,
    author: Option<fieldops_sync::ids::UserId>,
}

impl SavedPhoto {
    /// The photo's SHA-256.
    pub(crate) fn sha256(&self) -> &str {
        &self.sha256
    }
}

impl Prepared {
    /// The photo document's id.
    pub(crate) fn photo_id(&self) -> DocId {
        self.photo.photo_id
    }

    /// The normalised photo's size.
    pub(crate) fn byte_size(&self) -> u64 {
        self.photo.byte_size
    }

    /// Puts the photo aside.
    pub(crate) fn save(&mut self) -> SavedPhoto {
        SavedPhoto {
            photo_id: self.photo.photo_id,
            sha256: self.photo.sha256.clone(),
            thumbnail_sha256: self.photo.thumbnail_sha256.clone(),
            byte_size: self.photo.byte_size,
            width: self.photo.width,
            height: self.photo.height,
            doc: self.doc.save(),
            author: self.me.0,
        }
    }

    /// A photo put aside, ready for [`record`] (its files must still be
    /// there).
    pub(crate) fn restore(shared: &Shared, saved: &SavedPhoto) -> Result<Prepared> {
        let path = shared.files.path(&saved.sha256);
        let thumbnail_path = shared.files.path(&saved.thumbnail_sha256);
        let (Ok(image), Ok(thumbnail)) = (std::fs::read(&path), std::fs::read(&thumbnail_path))
        else {
            return Err(CoreError::invalid(
                "images",
                "a photo's file is gone from the device; attach it again",
            ));
        };
        Ok(Prepared {
            photo: AttachedPhoto {
                photo_id: saved.photo_id,
                sha256: saved.sha256.clone(),
                thumbnail_sha256: saved.thumbnail_sha256.clone(),
                byte_size: saved.byte_size,
                width: saved.width,
                height: saved.height,
                path,
                thumbnail_path,
            },
            doc: automerge::AutoCommit::load(&saved.doc)
                .map_err(|e| CoreError::StoreCorrupt(format!("a saved photo: {e}")))?,
            image,
            thumbnail,
            me: Me(saved.author),
        })
    }
}

/// Runs the pipeline on `image` for a photo of `owner` and writes its
/// files (durable before anything refers to them).
pub(crate) fn prepare(
    shared: &Shared,
    owner: Owner,
    image: &[u8],
    caption: &str,
    taken_at_ms: i64,
) -> Result<Prepared> {
    let account = shared.require_account()?;
    check_len("caption", caption, MAX_CAPTION_CHARS)?;
    let expected = match owner.kind {
        OwnerKind::Ticket => DocKind::Ticket,
        OwnerKind::Visit => DocKind::Visit,
        OwnerKind::Invoice => DocKind::Invoice,
        OwnerKind::CheckIn => {
            return Err(CoreError::invalid(
                "owner",
                "photos are attached to tickets and visits",
            ));
        }
    };
    // The owner may not be on the device (a ticket opened elsewhere);
    // when it is, it must be of the kind named. The server checks the rest.
    let found = shared
        .store
        .read(|conn| documents::kind_of(conn, owner.id))?;
    if found.is_some_and(|kind| kind != expected) {
        return Err(CoreError::invalid(
            "owner",
            format!("is not a {}", expected.as_str()),
        ));
    }
    let normalised = photo::normalise(image)?;
    let path = shared.files.write(&normalised.sha256, &normalised.image)?;
    let thumbnail_path = shared
        .files
        .write(&normalised.thumbnail_sha256, &normalised.thumbnail)?;
    let photo_id = DocId::new();
    let value = Photo {
        sha256: normalised
            .sha256
            .parse()
            .map_err(|e| CoreError::invalid("image", e))?,
        byte_size: normalised.image.len() as u64,
        width: normalised.width,
        height: normalised.height,
        thumbnail_sha256: normalised
            .thumbnail_sha256
            .parse()
            .map_err(|e| CoreError::invalid("image", e))?,
        caption: caption.to_owned(),
        owner,
        author_id: account.user_id,
        taken_at_ms,
        upload_state: UploadState::Pending,
    };
    let mut doc = value.to_document()?;
    rules::check_since(&mut doc, DocKind::Photo, &[], &account.actor())?;
    Ok(Prepared {
        photo: AttachedPhoto {
            photo_id,
            byte_size: normalised.image.len() as u64,
            width: normalised.width,
            height: normalised.height,
            sha256: normalised.sha256,
            thumbnail_sha256: normalised.thumbnail_sha256,
            path,
            thumbnail_path,
        },
        doc,
        image: normalised.image,
        thumbnail: normalised.thumbnail,
        me: Me(Some(account.user_id)),
    })
}

/// Stores a prepared photo's document and queues its two uploads, in `tx`.
/// The files are there when it commits: the same picture's files, set
/// aside with a refused photo the user dismissed, may have been pruned
/// since the pipeline found them on disk; pruning removes files in a store
/// transaction, so it cannot fall between this check and the commit.
pub(crate) fn record(tx: &Connection, files: &PhotoFiles, prepared: &Prepared) -> Result<()> {
    let photo = &prepared.photo;
    files.write(&photo.sha256, &prepared.image)?;
    files.write(&photo.thumbnail_sha256, &prepared.thumbnail)?;
    documents::insert_local(
        tx,
        photo.photo_id,
        DocKind::Photo,
        prepared.doc.clone(),
        prepared.me,
    )?;
    queue::queue(
        tx,
        &photo.thumbnail_sha256,
        photo.photo_id,
        UploadKind::Thumbnail,
        prepared.thumbnail.len(),
        None,
    )?;
    queue::queue(
        tx,
        &photo.sha256,
        photo.photo_id,
        UploadKind::Image,
        photo.byte_size as usize,
        Some(&photo.thumbnail_sha256),
    )
}

/// After [`record`] committed: tells the app and wakes the sync client
/// and the upload worker.
pub(crate) fn announce(shared: &Shared, prepared: Prepared) -> AttachedPhoto {
    shared.events.emit(CoreEvent::DocumentChanged {
        doc_id: prepared.photo.photo_id,
        kind: DocKind::Photo,
    });
    shared.after_write();
    shared.upload_kick.notify_one();
    prepared.photo
}

/// The server refused photo `id`, which it never had (taken on this
/// device, attached to a ticket that was full by the time it synced):
/// nothing on the server would name its bytes, so its files are not
/// uploaded but marked failed with the refusal, unless another photo of
/// mine waiting for its upload names the same bytes (the picture attached
/// twice), which then owns the file. The files stay on the device while the
/// refusal is kept ([`crate::documents::refused`]); [`prune`] removes them
/// once it is dismissed.
pub(crate) fn refused_before_upload(
    conn: &Connection,
    id: DocId,
    violations: &[String],
) -> Result<()> {
    let files = queue::open_of(conn, id)?;
    if files.is_empty() {
        return Ok(());
    }
    let mut others = HashMap::new();
    for other in pending_of_mine(conn)? {
        if other == id {
            continue;
        }
        if let Ok(photo) = documents::get_typed::<Photo>(conn, other) {
            others.insert(photo.sha256.as_str().to_owned(), other);
            others.insert(photo.thumbnail_sha256.as_str().to_owned(), other);
        }
    }
    let reason = format!("{}: {}", queue::DOCUMENT_REFUSED, violations.join(", "));
    for sha256 in files {
        match others.get(&sha256) {
            Some(&owner) => queue::hand_over(conn, &sha256, owner)?,
            None => queue::set_aside(conn, &sha256, &reason)?,
        }
    }
    Ok(())
}

/// The files photos kept on the device still name: a kept refused photo's
/// (with its id) and every photo of mine (`None`).
fn still_named(conn: &Connection) -> Result<HashMap<String, Option<DocId>>> {
    let mut named = HashMap::new();
    let mut stmt =
        conn.prepare("SELECT doc_id FROM doc_index WHERE kind = 'photo' AND assigned_to_me = 1")?;
    let mine: Vec<DocId> = stmt
        .query_map([], |row| id_at(row, 0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in mine {
        if let Ok(photo) = documents::get_typed::<Photo>(conn, id) {
            named.insert(photo.sha256.as_str().to_owned(), None);
            named.insert(photo.thumbnail_sha256.as_str().to_owned(), None);
        }
    }
    for kept in documents::refused::all(conn)? {
        if kept.kind != DocKind::Photo {
            continue;
        }
        if let Ok(photo) = documents::refused::copy::<Photo>(conn, kept.doc_id) {
            for sha256 in [photo.sha256, photo.thumbnail_sha256] {
                named
                    .entry(sha256.as_str().to_owned())
                    .or_insert(Some(kept.doc_id));
            }
        }
    }
    Ok(named)
}

/// My photos whose document still says `pending`.
fn pending_of_mine(conn: &Connection) -> Result<Vec<DocId>> {
    let mut stmt = conn.prepare(
        "SELECT doc_id FROM doc_index
         WHERE kind = 'photo' AND status = 'pending' AND assigned_to_me = 1",
    )?;
    let ids = stmt
        .query_map([], |row| id_at(row, 0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Photos on this device (`core.photos()`).
#[derive(Debug, Clone, Copy)]
pub struct Photos<'a> {
    shared: &'a Arc<Shared>,
}

impl<'a> Photos<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Photos { shared }
    }

    /// Attaches a photo (JPEG, PNG or WebP bytes) to a ticket or visit: runs
    /// the pipeline, keeps the normalised JPEG and its thumbnail on the
    /// device, records the photo document (visible at once, offline too) and
    /// queues the upload. CPU-heavy (~0.1–0.3 s): call it off the UI thread.
    /// (A receipt for an invoice goes with its payment:
    /// [`Invoices::pay`](crate::Invoices::pay).)
    pub fn attach(
        &self,
        owner: Owner,
        image: &[u8],
        caption: &str,
        taken_at_ms: i64,
    ) -> Result<AttachedPhoto> {
        if owner.kind == OwnerKind::Invoice {
            return Err(CoreError::invalid(
                "owner",
                "a receipt is attached with its payment",
            ));
        }
        let prepared = prepare(self.shared, owner, image, caption, taken_at_ms)?;
        self.shared
            .store
            .write(|tx| record(tx, &self.shared.files, &prepared))?;
        Ok(announce(self.shared, prepared))
    }

    /// A photo's metadata; for a photo the server refused, the device's
    /// version ([`Documents::refused`](crate::Documents::refused)).
    pub fn get(&self, id: DocId) -> Result<Photo> {
        match documents::get(self.shared, id) {
            Err(CoreError::NotFound { .. }) => self
                .shared
                .store
                .read(|conn| documents::refused::copy(conn, id)),
            found => found,
        }
    }

    /// Photos attached to a ticket or visit, as the list shows them
    /// (title: caption; status: upload state). A photo attached on this
    /// device that the server refused (the ticket was full by the time it
    /// synced) stays listed, with status `refused`, until the user
    /// dismisses it ([`Documents::dismiss_refused`](crate::Documents::dismiss_refused)):
    /// its files stay on the device meanwhile.
    pub fn of(&self, owner_id: DocId) -> Result<Vec<ListItem>> {
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM doc_index
             WHERE doc_index.kind = 'photo' AND parent_id = ?1
             UNION ALL
             SELECT doc_id, title, 'refused', sort_key, NULL, NULL, 0 FROM refused_documents
             WHERE kind = 'photo' AND parent_id = ?1 AND created_here = 1
               AND doc_id NOT IN (SELECT doc_id FROM documents)
             ORDER BY sort_key, doc_id"
        );
        documents::list(self.shared, &sql, &[&owner_id.to_string()])
    }

    /// Files not on the server yet (pending, uploading, or refused), oldest first.
    pub fn pending_uploads(&self) -> Result<Vec<PhotoUpload>> {
        let files = &self.shared.files;
        self.shared
            .store
            .read(|conn| queue::unfinished(conn, files))
    }

    /// The device's copy of a photo or thumbnail by its hash, if it has one.
    pub fn file(&self, sha256: &str) -> Option<PathBuf> {
        if sha256.parse::<Sha256Hex>().is_err() {
            return None;
        }
        let path = self.shared.files.path(sha256);
        path.is_file().then_some(path)
    }

    /// The device's file of photo `photo_id` (with `thumbnail`, of its
    /// thumbnail), fetched from the server the first time when another
    /// device took the photo. `NotFound` if the photo document is not on the
    /// device; `Network` while its bytes are not on the server yet (its
    /// `upload_state` is not `stored`) or the server cannot be reached;
    /// `Unauthorized` if this account may not see it.
    pub async fn fetch(&self, photo_id: DocId, thumbnail: bool) -> Result<PathBuf> {
        let photo = self.get(photo_id)?;
        let original = photo.sha256.to_string();
        let wanted = if thumbnail {
            photo.thumbnail_sha256.to_string()
        } else {
            original.clone()
        };
        if let Some(path) = self.file(&wanted) {
            return Ok(path);
        }
        if photo.upload_state != UploadState::Stored {
            return Err(download::not_on_server_yet());
        }
        let shared = self.shared.clone();
        self.shared
            .run(async move { download::download(&shared, &original, thumbnail, wanted).await })
            .await
    }

    /// Deletes the device's full-size files of photos that reached the server
    /// at least `uploaded_before` ago and whose documents say `stored`;
    /// thumbnails stay. Returns the bytes freed. Runs by itself after each
    /// upload pass with [`KEEP_UPLOADED_PHOTOS`]; call it sooner when the
    /// phone runs short of space.
    pub fn free_space(&self, uploaded_before: Duration) -> Result<u64> {
        prune::prune(self.shared, uploaded_before)
    }

    /// Sets the upload chunk size (tests and benchmarks; at least 1 KiB).
    #[doc(hidden)]
    pub fn set_upload_chunk_bytes(&self, bytes: usize) {
        self.shared
            .upload_chunk_bytes
            .store(bytes.max(1024), Ordering::Relaxed);
    }

    /// Queues raw image bytes for upload without a document (benchmarks).
    #[doc(hidden)]
    pub fn queue_raw_upload(&self, bytes: &[u8]) -> Result<String> {
        let sha256 = photo::sha256_hex(bytes);
        self.shared.files.write(&sha256, bytes)?;
        self.shared.store.write(|tx| {
            queue::queue(
                tx,
                &sha256,
                DocId::new(),
                UploadKind::Image,
                bytes.len(),
                None,
            )
        })?;
        self.shared.refresh_status();
        self.shared.upload_kick.notify_one();
        Ok(sha256)
    }
}
