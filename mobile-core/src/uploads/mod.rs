//! Photos on the device: attaching, the durable upload queue and the worker
//! that uploads it.
//!
//! # Attaching
//!
//! [`FieldopsCore::attach_photo`] runs the pipeline ([`crate::photo`]),
//! writes the normalised JPEG and its thumbnail as files named by their
//! SHA-256 next to the store (`<store>.photos/<sha256>.jpg`: written to a
//! temporary file, synced, renamed, the directory synced), and then, in one
//! store transaction, creates the photo document (`upload_state: pending`,
//! checked against the write rules like any local edit) and queues one upload
//! row per file. The files are durable before the transaction commits, so a
//! crash at any instant leaves either nothing the app was told about, or a
//! photo whose bytes are on disk; a crash between the two leaves an unused,
//! content-addressed file that the next attach of the same photo reuses. The
//! photo is visible at once ([`FieldopsCore::photo`],
//! [`FieldopsCore::photos_of`]) and its document syncs like any other.
//!
//! # The queue
//!
//! `photo_uploads` holds one row per file (photo or thumbnail), keyed by its
//! hash, so a photo attached twice is uploaded once: `pending → uploading →
//! done | failed`. While uploading, the row keeps the server's upload URL and
//! the offset the server acknowledged, written after every chunk, so a
//! dropped connection or an app restart resumes from the server's `HEAD`
//! offset and re-sends at most one chunk.
//!
//! The worker that sends the queue is in [`worker`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use fieldops_sync::docs::photo::{Owner, OwnerKind, UploadState};
use fieldops_sync::docs::{DocumentSchema, Photo};
use fieldops_sync::ids::{DocId, DocKind};
use fieldops_sync::rules;
use rand::Rng as _;
use rusqlite::{Connection, OptionalExtension, params};

use crate::api::{FieldopsCore, check_len};
use crate::documents::{self, Me};
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::photo;
use crate::store::{id_at, now_ms};

mod download;
mod prune;
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

/// What [`FieldopsCore::attach_photo`] stored.
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

/// The photo files and the worker's settings.
#[derive(Debug)]
pub(crate) struct Uploads {
    dir: PathBuf,
    /// Wakes the worker of the live loop.
    pub(crate) kick: tokio::sync::Notify,
    chunk_bytes: AtomicUsize,
}

impl Uploads {
    /// The photo directory of the store at `store_path`; leftovers of
    /// interrupted writes are removed.
    pub(crate) fn open(store_path: &Path) -> Result<Self> {
        let mut name = store_path.as_os_str().to_owned();
        name.push(".photos");
        let dir = PathBuf::from(name);
        std::fs::create_dir_all(&dir).map_err(|e| io_error("creating the photo folder", &e))?;
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.path().extension().is_some_and(|e| e == "tmp") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(Uploads {
            dir,
            kick: tokio::sync::Notify::new(),
            chunk_bytes: AtomicUsize::new(DEFAULT_CHUNK_BYTES),
        })
    }

    fn file_name(sha256: &str) -> String {
        format!("{sha256}.jpg")
    }

    pub(crate) fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(Self::file_name(sha256))
    }

    /// Writes `bytes` as the file of `sha256`, durably and atomically.
    fn write(&self, sha256: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.path(sha256);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(path);
        }
        let tmp = self
            .dir
            .join(format!("{sha256}.{}.tmp", rand::rng().random::<u32>()));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename itself must survive a power cut.
            if let Ok(dir) = std::fs::File::open(&self.dir) {
                let _ = dir.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_error("saving the photo", &e)
        })?;
        Ok(path)
    }

    /// Deletes every photo file (another user signed in).
    pub(crate) fn clear(&self) {
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    fn chunk_bytes(&self) -> usize {
        self.chunk_bytes.load(Ordering::Relaxed)
    }
}

fn io_error(what: &str, e: &std::io::Error) -> CoreError {
    CoreError::Storage(format!("{what}: {}", e.kind()))
}

const COLUMNS: &str = "sha256, photo_doc_id, kind, path, bytes_total, bytes_sent, state, \
                       upload_url, attempts, last_error";

fn row_to_upload(uploads: &Uploads, row: &rusqlite::Row<'_>) -> rusqlite::Result<PhotoUpload> {
    let kind: String = row.get(2)?;
    let name: String = row.get(3)?;
    let state: String = row.get(6)?;
    Ok(PhotoUpload {
        sha256: row.get(0)?,
        photo_doc_id: id_at(row, 1)?,
        kind: if kind == "thumbnail" {
            UploadKind::Thumbnail
        } else {
            UploadKind::Image
        },
        path: uploads.dir.join(name),
        bytes_total: row.get::<_, i64>(4)? as u64,
        bytes_sent: row.get::<_, i64>(5)? as u64,
        status: UploadStatus::parse(&state),
        upload_url: row.get(7)?,
        attempts: row.get::<_, i64>(8)? as u32,
        last_error: row.get(9)?,
    })
}

/// Files whose bytes are not on the server yet, oldest first (the
/// thumbnail before its photo), including refused ones.
pub(crate) fn unfinished(conn: &Connection, uploads: &Uploads) -> Result<Vec<PhotoUpload>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM photo_uploads WHERE state <> 'done'
         ORDER BY created_at_ms, CASE kind WHEN 'thumbnail' THEN 0 ELSE 1 END, sha256"
    ))?;
    let rows = stmt
        .query_map([], |row| row_to_upload(uploads, row))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The next file to upload.
fn next_open(conn: &Connection, uploads: &Uploads) -> Result<Option<PhotoUpload>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM photo_uploads WHERE state IN ('pending', 'uploading')
                 ORDER BY created_at_ms, CASE kind WHEN 'thumbnail' THEN 0 ELSE 1 END, sha256
                 LIMIT 1"
            ),
            [],
            |row| row_to_upload(uploads, row),
        )
        .optional()?)
}

/// `(pending or uploading, failed)` files.
pub(crate) fn counts(conn: &Connection) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(state IN ('pending', 'uploading')), 0), COALESCE(SUM(state = 'failed'), 0)
         FROM photo_uploads",
        [],
        |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
    )?)
}

/// Queues a file (once per hash; a finished or refused one is queued again,
/// which costs a "have hash" question when the server already holds it).
fn queue(
    conn: &Connection,
    sha256: &str,
    photo_doc_id: DocId,
    kind: UploadKind,
    bytes_total: usize,
    thumbnail_sha256: Option<&str>,
) -> Result<()> {
    let now = now_ms();
    conn.execute(
        "INSERT INTO photo_uploads (sha256, photo_doc_id, kind, path, bytes_total, thumbnail_sha256,
                                    state, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)
         ON CONFLICT (sha256) DO UPDATE SET photo_doc_id = excluded.photo_doc_id,
            state = 'pending', upload_url = NULL, bytes_sent = 0, attempts = 0,
            last_error = NULL, created_at_ms = excluded.created_at_ms,
            updated_at_ms = excluded.updated_at_ms
         WHERE photo_uploads.state IN ('done', 'failed')",
        params![
            sha256,
            photo_doc_id.to_string(),
            kind.as_str(),
            Uploads::file_name(sha256),
            bytes_total as i64,
            thumbnail_sha256,
            now
        ],
    )?;
    Ok(())
}

fn thumbnail_of(conn: &Connection, sha256: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT thumbnail_sha256 FROM photo_uploads WHERE sha256 = ?1",
            [sha256],
            |row| row.get(0),
        )
        .optional()?
        .flatten())
}

impl FieldopsCore {
    /// Attaches a photo (JPEG, PNG or WebP bytes) to a ticket or visit: runs
    /// the pipeline, keeps the normalised JPEG and its thumbnail on the
    /// device, records the photo document (visible at once, offline too) and
    /// queues the upload. CPU-heavy (~0.1–0.3 s): call it off the UI thread.
    pub fn attach_photo(
        &self,
        owner: Owner,
        image: &[u8],
        caption: &str,
        taken_at_ms: i64,
    ) -> Result<AttachedPhoto> {
        let account = self.account().ok_or(CoreError::NotLoggedIn)?;
        check_len("caption", caption, MAX_CAPTION_CHARS)?;
        let expected = match owner.kind {
            OwnerKind::Ticket => DocKind::Ticket,
            OwnerKind::Visit => DocKind::Visit,
            OwnerKind::CheckIn => {
                return Err(CoreError::invalid(
                    "owner",
                    "photos are attached to tickets and visits",
                ));
            }
        };
        // The owner may not be on the device (a ticket opened elsewhere);
        // when it is, it must be of the kind named. The server checks the rest.
        let found = self
            .inner
            .store
            .read(|conn| documents::kind_of(conn, owner.id))?;
        if found.is_some_and(|kind| kind != expected) {
            return Err(CoreError::invalid(
                "owner",
                format!("is not a {}", expected.as_str()),
            ));
        }
        let normalised = photo::normalise(image)?;
        let uploads = &self.inner.uploads;
        let path = uploads.write(&normalised.sha256, &normalised.image)?;
        let thumbnail_path = uploads.write(&normalised.thumbnail_sha256, &normalised.thumbnail)?;
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
        let me = Me(Some(account.user_id));
        self.inner.store.write(|tx| {
            documents::insert_local(tx, photo_id, DocKind::Photo, doc, me)?;
            queue(
                tx,
                &normalised.thumbnail_sha256,
                photo_id,
                UploadKind::Thumbnail,
                normalised.thumbnail.len(),
                None,
            )?;
            queue(
                tx,
                &normalised.sha256,
                photo_id,
                UploadKind::Image,
                normalised.image.len(),
                Some(&normalised.thumbnail_sha256),
            )
        })?;
        self.inner.events.emit(CoreEvent::DocumentChanged {
            doc_id: photo_id,
            kind: DocKind::Photo,
        });
        self.inner.refresh_counts();
        self.inner.kick.notify_one();
        self.inner.uploads.kick.notify_one();
        Ok(AttachedPhoto {
            photo_id,
            sha256: normalised.sha256,
            thumbnail_sha256: normalised.thumbnail_sha256,
            byte_size: normalised.image.len() as u64,
            width: normalised.width,
            height: normalised.height,
            path,
            thumbnail_path,
        })
    }

    /// Files not on the server yet (pending, uploading, or refused), oldest first.
    pub fn pending_photo_uploads(&self) -> Result<Vec<PhotoUpload>> {
        let uploads = &self.inner.uploads;
        self.inner.store.read(|conn| unfinished(conn, uploads))
    }

    /// The device's copy of a photo or thumbnail by its hash, if it has one.
    pub fn photo_file(&self, sha256: &str) -> Option<PathBuf> {
        if sha256
            .parse::<fieldops_sync::docs::photo::Sha256Hex>()
            .is_err()
        {
            return None;
        }
        let path = self.inner.uploads.path(sha256);
        path.is_file().then_some(path)
    }

    /// Sets the upload chunk size (tests and benchmarks; at least 1 KiB).
    #[doc(hidden)]
    pub fn set_upload_chunk_bytes(&self, bytes: usize) {
        self.inner
            .uploads
            .chunk_bytes
            .store(bytes.max(1024), Ordering::Relaxed);
    }

    /// Queues raw image bytes for upload without a document (benchmarks).
    #[doc(hidden)]
    pub fn queue_raw_upload(&self, bytes: &[u8]) -> Result<String> {
        let sha256 = photo::sha256_hex(bytes);
        self.inner.uploads.write(&sha256, bytes)?;
        self.inner.store.write(|tx| {
            queue(
                tx,
                &sha256,
                DocId::new(),
                UploadKind::Image,
                bytes.len(),
                None,
            )
        })?;
        self.inner.refresh_counts();
        self.inner.uploads.kick.notify_one();
        Ok(sha256)
    }
}
