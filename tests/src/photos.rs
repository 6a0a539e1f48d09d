//! A small tus 1.0 client for the photo tests and the benchmark: create,
//! HEAD, PATCH, a whole upload that skips bytes the server already holds, and
//! a PATCH whose connection is cut part-way (raw TCP, so the cut is exact).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use crate::{Reply, TestApp};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The `Upload-Metadata` header for `sha256` (and a thumbnail).
pub fn metadata(sha256: &str, thumbnail: Option<&str>) -> String {
    let mut out = format!(
        "sha256 {},filename {}",
        STANDARD.encode(sha256),
        STANDARD.encode("photo.jpg")
    );
    if let Some(t) = thumbnail {
        out.push_str(&format!(",thumbnail_sha256 {}", STANDARD.encode(t)));
    }
    out
}

fn tus(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
}

/// `POST /api/v1/uploads`.
pub async fn create(app: &TestApp, token: &str, length: usize, metadata: &str) -> Reply {
    let request = tus(app, Method::POST, "/api/v1/uploads", token)
        .header("upload-length", length.to_string())
        .header("upload-metadata", metadata);
    TestApp::read(request.send().await.unwrap()).await
}

/// `HEAD` an upload: its `Upload-Offset`, or the reply when it is not 200.
pub async fn head(app: &TestApp, token: &str, location: &str) -> Result<u64, Reply> {
    let reply = TestApp::read(
        tus(app, Method::HEAD, location, token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    if reply.status != 200 {
        return Err(reply);
    }
    Ok(header_u64(&reply, "upload-offset"))
}

pub fn header_u64(reply: &Reply, name: &str) -> u64 {
    reply.headers[name].to_str().unwrap().parse().unwrap()
}

/// `PATCH` one chunk at `offset`.
pub async fn patch(app: &TestApp, token: &str, location: &str, offset: u64, chunk: &[u8]) -> Reply {
    let request = tus(app, Method::PATCH, location, token)
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(chunk.to_vec());
    TestApp::read(request.send().await.unwrap()).await
}

/// Sends a PATCH that announces all of `rest` but delivers only its first
/// `send` bytes before the connection drops.
pub async fn cut_patch(
    app: &TestApp,
    token: &str,
    location: &str,
    offset: u64,
    rest: &[u8],
    send: usize,
) {
    let mut socket = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\
         tus-resumable: 1.0.0\r\nupload-offset: {offset}\r\n\
         content-type: application/offset+octet-stream\r\ncontent-length: {}\r\n\r\n",
        app.server.addr,
        rest.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&rest[..send]).await.unwrap();
    socket.flush().await.unwrap();
    drop(socket);
}

/// Sends `bytes` to a new upload in chunks of `chunk` bytes until the chunk
/// that holds byte `cut_at`, whose connection drops at that byte. Returns the
/// bytes sent so far.
pub async fn send_until_cut(
    app: &TestApp,
    token: &str,
    location: &str,
    bytes: &[u8],
    chunk: usize,
    cut_at: usize,
) -> u64 {
    let mut offset = 0;
    while offset + chunk <= cut_at {
        let reply = patch(
            app,
            token,
            location,
            offset as u64,
            &bytes[offset..offset + chunk],
        )
        .await;
        assert_eq!(reply.status, 204, "{:?}", reply.body);
        offset += chunk;
    }
    let end = (offset + chunk).min(bytes.len());
    cut_patch(
        app,
        token,
        location,
        offset as u64,
        &bytes[offset..end],
        cut_at - offset,
    )
    .await;
    cut_at as u64
}

/// The outcome of [`upload`].
#[derive(Debug)]
pub struct Uploaded {
    /// Bytes of the image sent in PATCH bodies.
    pub bytes_sent: u64,
    /// The last reply (the final PATCH, or the POST when nothing was sent).
    pub last: Reply,
}

/// Uploads `bytes` in chunks of `chunk` bytes: asks first whether the server
/// holds the hash (then sends nothing), else creates and PATCHes to the end.
pub async fn upload(
    app: &TestApp,
    token: &str,
    bytes: &[u8],
    thumbnail: Option<&str>,
    chunk: usize,
) -> Uploaded {
    let sha = sha256_hex(bytes);
    let check = app.get(&format!("/api/v1/blobs/{sha}"), token).await;
    if check.status == 200 {
        return Uploaded {
            bytes_sent: 0,
            last: check,
        };
    }
    let created = create(app, token, bytes.len(), &metadata(&sha, thumbnail)).await;
    if created.status != 201 {
        return Uploaded {
            bytes_sent: 0,
            last: created,
        };
    }
    let location = created.headers["location"].to_str().unwrap().to_owned();
    resume(app, token, &location, bytes, chunk).await
}

/// Continues an upload from the offset the server reports.
pub async fn resume(
    app: &TestApp,
    token: &str,
    location: &str,
    bytes: &[u8],
    chunk: usize,
) -> Uploaded {
    let mut offset = match head(app, token, location).await {
        Ok(offset) => offset,
        Err(reply) => {
            return Uploaded {
                bytes_sent: 0,
                last: reply,
            };
        }
    };
    let mut sent = 0;
    let mut last = None;
    while (offset as usize) < bytes.len() {
        let end = (offset as usize + chunk).min(bytes.len());
        let reply = patch(app, token, location, offset, &bytes[offset as usize..end]).await;
        sent += (end - offset as usize) as u64;
        if reply.status != 204 {
            return Uploaded {
                bytes_sent: sent,
                last: reply,
            };
        }
        offset = header_u64(&reply, "upload-offset");
        last = Some(reply);
    }
    let last = match last {
        Some(l) => l,
        None => {
            TestApp::read(
                tus(app, Method::HEAD, location, token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    Uploaded {
        bytes_sent: sent,
        last,
    }
}

/// Fetches a signed link for `sha256` and downloads it: `(link reply, bytes)`.
pub async fn download(
    app: &TestApp,
    token: &str,
    sha256: &str,
    variant: &str,
) -> (Reply, Option<Vec<u8>>) {
    let link = app
        .get(
            &format!("/api/v1/blobs/{sha256}/link?variant={variant}"),
            token,
        )
        .await;
    if link.status != 200 {
        return (link, None);
    }
    let url = link.body["url"].as_str().unwrap();
    let response = app.client.get(app.url(url)).send().await.unwrap();
    assert_eq!(response.status(), 200, "download {url}");
    let bytes = response.bytes().await.unwrap().to_vec();
    (link, Some(bytes))
}

/// Opens a ticket as `customer` and records photo `sha256` as attached to it
/// by the customer (as the server does when a device pushes the photo's
/// document), so that staff of its department may download it once the
/// customer has uploaded it. Returns the ticket id.
pub async fn attach_to_new_ticket(app: &TestApp, customer: &str, sha256: &str) -> String {
    use fieldops_server::db::blobs::{self, OwnerKind};
    let me = app.get("/api/v1/me", customer).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ticket = app
        .post(
            "/api/v1/tickets",
            customer,
            serde_json::json!({ "subject": "Foto kerusakan", "category": "technical" }),
        )
        .await;
    assert_eq!(ticket.status, 201, "{:?}", ticket.body);
    let id = ticket.body["id"].as_str().unwrap().to_owned();
    let mut tx = app.server.state.db.begin_write().await.unwrap();
    blobs::add_owner(&mut tx, sha256, OwnerKind::Ticket, &id, &me)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}
