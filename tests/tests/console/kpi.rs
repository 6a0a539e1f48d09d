//! The KPI page and the admins' alerts in the console: a rated visit puts
//! Budi in the table (greyed: one rating is not ranked), in Bahasa
//! Indonesia's numbers; his trend draws; the CSV download is the table; a
//! technician sees only their own row; a template Meta rejects shows on
//! the admin's dashboard until dismissed.

use fieldops_tests::console::Browser;
use fieldops_tests::fixtures::{demo_customer, done_visit};
use fieldops_tests::ratings::{open, rate, rating_token};
use fieldops_tests::whatsapp::{change, deliver_signed};
use fieldops_tests::{Backend, on_both_backends};
use serde_json::json;

on_both_backends!(
    managers_read_the_kpis_and_admins_see_alerts,
    admins_change_settings_from_the_console
);

async fn managers_read_the_kpis_and_admins_see_alerts(backend: Backend) {
    let Some((app, mut sent)) = fieldops_tests::whatsapp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let tech = app.login_as("technician").await;
    let hendra = demo_customer(&app, &cs).await;
    done_visit(&app, &cs, &tech, &hendra, "Servis AC lobi").await;
    let token = rating_token(&mut sent, "6281210000001").await;
    let (_, _, csrf, cookie) = open(&app, &token).await;
    assert_eq!(rate(&app, &token, &csrf, &cookie, "5").await.0, 200);

    let mut admin = Browser::signed_in_as(&app, "admin").await;
    let page = admin.get("/kpi?subject=technician").await;
    assert_eq!(page.status, 200, "{}", page.html);
    let html = &page.html;
    assert!(html.contains("href=\"/kpi\""), "in the menu");
    assert!(
        html.contains("Budi Hartono") && html.contains("100,0%"),
        "{html}"
    );
    assert!(
        html.contains("class=\"unranked\""),
        "one rating is greyed: {html}"
    );
    assert!(html.contains("Teknisi di lokasi"), "the real-time counts");
    assert!(html.contains("/kpi.csv?subject=technician"), "{html}");
    let budi: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'tech1@example.com'")
        .fetch_one(app.server.state.db.pool())
        .await
        .unwrap();
    let trend = admin
        .get(&format!("/kpi?subject=technician&id={budi}&period=day"))
        .await;
    assert!(
        trend.html.contains("Tren: Budi Hartono") && trend.html.contains("<polyline"),
        "{}",
        trend.html
    );
    let csv = admin.get("/kpi.csv?subject=technician&sep=semicolon").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.html.starts_with('\u{feff}') && csv.html.contains(";Budi Hartono;1;1;1;100,0;"),
        "{}",
        csv.html
    );

    // A technician: their own row, never the whole.
    let mut dewi = Browser::new(&app);
    assert_eq!(
        dewi.sign_in("tech2@example.com", "tech123").await.status,
        303
    );
    let page = dewi.get("/kpi?subject=all").await;
    assert_eq!(page.status, 200);
    assert!(!page.html.contains("Budi Hartono"), "{}", page.html);
    assert!(!page.html.contains("value=\"all\""), "no overall for Dewi");

    // Meta rejects the rating template: the admin's dashboard says so.
    let rejected = change(
        "message_template_status_update",
        json!({
            "event": "REJECTED", "message_template_name": "fieldops_penilaian_kunjungan",
            "message_template_language": "id", "reason": "INVALID_FORMAT",
        }),
    );
    assert_eq!(deliver_signed(&app, &rejected).await, 200);
    let home = admin.get("/").await;
    assert!(
        home.html
            .contains("Meta menghentikan template WhatsApp: fieldops_penilaian_kunjungan (id)"),
        "{}",
        home.html
    );
    let id = home
        .html
        .split("action=\"/alerts/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let mut cs_console = Browser::signed_in_as(&app, "cs").await;
    assert!(
        !cs_console.get("/").await.html.contains("Meta menghentikan"),
        "admins only"
    );
    assert_eq!(
        cs_console
            .post(&format!("/alerts/{id}/dismiss"), &[])
            .await
            .status,
        403
    );
    let done = admin.post(&format!("/alerts/{id}/dismiss"), &[]).await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert!(!admin.get("/").await.html.contains("Meta menghentikan"));
    app.stop().await;
}

async fn admins_change_settings_from_the_console(backend: Backend) {
    let Some(app) = fieldops_tests::TestApp::spawn(backend).await else {
        return;
    };
    let mut cs = Browser::signed_in_as(&app, "cs").await;
    assert_eq!(cs.get("/settings").await.status, 403);
    assert!(
        !cs.get("/").await.html.contains("href=\"/settings\""),
        "not in CS's menu"
    );

    let mut admin = Browser::signed_in_as(&app, "admin").await;
    let page = admin.get("/settings").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("SLA dan jam kerja") && page.html.contains("Asia/Jakarta"));
    // Round-robin for tickets off (its box left unticked), chats on.
    let saved = admin
        .post("/settings/assignment", &[("chats_round_robin", "on")])
        .await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    assert_eq!(saved.location(), "/settings?saved=1");
    assert!(
        admin
            .get("/settings?saved=1")
            .await
            .html
            .contains("Tersimpan")
    );
    let now = app.server.state.settings.get();
    assert!(
        !now.settings.assignment.tickets_round_robin && now.settings.assignment.chats_round_robin
    );

    // A working day that ends before it starts: refused, the form keeps
    // what was typed, nothing changes.
    let mut fields = vec![
        ("timezone", "Asia/Makassar"),
        ("day1", "on"),
        ("day6", "on"),
        ("day_start", "18:00"),
        ("day_end", "08:00"),
        ("holidays", "2026-12-25\n2027-01-01"),
    ];
    let targets = [
        ("urgent_response", "30"),
        ("urgent_resolution", "240"),
        ("high_response", "120"),
        ("high_resolution", "960"),
        ("normal_response", "480"),
        ("normal_resolution", "1440"),
        ("low_response", "1440"),
        ("low_resolution", "2400"),
    ];
    fields.extend(targets);
    let refused = admin.post("/settings/sla", &fields).await;
    assert_eq!(refused.status, 422, "{}", refused.html);
    assert!(
        refused.html.contains("day_end") && refused.html.contains("Asia/Makassar"),
        "{}",
        refused.html
    );
    assert_eq!(
        app.server.state.settings.get().settings.sla.timezone,
        "Asia/Jakarta"
    );
    fields[4] = ("day_end", "20:00");
    let saved = admin.post("/settings/sla", &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let sla = app.server.state.settings.get().settings.sla.clone();
    assert_eq!(
        (sla.timezone.as_str(), sla.working_days.as_slice()),
        ("Asia/Makassar", &[1, 6][..])
    );
    assert_eq!(sla.holidays, ["2026-12-25", "2027-01-01"]);
    assert_eq!(sla.targets.urgent.response_minutes, 30);
    app.stop().await;
}
