//! The one hardened HTTP/1.1 server set-up behind `trctl emulator` and `trctl serve`.
//!
//! `axum::serve` has no read timeouts and no connection limit: an idle or half-sent
//! connection stayed open for minutes, twenty thousand of them exhausted the process's
//! descriptors, and a pending half-sent request kept the process alive after SIGTERM.
//! [`serve`] runs an axum router on hyper directly, with:
//!
//! - a **header timeout** ([`Limits::header_timeout`]): a request's head must arrive in
//!   full within it, counted from when the connection starts waiting for it — so it is
//!   also the keep-alive idle timeout between requests;
//! - a **body timeout** ([`Limits::body_timeout`]): the whole body must arrive within it
//!   of the head, whatever the pace (a reader then sees an error and answers 4xx);
//! - a **connection limit** ([`Limits::max_connections`], further bounded by the
//!   process's descriptor limit): at the limit, a new connection makes the server drop
//!   the idle connections (no request in progress) that have been quiet longest — a
//!   batch of 1/64 of the limit at a time — so a fresh request is still answered; with
//!   none idle, the new connection is closed;
//! - a **graceful shutdown with a deadline** ([`Limits::shutdown_timeout`]): once the
//!   shutdown future completes, no connection is accepted, idle connections close,
//!   requests already received are answered, and whatever is left at the deadline —
//!   half-sent requests included — is dropped.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// Default [`Limits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Limits::body_timeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Limits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default [`Limits::shutdown_timeout`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections the kernel may queue before they are accepted (capped by the system's
/// `somaxconn`). A flood of connections arrives faster than any accept loop when the
/// machine is busy; a short queue drops handshakes and a fresh client then waits a
/// second for its SYN to be sent again.
const ACCEPT_BACKLOG: u32 = 4096;
/// Descriptors kept free of connections for everything else the process opens
/// (outgoing callbacks, state files, the runtime's own).
const RESERVED_DESCRIPTORS: usize = 256;

/// The bounds a server enforces; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time for a request's head to arrive (also the keep-alive idle timeout).
    pub header_timeout: Duration,
    /// Time for a request's body to arrive, from its head.
    pub body_timeout: Duration,
    /// Connections open at once (lowered to fit the descriptor limit).
    pub max_connections: usize,
    /// How long in-flight requests may take to finish after shutdown begins.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

impl Limits {
    /// The connection limit that fits this process: `max_connections`, but no more than
    /// the descriptor limit (raised to its hard limit first) minus a reserve.
    pub fn effective_max_connections(&self) -> usize {
        let descriptors = raise_descriptor_limit();
        let fits = descriptors.map_or(usize::MAX, |limit| {
            limit.saturating_sub(RESERVED_DESCRIPTORS).max(16)
        });
        self.max_connections.clamp(1, fits)
    }
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit (as servers usually do) and return
/// the soft limit now in force; `None` where unknown.
#[cfg(unix)]
fn raise_descriptor_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    usize::try_from(limit.rlim_cur).ok()
}

#[cfg(not(unix))]
fn raise_descriptor_limit() -> Option<usize> {
    None
}

/// Bind a listener for [`serve`] on `addr`, with a long accept queue.
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// One open connection, as the accept loop sees it.
struct Connection {
    /// Requests received and not yet answered.
    in_flight: AtomicUsize,
    /// When a request last started or ended, in milliseconds since the server started.
    last_active: AtomicU64,
    /// Told to close at once (shed at the connection limit).
    shed: Notify,
}

/// Serve `router` on `listener` with `limits` until `shutdown` completes, then shut
/// down gracefully within [`Limits::shutdown_timeout`].
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max_connections = limits.effective_max_connections();
    let shed_batch = (max_connections / 64).max(1);
    let started = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut open: HashMap<u64, Arc<Connection>> = HashMap::new();
    let mut tasks: JoinSet<u64> = JoinSet::new();
    let mut next_id: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(done) = tasks.join_next() => {
                if let Ok(id) = done {
                    open.remove(&id);
                }
            }
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // Out of descriptors (or a connection reset before accept): make
                        // room if an idle connection can go, and do not spin.
                        shed_idle(&mut open, shed_batch);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                if open.len() >= max_connections && shed_idle(&mut open, shed_batch) == 0 {
                    // Every connection is busy: turn this one away rather than go over.
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                next_id += 1;
                let id = next_id;
                let connection = Arc::new(Connection {
                    in_flight: AtomicUsize::new(0),
                    last_active: AtomicU64::new(millis_since(started)),
                    shed: Notify::new(),
                });
                open.insert(id, connection.clone());
                let router = router.clone();
                let limits = limits.clone();
                let stop = stop_rx.clone();
                tasks.spawn(async move {
                    run_connection(stream, router, limits, connection, started, stop).await;
                    id
                });
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        // The deadline passed: drop what is left (half-sent requests, slow handlers).
        tasks.shutdown().await;
    }
    Ok(())
}

/// Tell up to `count` idle connections, the ones quiet longest, to close, and forget
/// them; how many went. Shedding a batch keeps a flood of new connections from costing
/// a scan of every open one per accept.
fn shed_idle(open: &mut HashMap<u64, Arc<Connection>>, count: usize) -> usize {
    let mut idle: Vec<(u64, u64)> = open
        .iter()
        .filter(|(_, connection)| connection.in_flight.load(Ordering::Acquire) == 0)
        .map(|(id, connection)| (connection.last_active.load(Ordering::Relaxed), *id))
        .collect();
    let count = count.min(idle.len());
    if count == 0 {
        return 0;
    }
    if count < idle.len() {
        idle.select_nth_unstable(count - 1);
    }
    for (_, id) in &idle[..count] {
        if let Some(connection) = open.remove(id) {
            connection.shed.notify_one();
        }
    }
    count
}

fn millis_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn run_connection(
    stream: tokio::net::TcpStream,
    router: axum::Router,
    limits: Limits,
    connection: Arc<Connection>,
    started: Instant,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let body_timeout = limits.body_timeout;
    let tracked = connection.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        let guard = InFlight::enter(tracked.clone(), started);
        let request = request.map(|body| Body::new(DeadlineBody::new(body, body_timeout)));
        async move {
            let response = tower::ServiceExt::oneshot(router, request).await;
            drop(guard);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let served = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(served);
    let mut stopping = *stop.borrow();
    if stopping {
        served.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            _ = served.as_mut() => return,
            () = connection.shed.notified() => return,
            changed = stop.changed(), if !stopping => {
                if changed.is_err() || *stop.borrow() {
                    stopping = true;
                    served.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Counts a request as in flight on its connection while alive.
struct InFlight {
    connection: Arc<Connection>,
    started: Instant,
}

impl InFlight {
    fn enter(connection: Arc<Connection>, started: Instant) -> InFlight {
        connection.in_flight.fetch_add(1, Ordering::AcqRel);
        connection
            .last_active
            .store(millis_since(started), Ordering::Relaxed);
        InFlight {
            connection,
            started,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.connection
            .last_active
            .store(millis_since(self.started), Ordering::Relaxed);
        self.connection.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request body that fails once its deadline passes, however it trickles in.
struct DeadlineBody {
    body: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl DeadlineBody {
    fn new(body: Incoming, timeout: Duration) -> DeadlineBody {
        DeadlineBody {
            body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
        }
    }
}

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs_f64())]
pub struct BodyTimeout(Duration);

/// Whether reading a body failed because it did not arrive in time.
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    find_cause::<BodyTimeout>(error)
}

/// Whether reading a body failed because it passed the reader's size limit.
pub fn is_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    find_cause::<http_body_util::LengthLimitError>(error)
}

fn find_cause<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(cause) = current {
        if cause.is::<E>() {
            return true;
        }
        current = cause.source();
    }
    false
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|result| result.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
