//! The storage conformance suite: the same storage tests on SQLite and Postgres.

use fieldops_server::db::{
    self, Db, customers, departments, idempotency, secrets, sessions, users,
};
use fieldops_server::domain::{CreatedVia, Role, Status};
use fieldops_tests::{Backend, TestDb, on_both_backends};

async fn fresh(backend: Backend) -> Option<(TestDb, Db)> {
    let test_db = TestDb::new(backend).await?;
    let db = test_db.connect().await;
    Some((test_db, db))
}

fn customer(name: &str, phone: &str) -> customers::CustomerFields {
    customers::CustomerFields {
        name: name.into(),
        phone: phone.into(),
        email: None,
        address: "Jl. Merdeka 1".into(),
        city: "Jakarta".into(),
        location: Some((-6.2, 106.8)),
    }
}

fn user(email: &str, role: Role) -> users::NewUser {
    users::NewUser {
        email: email.into(),
        name: format!("User {email}"),
        phone: None,
        role,
        password_hash: "x".into(),
        customer_id: None,
    }
}

on_both_backends!(
    migrations_are_idempotent,
    unique_violations_are_recognised,
    customers_round_trip_with_filters_and_escaped_search,
    keyset_pages_cover_everything_once,
    department_memberships_are_replaced,
    refresh_tokens_are_single_use,
    idempotency_keys_are_claimed_once,
    secrets_are_created_once_under_concurrency,
    concurrent_write_transactions_all_commit,
    failed_transactions_leave_nothing,
);

async fn migrations_are_idempotent(backend: Backend) {
    let Some((t, db)) = fresh(backend).await else {
        return;
    };
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();
    t.drop_schema().await;
}

async fn unique_violations_are_recognised(backend: Backend) {
    let Some((t, db)) = fresh(backend).await else {
        return;
    };
    let mut tx = db.begin_write().await.unwrap();
    users::insert(&mut tx, &user("a@example.com", Role::Cs))
        .await
        .unwrap();
    let err = users::insert(&mut tx, &user("a@example.com", Role::Cs))
        .await
        .unwrap_err();
    assert!(db::is_unique_violation(&err), "{err:?}");
    drop(tx);
    let mut tx = db.begin_write().await.unwrap();
    customers::insert(
        &mut tx,
        &customer("A", "+6281100000001"),
        CreatedVia::Manual,
        true,
    )
    .await
    .unwrap();
    let err = customers::insert(
        &mut tx,
        &customer("B", "+6281100000001"),
        CreatedVia::Manual,
        true,
    )
    .await
    .unwrap_err();
    assert!(db::is_unique_violation(&err), "{err:?}");
    t.drop_schema().await;
}

async fn customers_round_trip_with_filters_and_escaped_search(backend: Backend) {
    let Some((t, db)) = fresh(backend).await else {
        return;
    };
    let mut tx = db.begin_write().await.unwrap();
    let a = customers::insert(
        &mut tx,
        &customer("Toko 50% Diskon", "+6281100000001"),
        CreatedVia::Manual,
        true,
    )
    .await
    .unwrap();
    let b = customers::insert(
        &mut tx,
        &customer("Toko_Baru", "+6281100000002"),
        CreatedVia::Whatsapp,
        true,
    )
    .await
    .unwrap();
    customers::insert(
        &mut tx,
        &customer("Warung Bu Sri", "+6281100000003"),
        CreatedVia::App,
        true,
    )
    .await
    .unwrap();
    customers::set_status(&mut tx, &b.id, Status::Inactive)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let got = customers::get(db.pool(), &a.id).await.unwrap().unwrap();
    assert_eq!(
        (got.name.as_str(), got.lat, got.lon),
        ("Toko 50% Diskon", Some(-6.2), Some(106.8))
    );
    assert_eq!(got.created_via, CreatedVia::Manual);

    let search = |q: &str, status: Option<Status>| {
        let filter = customers::CustomerFilter {
            status,
            search: Some(q.to_owned()),
        };
        let db = db.clone();
        async move {
            customers::list(&db, &filter, None, 50)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("%", None).await, ["Toko 50% Diskon"], "% is literal");
    assert_eq!(search("_", None).await, ["Toko_Baru"], "_ is literal");
    assert_eq!(
        search("TOKO", Some(Status::Active)).await,
        ["Toko 50% Diskon"]
    );
    assert_eq!(search("toko", Some(Status::Inactive)).await, ["Toko_Baru"]);
    assert_eq!(
        search("00000003", None).await,
        ["Warung Bu Sri"],
        "by phone"
    );
    assert!(search("'; DROP TABLE customers; --", None).await.is_empty());
    let inactive = customers::get(db.pool(), &b.id).await.unwrap().unwrap();
    assert!(inactive.deactivated_at.is_some());
    t.drop_schema().await;
}

async fn keyset_pages_cover_everything_once(backend: Backend) {
    let Some((t, db)) = fresh(backend).await else {
        return;
    };
    let mut tx = db.begin_write().await.unwrap();
    for i in 0..25 {
        customers::insert(
            &mut tx,
            &customer(&format!("C{i}"), &format!("+62811000001{i:02}")),
            CreatedVia::Manual,
            true,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let rows = customers::list(&db, &Default::default(), after.as_deref(), 10)
            .await
            .unwrap();
        let more = rows.len() > 10;
        seen.extend(rows.iter().take(10).map(|r| r.id.clone()));
        if !more {
            break;
        }
        after = seen.last().cloned();
    }
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(sorted, seen, "newest first, no duplicates");
    t.drop_schema().await;
}

async fn department_memberships_are_replaced(backend: Backend) {
    let Some((t, db)) = fresh(backend).await else {
        return;
    };
    let mut tx = db.begin_write().await.unwrap();
    let d1 = departments::insert(&mut tx, "One", "").await.unwrap();
    let d2 = departments::insert(&mut tx, "Two", "").await.unwrap();
    let u = users::insert(&mut tx, &user("t@example.com", Role::Technician))
        .await
        .unwrap();
    users::set_departments(&mut tx, &u.id, &[d1.clone(), d2.clone()])
        .await
        .unwrap();
    users::set_departments(&mut tx, &u.id, std::slice::from_ref(&d2))
        .await
        .unwrap();
    assert_eq!(
        departments::unknown_ids(&mut tx, &[d1.clone(), "nope".into()])
            .await
            .unwrap(),
        ["nope"]
    );
    tx.commit().await.unwrap();
    assert_eq!(
        users::department_ids(db.pool(), &u.id).await.unwrap(),
        std::slice::from_ref(&d2)
    );
    let filter = users::UserFilter {
        department_id: Some(d2.clone()),
        ..Default::default()
    };
    assert_eq!(users::list(&db, &filter, None, 10).await.unwrap().len(), 1);
    let filter = users::UserFilter {
        department_id: Some(d1),
        ..Default::default()
    };
    assert!(
        users::list(&db, &filter, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let dept = departments::get(db.pool(), &d2).await.unwrap().unwrap();
    assert_eq!(dept.member_count, 1);
    t.drop_schema().await;
}

async fn refresh_tokens_are_single_use(backend: Backend) {
    let Some((t, db)) = fresh(backend).await else {
        return;
    };
    let mut tx = db.begin_write().await.unwrap();
    let u = users::insert(&mut tx, &user("r@example.com", Role::Cs))
        .await
        .unwrap();
    let s = sessions::create(&mut tx, &u.id, "phone").await.unwrap();
    sessions::add_refresh_token(&mut tx, &s, "hash-1", i64::MAX)
        .await
        .unwrap();
    assert!(sessions::use_refresh(&mut tx, "hash-1").await.unwrap());
    assert!(!sessions::use_refresh(&mut tx, "hash-1").await.unwrap());
    let row = sessions::find_refresh(&mut tx, "hash-1")
        .await
        .unwrap()
        .unwrap();
    assert!(row.used_at.is_some());
    tx.commit().await.unwrap();
    let caller = users::caller(db.pool(), &u.id, &s).await.unwrap().unwrap();
    assert!(caller.session_live);
    assert_eq!(caller.role, Role::Cs);
    sessions::revoke(db.pool(), &s, "test").await.unwrap();
    let caller = users::caller(db.pool(), &u.id, &s).await.unwrap().unwrap();
    assert!(!caller.session_live, "a revoked session is not live");
    assert!(
        users::caller(db.pool(), "nobody", &s)
            .await
            .unwrap()
            .is_none(),
        "an unknown user"
    );
    t.drop_schema().await;
}

async fn idempotency_keys_are_claimed_once(backend: Backend) {
    use idempotency::Lease;
    let Some((t, db)) = fresh(backend).await else {
        return;
    };
    let later = fieldops_server::db::now_ms() + 60_000;
    let lease = |scope: &'static str, token: &'static str, until: i64| {
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await.unwrap();
            let lease = idempotency::lease(&mut tx, scope, "k", "h", token, until)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            lease
        }
    };
    assert!(matches!(lease("user:1", "a", later).await, Lease::Taken));
    match lease("user:1", "b", later).await {
        Lease::Held(held) => assert!(held.status.is_none() && held.lease_until == Some(later)),
        Lease::Taken => panic!("a held key was leased twice"),
    }
    assert!(
        matches!(lease("user:2", "c", later).await, Lease::Taken),
        "scoped per caller"
    );
    // Only the holder's token stores the response, inside a transaction.
    let store = |token: &'static str| {
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await.unwrap();
            let stored = idempotency::store(
                &mut tx,
                "user:1",
                "k",
                token,
                201,
                Some("application/json"),
                b"{\"id\":1}",
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            stored
        }
    };
    assert!(!store("b").await, "not the holder");
    assert!(store("a").await);
    match lease("user:1", "d", later).await {
        Lease::Held(held) => {
            assert_eq!(held.status, Some(201));
            assert_eq!(held.body.as_deref(), Some(&b"{\"id\":1}"[..]));
        }
        Lease::Taken => panic!("a key with a response was leased again"),
    }
    // A lease that ran out without a response passes to the next request.
    assert!(matches!(lease("user:3", "e", 0).await, Lease::Taken));
    assert!(matches!(lease("user:3", "f", later).await, Lease::Taken));
    let mut tx = db.begin_write().await.unwrap();
    assert_eq!(idempotency::expire(&mut tx, -1000).await.unwrap(), 3);
    tx.commit().await.unwrap();
    t.drop_schema().await;
}

async fn secrets_are_created_once_under_concurrency(backend: Backend) {
    let Some((t, db)) = fresh(backend).await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            secrets::get_or_create(&db, "k", || format!("value-{i}"))
                .await
                .unwrap()
        }));
    }
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.unwrap());
    }
    values.dedup();
    assert_eq!(values.len(), 1, "{values:?}");
    t.drop_schema().await;
}

async fn concurrent_write_transactions_all_commit(backend: Backend) {
    let Some((t, db)) = fresh(backend).await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..24 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin_write().await?;
            // Read, then write: the pattern that fails with SQLITE_BUSY in a deferred transaction.
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM departments")
                .fetch_one(&mut *tx)
                .await?;
            departments::insert(&mut tx, &format!("D{i}"), &format!("after {n}")).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(departments::list(&db).await.unwrap().len(), 24);
    t.drop_schema().await;
}

async fn failed_transactions_leave_nothing(backend: Backend) {
    let Some((t, db)) = fresh(backend).await else {
        return;
    };
    let mut tx = db.begin_write().await.unwrap();
    customers::insert(
        &mut tx,
        &customer("Kept", "+6281100000009"),
        CreatedVia::Manual,
        true,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin_write().await.unwrap();
    customers::insert(
        &mut tx,
        &customer("Lost", "+6281100000010"),
        CreatedVia::Manual,
        true,
    )
    .await
    .unwrap();
    let err = customers::insert(
        &mut tx,
        &customer("Dup", "+6281100000009"),
        CreatedVia::Manual,
        true,
    )
    .await;
    assert!(err.is_err());
    drop(tx); // rolled back
    let all = customers::list(&db, &Default::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["Kept"]
    );
    t.drop_schema().await;
}

mod located_after_unlocated {
    use super::*;

    /// A customer without a location, then one with, on one connection: the
    /// second must not be refused by a statement prepared for the first.
    async fn case(backend: Backend) {
        let Some(t) = TestDb::new(backend).await else {
            return;
        };
        let db = t.connect().await;
        for round in 0..3 {
            let mut tx = db.begin_write().await.unwrap();
            let mut without = customer(&format!("A{round}"), &format!("+628110000091{round}"));
            without.location = None;
            customers::insert(&mut tx, &without, CreatedVia::Manual, true)
                .await
                .unwrap();
            let with = customer(&format!("B{round}"), &format!("+628110000092{round}"));
            let row = customers::insert(&mut tx, &with, CreatedVia::Manual, true)
                .await
                .unwrap();
            assert_eq!((row.lat, row.lon), (Some(-6.2), Some(106.8)));
            let unlocated = customers::CustomerFields {
                location: None,
                ..with.clone()
            };
            let moved = customers::update(&mut tx, &row.id, &unlocated)
                .await
                .unwrap();
            assert_eq!((moved.lat, moved.lon), (None, None));
            tx.commit().await.unwrap();
        }
        t.drop_schema().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        case(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        case(Backend::Postgres).await
    }
}
