//! A real HTTP receiver for callbacks, on a random local port. Each path has a behaviour:
//! `/ok` answers 200; `/flaky` 500 twice, then 200; `/fail` always 500; `/hang` never answers in
//! time; `/redirect` answers 302. Every request is recorded.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub answered: u16,
}

impl Hit {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("callback body is JSON")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Checks the Standard Webhooks signature of `body` (the one received, or a tampered one)
    /// under `secret`, as a merchant's receiver does.
    pub fn verify_body(&self, secret: &str, body: &[u8]) -> Result<(), epay_client::webhooks::WebhookError> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        epay_client::webhooks::verify(secret, |name| self.headers.get(name).and_then(|v| v.to_str().ok()), body, now)
    }

    /// Whether the callback as received is signed with `secret`.
    pub fn signed_with(&self, secret: &str) -> bool {
        self.verify_body(secret, &self.body).is_ok()
    }
}

#[derive(Clone, Default)]
struct Shared {
    hits: Arc<Mutex<Vec<Hit>>>,
}

pub struct Receiver {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

async fn handle(State(shared): State<Shared>, Path(path): Path<String>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let seen = shared.hits.lock().unwrap().iter().filter(|h| h.path == path).count();
    let status = match path.as_str() {
        "flaky" if seen < 2 => StatusCode::INTERNAL_SERVER_ERROR,
        "fail" => StatusCode::INTERNAL_SERVER_ERROR,
        "redirect" => StatusCode::FOUND,
        "hang" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK
        }
        _ => StatusCode::OK,
    };
    shared.hits.lock().unwrap().push(Hit { path, headers, body, answered: status.as_u16() });
    status
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Receiver {
        let shared = Shared::default();
        let hits = shared.hits.clone();
        let app = Router::new().route("/{path}", post(handle)).with_state(shared);
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, hits, task }
    }

    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits.lock().unwrap().iter().filter(|h| h.path == path).cloned().collect()
    }

    pub fn all(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits until `path` has at least `n` requests (or `timeout` passes); returns them.
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let hits = self.hits(path);
            if hits.len() >= n || tokio::time::Instant::now() >= deadline {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
