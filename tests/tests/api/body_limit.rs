//! Bodies over `max_body_bytes` are refused with a 413 problem+json on
//! every route that reads a body, before the server holds more of it than
//! the limit: from the `Content-Length` alone when there is one.

use std::time::Duration;

use fieldops_tests::raw_socket::read_response;
use fieldops_tests::{Backend, TestApp, on_both_backends};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

on_both_backends!(bodies_over_the_limit_get_a_413_problem);

/// 20 MiB, twenty times the default limit.
const BODY: usize = 20 * 1024 * 1024;

#[track_caller]
fn assert_413_problem((status, content_type, body): (u16, String, serde_json::Value)) {
    assert_eq!(
        (status, content_type.as_str()),
        (413, "application/problem+json"),
        "{body}"
    );
    assert_eq!(body["type"], "urn:fieldops:problem:payload-too-large");
    assert_eq!(body["status"], 413);
}

async fn bodies_over_the_limit_get_a_413_problem(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let addr = app.server.addr;
    assert!(app.server.state.config.max_body_bytes < BODY);
    for path in ["/api/v1/sync/batch", "/webhooks/whatsapp"] {
        // Announced: the answer comes without a byte of the body sent, so
        // the server cannot have read (let alone held) any of it.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {BODY}\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), read_response(&mut tcp))
            .await
            .unwrap_or_else(|_| panic!("{path}: the server waited for the body"));
        assert_413_problem(answer);

        // Chunked, so of no announced length: refused once it passes the
        // limit, in problem+json too. The answer is read while the body is
        // still being written.
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = tcp.into_split();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        write.write_all(head.as_bytes()).await.unwrap();
        let writer = tokio::spawn(async move {
            let chunk = [b"10000\r\n".as_slice(), &[b'x'; 0x10000], b"\r\n"].concat();
            for _ in 0..BODY / 0x10000 {
                if write.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = write.write_all(b"0\r\n\r\n").await;
        });
        let answer = tokio::time::timeout(Duration::from_secs(10), read_response(&mut read))
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer to a chunked body"));
        assert_413_problem(answer);
        writer.abort();
    }
    app.stop().await;
}
