//! The runner carries out what the engine asks for, outside the engine: it POSTs signed
//! assignment callbacks (falling back to the fallback URL) and feeds the answers back as
//! commands, delivers events to each workspace's event callback URL, and fires timers
//! when their deadline comes. It changes state only by sending commands.
//!
//! Event delivery: each workspace has its own queue and its own sender task, so a slow
//! or dead endpoint delays only that workspace's events, never routing (the dispatcher
//! only enqueues) nor another workspace. Within a workspace events go one at a time, in
//! the order they were recorded, one attempt each with a 15 s limit (TaskRouter's retry
//! policy for event callbacks is not documented; trctl does not retry). A queue holds at
//! most [`EVENT_QUEUE_CAPACITY`] events; what overflows is dropped, counted and reported.
//! On shutdown [`Runner::drain`] gives the queues a deadline and counts what was left.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::app::App;
use super::engine::{CallbackReply, Command, Effect};
use super::Notice;
use crate::serve::callback::{CallbackKind, ASSIGNMENT_TIMEOUT, EVENT_TIMEOUT, MAX_REPLY};
use crate::serve::reply::{judge, Reading};
use crate::serve::send::{self, Limits, SendError, Target};

/// One event callback to send (built by the engine when the event happened).
struct Delivery {
    url: String,
    params: Vec<(String, String)>,
}

/// Events waiting per workspace before new ones are dropped.
pub const EVENT_QUEUE_CAPACITY: usize = 50_000;

/// What happened to the events handed to the runner for delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Answered with a 2xx.
    pub delivered: u64,
    /// Sent, but no 2xx answer in time (refused, timed out, error status).
    pub failed: u64,
    /// Dropped because the workspace's queue was full.
    pub dropped: u64,
    /// Still queued (or in flight) when the drain deadline passed.
    pub undelivered: u64,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// One workspace's queue: its sender, its delivering task, and how many events it holds
/// or is sending.
struct Queue {
    sender: mpsc::Sender<Delivery>,
    worker: tokio::task::JoinHandle<()>,
    pending: Arc<AtomicUsize>,
}

/// The per-workspace event queues.
struct EventQueues {
    app: Arc<App>,
    http: reqwest::Client,
    notice: Notice,
    counters: Arc<Counters>,
    state: Mutex<QueuesState>,
}

#[derive(Default)]
struct QueuesState {
    closed: bool,
    queues: HashMap<String, Queue>,
    /// Events that arrived after the drain began.
    late: u64,
}

impl EventQueues {
    fn enqueue(self: &Arc<Self>, workspace: String, event: Delivery) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.closed {
            state.late += 1;
            return;
        }
        if !state.queues.contains_key(&workspace) {
            let (sender, receiver) = mpsc::channel(EVENT_QUEUE_CAPACITY);
            let pending = Arc::new(AtomicUsize::new(0));
            let worker = tokio::spawn(self.clone().deliver(
                workspace.clone(),
                receiver,
                pending.clone(),
            ));
            let queue = Queue {
                sender,
                worker,
                pending,
            };
            state.queues.insert(workspace.clone(), queue);
        }
        let Some(queue) = state.queues.get(&workspace) else {
            return;
        };
        queue.pending.fetch_add(1, Ordering::AcqRel);
        if queue.sender.try_send(event).is_err() {
            queue.pending.fetch_sub(1, Ordering::AcqRel);
            let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped == 1 || dropped % 1000 == 0 {
                self.notify(&format!(
                    "event callbacks of {workspace}: the queue is full ({EVENT_QUEUE_CAPACITY} waiting, the endpoint is too slow); {dropped} event(s) dropped so far"
                ));
            }
        }
    }

    /// Send a workspace's events one at a time, in order.
    async fn deliver(
        self: Arc<Self>,
        workspace: String,
        mut receiver: mpsc::Receiver<Delivery>,
        pending: Arc<AtomicUsize>,
    ) {
        let mut failing: u64 = 0;
        while let Some(event) = receiver.recv().await {
            let Delivery { url, params } = event;
            let token = self.app.credentials.auth_token.expose().to_string();
            let limits = Limits {
                timeout: EVENT_TIMEOUT,
                max_reply: MAX_REPLY,
            };
            let sent = match Target::parse(&url) {
                Ok(target) => send::send(&self.http, &token, &target, &params, limits)
                    .await
                    .map(|answer| answer.status),
                Err(reason) => Err(SendError::Other(reason)),
            };
            // Only the status matters for events: a 2xx whose body is over the
            // cap (never read) is still delivered.
            let outcome = match sent {
                Ok(status) | Err(SendError::TooLarge { status, .. })
                    if (200..=299).contains(&status) =>
                {
                    Ok(())
                }
                Ok(status) | Err(SendError::TooLarge { status, .. }) => {
                    Err(format!("answered HTTP {status}"))
                }
                Err(reason) => Err(reason.to_string()),
            };
            match outcome {
                Ok(()) => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    if failing > 0 {
                        self.notify(&format!(
                            "event callbacks of {workspace} delivered again after {failing} failure(s)"
                        ));
                        failing = 0;
                    }
                }
                Err(reason) => {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    if failing == 0 {
                        self.notify(&format!(
                            "event callback to {} failed ({reason}); the event is not sent again, and further failures are counted until one succeeds",
                            crate::api::redact_url(&url)
                        ));
                    }
                    failing += 1;
                }
            }
            pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn notify(&self, message: &str) {
        (self.notice)(message);
    }

    fn report(&self, undelivered: u64) -> DeliveryReport {
        DeliveryReport {
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            undelivered,
        }
    }
}

/// The running runner's handle.
pub struct Runner {
    events: Arc<EventQueues>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Runner {
    /// Stop taking events, give the queued ones until `deadline` to go out, then stop
    /// the runner and say what happened to every event it was given.
    pub async fn drain(self, deadline: Duration) -> DeliveryReport {
        let (queues, late) = {
            let mut state = self.events.state.lock().unwrap_or_else(|p| p.into_inner());
            state.closed = true;
            (std::mem::take(&mut state.queues), state.late)
        };
        // Dropping the senders lets each worker end once its queue is empty.
        let (workers, pending): (Vec<_>, Vec<_>) = queues
            .into_values()
            .map(|queue| (queue.worker, queue.pending))
            .unzip();
        let aborts: Vec<_> = workers.iter().map(|w| w.abort_handle()).collect();
        let _ = tokio::time::timeout(deadline, async {
            for worker in workers {
                let _ = worker.await;
            }
        })
        .await;
        for abort in aborts {
            abort.abort();
        }
        for task in &self.tasks {
            task.abort();
        }
        let left: u64 = pending
            .iter()
            .map(|p| p.load(Ordering::Acquire) as u64)
            .sum();
        self.events.report(left + late)
    }
}

/// Start the runner's tasks on the current tokio runtime.
pub fn start(app: Arc<App>, effects: mpsc::UnboundedReceiver<Effect>, notice: Notice) -> Runner {
    let http = reqwest::Client::builder()
        .user_agent(concat!("trctl-emulator/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default();
    let events = Arc::new(EventQueues {
        app: app.clone(),
        http: http.clone(),
        notice: notice.clone(),
        counters: Arc::default(),
        state: Mutex::default(),
    });
    let tasks = vec![
        tokio::spawn(dispatch(app.clone(), http, effects, events.clone(), notice)),
        tokio::spawn(timers(app)),
    ];
    Runner { events, tasks }
}

async fn dispatch(
    app: Arc<App>,
    http: reqwest::Client,
    mut effects: mpsc::UnboundedReceiver<Effect>,
    events: Arc<EventQueues>,
    notice: Notice,
) {
    while let Some(effect) = effects.recv().await {
        match effect {
            Effect::AssignmentCallback {
                workspace,
                reservation,
                url,
                fallback_url,
                params,
            } => {
                let app = app.clone();
                let http = http.clone();
                let notice = notice.clone();
                // Callbacks run concurrently and never hold the engine while waiting.
                tokio::spawn(async move {
                    let token = app.credentials.auth_token.expose().to_string();
                    let mut reply = post_assignment(&http, &token, &url, &params).await;
                    if let (Err(reason), Some(fallback)) = (&reply, &fallback_url) {
                        notice(&format!(
                            "assignment callback for {reservation} to {} failed ({reason}); trying the fallback URL",
                            crate::api::redact_url(&url)
                        ));
                        reply = post_assignment(&http, &token, fallback, &params).await;
                    }
                    let reply = match reply {
                        Ok(reply) => reply,
                        Err(reason) => {
                            notice(&format!(
                                "assignment callback for {reservation} failed ({reason}); the reservation stays pending"
                            ));
                            CallbackReply::Failed
                        }
                    };
                    // A refused instruction (say, a reject naming an unknown activity) is an
                    // alert on TaskRouter (40100), not an answer to anyone: the reservation
                    // stays as it was.
                    let _ = app.apply(Command::CallbackReply {
                        workspace,
                        reservation,
                        reply,
                    });
                });
            }
            Effect::Event {
                workspace,
                url,
                params,
                ..
            } => events.enqueue(workspace, Delivery { url, params }),
        }
    }
}

/// POST one assignment callback and read the answer as TaskRouter would
/// ([`judge`]); why not when there was no usable 2xx answer in time.
async fn post_assignment(
    http: &reqwest::Client,
    token: &str,
    url: &str,
    params: &[(String, String)],
) -> Result<CallbackReply, String> {
    let target = Target::parse(url)?;
    let limits = Limits {
        timeout: ASSIGNMENT_TIMEOUT,
        // A larger reply is a failed callback (the fallback URL is tried next).
        max_reply: MAX_REPLY,
    };
    let answer = send::send(http, token, &target, params, limits)
        .await
        .map_err(|err| err.to_string())?;
    let judgement = judge(
        CallbackKind::Assignment,
        answer.status,
        answer.content_type.as_deref(),
        &answer.body,
    );
    match judgement.reading {
        Reading::Failed => Err(format!("answered HTTP {}", answer.status)),
        Reading::NoInstruction => Ok(CallbackReply::NoInstruction),
        Reading::Instruction(value) => Ok(CallbackReply::Instruction(value)),
    }
}

/// Fire timers: sleep until the next deadline (in the clock's terms) or until woken by a
/// change that may have set an earlier one.
async fn timers(app: Arc<App>) {
    loop {
        let now = app.clock.now();
        let next = app.arm_next_deadline();
        let wait = match next {
            Some(at) if at <= now => {
                // Tick cannot fail: it only fires deadlines.
                let _ = app.apply(Command::Tick);
                continue;
            }
            Some(at) => app.clock.real_delay(at - now),
            None => None,
        };
        match wait {
            // Wake a little after the deadline so integer rounding never fires early.
            Some(delay) => {
                let _ = tokio::time::timeout(delay + Duration::from_millis(1), app.wake.notified())
                    .await;
            }
            None => app.wake.notified().await,
        }
    }
}
