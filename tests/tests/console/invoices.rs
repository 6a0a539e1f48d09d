//! The invoice pages as CS and sales use them (seed 003, FIN): a done
//! visit is drafted with the line editor, a bad price is refused next to
//! its line with what was typed kept, sales find it in their queue, return
//! it with a comment, approve it, and CS send it and record the payment.

use fieldops_tests::console::Browser;
use fieldops_tests::fixtures::local_date;
use fieldops_tests::{Backend, TestApp, on_both_backends};

on_both_backends!(cs_draft_and_sales_approve_an_invoice_in_the_console);

/// The invoice id in a `/invoices/{id}` redirect.
fn invoice_of(location: &str) -> String {
    location.trim_start_matches("/invoices/").to_owned()
}

async fn cs_draft_and_sales_approve_an_invoice_in_the_console(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let mut sales = Browser::signed_in_as(&app, "sales").await;
    let mut tech = Browser::signed_in_as(&app, "technician").await;
    assert_eq!(tech.get("/invoices").await.status, 403);
    assert!(!tech.get("/").await.html.contains("href=\"/invoices\""));

    // The demo's done visit that nobody invoiced yet waits on the list.
    let list = cs.get("/invoices").await;
    assert_eq!(list.status, 200);
    assert!(
        list.html.contains("Kunjungan selesai yang belum ditagih"),
        "{}",
        list.html
    );
    let start = list
        .html
        .find("Pemeriksaan genset")
        .expect("the waiting visit");
    let link = &list.html[start..];
    let href = link.find("/invoices/new?visit=").unwrap();
    let visit = &link[href + "/invoices/new?visit=".len()..][..36];
    assert_eq!(
        sales
            .get(&format!("/invoices/new?visit={visit}"))
            .await
            .status,
        403
    );
    let form = cs.get(&format!("/invoices/new?visit={visit}")).await;
    assert_eq!(form.status, 200);
    assert!(form.html.contains("name=\"lines[0].unit_price\""));

    // A price that is not rupiah: refused next to its line, the rest kept.
    let mut line = vec![
        ("visit_id", visit),
        ("lines[0].kind", "labour"),
        ("lines[0].description", "Cek dan servis genset"),
        ("lines[0].quantity", "2"),
        ("lines[0].unit_price", "Rp200.000"),
        ("lines[1].kind", "material"),
        ("lines[1].description", "Filter oli"),
        ("lines[1].quantity", "1"),
        ("lines[1].unit_price", "seratus ribu"),
    ];
    let refused = cs.post("/invoices", &line).await;
    assert_eq!(refused.status, 422, "{}", refused.html);
    assert!(
        refused.html.contains("harus rupiah bulat"),
        "{}",
        refused.html
    );
    assert!(refused.html.contains("value=\"Cek dan servis genset\""));
    assert!(refused.html.contains("value=\"seratus ribu\""));
    line[8] = ("lines[1].unit_price", "100000");
    let drafted = cs.post("/invoices", &line).await;
    assert_eq!(drafted.status, 303, "{}", drafted.html);
    let id = invoice_of(drafted.location());
    let path = format!("/invoices/{id}");
    // 2 × 200.000 + 100.000 = 500.000; PPN 11 % = 55.000.
    let page = cs.get(&path).await;
    assert!(page.html.contains("Rp500.000"), "{}", page.html);
    assert!(page.html.contains("Rp55.000"));
    assert!(page.html.contains("Rp555.000"));
    assert_eq!(cs.post(&format!("{path}/submit"), &[]).await.status, 303);

    // Sales: the dashboard counts what waits for them; the list opens on it.
    let home = sales.get("/").await;
    assert!(
        home.html.contains("Menunggu persetujuan Anda"),
        "{}",
        home.html
    );
    let queue = sales.get("/invoices").await;
    assert!(
        queue.html.contains(&format!("href=\"/invoices/{id}\"")),
        "{}",
        queue.html
    );
    assert!(!queue.html.contains("Kunjungan selesai yang belum ditagih"));
    let back = sales
        .post(
            &format!("{path}/return"),
            &[("reason", "Filter oli pakai harga katalog")],
        )
        .await;
    assert_eq!(back.status, 303, "{}", back.html);
    let page = cs.get(&path).await;
    assert!(page.html.contains("Filter oli pakai harga katalog"));
    assert!(
        page.html.contains("Simpan draft"),
        "the draft is editable again"
    );
    let edited = cs
        .post(
            &format!("{path}/lines"),
            &[
                ("lines[0].kind", "labour"),
                ("lines[0].description", "Cek dan servis genset"),
                ("lines[0].quantity", "2"),
                ("lines[0].unit_price", "200000"),
                ("lines[1].kind", "material"),
                ("lines[1].description", "Filter oli"),
                ("lines[1].quantity", "1"),
                ("lines[1].unit_price", "85000"),
            ],
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.html);
    cs.post(&format!("{path}/submit"), &[]).await;
    // An admin approves too: among everything, what waits for them leads
    // the list, marked.
    let mut admin = Browser::signed_in_as(&app, "admin").await;
    let all = admin.get("/invoices").await;
    // Each row, in order: is it this invoice, is it marked as waiting.
    let rows: Vec<(bool, bool)> = all
        .html
        .split("<tr id=\"invoice-")
        .skip(1)
        .map(|row| {
            let opening = row.split('>').next().unwrap_or_default();
            (row.starts_with(&id), opening.contains("yours"))
        })
        .collect();
    assert!(rows.contains(&(true, true)), "{}", all.html);
    assert!(
        rows.windows(2).all(|w| w[0].1 || !w[1].1),
        "what waits comes first: {rows:?}"
    );
    assert!(all.html.contains("menunggu Anda"));
    assert_eq!(
        sales.post(&format!("{path}/approve"), &[]).await.status,
        303
    );
    let year = &local_date(0)[..4];
    let page = cs.get(&path).await;
    assert!(
        page.html.contains(&format!("INV/{year}/000001")),
        "{}",
        page.html
    );
    assert!(!page.html.contains("Simpan draft"), "locked once approved");

    // Sent, paid by transfer, verified: paid. 485.000 + 53.350 PPN.
    assert_eq!(cs.post(&format!("{path}/send"), &[]).await.status, 303);
    let recorded = cs
        .post(
            &format!("{path}/payment"),
            &[("amount", "Rp538.350"), ("reference", "BCA 0912")],
        )
        .await;
    assert_eq!(recorded.status, 303, "{}", recorded.html);
    let page = cs.get(&path).await;
    let at = page.html.find("name=\"payment_id\" value=\"").unwrap();
    let payment = &page.html[at + "name=\"payment_id\" value=\"".len()..][..36];
    let verified = cs
        .post(
            &format!("{path}/check"),
            &[("payment_id", payment), ("verdict", "verify")],
        )
        .await;
    assert_eq!(verified.status, 303, "{}", verified.html);
    let page = cs.get(&path).await;
    assert!(page.html.contains("data-status=\"paid\""), "{}", page.html);
    // Sales may not record money.
    let refused = sales
        .post(
            &format!("{path}/payment"),
            &[("amount", "1"), ("reference", "x")],
        )
        .await;
    assert_eq!(refused.status, 403);
    app.stop().await;
}
