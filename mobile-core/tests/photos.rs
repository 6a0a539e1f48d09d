//! Attaching photos without a server: the pipeline's output kept on the
//! device, the photo document written at once, the upload queue, the
//! counts, restarts, and bad input that leaves nothing behind.

#![allow(clippy::unwrap_used)]

use fieldops_core::photo::testing;
use fieldops_core::sync::docs::DocumentSchema;
use fieldops_core::sync::docs::photo::{Owner, OwnerKind, UploadState};
use fieldops_core::sync::ids::{DocId, DocKind, UserId};
use fieldops_core::sync::protocol::{Cursor, Snapshot};
use fieldops_core::sync::rules::Role;
use fieldops_core::sync::testing::sample_visit;
use fieldops_core::{Account, CoreError, FieldopsCore, UploadKind, UploadStatus};

fn customer(core: &FieldopsCore) -> UserId {
    let me = UserId::new();
    core.auth()
        .sign_in_offline(Account {
            base_url: "http://127.0.0.1:9".into(),
            user_id: me,
            role: Role::Customer,
            name: "Hendra".into(),
            email: "customer@example.com".into(),
            department_ids: vec![],
        })
        .unwrap();
    me
}

fn ticket(id: DocId) -> Owner {
    Owner {
        kind: OwnerKind::Ticket,
        id,
    }
}

#[test]
fn a_photo_attached_offline_is_stored_listed_and_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let core = FieldopsCore::open(&path).unwrap();
    let me = customer(&core);
    let owner = DocId::new();
    let image = testing::with_exif_orientation(&testing::synthetic_jpeg(2000, 1000, 1, 85), 6);
    let attached = core
        .photos()
        .attach(ticket(owner), &image, "Atap bocor", 1_767_225_600_000)
        .unwrap();
    // Orientation 6 turns it upright: portrait, longest edge 1600.
    assert_eq!((attached.width, attached.height), (800, 1600));
    let photo = core.photos().get(attached.photo_id).unwrap();
    assert_eq!(photo.upload_state, UploadState::Pending);
    assert_eq!(photo.author_id, me);
    assert_eq!(photo.owner, ticket(owner));
    assert_eq!(photo.sha256.as_str(), attached.sha256);
    // The files are the pipeline's output, named by their hashes.
    let bytes = std::fs::read(&attached.path).unwrap();
    assert_eq!(fieldops_core::photo::sha256_hex(&bytes), attached.sha256);
    assert_eq!(bytes.len() as u64, attached.byte_size);
    assert!(
        !bytes.windows(10).any(|w| w == b"GPS-SECRET"),
        "metadata stripped"
    );
    let thumb = std::fs::read(&attached.thumbnail_path).unwrap();
    assert_eq!(
        fieldops_core::photo::sha256_hex(&thumb),
        attached.thumbnail_sha256
    );
    // Listed under its ticket, queued thumbnail first, counted in the status.
    let listed = core.photos().of(owner).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].title.as_str(), listed[0].status.as_str()),
        ("Atap bocor", "pending")
    );
    let queue = core.photos().pending_uploads().unwrap();
    assert_eq!(
        queue.iter().map(|u| u.kind).collect::<Vec<_>>(),
        vec![UploadKind::Thumbnail, UploadKind::Image]
    );
    assert!(
        queue
            .iter()
            .all(|u| u.status == UploadStatus::Pending && u.bytes_sent == 0)
    );
    let status = core.sync().status();
    assert_eq!((status.pending_uploads, status.unsynced_documents), (2, 1));

    // The same photo again (another ticket): a second document, one upload.
    let again = core
        .photos()
        .attach(ticket(DocId::new()), &image, "", 1_767_225_600_001)
        .unwrap();
    assert_eq!(again.sha256, attached.sha256);
    assert_ne!(again.photo_id, attached.photo_id);
    assert_eq!(core.photos().pending_uploads().unwrap().len(), 2);

    // A restart keeps all of it.
    drop(core);
    let core = FieldopsCore::open(&path).unwrap();
    assert_eq!(
        core.photos().get(attached.photo_id).unwrap().caption,
        "Atap bocor"
    );
    assert_eq!(core.photos().pending_uploads().unwrap().len(), 2);
    assert_eq!(core.sync().status().pending_uploads, 2);
    assert_eq!(core.photos().file(&attached.sha256), Some(attached.path));
    assert_eq!(core.photos().file("../../etc/passwd"), None);
}

#[test]
fn bad_photos_and_owners_are_typed_errors_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let core = FieldopsCore::open(dir.path().join("store.db")).unwrap();
    let owner = ticket(DocId::new());
    let jpeg = testing::synthetic_jpeg(300, 200, 2, 90);
    assert!(matches!(
        core.photos().attach(owner, &jpeg, "", 0),
        Err(CoreError::NotLoggedIn)
    ));
    customer(&core);
    for bad in [
        b"just text, named photo.jpg".to_vec(),
        jpeg[..jpeg.len() / 2].to_vec(),
        testing::png_bomb(100_000, 100_000),
        Vec::new(),
    ] {
        assert!(
            matches!(
                core.photos().attach(owner, &bad, "", 0),
                Err(CoreError::Photo(_))
            ),
            "{} bytes",
            bad.len()
        );
    }
    assert!(matches!(
        core.photos().attach(owner, &jpeg, &"x".repeat(2001), 0),
        Err(CoreError::InvalidInput {
            field: "caption",
            ..
        })
    ));
    assert!(matches!(
        core.photos().attach(
            Owner {
                kind: OwnerKind::CheckIn,
                id: DocId::new()
            },
            &jpeg,
            "",
            0
        ),
        Err(CoreError::InvalidInput { field: "owner", .. })
    ));
    // A visit on the device named as a ticket.
    let visit = DocId::new();
    core.documents()
        .import_snapshots(&[Snapshot {
            doc_id: visit,
            kind: DocKind::Visit,
            seq: Cursor(1),
            bytes: sample_visit().to_document().unwrap().save(),
        }])
        .unwrap();
    assert!(matches!(
        core.photos().attach(ticket(visit), &jpeg, "", 0),
        Err(CoreError::InvalidInput { field: "owner", .. })
    ));
    // Nothing of any of these was kept.
    assert!(core.photos().pending_uploads().unwrap().is_empty());
    assert_eq!(core.documents().count().unwrap(), 1, "only the visit");
    let files = std::fs::read_dir(dir.path().join("store.db.photos"))
        .unwrap()
        .count();
    assert_eq!(files, 0, "no file written for refused input");
}
