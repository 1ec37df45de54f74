//! Test helpers: a recording HTTP server on 127.0.0.1 and client/CLI builders.
//!
//! [`Recorder`] runs an axum server on an ephemeral loopback port in its own thread and
//! runtime, records every request (method, path, query, form, headers), answers with a
//! responder function, and stops when dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Recorded {
    /// Values of a form field, in order.
    pub fn form_values(&self, key: &str) -> Vec<String> {
        self.form
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// The single value of a form field.
    pub fn form_value(&self, key: &str) -> Option<String> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
    /// The single value of a query parameter.
    pub fn query_value(&self, key: &str) -> Option<String> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
    /// The decoded Basic-auth `user:password`.
    pub fn basic_auth(&self) -> Option<String> {
        use base64::Engine;
        let header = self.headers.get("authorization")?;
        let encoded = header.strip_prefix("Basic ")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        String::from_utf8(bytes).ok()
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// Decides the reply to the n-th request (0-based) given the request and the base URL.
pub type Responder = Arc<dyn Fn(&Recorded, usize, &str) -> Reply + Send + Sync>;

/// A recording server. Dropping it stops the server.
pub struct Recorder {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    pub fn start(responder: Responder) -> Recorder {
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let recorded = requests.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let base = format!("http://{}", listener.local_addr().unwrap());
                url_tx.send(base.clone()).unwrap();
                let app = axum::Router::new().fallback(
                    move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                        let recorded = recorded.clone();
                        let responder = responder.clone();
                        let base = base.clone();
                        async move {
                            let request = record(&method, &uri, &headers, &body);
                            let index = {
                                let mut all = recorded.lock().unwrap();
                                all.push(request.clone());
                                all.len() - 1
                            };
                            let reply = responder(&request, index, &base);
                            let mut response: Response =
                                (StatusCode::from_u16(reply.status).unwrap(), reply.body)
                                    .into_response();
                            for (name, value) in reply.headers {
                                response.headers_mut().insert(
                                    axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                                    axum::http::HeaderValue::from_str(&value).unwrap(),
                                );
                            }
                            response
                        }
                    },
                );
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = shutdown_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let url = url_rx.recv().unwrap();
        Recorder {
            url,
            requests,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// A server that answers every request with the same reply.
    pub fn always(reply: Reply) -> Recorder {
        Recorder::start(Arc::new(move |_, _, _| reply.clone()))
    }

    /// A server that answers the n-th request with `replies[n]` (the last one repeats).
    pub fn sequence(replies: Vec<Reply>) -> Recorder {
        Recorder::start(Arc::new(move |_, index, _| {
            replies[index.min(replies.len() - 1)].clone()
        }))
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn last(&self) -> Recorded {
        self.requests()
            .last()
            .cloned()
            .expect("no request was recorded")
    }

    pub fn assert_last(&self, method: &str, path: &str) {
        let last = self.last();
        assert_eq!((last.method.as_str(), last.path.as_str()), (method, path));
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn record(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Recorded {
    let query = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        url::form_urlencoded::parse(body).into_owned().collect()
    } else {
        Vec::new()
    };
    Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query,
        form,
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: String::from_utf8_lossy(body).to_string(),
    }
}

/// The operation of the spec a request addresses, by method and path template.
pub fn operation_for(method: &str, path: &str) -> Option<&'static trctl::api::Operation> {
    let segments: Vec<&str> = path.split('/').collect();
    // A literal segment beats a placeholder (`/TaskQueues/Statistics` vs `/TaskQueues/{Sid}`).
    trctl::api::OPERATIONS
        .iter()
        .filter(|op| {
            let template: Vec<&str> = op.path.split('/').collect();
            op.method == method
                && template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
        })
        .max_by_key(|op| op.path.split('/').filter(|t| !t.starts_with('{')).count())
}

/// Answers each request with `tests/fixtures/responses/<OperationId>.json` (204 for deletes).
pub fn fixture_responder() -> Responder {
    Arc::new(|request, _, _| {
        let Some(op) = operation_for(&request.method, &request.path) else {
            return Reply::json(
                404,
                &serde_json::json!({"code": 20404, "message": "no such operation", "status": 404}),
            );
        };
        if op.method == "DELETE" {
            return Reply::empty(204);
        }
        let status = if op.method == "POST"
            && op.id.starts_with("Create")
            && !op.id.contains("Statistics")
        {
            201
        } else {
            200
        };
        Reply::json(status, &fixture(op.id))
    })
}

/// A response fixture by operation id.
pub fn fixture(operation_id: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/responses/{operation_id}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_str(&text).unwrap()
}

/// A client for `url` with test credentials and fast retries.
pub fn client(url: &str) -> trctl::api::Client {
    trctl::api::Client::builder(trctl::api::Credentials {
        username: "AC0123456789abcdef0123456789abcdef".into(),
        password: trctl::api::Secret::new("test-token"),
    })
    .base_url(url)
    .retry(trctl::api::RetryPolicy {
        max_retries: 3,
        base_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(5),
        max_retry_after: std::time::Duration::from_millis(50),
    })
    .build()
    .unwrap()
}

/// The typed model re-serializes to exactly the fixture: every field parsed, none lost.
pub fn assert_round_trip<T: Serialize>(operation_id: &str, parsed: &T) {
    let again = serde_json::to_value(parsed).unwrap();
    assert_eq!(
        again,
        fixture(operation_id),
        "{operation_id}: model does not round-trip"
    );
}

/// Like [`assert_round_trip`] for a page: the items under the list key.
pub fn assert_page_round_trip<T: Serialize>(operation_id: &str, page: &trctl::api::Page<T>) {
    let expected = fixture(operation_id);
    let key = expected["meta"]["key"].as_str().unwrap().to_string();
    let again = serde_json::to_value(&page.items).unwrap();
    assert_eq!(
        again, expected[&key],
        "{operation_id}: items do not round-trip"
    );
    assert_eq!(page.meta.key.as_deref(), Some(key.as_str()));
    assert!(!page.has_next());
}

pub const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "s3cr3t-t0ken-value";
pub const WORKSPACE: &str = "WS0123456789abcdef0123456789abcdef";

/// An in-process emulator on 127.0.0.1:0, in its own thread and runtime, for tests
/// that run the `trctl` binary. Stops when dropped.
pub struct EmulatorThread {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub const EMULATOR_ACCOUNT: &str = trctl::emulator::DEV_ACCOUNT_SID;
pub const EMULATOR_TOKEN: &str = trctl::emulator::DEV_AUTH_TOKEN;

impl EmulatorThread {
    pub fn start() -> EmulatorThread {
        EmulatorThread::start_with(trctl::emulator::EmulatorConfig::default())
    }

    /// An emulator whose clock stands still until `/trctl/clock/advance` moves it.
    pub fn manual() -> EmulatorThread {
        let clock = trctl::emulator::clock::ManualClock::new(1_700_000_000_000);
        EmulatorThread::start_with(trctl::emulator::EmulatorConfig {
            clock: std::sync::Arc::new(clock),
            ..Default::default()
        })
    }

    pub fn start_with(config: trctl::emulator::EmulatorConfig) -> EmulatorThread {
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let emulator = trctl::emulator::Emulator::new(config);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                url_tx
                    .send(format!("http://{}", listener.local_addr().unwrap()))
                    .unwrap();
                emulator
                    .serve(listener, async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let url = url_rx.recv().unwrap();
        EmulatorThread {
            url,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// A client with the emulator's development credentials.
    pub fn client(&self) -> trctl::api::Client {
        emulator_client(&self.url)
    }
}

impl Drop for EmulatorThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A `trctl serve` listener on 127.0.0.1:0 in its own thread and runtime, for tests that
/// run the `trctl` binary against it. Stops when dropped.
pub struct ServeThread {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServeThread {
    pub fn start(config: trctl::serve::ServeConfig) -> ServeThread {
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                url_tx
                    .send(format!("http://{}", listener.local_addr().unwrap()))
                    .unwrap();
                trctl::serve::run(config, listener, Default::default(), async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
            });
        });
        let url = url_rx.recv().unwrap();
        ServeThread {
            url,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for ServeThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A raw server that answers one request per connection with `head` and then, when
/// `endless`, 1 MiB chunks of a chunked body until the client hangs up. Returns its URL.
pub fn hostile_body_server(head: &'static str, endless: bool) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![b' '; 1024 * 1024];
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                while endless && stream.write_all(&framed).is_ok() {}
            });
        }
    });
    url
}

/// A `trctl` server process (`emulator` or `serve`) on port 0; its URL is read from the
/// banner. Dropping it kills the process (only this one, by PID).
pub struct ServerProcess {
    pub child: std::process::Child,
    pub url: String,
    pub addr: std::net::SocketAddr,
    /// The banner up to its last line ("press Ctrl-C to stop").
    pub banner: String,
    _home: tempfile::TempDir,
}

impl ServerProcess {
    /// `trctl ARGS --port 0` with an empty environment and a fresh HOME.
    pub fn start(args: &[&str]) -> ServerProcess {
        ServerProcess::start_with(|command| {
            command.args(args);
        })
    }

    /// `trctl` set up by `configure` (arguments, environment, working directory,
    /// stderr), with `--port 0` added, an empty environment and a fresh HOME.
    pub fn start_with(configure: impl FnOnce(&mut std::process::Command)) -> ServerProcess {
        use std::io::BufRead;
        let home = tempfile::tempdir().unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trctl"));
        command
            .env_clear()
            .env("HOME", home.path())
            .current_dir(home.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        configure(&mut command);
        let mut child = command.args(["--port", "0"]).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut banner = String::new();
        while !banner.contains("press Ctrl-C") {
            match lines.next() {
                Some(Ok(line)) => {
                    banner.push_str(&line);
                    banner.push('\n');
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("the server exited before its banner ended: {banner}");
                }
            }
        }
        // Keep reading so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let at = banner
            .find("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("no URL in the banner: {banner}"));
        let url: String = banner[at..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let addr = url.trim_start_matches("http://").parse().unwrap();
        ServerProcess {
            child,
            url,
            addr,
            banner,
            _home: home,
        }
    }

    /// Send `signal` (e.g. `libc::SIGTERM`) to this process only.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill with a PID this test started and still owns.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// Send SIGTERM (to this process only).
    pub fn terminate(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Wait up to `limit` for the process to exit; its status, or `None` if it is
    /// still running.
    pub fn wait_for_exit(
        &mut self,
        limit: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// Send `signal` and wait (up to 20 s) for the process to end.
    pub fn stop(mut self, signal: libc::c_int) -> std::process::ExitStatus {
        self.signal(signal);
        self.wait_for_exit(std::time::Duration::from_secs(20))
            .expect("the server did not stop within 20 s")
    }

    /// A client with the emulator's development credentials.
    pub fn client(&self) -> trctl::api::Client {
        emulator_client(&self.url)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Send one raw HTTP/1.1 request on a fresh connection and return the status line's
/// code, reading with a deadline.
pub fn raw_status(
    addr: std::net::SocketAddr,
    request: &str,
    limit: std::time::Duration,
) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, limit).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut buffer = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        match stream.read(&mut buffer[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    let text = String::from_utf8_lossy(&buffer[..read]).to_string();
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A client for the emulator at `url` with its development credentials.
pub fn emulator_client(url: &str) -> trctl::api::Client {
    trctl::api::Client::builder(trctl::api::Credentials {
        username: EMULATOR_ACCOUNT.into(),
        password: trctl::api::Secret::new(EMULATOR_TOKEN),
    })
    .base_url(url)
    .build()
    .unwrap()
}

/// A `multipart/form-data` body of `params` (in order, repeats kept) and its
/// `Content-Type`, framed as twilio-node 3.40.0's `form-data` package frames it.
pub fn multipart_body(params: &[(&str, &str)]) -> (String, String) {
    let boundary = "--------------------------trctl0123456789";
    let mut body = String::new();
    for (name, value) in params {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}
