//! The customer's side of a rating: the token WhatsApp carried, the public
//! page at `/rate/{token}` and its form.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::TestApp;

/// The token in the next rating template sent to `to`.
pub async fn rating_token(sent: &mut mpsc::UnboundedReceiver<Value>, to: &str) -> String {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), sent.recv())
            .await
            .expect("no rating request was sent")
            .unwrap();
        if message["template"]["name"] != "fieldops_penilaian_kunjungan" {
            continue;
        }
        assert_eq!(message["to"], to);
        assert_eq!(message["type"], "template", "outside the 24-hour window");
        let template = &message["template"];
        assert_eq!(template["language"]["code"], "id");
        assert_eq!(template["components"][0]["type"], "body");
        assert_eq!(
            template["components"][0]["parameters"][0]["text"],
            "Hendra Gunawan"
        );
        let button = &template["components"][1];
        assert_eq!(
            (button["type"].as_str(), button["sub_type"].as_str()),
            (Some("button"), Some("url"))
        );
        let token = button["parameters"][0]["text"].as_str().unwrap().to_owned();
        assert!(token.len() >= 43, "256 random bits: {token}");
        return token;
    }
}

/// The page at `/rate/{token}`: (status, body, the form's CSRF token, the
/// cookie to send it with).
pub async fn open(app: &TestApp, token: &str) -> (u16, String, String, String) {
    let reply = app
        .client
        .get(app.url(&format!("/rate/{token}")))
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let cookie = reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';')
                .next()
                .filter(|c| c.starts_with("fieldops_signin="))
        })
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        reply.headers()["referrer-policy"],
        "no-referrer",
        "the token never leaves as a referrer"
    );
    let body = reply.text().await.unwrap();
    let csrf = body
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    (status, body, csrf, cookie)
}

pub async fn rate(
    app: &TestApp,
    token: &str,
    csrf: &str,
    cookie: &str,
    score: &str,
) -> (u16, String) {
    let reply = app
        .client
        .post(app.url(&format!("/rate/{token}")))
        .header("cookie", cookie)
        .form(&[
            ("_csrf", csrf),
            ("score", score),
            ("comment", "Cepat dan rapi"),
        ])
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.text().await.unwrap())
}
