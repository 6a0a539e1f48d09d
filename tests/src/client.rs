//! A typed client for the HTTP API: the calls the tests make most, each
//! answering with the server's own view types, or with the problem the
//! server refused with. Tests that check the raw JSON (shapes, statuses,
//! headers) keep using [`TestApp::get`](crate::TestApp::get) and friends.

use fieldops_server::domain::Site;
use fieldops_server::error::Problem;
use fieldops_server::http::visit_views::{AttendanceView, ClaimView, VisitView};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{Reply, TestApp};

/// The server said no: the status and its problem+json body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub problem: Problem,
}

impl Refused {
    /// The problem's slug (`quota_full`, `validation`, ...).
    pub fn slug(&self) -> &str {
        self.problem
            .kind
            .strip_prefix("urn:fieldops:problem:")
            .unwrap_or(&self.problem.kind)
    }
}

/// An answer of the typed client.
pub type Answer<T> = Result<T, Refused>;

/// A visit to create: [`NewVisit::new`] fills a site in Jakarta, one day
/// and one technician; change what the test is about.
#[derive(Debug, Clone)]
pub struct NewVisit {
    pub customer_id: String,
    pub title: String,
    pub description: String,
    pub site: Site,
    pub scheduled_start: String,
    pub planned_days: i64,
    pub technician_quota: i64,
}

impl NewVisit {
    pub fn new(customer_id: &str, title: &str, scheduled_start: &str) -> Self {
        Self {
            customer_id: customer_id.to_owned(),
            title: title.to_owned(),
            description: "Periksa panel listrik".to_owned(),
            site: Site {
                address: "Jl. Jend. Sudirman Kav. 52-53".to_owned(),
                lat: -6.2251,
                lon: 106.8097,
            },
            scheduled_start: scheduled_start.to_owned(),
            planned_days: 1,
            technician_quota: 1,
        }
    }

    pub fn days(mut self, days: i64) -> Self {
        self.planned_days = days;
        self
    }

    pub fn quota(mut self, quota: i64) -> Self {
        self.technician_quota = quota;
        self
    }
}

/// A position report for check-in and check-out, taken now.
#[derive(Debug, Clone, Copy)]
pub struct At {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
}

/// The API as one signed-in account sees it.
#[derive(Debug, Clone, Copy)]
pub struct Api<'a> {
    app: &'a TestApp,
    token: &'a str,
}

impl TestApp {
    /// The typed client for the account holding `token`.
    pub fn api<'a>(&'a self, token: &'a str) -> Api<'a> {
        Api { app: self, token }
    }
}

fn answer<T: DeserializeOwned>(reply: Reply, expected: u16) -> Answer<T> {
    if reply.status == expected {
        Ok(serde_json::from_value(reply.body.clone())
            .unwrap_or_else(|e| panic!("the answer is not the view type: {e}: {:?}", reply.body)))
    } else {
        let problem = serde_json::from_value(reply.body.clone()).unwrap_or_else(|e| {
            panic!(
                "a {} without a problem body: {e}: {:?}",
                reply.status, reply.body
            )
        });
        Err(Refused {
            status: reply.status.as_u16(),
            problem,
        })
    }
}

impl Api<'_> {
    async fn post<T: DeserializeOwned>(&self, path: &str, body: Value, expected: u16) -> Answer<T> {
        answer(self.app.post(path, self.token, body).await, expected)
    }

    /// `POST /visits`: a new visit in the pool.
    pub async fn create_visit(&self, v: &NewVisit) -> Answer<VisitView> {
        let body = json!({
            "customer_id": v.customer_id, "title": v.title, "description": v.description,
            "site": v.site, "scheduled_start": v.scheduled_start,
            "planned_days": v.planned_days, "technician_quota": v.technician_quota,
        });
        self.post("/api/v1/visits", body, 201).await
    }

    /// `GET /visits/{id}`.
    pub async fn visit(&self, id: &str) -> Answer<VisitView> {
        answer(
            self.app
                .get(&format!("/api/v1/visits/{id}"), self.token)
                .await,
            200,
        )
    }

    /// `POST /visits/{id}/claim`: a seat, or the reason there is none.
    pub async fn claim(&self, id: &str) -> Answer<ClaimView> {
        self.post(&format!("/api/v1/visits/{id}/claim"), json!({}), 200)
            .await
    }

    /// `POST /visits/{id}/withdraw`: the seat given back.
    pub async fn withdraw(&self, id: &str) -> Answer<VisitView> {
        self.post(&format!("/api/v1/visits/{id}/withdraw"), json!({}), 200)
            .await
    }

    async fn attend(&self, id: &str, direction: &str, at: At) -> Answer<AttendanceView> {
        let body = json!({
            "lat": at.lat, "lon": at.lon, "accuracy_m": at.accuracy_m,
            "device_time": jiff::Timestamp::now().to_string(),
        });
        self.post(&format!("/api/v1/visits/{id}/{direction}"), body, 200)
            .await
    }

    /// `POST /visits/{id}/check-in`, from `at`, now.
    pub async fn check_in(&self, id: &str, at: At) -> Answer<AttendanceView> {
        self.attend(id, "check-in", at).await
    }

    /// `POST /visits/{id}/check-out`, from `at`, now.
    pub async fn check_out(&self, id: &str, at: At) -> Answer<AttendanceView> {
        self.attend(id, "check-out", at).await
    }

    /// `POST /visits/{id}/complete` with a work summary.
    pub async fn complete(&self, id: &str, summary: &str) -> Answer<VisitView> {
        self.post(
            &format!("/api/v1/visits/{id}/complete"),
            json!({ "summary": summary }),
            200,
        )
        .await
    }
}
