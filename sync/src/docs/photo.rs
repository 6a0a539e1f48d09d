//! The photo document: a photo's metadata. The bytes travel separately, by
//! resumable upload, named by their SHA-256.

use core::fmt;
use core::str::FromStr;

use automerge::AutoCommit;

use super::codec::{MapRead, MapWrite};
use super::{DocumentSchema, Header};
use crate::error::SchemaError;
use crate::ids::{DocId, DocKind, UserId};

document_fields! {
    /// The fields of a photo document.
    pub enum Field {
        /// SHA-256 of the normalised image bytes.
        Sha256 = "sha256",
        /// Size of the normalised image in bytes.
        ByteSize = "byte_size",
        /// Width in pixels.
        Width = "width",
        /// Height in pixels.
        Height = "height",
        /// SHA-256 of the thumbnail bytes.
        ThumbnailSha256 = "thumbnail_sha256",
        /// Collaborative caption text.
        Caption = "caption",
        /// The entity the photo belongs to: `{kind, id}`.
        Owner = "owner",
        /// Who took the photo.
        AuthorId = "author_id",
        /// When it was taken, Unix ms.
        TakenAtMs = "taken_at_ms",
        /// [`UploadState`] code. Server-owned once created.
        UploadState = "upload_state",
    }
}

mod keys {
    pub(super) const KIND: &str = "kind";
    pub(super) const ID: &str = "id";
}

string_enum! {
    /// What kind of document a photo is attached to.
    pub enum OwnerKind {
        /// A ticket (issue photos from the customer).
        Ticket = "ticket",
        /// A visit (work photos from technicians).
        Visit = "visit",
        /// A check-in (proof of presence).
        CheckIn = "check_in",
        /// An invoice (proof of payment: a photo of the transfer receipt).
        Invoice = "invoice",
    }
}

string_enum! {
    /// Where the photo's bytes are.
    pub enum UploadState {
        /// Only on the device that took it.
        Pending = "pending",
        /// On the server, hash, size and type verified.
        Stored = "stored",
        /// The server refused the bytes (wrong hash, type or size).
        Rejected = "rejected",
    }
}

/// A lowercase hexadecimal SHA-256 digest.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl TryFrom<String> for Sha256Hex {
    type Error = &'static str;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Sha256Hex> for String {
    fn from(hash: Sha256Hex) -> String {
        hash.0
    }
}

impl Sha256Hex {
    /// The digest as 64 hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Sha256Hex {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Sha256Hex(s.to_owned()))
        } else {
            Err("must be 64 lowercase hex digits")
        }
    }
}

/// The document a photo belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// Its kind.
    pub kind: OwnerKind,
    /// Its id.
    pub id: DocId,
}

/// A photo's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// Digest of the image.
    pub sha256: Sha256Hex,
    /// Image size in bytes.
    pub byte_size: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Digest of the thumbnail.
    pub thumbnail_sha256: Sha256Hex,
    /// Caption, collaborative text.
    pub caption: String,
    /// What the photo is attached to.
    pub owner: Owner,
    /// Who took it.
    pub author_id: UserId,
    /// When, Unix ms.
    pub taken_at_ms: i64,
    /// Upload progress.
    pub upload_state: UploadState,
}

impl DocumentSchema for Photo {
    const KIND: DocKind = DocKind::Photo;
    const SCHEMA_VERSION: u64 = 1;

    fn hydrate(doc: &AutoCommit) -> Result<Self, SchemaError> {
        Header::expect::<Self>(doc)?;
        let root = MapRead::root(doc);
        let owner = root.map(Field::Owner.key())?;
        Ok(Photo {
            sha256: root.parse(Field::Sha256.key())?,
            byte_size: root.uint(Field::ByteSize.key())?,
            width: root.uint(Field::Width.key())?,
            height: root.uint(Field::Height.key())?,
            thumbnail_sha256: root.parse(Field::ThumbnailSha256.key())?,
            caption: root.text(Field::Caption.key())?,
            owner: Owner {
                kind: owner.parse(keys::KIND)?,
                id: owner.parse(keys::ID)?,
            },
            author_id: root.parse(Field::AuthorId.key())?,
            taken_at_ms: root.i64(Field::TakenAtMs.key())?,
            upload_state: root.parse(Field::UploadState.key())?,
        })
    }

    fn reconcile(&self, doc: &mut AutoCommit) -> Result<(), SchemaError> {
        Header::prepare::<Self>(doc)?;
        let mut root = MapWrite::root(doc);
        root.put_display(Field::Sha256.key(), &self.sha256)?;
        let byte_size = i64::try_from(self.byte_size)
            .map_err(|_| SchemaError::invalid(Field::ByteSize.key(), "too large"))?;
        root.put(Field::ByteSize.key(), byte_size)?;
        root.put(Field::Width.key(), i64::from(self.width))?;
        root.put(Field::Height.key(), i64::from(self.height))?;
        root.put_display(Field::ThumbnailSha256.key(), &self.thumbnail_sha256)?;
        root.text(Field::Caption.key(), &self.caption)?;
        {
            let mut owner = root.map(Field::Owner.key())?;
            owner.put(keys::KIND, self.owner.kind.as_str())?;
            owner.put_display(keys::ID, &self.owner.id)?;
        }
        root.put_display(Field::AuthorId.key(), &self.author_id)?;
        root.put(Field::TakenAtMs.key(), self.taken_at_ms)?;
        root.put(Field::UploadState.key(), self.upload_state.as_str())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::sample_photo;

    #[test]
    fn round_trips() {
        let photo = sample_photo();
        assert_eq!(
            Photo::hydrate(&photo.to_document().unwrap()).unwrap(),
            photo
        );
    }

    #[test]
    fn digests_are_validated() {
        assert!("ab".repeat(32).parse::<Sha256Hex>().is_ok());
        assert!("AB".repeat(32).parse::<Sha256Hex>().is_err());
        assert!("ab".repeat(31).parse::<Sha256Hex>().is_err());
    }
}
