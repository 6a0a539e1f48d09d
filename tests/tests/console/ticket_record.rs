//! A ticket's images and history in the console: staff see the customer's
//! photo as a thumbnail the console serves behind the ticket's permission,
//! attach one of their own through the page's file form (CSRF-checked,
//! size- and type-checked, the refusal shown in the page's language), and
//! read the ticket's history with the reason given for an assignment.

use fieldops_core::photo::{self, testing};
use fieldops_tests::console::Browser;
use fieldops_tests::photos::{self as tus, sha256_hex};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(staff_see_attach_and_trace_a_tickets_images);

async fn staff_see_attach_and_trace_a_tickets_images(backend: Backend) {
    let photo = photo::normalise(&testing::synthetic_jpeg(1200, 900, 41, 90)).unwrap();
    let mine = photo::normalise(&testing::synthetic_jpeg(1200, 900, 42, 90)).unwrap();
    let big = testing::synthetic_jpeg(2400, 1800, 43, 98);
    let limit = photo.image.len().max(mine.image.len());
    assert!(big.len() > limit);
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.ticket_max_attachment_bytes = limit as u64;
    })
    .await
    else {
        return;
    };
    let customer = app.login_as("customer").await;
    let opened = app
        .post(
            "/api/v1/tickets",
            &customer,
            json!({ "subject": "AC bocor", "category": "technical" }),
        )
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    let id = opened.body["id"].as_str().unwrap().to_owned();
    let sent = tus::upload(&app, &customer, &photo.image, None, 1 << 20).await;
    assert_eq!(sent.last.status, 204, "{:?}", sent.last.body);
    let attached = app
        .post(
            &format!("/api/v1/tickets/{id}/attachments"),
            &customer,
            json!({ "sha256": photo.sha256 }),
        )
        .await;
    assert_eq!(attached.status, 201, "{:?}", attached.body);

    // CS see the customer's photo as a thumbnail, served by the console.
    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let page = cs.get(&format!("/tickets/{id}")).await;
    // The page is headed by the ticket itself, as is its browser tab.
    let number = opened.body["number"].as_str().unwrap();
    let heading = format!("{number} · AC bocor");
    assert!(
        page.html.contains(&format!("<h1>{heading}</h1>"))
            && page
                .html
                .contains(&format!("<title>{heading} · fieldops</title>")),
        "{}",
        page.html
    );
    let thumb = format!("/tickets/{id}/files/{}?size=thumb", photo.sha256);
    assert!(page.html.contains(&thumb), "{}", page.html);
    assert!(page.html.contains("Hendra Gunawan"), "who attached it");
    let image = cs.get(&thumb).await;
    assert_eq!(image.status, 200);
    assert_eq!(image.headers["content-type"], "image/jpeg");
    let full = cs
        .get(&format!("/tickets/{id}/files/{}", photo.sha256))
        .await;
    assert_eq!(full.status, 200);
    // Nobody outside the ticket gets it, nor a hash the ticket does not hold.
    let mut sales = Browser::signed_in_as(&app, "sales").await;
    assert_eq!(sales.get(&thumb).await.status, 404);
    let other = sha256_hex(b"not on this ticket");
    assert_eq!(
        cs.get(&format!("/tickets/{id}/files/{other}")).await.status,
        404
    );

    // CS attach their own photo through the form.
    let path = format!("/tickets/{id}/attachments");
    let forged = cs
        .post_file(&path, "foto.jpg", "image/jpeg", &mine.image, false)
        .await;
    assert_eq!(forged.status, 403, "a file form without the token");
    let added = cs
        .post_file(&path, "foto.jpg", "image/jpeg", &mine.image, true)
        .await;
    assert_eq!(added.status, 303, "{}", added.html);
    let not_image = cs
        .post_file(&path, "catatan.txt", "text/plain", b"bukan foto", true)
        .await;
    assert_eq!(not_image.status, 422);
    assert!(
        not_image.html.contains("bukan gambar"),
        "{}",
        not_image.html
    );
    let too_big = cs
        .post_file(&path, "besar.jpg", "image/jpeg", &big, true)
        .await;
    assert_eq!(too_big.status, 422);
    assert!(too_big.html.contains("terlalu besar"), "{}", too_big.html);
    let listed = app
        .get(&format!("/api/v1/tickets/{id}/attachments"), &customer)
        .await;
    let hashes: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(hashes, [photo.sha256.as_str(), mine.sha256.as_str()]);

    // An assignment with its reason, and the history that tells it.
    let took = cs
        .post(
            &format!("/tickets/{id}/assign"),
            &[("take", "1"), ("reason", "Bisa berbahasa Jawa")],
        )
        .await;
    assert_eq!(took.status, 303, "{}", took.html);
    let page = cs.get(&format!("/tickets/{id}")).await;
    for said in [
        "Riwayat",
        "membuka tiket",
        "melampirkan gambar",
        "Bisa berbahasa Jawa",
    ] {
        assert!(page.html.contains(said), "{said}: {}", page.html);
    }
    let cs_token = app.login_as("cs").await;
    let detail = app.get(&format!("/api/v1/tickets/{id}"), &cs_token).await;
    let reasons: Vec<&str> = detail.body["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"Bisa berbahasa Jawa"), "{reasons:?}");
    // Sales, outside the ticket's department, see neither page nor history.
    assert_eq!(sales.get(&format!("/tickets/{id}")).await.status, 404);
    app.stop().await;
}
