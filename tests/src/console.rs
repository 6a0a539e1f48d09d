//! A browser-like client of the web console: cookies by hand, no redirects
//! followed (tests look at them), forms posted url-encoded with the CSRF
//! token the page carried.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::TestApp;

/// A console page or form answer.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    /// The `Location` of a redirect.
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The value of the first `name="_csrf"` field on the page.
    pub fn csrf(&self) -> Option<String> {
        let at = self.html.find("name=\"_csrf\" value=\"")?;
        let rest = &self.html[at + "name=\"_csrf\" value=\"".len()..];
        Some(rest[..rest.find('"')?].to_owned())
    }

    /// The `Set-Cookie` headers.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// The value a `Set-Cookie` gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().into_iter().find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }
}

/// One browser: its cookies, and the CSRF token of its session.
#[derive(Debug)]
pub struct Browser<'a> {
    pub app: &'a TestApp,
    client: reqwest::Client,
    /// `name=value` pairs sent as `Cookie`.
    pub cookies: Vec<(String, String)>,
    /// The signed-in session's CSRF token (from the last page that had one).
    pub csrf: Option<String>,
    /// Sent as `Accept-Language` when set.
    pub accept_language: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: vec![],
            csrf: None,
            accept_language: None,
        }
    }

    fn keep_cookies(&mut self, page: &Page) {
        for set in page.set_cookies() {
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            self.cookies.retain(|(n, _)| n != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn cookie_header(&self) -> HeaderValue {
        let joined = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::from_str(&joined).unwrap()
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let mut request = request.header("cookie", self.cookie_header());
        if let Some(lang) = &self.accept_language {
            request = request.header("accept-language", lang);
        }
        let response = request.send().await.unwrap();
        let page = Page {
            status: response.status(),
            headers: response.headers().clone(),
            html: response.text().await.unwrap(),
        };
        self.keep_cookies(&page);
        if let Some(token) = page.csrf() {
            self.csrf = Some(token);
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(self.app.url(path));
        self.send(request).await
    }

    /// Posts a form as is (the caller adds `_csrf` or not).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.client.post(self.app.url(path)).form(fields);
        self.send(request).await
    }

    /// Posts a form with this session's CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self
            .csrf
            .clone()
            .expect("a page with a CSRF token was loaded");
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts a JSON body with this session's CSRF header (as `calls.js`
    /// does), or without it when `csrf` is false.
    pub async fn post_json(&mut self, path: &str, body: &str, csrf: bool) -> Page {
        let mut request = self
            .client
            .post(self.app.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if csrf {
            let token = self
                .csrf
                .clone()
                .expect("a page with a CSRF token was loaded");
            request = request.header("x-csrf-token", token);
        }
        self.send(request).await
    }

    /// Posts a file form (`multipart/form-data`, one field `file`) as a
    /// browser does, the CSRF token in the action's query when `csrf`.
    pub async fn post_file(
        &mut self,
        path: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
        csrf: bool,
    ) -> Page {
        const BOUNDARY: &str = "----fieldops-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = format!(
            "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"file\"; \
             filename=\"{filename}\"\r\ncontent-type: {content_type}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let url = match (&self.csrf, csrf) {
            (Some(token), true) => format!("{path}?_csrf={token}"),
            _ => path.to_owned(),
        };
        let request = self
            .client
            .post(self.app.url(&url))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body);
        self.send(request).await
    }

    /// Opens the tab's event stream (`GET /events`) as this session.
    pub async fn events(&self) -> EventStream {
        let response = self
            .client
            .get(self.app.url("/events"))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        EventStream {
            response,
            buffer: String::new(),
            pending: Vec::new(),
        }
    }

    /// Signs in through the sign-in form; the answer to the form's POST.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/sign-in").await;
        assert_eq!(form.status, 200, "{}", form.html);
        let token = form.csrf().unwrap();
        let answer = self
            .post_raw(
                "/sign-in",
                &[
                    ("_csrf", &token),
                    ("email", email),
                    ("password", password),
                    ("next", "/"),
                ],
            )
            .await;
        if answer.status == StatusCode::SEE_OTHER {
            // The dashboard, for the session's CSRF token.
            let home = self.get("/").await;
            assert_eq!(home.status, 200, "{}", home.html);
        }
        answer
    }

    /// Signs in as a demo account of `role`; panics unless it works.
    pub async fn signed_in_as(app: &'a TestApp, role: &str) -> Self {
        let mut browser = Self::new(app);
        let (email, password) = crate::demo_account(role);
        let answer = browser.sign_in(email, password).await;
        assert_eq!(answer.status, 303, "{}", answer.html);
        browser
    }
}

/// A console tab's Server-Sent Events, read as they come.
#[derive(Debug)]
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
    /// Events read and not yet asked for: (name, data).
    pending: Vec<(String, String)>,
}

impl EventStream {
    /// The first event named `name` not yet asked for, waiting up to 10 s:
    /// its data. Events of other names stay for later questions, so the
    /// order in which two channels deliver does not matter.
    pub async fn next_named(&mut self, name: &str) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = "message";
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                self.pending.push((event.to_owned(), data.join("\n")));
            }
            if let Some(i) = self.pending.iter().position(|(n, _)| n == name) {
                return self.pending.remove(i).1;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {name} event within 10 s"))
                .unwrap()
                .expect("the stream ended");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
