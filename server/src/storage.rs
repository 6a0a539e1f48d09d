//! Object storage for photo bytes: a local directory by default, any
//! S3-compatible service in production, both through `object_store`.
//!
//! Layout (content-addressed, so the same bytes are stored once):
//!
//! ```text
//! blobs/<first two hex digits>/<sha256>    finished, verified blobs
//! uploads/<upload id>/<part id>            chunks of an upload in progress
//! ```
//!
//! Chunks live in the store rather than on one instance's disk, so an upload
//! started on one server instance can be resumed on another. Which chunks
//! belong to an upload is recorded in the database (`upload_parts`), so a
//! chunk written by a request that then lost a race or crashed is never read:
//! it is only deleted with its upload's prefix.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::TryStreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::{Method, Signer as _};
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

use crate::config::BlobStoreConfig;

/// The photo object store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Set for S3: downloads redirect to presigned URLs.
    s3: Option<Arc<AmazonS3>>,
}

/// Is `s` a lowercase hex SHA-256?
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn blob_path(sha256: &str) -> Path {
    Path::from(format!("blobs/{}/{sha256}", &sha256[..2]))
}

fn upload_prefix(upload_id: &str) -> Path {
    Path::from(format!("uploads/{upload_id}"))
}

impl BlobStore {
    /// Opens the store `config` describes (creating a local directory).
    pub fn open(config: &BlobStoreConfig) -> anyhow::Result<Self> {
        match config {
            BlobStoreConfig::Local { dir } => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the blob directory {}", dir.display()))?;
                let fs = LocalFileSystem::new_with_prefix(dir)
                    .with_context(|| format!("opening the blob directory {}", dir.display()))?
                    .with_automatic_cleanup(true);
                Ok(Self {
                    store: Arc::new(fs),
                    s3: None,
                })
            }
            BlobStoreConfig::S3 {
                endpoint,
                region,
                bucket,
                access_key_id,
                secret_access_key,
            } => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_region(region)
                    .with_bucket_name(bucket);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(key) = access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = secret_access_key {
                    builder = builder.with_secret_access_key(secret);
                }
                let s3 = Arc::new(builder.build().context("configuring the S3 client")?);
                Ok(Self {
                    store: s3.clone(),
                    s3: Some(s3),
                })
            }
        }
    }

    /// True for S3 (downloads are redirected to presigned URLs).
    pub fn is_s3(&self) -> bool {
        self.s3.is_some()
    }

    /// Stores a verified blob under its hash. Idempotent: the same bytes
    /// under the same name.
    pub async fn put_blob(&self, sha256: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.store
            .put(&blob_path(sha256), PutPayload::from_bytes(bytes))
            .await
            .with_context(|| format!("storing blob {sha256}"))?;
        Ok(())
    }

    /// The bytes of a blob, or `None` if it is not stored.
    pub async fn get_blob(&self, sha256: &str) -> anyhow::Result<Option<Bytes>> {
        match self.store.get(&blob_path(sha256)).await {
            Ok(result) => Ok(Some(
                result
                    .bytes()
                    .await
                    .with_context(|| format!("reading blob {sha256}"))?,
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading blob {sha256}"))),
        }
    }

    /// Whether a blob is stored.
    pub async fn has_blob(&self, sha256: &str) -> anyhow::Result<bool> {
        match self.store.head(&blob_path(sha256)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(anyhow::Error::new(e).context(format!("looking up blob {sha256}"))),
        }
    }

    /// Deletes a blob; deleting a missing blob is not an error.
    pub async fn delete_blob(&self, sha256: &str) -> anyhow::Result<()> {
        delete_quietly(&*self.store, &blob_path(sha256)).await
    }

    /// Every stored blob's hash and last-modified time (unix ms).
    pub async fn list_blobs(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let metas: Vec<_> = self
            .store
            .list(Some(&Path::from("blobs")))
            .try_collect()
            .await
            .context("listing blobs")?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_owned();
                is_sha256(&name).then(|| (name, m.last_modified.timestamp_millis()))
            })
            .collect())
    }

    /// Stores one chunk of an upload under a fresh name and returns that name.
    pub async fn put_part(&self, upload_id: &str, bytes: Bytes) -> anyhow::Result<String> {
        let part = uuid::Uuid::now_v7().simple().to_string();
        let path = upload_prefix(upload_id).join(part.as_str());
        self.store
            .put(&path, PutPayload::from_bytes(bytes))
            .await
            .with_context(|| format!("storing a chunk of upload {upload_id}"))?;
        Ok(part)
    }

    /// Reads the named chunks of an upload, in the order given, as one buffer.
    pub async fn read_parts(
        &self,
        upload_id: &str,
        parts: &[String],
        total: usize,
    ) -> anyhow::Result<Bytes> {
        let mut out = Vec::with_capacity(total);
        for part in parts {
            let path = upload_prefix(upload_id).join(part.as_str());
            let bytes = self
                .store
                .get(&path)
                .await
                .with_context(|| format!("reading a chunk of upload {upload_id}"))?
                .bytes()
                .await?;
            out.extend_from_slice(&bytes);
        }
        Ok(Bytes::from(out))
    }

    /// Deletes one chunk (a chunk that lost a race).
    pub async fn delete_part(&self, upload_id: &str, part: &str) -> anyhow::Result<()> {
        delete_quietly(&*self.store, &upload_prefix(upload_id).join(part)).await
    }

    /// Deletes every chunk of an upload, recorded or not.
    pub async fn delete_upload(&self, upload_id: &str) -> anyhow::Result<()> {
        let prefix = upload_prefix(upload_id);
        let paths: Vec<Path> = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .with_context(|| format!("listing the chunks of upload {upload_id}"))?;
        for path in paths {
            delete_quietly(&*self.store, &path).await?;
        }
        Ok(())
    }

    /// A presigned GET URL for a blob (S3 only).
    pub async fn presigned_get(
        &self,
        sha256: &str,
        expires_in: Duration,
    ) -> anyhow::Result<Option<String>> {
        let Some(s3) = &self.s3 else {
            return Ok(None);
        };
        let url = s3
            .signed_url(Method::GET, &blob_path(sha256), expires_in)
            .await
            .context("presigning a download URL")?;
        Ok(Some(url.to_string()))
    }
}

async fn delete_quietly(store: &dyn ObjectStore, path: &Path) -> anyhow::Result<()> {
    match store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("deleting {path}"))),
    }
}
