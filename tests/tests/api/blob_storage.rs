//! The object-storage conformance suite: the same tests on the local
//! directory backend and on a real S3-compatible server.
//!
//! S3 runs when `FIELDOPS_TEST_S3_ENDPOINT` names one (`.ci/run` starts
//! `moto_server` on loopback and sets it); each test makes a bucket of its
//! own. Without it the S3 half is skipped with a NOTICE, unless `CI=true`,
//! where it fails.

use fieldops_core::photo;
use fieldops_server::config::BlobStoreConfig;
use fieldops_server::storage::BlobStore;
use fieldops_tests::photos::{self as tus, sha256_hex};
use fieldops_tests::{Backend, TestApp};

#[derive(Debug, Clone, Copy)]
enum Store {
    Local,
    S3,
}

/// A fresh store of `kind` (and the directory that must outlive it), or
/// `None` when S3 is not configured outside CI.
async fn fresh(kind: Store) -> Option<(BlobStoreConfig, Option<tempfile::TempDir>)> {
    match kind {
        Store::Local => {
            let dir = tempfile::tempdir().unwrap();
            let config = BlobStoreConfig::Local {
                dir: dir.path().to_owned(),
            };
            Some((config, Some(dir)))
        }
        Store::S3 => {
            let Ok(endpoint) = std::env::var("FIELDOPS_TEST_S3_ENDPOINT") else {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI=true but FIELDOPS_TEST_S3_ENDPOINT is not set");
                }
                eprintln!("NOTICE: skipping the S3 half: FIELDOPS_TEST_S3_ENDPOINT is not set");
                return None;
            };
            let bucket = format!("t-{}", uuid::Uuid::new_v4().simple());
            // moto accepts an unsigned bucket creation.
            let made = reqwest::Client::new()
                .put(format!("{endpoint}/{bucket}"))
                .send()
                .await
                .unwrap();
            assert!(
                made.status().is_success(),
                "creating bucket: {}",
                made.status()
            );
            Some((
                BlobStoreConfig::S3 {
                    endpoint: Some(endpoint),
                    region: "us-east-1".into(),
                    bucket,
                    access_key_id: Some("test".into()),
                    secret_access_key: Some("test".into()),
                },
                None,
            ))
        }
    }
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn local() {
                    super::$name(super::Store::Local).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn s3() {
                    super::$name(super::Store::S3).await
                }
            }
        )*
    };
}

on_both_stores!(
    blobs_are_content_addressed_and_deletes_are_idempotent,
    upload_chunks_are_read_in_order_and_removed_together,
    photos_upload_resume_and_download_end_to_end,
);

async fn blobs_are_content_addressed_and_deletes_are_idempotent(kind: Store) {
    let Some((config, _dir)) = fresh(kind).await else {
        return;
    };
    let store = BlobStore::open(&config).unwrap();
    let bytes = b"photo bytes".to_vec();
    let sha = sha256_hex(&bytes);
    assert!(!store.has_blob(&sha).await.unwrap());
    assert_eq!(store.get_blob(&sha).await.unwrap(), None);
    store.put_blob(&sha, bytes.clone().into()).await.unwrap();
    store.put_blob(&sha, bytes.clone().into()).await.unwrap();
    assert!(store.has_blob(&sha).await.unwrap());
    assert_eq!(store.get_blob(&sha).await.unwrap().unwrap(), bytes);
    let listed = store.list_blobs().await.unwrap();
    assert_eq!(listed.len(), 1, "stored once: {listed:?}");
    assert_eq!(listed[0].0, sha);
    assert!(listed[0].1 > 0);
    assert_eq!(store.is_s3(), matches!(kind, Store::S3));
    if let Some(url) = store
        .presigned_get(&sha, std::time::Duration::from_secs(60))
        .await
        .unwrap()
    {
        let fetched = reqwest::get(&url).await.unwrap();
        assert_eq!(fetched.status(), 200, "{url}");
        assert_eq!(fetched.bytes().await.unwrap().to_vec(), bytes);
    }
    store.delete_blob(&sha).await.unwrap();
    store.delete_blob(&sha).await.unwrap();
    assert!(!store.has_blob(&sha).await.unwrap());
    assert!(store.list_blobs().await.unwrap().is_empty());
}

async fn upload_chunks_are_read_in_order_and_removed_together(kind: Store) {
    let Some((config, _dir)) = fresh(kind).await else {
        return;
    };
    let store = BlobStore::open(&config).unwrap();
    let upload = uuid::Uuid::now_v7().to_string();
    let mut names = Vec::new();
    for chunk in [&b"hello, "[..], b"chunked ", b"world"] {
        names.push(
            store
                .put_part(&upload, chunk.to_vec().into())
                .await
                .unwrap(),
        );
    }
    // A chunk that lost a race is written but never recorded.
    let stray = store
        .put_part(&upload, b"stray".to_vec().into())
        .await
        .unwrap();
    let whole = store.read_parts(&upload, &names, 20).await.unwrap();
    assert_eq!(&whole[..], b"hello, chunked world");
    store.delete_part(&upload, &stray).await.unwrap();
    store.delete_upload(&upload).await.unwrap();
    store.delete_upload(&upload).await.unwrap();
    assert!(store.read_parts(&upload, &names[..1], 7).await.is_err());
    assert!(store.list_blobs().await.unwrap().is_empty());
}

/// The whole path through the API on this store (SQLite for the database).
async fn photos_upload_resume_and_download_end_to_end(kind: Store) {
    let Some((config, _dir)) = fresh(kind).await else {
        return;
    };
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| c.blob_store = config).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let cs = app.login_as("cs").await;
    let photo = photo::normalise(&photo::testing::synthetic_jpeg(2000, 1500, 11, 90)).unwrap();
    let created = tus::create(
        &app,
        &customer,
        photo.image.len(),
        &tus::metadata(&photo.sha256, None),
    )
    .await;
    let location = created.headers["location"].to_str().unwrap().to_owned();
    let half = photo.image.len() / 2;
    let chunk = 32 * 1024;
    tus::send_until_cut(&app, &customer, &location, &photo.image, chunk, half).await;
    assert_eq!(
        tus::head(&app, &customer, &location).await.unwrap(),
        (half / chunk * chunk) as u64
    );
    let done = tus::resume(&app, &customer, &location, &photo.image, chunk).await;
    assert_eq!(done.last.status, 204, "{:?}", done.last.body);
    tus::attach_to_new_ticket(&app, &customer, &photo.sha256).await;
    // S3 downloads redirect to a presigned URL; the client follows it.
    let (_, bytes) = tus::download(&app, &cs, &photo.sha256, "original").await;
    assert_eq!(bytes.unwrap(), photo.image);
    let (_, thumb) = tus::download(&app, &cs, &photo.sha256, "thumbnail").await;
    assert!(image::load_from_memory(&thumb.unwrap()).unwrap().width() <= 320);
    assert_eq!(
        tus::upload(&app, &customer, &photo.image, None, 1 << 20)
            .await
            .bytes_sent,
        0
    );
    app.stop().await;
}
