//! Images and other media customers send on WhatsApp, against the Cloud API
//! stand-in serving real media files: an image is fetched once into the
//! photo store and kept as an attachment of the customer's WhatsApp
//! conversation (readable by CS and the customer, nobody else), a busy Meta
//! fails the delivery so that Meta repeats it, and what cannot be kept is
//! recorded as such while the customer is told, in Bahasa Indonesia.

use std::time::Duration;

use fieldops_core::photo::testing;
use fieldops_tests::console::Browser;
use fieldops_tests::photos::{download, sha256_hex};
use fieldops_tests::whatsapp::{change, deliver_signed, spawn_with_media};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};
use tokio::sync::mpsc;

on_both_backends!(
    an_image_a_customer_sends_is_kept_in_their_conversation,
    what_cannot_be_kept_is_recorded_and_the_customer_told,
    a_photo_and_a_text_sent_at_once_open_one_conversation,
);

/// A delivery of one message from `from` of type `kind` with `body` (the
/// object Meta puts under the type's name).
fn message(id: &str, from: &str, kind: &str, body: Value) -> Value {
    let mut m = json!({ "from": from, "id": id, "timestamp": "1764950000", "type": kind });
    m[kind] = body;
    change(
        "messages",
        json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "6281100000000", "phone_number_id": "1098765" },
            "contacts": [{ "profile": { "name": "Pelanggan" }, "wa_id": from }],
            "messages": [m],
        }),
    )
}

fn image(id: &str, from: &str, media_id: &str, caption: Option<&str>) -> Value {
    let mut body = json!({ "id": media_id, "mime_type": "image/jpeg", "sha256": "ignored" });
    if let Some(caption) = caption {
        body["caption"] = json!(caption);
    }
    message(id, from, "image", body)
}

/// The demo customer's id and WhatsApp number (digits, as Meta sends it).
async fn demo_customer(app: &TestApp, token: &str) -> (String, String) {
    let me = app.get("/api/v1/me", token).await;
    let id = me.body["customer"]["id"].as_str().unwrap().to_owned();
    let phone = me.body["customer"]["phone"].as_str().unwrap();
    (id, phone.trim_start_matches('+').to_owned())
}

/// The customer's WhatsApp conversation as `token` sees it, once it exists.
async fn whatsapp_conversation(app: &TestApp, token: &str, customer_id: &str) -> Option<String> {
    let list = app
        .get(
            &format!("/api/v1/conversations?customer_id={customer_id}"),
            token,
        )
        .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "whatsapp")
        .map(|c| c["id"].as_str().unwrap().to_owned())
}

/// The customer's messages of a conversation, oldest first, as `token` reads them.
async fn customer_messages(app: &TestApp, token: &str, conversation: &str) -> Vec<Value> {
    let page = app
        .get(
            &format!("/api/v1/conversations/{conversation}/messages"),
            token,
        )
        .await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    let mut items: Vec<Value> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["sender_kind"] == "customer")
        .cloned()
        .collect();
    items.reverse();
    items
}

/// Waits for the server to send `phone` a WhatsApp text containing
/// `words`, skipping others (the "nobody is available" note among them).
async fn expect_text(rx: &mut mpsc::UnboundedReceiver<Value>, phone: &str, words: &str) {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(sent) = rx.recv().await {
            let text = sent["text"]["body"].as_str().unwrap_or_default().to_owned();
            if sent["to"] == phone && text.contains(words) {
                return true;
            }
            seen.push(text);
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "no text with {words:?} reached {phone}; sent: {seen:?}"
    );
}

async fn an_image_a_customer_sends_is_kept_in_their_conversation(backend: Backend) {
    let Some((app, _sent, media)) = spawn_with_media(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    app.set_language(&cs, "en").await;
    let customer = app.login_as("customer").await;
    let technician = app.login_as("technician").await;
    let (customer_id, phone) = demo_customer(&app, &customer).await;

    let jpeg = testing::synthetic_jpeg(640, 480, 7, 85);
    let sha = sha256_hex(&jpeg);
    media.put("1037543291543636", "image/jpeg", jpeg.clone());
    media.fail("1037543291543636", 1);
    let delivery = image(
        "wamid.IMG1",
        &phone,
        "1037543291543636",
        Some("Printer macet"),
    );

    // Meta is busy: the delivery fails (Meta delivers it again) and
    // nothing of it is recorded.
    let status = deliver_signed(&app, &delivery).await;
    assert!(
        status >= 500,
        "a failed fetch must fail the delivery: {status}"
    );
    assert_eq!(whatsapp_conversation(&app, &cs, &customer_id).await, None);

    // Delivered again, and once more: fetched once, kept once.
    assert_eq!(deliver_signed(&app, &delivery).await, 200);
    assert_eq!(deliver_signed(&app, &delivery).await, 200);
    assert_eq!(media.downloads("1037543291543636"), 1);
    let conversation = whatsapp_conversation(&app, &cs, &customer_id)
        .await
        .expect("the image opened the customer's WhatsApp conversation");
    let said = customer_messages(&app, &cs, &conversation).await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(said[0]["body"], "Printer macet");
    assert_eq!(said[0]["attachment_sha256"], sha.as_str());

    // CS and the customer read the very bytes; others may not.
    let (_, bytes) = download(&app, &cs, &sha, "original").await;
    assert_eq!(bytes.as_deref(), Some(&jpeg[..]));
    let (_, bytes) = download(&app, &customer, &sha, "original").await;
    assert_eq!(bytes.as_deref(), Some(&jpeg[..]));
    let (thumb, _) = download(&app, &cs, &sha, "thumbnail").await;
    assert_eq!(thumb.status, 200, "{:?}", thumb.body);
    let (refused, _) = download(&app, &technician, &sha, "original").await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);

    // Without a caption it reads "[Photo]", in the reader's language.
    let png = {
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(testing::synthetic(320, 240, 3))
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    media.put("2048", "image/png", png.clone());
    assert_eq!(
        deliver_signed(&app, &image("wamid.IMG2", &phone, "2048", None)).await,
        200
    );
    let said = customer_messages(&app, &cs, &conversation).await;
    assert_eq!(said.len(), 2, "{said:?}");
    assert_eq!(said[1]["body"], "[Photo]");
    assert_eq!(said[1]["attachment_sha256"], sha256_hex(&png).as_str());
    app.set_language(&customer, "id").await;
    let said = customer_messages(&app, &customer, &conversation).await;
    assert_eq!(said[1]["body"].as_str(), Some("[Foto]"), "{said:?}");

    // The console shows the image in the thread, from its own address,
    // only in the conversation that holds it.
    let mut browser = Browser::signed_in_as(&app, "cs").await;
    let inbox = browser.get(&format!("/chat?c={conversation}")).await;
    assert_eq!(inbox.status, 200);
    let file = format!("/chat/{conversation}/files/{sha}");
    assert!(inbox.html.contains(&file), "{}", inbox.html);
    let full = browser.get(&file).await;
    assert_eq!(full.status, 200);
    assert_eq!(
        full.headers.get("content-type").unwrap(),
        "image/jpeg",
        "{:?}",
        full.headers
    );
    let thumb = browser.get(&format!("{file}?size=thumb")).await;
    assert_eq!(thumb.status, 200);
    let elsewhere = browser
        .get(&format!(
            "/chat/{conversation}/files/{}",
            sha256_hex(b"not held")
        ))
        .await;
    assert_eq!(elsewhere.status, 404);
    // Sales do not use conversations: to them it is no page at all.
    let mut sales = Browser::signed_in_as(&app, "sales").await;
    assert_eq!(sales.get(&file).await.status, 404);
    app.stop().await;
}

async fn what_cannot_be_kept_is_recorded_and_the_customer_told(backend: Backend) {
    let Some((app, mut sent, media)) = spawn_with_media(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    app.set_language(&cs, "en").await;
    let customer = app.login_as("customer").await;
    let (customer_id, phone) = demo_customer(&app, &customer).await;

    // Bytes that are no image.
    media.put("3001", "image/jpeg", b"this is not a photo".to_vec());
    let d = image("wamid.BAD1", &phone, "3001", Some("lihat ini"));
    assert_eq!(deliver_signed(&app, &d).await, 200);
    expect_text(&mut sent, &phone, "tidak dapat kami baca").await;

    // A photo over the limit is not even downloaded.
    media.put("3002", "image/jpeg", vec![0xFF; 5 * 1024 * 1024 + 1]);
    let d = image("wamid.BIG1", &phone, "3002", None);
    assert_eq!(deliver_signed(&app, &d).await, 200);
    assert_eq!(media.downloads("3002"), 0);
    expect_text(
        &mut sent,
        &phone,
        "terlalu besar untuk kami simpan. Mohon kirim ulang dengan ukuran di bawah 5 MB",
    )
    .await;

    // A media id Meta does not know (expired).
    let d = image("wamid.GONE1", &phone, "3003", None);
    assert_eq!(deliver_signed(&app, &d).await, 200);
    expect_text(&mut sent, &phone, "tidak sampai").await;

    // A voice note.
    let d = message(
        "wamid.VOICE1",
        &phone,
        "audio",
        json!({ "id": "3004", "mime_type": "audio/ogg; codecs=opus", "voice": true }),
    );
    assert_eq!(deliver_signed(&app, &d).await, 200);
    expect_text(&mut sent, &phone, "hanya dapat menerima teks dan foto").await;

    let conversation = whatsapp_conversation(&app, &cs, &customer_id)
        .await
        .expect("the messages reached the customer's conversation");
    let said = customer_messages(&app, &cs, &conversation).await;
    let bodies: Vec<&str> = said.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(
        bodies,
        [
            "[A photo that could not be read] lihat ini",
            "[A photo too large to keep]",
            "[A photo WhatsApp no longer provides]",
            "[A voice note, which fieldops cannot show; the customer was asked for text or a photo]",
        ],
    );
    assert!(said.iter().all(|m| m["attachment_sha256"].is_null()));

    // A stranger's image is neither fetched nor kept: they get the
    // registration format.
    media.put("3005", "image/jpeg", testing::synthetic_jpeg(64, 64, 1, 80));
    let d = image("wamid.STRANGER1", "6289900000001", "3005", None);
    assert_eq!(deliver_signed(&app, &d).await, 200);
    expect_text(&mut sent, "6289900000001", "DAFTAR#").await;
    assert_eq!(media.downloads("3005"), 0);
    app.stop().await;
}

/// A customer who sends a photo and a text together (Meta delivers them as
/// two webhooks at once) gets one WhatsApp conversation holding both.
async fn a_photo_and_a_text_sent_at_once_open_one_conversation(backend: Backend) {
    let Some((app, _sent, media)) = spawn_with_media(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = app.login_as("customer").await;
    let (customer_id, phone) = demo_customer(&app, &customer).await;
    media.put(
        "4001",
        "image/jpeg",
        testing::synthetic_jpeg(320, 240, 5, 85),
    );
    let photo = image("wamid.AT1", &phone, "4001", None);
    let text = message(
        "wamid.AT2",
        &phone,
        "text",
        json!({ "body": "AC bocor, ini fotonya" }),
    );
    let (a, b) = tokio::join!(deliver_signed(&app, &photo), deliver_signed(&app, &text));
    assert_eq!((a, b), (200, 200));
    let list = app
        .get(
            &format!("/api/v1/conversations?customer_id={customer_id}"),
            &cs,
        )
        .await;
    let whatsapp: Vec<&Value> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["channel"] == "whatsapp")
        .collect();
    assert_eq!(whatsapp.len(), 1, "{:?}", list.body);
    let id = whatsapp[0]["id"].as_str().unwrap();
    assert_eq!(customer_messages(&app, &cs, id).await.len(), 2);
    app.stop().await;
}
