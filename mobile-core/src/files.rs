//! The photo files on the device: content-addressed JPEGs next to the store
//! (`<store>.photos/<sha256>.jpg`).
//!
//! A file is written to a temporary name, synced, renamed and the folder
//! synced, so it is either whole under its final name or absent; a file with
//! the right size is taken as already written (its name is its hash).
//! Leftover temporary files of an interrupted write are removed at open.
//! What refers to a file (photo documents, the upload queue) lives in the
//! store and in [`crate::photos`]; this module only keeps the bytes.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rand::Rng as _;

use crate::error::{CoreError, Result};

/// The folder of photo files.
#[derive(Debug)]
pub(crate) struct PhotoFiles {
    dir: PathBuf,
}

impl PhotoFiles {
    /// The photo folder of the store at `store_path`, created if missing;
    /// leftovers of interrupted writes are removed.
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
        Ok(PhotoFiles { dir })
    }

    /// The file name of `sha256`, relative to the folder.
    pub(crate) fn file_name(sha256: &str) -> String {
        format!("{sha256}.jpg")
    }

    /// The path of a file name relative to the folder.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Where the file of `sha256` is (or would be).
    pub(crate) fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(Self::file_name(sha256))
    }

    /// Writes `bytes` as the file of `sha256`, durably and atomically.
    pub(crate) fn write(&self, sha256: &str, bytes: &[u8]) -> Result<PathBuf> {
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

    /// Deletes the file of `sha256`; its size, or 0 if there was none.
    pub(crate) fn remove(&self, sha256: &str) -> u64 {
        let path = self.path(sha256);
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        match std::fs::remove_file(&path) {
            Ok(()) => size,
            Err(_) => 0,
        }
    }

    /// Deletes every photo file (another user signed in).
    pub(crate) fn clear(&self) {
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// A file-system failure as the app sees it: what was being done and the
/// kind of failure, without paths.
pub(crate) fn io_error(what: &str, e: &std::io::Error) -> CoreError {
    CoreError::Storage(format!("{what}: {}", e.kind()))
}
