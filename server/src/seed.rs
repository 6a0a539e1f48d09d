//! Demo data: departments, one account per role, a handful of customers
//! around Indonesia and a few open visits at their sites. Running it again
//! changes nothing.

use crate::AppState;
use crate::auth::password;
use crate::db::visits::VisitStatus;
use crate::db::{audit, customers, departments, users, visits};
use crate::domain::{CreatedVia, Role};
use crate::work::{Effects, Work};
use fieldops_sync::billing::LineKind;

/// The demo accounts: (email, password, name, role, department).
pub const DEMO_ACCOUNTS: &[(&str, &str, &str, Role, Option<&str>)] = &[
    (
        "admin@example.com",
        "admin123",
        "Admin Utama",
        Role::Admin,
        None,
    ),
    (
        "cs@example.com",
        "cs123",
        "Siti Rahmawati",
        Role::Cs,
        Some(CUSTOMER_SERVICE),
    ),
    (
        "sales@example.com",
        "sales123",
        "Agus Wijaya",
        Role::Sales,
        Some(SALES),
    ),
    (
        "tech1@example.com",
        "tech123",
        "Budi Hartono",
        Role::Technician,
        Some(FIELD_SERVICE),
    ),
    (
        "tech2@example.com",
        "tech123",
        "Dewi Lestari",
        Role::Technician,
        Some(FIELD_SERVICE),
    ),
    (
        "tech3@example.com",
        "tech123",
        "Eko Prasetyo",
        Role::Technician,
        Some(FIELD_SERVICE),
    ),
    (
        "tech4@example.com",
        "tech123",
        "Fajar Nugroho",
        Role::Technician,
        Some(FIELD_SERVICE),
    ),
    (
        "tech5@example.com",
        "tech123",
        "Gita Permata",
        Role::Technician,
        Some(FIELD_SERVICE),
    ),
    (
        "customer@example.com",
        "customer123",
        "Hendra Gunawan",
        Role::Customer,
        None,
    ),
];

const CUSTOMER_SERVICE: &str = "Customer Service";
const FIELD_SERVICE: &str = "Field Service";
const SALES: &str = "Sales";

const DEPARTMENTS: &[(&str, &str)] = &[
    (
        CUSTOMER_SERVICE,
        "Triage tickets, chat with customers, schedule visits",
    ),
    (FIELD_SERVICE, "Technicians on site"),
    (SALES, "Prices and invoice approval"),
];

/// (name, phone, address, city, lat, lon). The first belongs to customer@example.com.
const CUSTOMERS: &[(&str, &str, &str, &str, f64, f64)] = &[
    (
        "Hendra Gunawan",
        "+6281210000001",
        "Jl. Jend. Sudirman Kav. 52-53, Senayan",
        "Jakarta Selatan",
        -6.2251,
        106.8097,
    ),
    (
        "PT Sinar Jaya Abadi",
        "+6281210000002",
        "Jl. Asia Afrika No. 8, Braga",
        "Bandung",
        -6.9218,
        107.6071,
    ),
    (
        "Toko Makmur Sentosa",
        "+6281210000003",
        "Jl. Tunjungan No. 21, Genteng",
        "Surabaya",
        -7.2613,
        112.7395,
    ),
    (
        "CV Karya Mandiri",
        "+6281210000004",
        "Jl. Malioboro No. 56, Sosromenduran",
        "Yogyakarta",
        -7.7926,
        110.3658,
    ),
    (
        "Klinik Sehat Sejahtera",
        "+6281210000005",
        "Jl. Pandanaran No. 102, Pekunden",
        "Semarang",
        -6.9856,
        110.4160,
    ),
    (
        "Hotel Bali Permai",
        "+6281210000006",
        "Jl. Raya Kuta No. 88, Kuta",
        "Badung",
        -8.7202,
        115.1750,
    ),
];

/// What a seeding run created.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub departments: usize,
    pub users: usize,
    pub customers: usize,
    pub visits: usize,
    pub invoices: usize,
}

/// (customer phone, title, description, days from today, planned days, quota).
const VISITS: &[(&str, &str, &str, i64, i64, i64)] = &[
    (
        "+6281210000001",
        "Servis AC kantor lantai 12",
        "Tiga unit AC split tidak dingin; cuci dan isi freon.",
        1,
        1,
        2,
    ),
    (
        "+6281210000002",
        "Instalasi jaringan LAN gudang",
        "Tarik kabel Cat6 ke 24 titik dan pasang rak server.",
        2,
        3,
        3,
    ),
    (
        "+6281210000003",
        "Perbaikan mesin kasir",
        "Printer struk macet dan laci kasir tidak terbuka.",
        1,
        1,
        1,
    ),
    (
        "+6281210000005",
        "Kalibrasi genset klinik",
        "Genset 50 kVA: uji beban dan kalibrasi AVR.",
        3,
        2,
        2,
    ),
];

/// Creates whatever of the demo data is missing.
pub async fn demo(state: &AppState) -> anyhow::Result<SeedReport> {
    let db = &state.db;
    let mut report = SeedReport::default();
    for (name, description) in DEPARTMENTS {
        if departments::by_name(db, name).await?.is_none() {
            let mut work = Work::begin(state).await?;
            departments::insert(work.tx(), name, description).await?;
            work.commit(Effects::none()).await?;
            report.departments += 1;
        }
    }
    let mut first_customer = None;
    for (i, (name, phone, address, city, lat, lon)) in CUSTOMERS.iter().enumerate() {
        let mut work = Work::begin(state).await?;
        let row = match customers::by_phone(&mut **work.tx(), phone).await? {
            Some(row) => row,
            None => {
                report.customers += 1;
                let fields = customers::CustomerFields {
                    name: (*name).to_owned(),
                    phone: (*phone).to_owned(),
                    email: None,
                    address: (*address).to_owned(),
                    city: (*city).to_owned(),
                    location: Some((*lat, *lon)),
                };
                customers::insert(work.tx(), &fields, CreatedVia::Manual, true).await?
            }
        };
        work.commit(Effects::none()).await?;
        if i == 0 {
            first_customer = Some(row);
        }
    }
    for (email, pass, name, role, department) in DEMO_ACCOUNTS {
        if users::by_email(db.pool(), email).await?.is_some() {
            continue;
        }
        let customer = first_customer.as_ref().filter(|_| *role == Role::Customer);
        let new = users::NewUser {
            email: (*email).to_owned(),
            name: (*name).to_owned(),
            phone: customer.map(|c| c.phone.clone()),
            role: *role,
            password_hash: password::hash((*pass).to_owned()).await?,
            customer_id: customer.map(|c| c.id.clone()),
        };
        let department_ids = match department {
            Some(d) => departments::by_name(db, d)
                .await?
                .map(|d| vec![d.id])
                .unwrap_or_default(),
            None => vec![],
        };
        let mut work = Work::begin(state).await?;
        let row = users::insert(work.tx(), &new).await?;
        users::set_departments(work.tx(), &row.id, &department_ids).await?;
        work.commit(Effects::none()).await?;
        report.users += 1;
    }
    report.visits = demo_visits(state).await?;
    report.invoices = demo_invoices(state).await?;
    Ok(report)
}

/// (customer phone, visit title, days ago, lines (kind, description,
/// quantity, unit price), submitted to sales).
type DemoInvoice = (
    &'static str,
    &'static str,
    i64,
    &'static [(LineKind, &'static str, &'static str, i64)],
    bool,
);

/// Visits finished in the last days, invoiced by CS: one waits for sales'
/// approval, one is still a draft, and one is not invoiced yet.
const INVOICES: &[DemoInvoice] = &[
    (
        "+6281210000001",
        "Perbaikan panel listrik lobi",
        1,
        &[
            (LineKind::Labour, "Perbaikan panel listrik", "2.5", 150_000),
            (LineKind::Material, "MCB 3 fasa 32A", "1", 350_000),
            (LineKind::Travel, "Transport teknisi", "1", 75_000),
        ],
        true,
    ),
    (
        "+6281210000002",
        "Penggantian UPS ruang server",
        2,
        &[
            (LineKind::Labour, "Pemasangan UPS", "4", 125_000),
            (LineKind::Material, "UPS 3 kVA online", "1", 9_800_000),
        ],
        false,
    ),
    ("+6281210000003", "Pemeriksaan genset", 1, &[], false),
];

/// Done visits and their invoices (see [`INVOICES`]), made once.
async fn demo_invoices(state: &AppState) -> anyhow::Result<usize> {
    let db = &state.db;
    let (Some(admin), Some(cs)) = (
        users::by_email(db.pool(), DEMO_ACCOUNTS[0].0).await?,
        users::by_email(db.pool(), "cs@example.com").await?,
    ) else {
        return Ok(0);
    };
    let cs = crate::auth::Actor {
        user_id: cs.id,
        session_id: "seed".to_owned(),
        role: Role::Cs,
        name: cs.name,
        customer_id: None,
        department_ids: vec![],
    };
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date();
    let mut created = 0;
    for (phone, title, days_ago, lines, submit) in INVOICES {
        let mut work = Work::begin(state).await?;
        let tx = work.tx();
        let Some(customer) = customers::by_phone(&mut **tx, phone).await? else {
            continue;
        };
        if visits::find_by_title(&mut **tx, &customer.id, title)
            .await?
            .is_some()
        {
            continue;
        }
        let date = today.checked_sub(jiff::Span::new().days(*days_ago))?;
        let scheduled_start = date.to_string();
        let fields = visits::VisitFields {
            customer_id: customer.id.clone(),
            ticket_id: None,
            department_id: None,
            title: (*title).to_owned(),
            description: "Kunjungan contoh yang sudah selesai.".to_owned(),
            site_address: format!("{}, {}", customer.address, customer.city),
            site_lat: customer.lat.unwrap_or_default(),
            site_lon: customer.lon.unwrap_or_default(),
            start_day: crate::visits::parse_day(&scheduled_start).map_err(anyhow::Error::msg)?,
            scheduled_start,
            planned_days: 1,
            technician_quota: 1,
        };
        let visit = visits::insert(tx, &fields, &admin.id).await?;
        let statuses = [VisitStatus::Open];
        visits::transition(tx, &visit, &statuses, VisitStatus::InProgress).await?;
        visits::transition(tx, &visit, &[VisitStatus::InProgress], VisitStatus::Done).await?;
        visits::set_summary(tx, &visit, Some("Selesai dan diuji.")).await?;
        let mut notices = Vec::new();
        if !lines.is_empty() {
            let draft = crate::invoices::Draft {
                visit_ids: vec![visit.clone()],
                lines: lines
                    .iter()
                    .map(
                        |(kind, description, quantity, price)| crate::invoices::LineInput {
                            kind: *kind,
                            description: (*description).to_owned(),
                            quantity: (*quantity).to_owned(),
                            unit_price: *price,
                        },
                    )
                    .collect(),
                ..Default::default()
            };
            let drafted = crate::invoices::draft(tx, state, &cs, draft).await?;
            notices.extend(drafted.notices);
            if *submit {
                let submitted = crate::invoices::submit(tx, state, &cs, &drafted.value.id).await?;
                notices.extend(submitted.notices);
            }
            created += 1;
        }
        work.commit(Effects::told(notices).with_visits([visit]))
            .await?;
    }
    Ok(created)
}

/// Open visits at the demo customers' sites, from tomorrow on.
async fn demo_visits(state: &AppState) -> anyhow::Result<usize> {
    let db = &state.db;
    let Some(admin) = users::by_email(db.pool(), DEMO_ACCOUNTS[0].0).await? else {
        return Ok(0);
    };
    let field_service = departments::by_name(db, FIELD_SERVICE).await?.map(|d| d.id);
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date();
    let mut created = 0;
    for (phone, title, description, in_days, planned_days, quota) in VISITS {
        let mut work = Work::begin(state).await?;
        let tx = work.tx();
        let Some(customer) = customers::by_phone(&mut **tx, phone).await? else {
            continue;
        };
        if visits::find_by_title(&mut **tx, &customer.id, title)
            .await?
            .is_some()
        {
            continue;
        }
        let date = today.checked_add(jiff::Span::new().days(*in_days))?;
        let scheduled_start = date.to_string();
        let fields = visits::VisitFields {
            customer_id: customer.id.clone(),
            ticket_id: None,
            department_id: field_service.clone(),
            title: (*title).to_owned(),
            description: (*description).to_owned(),
            site_address: format!("{}, {}", customer.address, customer.city),
            site_lat: customer.lat.unwrap_or_default(),
            site_lon: customer.lon.unwrap_or_default(),
            start_day: crate::visits::parse_day(&scheduled_start).map_err(anyhow::Error::msg)?,
            scheduled_start,
            planned_days: *planned_days,
            technician_quota: *quota,
        };
        let id = visits::insert(tx, &fields, &admin.id).await?;
        audit::record(
            tx,
            Some(&admin.id),
            "visit.created",
            "visit",
            &id,
            serde_json::json!({ "seed": true }),
        )
        .await?;
        // Its sync document, so phones see it in the pool.
        work.commit(Effects::none().with_visits([id])).await?;
        created += 1;
    }
    Ok(created)
}

/// The demo's published "Keluhan Layanan" journey (Indonesian and English),
/// its device branch (up to five photos) routed to Field Service
/// (`serve --demo` and `seed --demo` only). Made once.
pub async fn demo_journeys(state: &AppState) -> anyhow::Result<usize> {
    let pool = state.db.pool();
    let Some(admin) = users::by_email(pool, DEMO_ACCOUNTS[0].0).await? else {
        return Ok(0);
    };
    let mut definition = fieldops_sync::testing::sample_journey();
    let title = definition.title.id.clone();
    if crate::db::journeys::list(pool)
        .await?
        .iter()
        .any(|j| j.title_id == title)
    {
        return Ok(0);
    }
    let field = departments::by_name(&state.db, FIELD_SERVICE)
        .await?
        .map(|d| d.id);
    for node in &mut definition.nodes {
        if let fieldops_sync::journey::Node::End(end) = node
            && end.outcome.category == "technical"
        {
            end.outcome.department_id.clone_from(&field);
        }
    }
    let admin = crate::auth::Actor {
        user_id: admin.id,
        session_id: "seed".to_owned(),
        role: Role::Admin,
        name: admin.name,
        customer_id: None,
        department_ids: vec![],
    };
    let mut work = Work::begin(state).await?;
    let draft = crate::journeys::create(work.tx(), &admin, &definition)
        .await
        .map_err(|e| anyhow::anyhow!("demo journey: {e}"))?;
    let published = crate::journeys::publish(work.tx(), state, &admin, &draft.value.journey_id)
        .await
        .map_err(|e| anyhow::anyhow!("demo journey: {e}"))?;
    work.commit(Effects::none().with_changed(published.value.synced))
        .await?;
    Ok(1)
}

/// Technicians' eight weeks of finished visits and their customers'
/// ratings, so the KPI page has a history to show (`serve --demo` and
/// `seed --demo` only: tests start from the demo without it). Made once,
/// recognisably: every title starts with [`HISTORY_PREFIX`].
pub async fn demo_history(state: &AppState) -> anyhow::Result<usize> {
    let db = &state.db;
    let pool = db.pool();
    let (Some(admin), Some(cs)) = (
        users::by_email(pool, DEMO_ACCOUNTS[0].0).await?,
        users::by_email(pool, "cs@example.com").await?,
    ) else {
        return Ok(0);
    };
    let mut technicians = Vec::new();
    for email in [
        "tech1@example.com",
        "tech2@example.com",
        "tech3@example.com",
    ] {
        if let Some(t) = users::by_email(pool, email).await? {
            technicians.push(t.id);
        }
    }
    let field = departments::by_name(db, FIELD_SERVICE).await?.map(|d| d.id);
    let offset = state.config.attendance.utc_offset_minutes;
    let today = crate::kpi::formulas::day_of(crate::db::now_ms(), offset);
    // Budi rates high, Dewi mixed, Eko has only three ratings (greyed).
    let scores: [&[i64]; 3] = [
        &[5, 5, 4, 5, 4, 5, 5, 4, 3, 5],
        &[4, 3, 5, 2, 4, 4, 3, 5],
        &[5, 4, 5],
    ];
    let mut made = 0;
    for (t, technician) in technicians.iter().enumerate() {
        for (i, score) in scores[t % scores.len()].iter().enumerate() {
            let title = format!("{HISTORY_PREFIX} {} #{}", t + 1, i + 1);
            let mut work = Work::begin(state).await?;
            let tx = work.tx();
            let Some(customer) =
                customers::by_phone(&mut **tx, CUSTOMERS[i % CUSTOMERS.len()].1).await?
            else {
                continue;
            };
            if visits::find_by_title(&mut **tx, &customer.id, &title)
                .await?
                .is_some()
            {
                continue;
            }
            // Spread over the last eight weeks, the newest two days ago.
            let i_days = i64::try_from(i).unwrap_or(0);
            let day = today - 2 - (i_days * 5 + i64::try_from(t).unwrap_or(0) * 2) % 56;
            let date = crate::kpi::formulas::date_of(day).to_string();
            let fields = visits::VisitFields {
                customer_id: customer.id.clone(),
                ticket_id: None,
                department_id: field.clone(),
                title,
                description: "Kunjungan contoh dari riwayat.".to_owned(),
                site_address: format!("{}, {}", customer.address, customer.city),
                site_lat: customer.lat.unwrap_or_default(),
                site_lon: customer.lon.unwrap_or_default(),
                start_day: day,
                scheduled_start: date,
                planned_days: 1,
                technician_quota: 1,
            };
            let visit = visits::insert(tx, &fields, &admin.id).await?;
            let assignment = crate::db::assignments::insert(tx, &visit, technician).await?;
            visits::transition(tx, &visit, &[VisitStatus::Open], VisitStatus::InProgress).await?;
            visits::transition(tx, &visit, &[VisitStatus::InProgress], VisitStatus::Done).await?;
            // Done at 15.00 on the day; asked to rate then, rated that evening.
            let done_at = crate::kpi::formulas::day_start(day, offset) + 15 * 3_600_000;
            let request = crate::db::ratings::insert_request(
                tx,
                &visit,
                &customer.id,
                &hex::encode(rand::random::<[u8; 32]>()),
                Some(&cs.id),
                std::slice::from_ref(technician),
                done_at + i64::try_from(state.config.rating_link_ttl.as_millis()).unwrap_or(0),
            )
            .await?;
            crate::db::kpi::backdate_done_visit(tx, &visit, done_at).await?;
            // On site at 08.10 — or 09.05, late, every fifth visit.
            let start = crate::kpi::formulas::day_start(day, offset);
            let minute = if i % 5 == 4 { 9 * 60 + 5 } else { 8 * 60 + 10 };
            let arrived = start + minute * 60_000;
            let (lat, lon) = (
                customer.lat.unwrap_or_default(),
                customer.lon.unwrap_or_default(),
            );
            for (direction, at) in [("in", arrived), ("out", done_at)] {
                crate::db::attendance::insert(
                    tx,
                    &crate::db::attendance::NewAttendance {
                        visit_id: &visit,
                        assignment_id: &assignment,
                        technician_id: technician,
                        direction,
                        device_time: at,
                        received_at: at,
                        lat,
                        lon,
                        accuracy_m: 8.0,
                        distance_m: 12.0,
                        within_geofence: true,
                        fence_radius_m: 200.0,
                        clock_skew_ms: None,
                    },
                )
                .await?;
            }
            // Every fourth customer never answered (the response rate).
            if let Some(request) = request.filter(|_| i % 4 != 3) {
                let comment = COMMENTS[i % COMMENTS.len()];
                crate::db::ratings::insert_rating(tx, &request, *score, comment, "link").await?;
                crate::db::kpi::backdate_rating(tx, &visit, done_at + 5 * 3_600_000).await?;
            }
            work.commit(Effects::none()).await?;
            made += 1;
        }
    }
    if made > 0 {
        // The history lands in days the KPI rollup may already hold: let
        // it count them again from the start.
        let mut work = Work::begin(state).await?;
        crate::db::kpi::restart(work.tx()).await?;
        work.commit(Effects::none()).await?;
    }
    Ok(made)
}

const COMMENTS: &[&str] = &[
    "Teknisi ramah dan cepat.",
    "",
    "Rapi, terima kasih.",
    "Datang agak terlambat.",
    "",
];

/// How the history's visits are named.
pub const HISTORY_PREFIX: &str = "Riwayat: servis berkala";
