//! Ratings (issue 21, first part): a visit done sends the customer a
//! WhatsApp template whose URL button carries a rating link (a local
//! stand-in for the Cloud API checks the real request shape); opening the
//! link — as WhatsApp's preview does — spends nothing; the customer rates
//! 4 stars once; a second submit is told "already rated", an expired link
//! "expired", a guessed one "not valid"; the phone's offline `SubmitRating`
//! command applies once; the technician's scores move.

use std::time::Duration;

use fieldops_server::ratings;
use fieldops_sync::commands::{Command, CommandBody, CommandOutcome, CommandResult, RejectReason};
use fieldops_sync::ids::{CommandId, DocId};
use fieldops_tests::device::Device;
use fieldops_tests::fixtures::{customer_ids, demo_customer, done_visit, local_date, new_visit};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};
use tokio::sync::mpsc;

on_both_backends!(a_done_visit_is_rated_once_through_its_whatsapp_link);

/// The token in the next rating template sent to `to`.
async fn rating_token(sent: &mut mpsc::UnboundedReceiver<Value>, to: &str) -> String {
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
async fn open(app: &TestApp, token: &str) -> (u16, String, String, String) {
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

async fn rate(app: &TestApp, token: &str, csrf: &str, cookie: &str, score: &str) -> (u16, String) {
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

async fn a_done_visit_is_rated_once_through_its_whatsapp_link(backend: Backend) {
    let Some((app, mut sent)) = fieldops_tests::whatsapp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let tech = app.login_as("technician").await;
    let hendra = demo_customer(&app, &cs).await;
    let visit = done_visit(&app, &cs, &tech, &hendra, "Servis AC ruang rapat").await;
    let token = rating_token(&mut sent, "6281210000001").await;

    // The link preview and the customer both open it: nothing is spent, and
    // the page names the visit and the technician's first name only.
    for _ in 0..2 {
        let (status, body, ..) = open(&app, &token).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("Servis AC ruang rapat") && body.contains("Budi"),
            "{body}"
        );
        assert!(
            !body.contains("Hartono") && !body.contains("+62812"),
            "{body}"
        );
    }
    let (_, _, csrf, cookie) = open(&app, &token).await;
    // Without the form's token: refused, nothing spent.
    let (status, _) = rate(&app, &token, "forged", &cookie, "4").await;
    assert_eq!(status, 403);
    // No score: the form again, saying so.
    let (status, body) = rate(&app, &token, &csrf, &cookie, "").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = rate(&app, &token, &csrf, &cookie, "4").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Terima kasih"), "{body}");
    let (status, body) = rate(&app, &token, &csrf, &cookie, "1").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("sudah dinilai") && body.contains("4/5"),
        "{body}"
    );
    let (status, body, ..) = open(&app, &token).await;
    assert_eq!(status, 200);
    assert!(body.contains("sudah dinilai"), "{body}");
    let guessed = format!("{}x", &token[..token.len() - 1]);
    let (status, body, ..) = open(&app, &guessed).await;
    assert_eq!(status, 404);
    assert!(body.contains("tidak berlaku"), "{body}");

    // The technician's scores moved: one rating, satisfied.
    let pool = app.server.state.db.pool();
    let technician: String =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'tech1@example.com'")
            .fetch_one(pool)
            .await
            .unwrap();
    let tally = ratings::technician_tally(&app.server.state.db, &technician, 0, i64::MAX)
        .await
        .unwrap();
    assert_eq!(
        (tally.sent, tally.answered, tally.satisfied, tally.score_sum),
        (1, 1, 1, 4)
    );
    assert_eq!(tally.csat_pct(), Some(100.0));
    assert!(!tally.ranked(), "one rating is shown, not ranked");
    let stored: (i64, String) =
        sqlx::query_as("SELECT score, via FROM ratings WHERE visit_id = $1")
            .bind(&visit)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(stored, (4, "link".to_owned()));

    // An expired link says so, and takes no rating.
    let later = done_visit(&app, &cs, &tech, &hendra, "Servis pompa").await;
    let expired = rating_token(&mut sent, "6281210000001").await;
    sqlx::query("UPDATE rating_requests SET expires_at = 1 WHERE visit_id = $1")
        .bind(&later)
        .execute(pool)
        .await
        .unwrap();
    // (No form on that page: the earlier form's token pair is sent.)
    let (status, body, ..) = open(&app, &expired).await;
    assert_eq!(status, 410);
    assert!(body.contains("kedaluwarsa"), "{body}");
    let (status, _) = rate(&app, &expired, &csrf, &cookie, "5").await;
    assert_eq!(status, 410);

    // From the phone, offline then online: one rating, however often sent.
    let third = done_visit(&app, &cs, &tech, &hendra, "Servis genset").await;
    let from_app = rating_token(&mut sent, "6281210000001").await;
    let customer = app.login("customer@example.com", "customer123").await;
    let (mut device, _) = Device::connect(app.server.addr, &customer, 0).await;
    let third_id: DocId = third.parse().unwrap();
    let command = |seq, visit_id, token: &str| Command {
        id: CommandId::new(),
        device_seq: seq,
        issued_at_ms: 0,
        body: CommandBody::SubmitRating {
            visit_id,
            token: token.to_owned(),
            score: 5,
            comment: None,
        },
    };
    // The token of another visit: refused like a guess.
    let wrong = command(1, visit.parse().unwrap(), &from_app);
    let refused = device.run(&wrong).await;
    let reason = |r: &CommandResult| match &r.outcome {
        CommandOutcome::Rejected { reason, .. } => Some(*reason),
        CommandOutcome::Accepted { .. } => None,
    };
    assert_eq!(
        reason(&refused),
        Some(RejectReason::TokenInvalid),
        "{refused:?}"
    );
    let good = command(2, third_id, &from_app);
    let first = device.run(&good).await;
    assert!(first.is_accepted(), "{first:?}");
    assert_eq!(device.run(&good).await, first, "a replay applies once");
    let again = command(3, third_id, &from_app);
    let twice = device.run(&again).await;
    assert!(matches!(
        twice.outcome,
        CommandOutcome::Rejected {
            reason: RejectReason::TokenInvalid,
            ..
        }
    ));
    // A customer CS removed before the visit was completed is not asked.
    let gone = customer_ids(&app, &cs)
        .await
        .into_iter()
        .find(|(_, name)| name != "Hendra Gunawan")
        .unwrap()
        .0;
    let visit = new_visit(&app, &cs, &gone, "Servis pintu", &local_date(0), 1, 1).await;
    let path = format!("/api/v1/visits/{}", visit["id"].as_str().unwrap());
    let on_site = json!({ "device_time": jiff::Timestamp::now().to_string(),
                          "lat": -6.2251, "lon": 106.8097, "accuracy_m": 5.0 });
    for (step, body) in [
        ("claim", json!({})),
        ("check-in", on_site.clone()),
        ("check-out", on_site),
    ] {
        let reply = app.post(&format!("{path}/{step}"), &tech, body).await;
        assert!(reply.status.is_success(), "{step}: {:?}", reply.body);
    }
    let deleted = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/customers/{gone}"),
            Some(&cs),
            None,
        )
        .await;
    assert!(deleted.status.is_success(), "{:?}", deleted.body);
    let done = app
        .post(
            &format!("{path}/complete"),
            &tech,
            json!({ "summary": "Engsel diganti" }),
        )
        .await;
    assert!(done.status.is_success(), "{:?}", done.body);
    let asked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rating_requests WHERE visit_id = $1")
        .bind(visit["id"].as_str().unwrap())
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(asked, 0);

    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ratings WHERE via = 'app'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    app.stop().await;
}
