//! A minimal W3C WebDriver client over reqwest, driving Debian's chromium through
//! chromedriver, headless. Just what the page tests need: navigate, find, type, click, frames,
//! screenshots.
#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where the documentation's pictures go: `docs/screenshots/` with `EPAY_REFRESH_SCREENSHOTS=1`
/// (run after changing a page's look, and commit the pictures), otherwise a directory of the
/// build's own. An ordinary run still takes every picture, after checking its page, but leaves
/// the tracked files alone (a picture's bytes change from run to run: a fresh invoice, a time).
pub fn screenshots_dir() -> std::path::PathBuf {
    if std::env::var_os("EPAY_REFRESH_SCREENSHOTS").is_some_and(|v| v == "1") {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
    } else {
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    }
}

pub struct Browser {
    http: reqwest::Client,
    base: String,
    driver: tokio::process::Child,
    _profile: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[derive(Clone)]
pub struct Element(String);

impl Browser {
    pub async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) must be installed: ./scripts/test installs it");
        let http = reqwest::Client::new();
        let driver_url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{driver_url}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("epay-chromium-{}", uuid::Uuid::new_v4()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--no-first-run", "--disable-quic", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=420,900",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let response: Value =
            http.post(format!("{driver_url}/session")).json(&caps).send().await.unwrap().json().await.unwrap();
        let session = response["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {response}"));
        Browser { base: format!("{driver_url}/session/{session}"), http, driver, _profile: tempdir::Dir(profile) }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        response["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_string()
    }

    pub async fn find(&self, css: &str) -> Option<Element> {
        let v =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        v.get(ELEMENT_KEY).and_then(|e| e.as_str()).map(|e| Element(e.to_string()))
    }

    /// Waits up to `secs` for `css` to appear.
    pub async fn wait(&self, css: &str, secs: u64) -> Element {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(e) = self.find(css).await {
                return e;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("{css} did not appear within {secs} s at {}; page: {}", self.url().await, self.source().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait(css, 10).await;
        self.call(reqwest::Method::POST, &format!("/element/{}/value", e.0), Some(json!({"text": text}))).await;
    }

    pub async fn click(&self, css: &str) {
        let e = self.wait(css, 10).await;
        self.call(reqwest::Method::POST, &format!("/element/{}/click", e.0), Some(json!({}))).await;
    }

    pub async fn text(&self, css: &str) -> String {
        let e = self.wait(css, 10).await;
        self.call(reqwest::Method::GET, &format!("/element/{}/text", e.0), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let e = self.wait(css, 10).await;
        self.call(reqwest::Method::GET, &format!("/element/{}/attribute/{name}", e.0), None)
            .await
            .as_str()
            .map(String::from)
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None).await.as_str().unwrap_or_default().to_string()
    }

    pub async fn enter_frame(&self, css: &str) {
        let e = self.wait(css, 10).await;
        self.call(reqwest::Method::POST, "/frame", Some(json!({"id": {ELEMENT_KEY: e.0}}))).await;
    }

    pub async fn leave_frame(&self) {
        self.call(reqwest::Method::POST, "/frame", Some(json!({"id": null}))).await;
    }

    pub async fn execute(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    /// Runs `script` as the body of an async function whose last argument is its callback, and
    /// answers what it passes to that callback (WebDriver's "execute async script").
    pub async fn execute_async(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": []}))).await
    }

    /// Checks the page with axe-core (pinned in tests/axe/package-lock.json; `./scripts/test`
    /// installs it) against WCAG 2.0, 2.1 and 2.2 A and AA; every violation, one line each with
    /// the elements it found, empty when there is none. Panics when axe-core is not installed:
    /// a check that did not run must never read as a pass.
    pub async fn axe(&self) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/axe/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core is not installed ({}: {e}): run ./scripts/test, or npm ci --prefix crates/epay/tests/axe",
                path.display()
            )
        });
        let loaded = self.execute(&format!("{source}\n;return typeof window.axe === 'object';")).await;
        assert_eq!(loaded, true, "axe-core did not load into the page: {loaded}");
        let script = r#"
            const done = arguments[arguments.length - 1];
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
            axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
              .then(r => done(r.violations.map(v => `${v.id} (${v.impact}): ${v.help} — ` +
                  v.nodes.map(n => `${n.target.join(' ')} [${(n.failureSummary || '').replace(/\s+/g, ' ')}]`).join('; '))))
              .catch(e => done([`axe-core failed: ${e}`]));
        "#;
        match self.execute_async(script).await {
            Value::Array(lines) => lines.iter().map(|l| l.as_str().unwrap_or_default().to_string()).collect(),
            other => vec![format!("axe-core answered {other}")],
        }
    }

    /// Presses and releases each key of `keys` in turn, as a keyboard would, wherever the focus
    /// is (inside a frame too): WebDriver's key codes, e.g. `"\u{E004}"` Tab, `"\u{E00C}"` Esc,
    /// `"\u{E003}"` Backspace.
    pub async fn press(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|k| {
                [json!({"type": "keyDown", "value": k.to_string()}), json!({"type": "keyUp", "value": k.to_string()})]
            })
            .collect();
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.call(reqwest::Method::POST, "/actions", Some(body)).await;
    }

    /// Holds down `keys` in order, then releases them in reverse: a chord such as Shift+Tab
    /// (`"\u{E008}"`, `"\u{E004}"`).
    pub async fn chord(&self, keys: &[&str]) {
        let mut actions: Vec<Value> = keys.iter().map(|k| json!({"type": "keyDown", "value": k})).collect();
        actions.extend(keys.iter().rev().map(|k| json!({"type": "keyUp", "value": k})));
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.call(reqwest::Method::POST, "/actions", Some(body)).await;
    }

    /// Waits up to `secs` until the URL contains `part`.
    pub async fn wait_url(&self, part: &str, secs: u64) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let url = self.url().await;
            if url.contains(part) {
                return url;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("URL never contained {part}; it is {url}; page: {}", self.source().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resizes the window (the default is a phone's; the merchant cabinet is a desktop page).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({"width": width, "height": height}))).await;
    }

    /// Resizes the window so that the page itself (the viewport, what a screenshot holds) is
    /// `width` × `height`: the window's frame takes some of the window's size, by how much
    /// depends on the Chromium build, so it is measured and added.
    pub async fn set_viewport_size(&self, width: u32, height: u32) {
        self.set_window_size(width, height).await;
        let inner = self.execute("return [window.innerWidth, window.innerHeight];").await;
        let measured = |i: usize, asked: u32| inner[i].as_u64().map_or(asked, |v| v as u32);
        let (w, h) = (measured(0, width), measured(1, height));
        if (w, h) != (width, height) {
            self.set_window_size(width + width.saturating_sub(w), height + height.saturating_sub(h)).await;
        }
    }

    /// Picks the `<option>` with `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]")).await;
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session (chromedriver then closes chromium) with a plain blocking request:
        // Drop cannot await, and killing only chromedriver would leave chromium running.
        use std::io::{Read, Write};
        if let Some(rest) = self.base.strip_prefix("http://") {
            if let Some((host, path)) = rest.split_once('/') {
                if let Ok(mut stream) = std::net::TcpStream::connect(host) {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let request = format!(
                        "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(request.as_bytes());
                    let mut sink = Vec::new();
                    let _ = stream.read_to_end(&mut sink);
                }
            }
        }
        let _ = self.driver.start_kill();
    }
}
