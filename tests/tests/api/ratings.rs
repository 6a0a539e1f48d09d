//! Ratings (issue 21, first part): a visit done sends the customer a
//! WhatsApp template whose URL button carries a rating link (a local
//! stand-in for the Cloud API checks the real request shape); opening the
//! link — as WhatsApp's preview does — spends nothing; the customer rates
//! 4 stars once; a second submit is told "already rated", an expired link
//! "expired", a guessed one "not valid"; the phone's offline `SubmitRating`
//! command applies once; the technician's scores move.

use fieldops_sync::commands::{Command, CommandBody, CommandOutcome, CommandResult, RejectReason};
use fieldops_sync::ids::{CommandId, DocId};
use fieldops_tests::device::Device;
use fieldops_tests::fixtures::{customer_ids, demo_customer, done_visit, local_date, new_visit};
use fieldops_tests::ratings::{open, rate, rating_token};
use fieldops_tests::{Backend, on_both_backends};
use serde_json::json;

on_both_backends!(a_done_visit_is_rated_once_through_its_whatsapp_link);

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

    // The technician's KPI moved: one rating, satisfied, shown not ranked.
    let pool = app.server.state.db.pool();
    let admin = app.login_as("admin").await;
    let board = app.get("/api/v1/kpi?subject=technician", &admin).await;
    assert_eq!(board.status, 200, "{:?}", board.body);
    let row = &board.body["rows"][0];
    assert_eq!(row["name"], "Budi Hartono");
    let r = &row["ratings"];
    assert_eq!(
        (&r["sent"], &r["answered"], &r["satisfied"], &r["csat_pct"]),
        (&json!(1), &json!(1), &json!(1), &json!(100.0))
    );
    assert_eq!(r["ranked"], false, "one rating is shown, not ranked");
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
