//! The application object both the HTTP layer and the runner work through: the engine
//! behind its lock, the clock, the credentials, and the channel effects leave by. The
//! runner and the state file depend on this, not on the HTTP layer.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::clock::Clock;
use super::engine::{Command, Effect, Engine, EngineError, Millis, Outcome};
use crate::api::Secret;

/// Credentials the emulator accepts.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The account SID (`AC…`), the Basic-auth username.
    pub account_sid: String,
    /// Its auth token.
    pub auth_token: Secret,
    /// API keys (`SK…`, secret) also accepted.
    pub api_keys: Vec<(String, Secret)>,
}

impl Credentials {
    /// A verifier of Access Tokens for this account, trusting every accepted API key
    /// (tokens are signed with an API key's secret, never the auth token).
    pub fn token_verifier(&self) -> crate::api::token::Verifier {
        let keys = self
            .api_keys
            .iter()
            .map(|(sid, secret)| crate::api::token::ApiKey {
                sid: sid.clone(),
                secret: secret.clone(),
            })
            .collect();
        crate::api::token::Verifier::new(self.account_sid.clone(), keys)
    }
}

/// What the handlers, the runner and the state file share.
#[derive(Debug)]
pub struct App {
    /// Where effects go (the runner).
    pub effects: tokio::sync::mpsc::UnboundedSender<Effect>,
    /// Wakes the timer task when a deadline earlier than the one it sleeps towards appears.
    pub wake: tokio::sync::Notify,
    /// The deadline the timer task sleeps towards (`Millis::MAX`: none). Written and
    /// read under the engine lock, so a command either lands before the timer task reads
    /// the next deadline or sees the value it armed.
    pub(super) armed: AtomicI64,
    /// The engine; a `std` mutex because no lock is held across an `.await`.
    pub engine: Mutex<Engine>,
    /// The clock handlers read `now` from.
    pub clock: Arc<dyn Clock>,
    /// Accepted credentials.
    pub credentials: Credentials,
    /// Externally visible base URL for `url`/`links`, if not the request's host.
    pub public_url: Option<String>,
    /// Saves the state after changes (`--state`), if asked to.
    pub saver: Option<Arc<super::persist::Saver>>,
    /// The worker SDK's sessions (the gateway's websockets).
    pub gateway: super::gateway::Gateway,
}

impl App {
    /// Apply a command now, hand its effects to the runner, and wake the timers.
    pub fn apply(&self, command: Command) -> Result<Outcome, EngineError> {
        let now = self.clock.now();
        let mut engine = self.lock_at(now);
        let mut result = engine.apply(command, now);
        // Dispatched under the lock, so effects keep the engine's order.
        if let Ok(outcome) = &mut result {
            self.dispatch(&engine, std::mem::take(&mut outcome.effects));
        }
        result
    }

    /// Hand effects to the runner, wake the timers if the command set an earlier deadline
    /// than the one they sleep towards, and tell the state file; called under the engine
    /// lock (`engine` is its guard's engine), so effects keep the engine's order.
    pub(super) fn dispatch(&self, engine: &Engine, effects: Vec<Effect>) {
        for effect in effects {
            // The receiver lives as long as the server; a send can only fail after it stopped.
            let _ = self.effects.send(effect);
        }
        // Most commands leave the earliest deadline where it was (a reservation timeout
        // minutes away is never the next thing due while others are earlier), so the
        // timer task is only woken when it would otherwise sleep past a deadline.
        if engine
            .next_deadline()
            .is_some_and(|due| due < self.armed.load(Ordering::Acquire))
        {
            self.wake.notify_one();
        }
        // Every applied command ends here, so this is where the state file learns of it.
        if let Some(saver) = &self.saver {
            saver.changed();
        }
    }

    /// When the next timer is due.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.lock().next_deadline()
    }

    /// When the next timer is due, recorded as the deadline the timer task now sleeps
    /// towards (both under one lock), so later commands wake it only for an earlier one.
    pub(super) fn arm_next_deadline(&self) -> Option<Millis> {
        let engine = self.lock();
        let next = engine.next_deadline();
        self.armed
            .store(next.unwrap_or(Millis::MAX), Ordering::Release);
        next
    }

    /// The engine, locked, with every timer due by `now` fired first (and its effects
    /// handed on). The timer task fires deadlines as they come, but a request can arrive
    /// between a deadline and that task's turn (a busy emulator, a scaled clock, a manual
    /// clock moved without a tick): it must see the state as of `now` — a reservation
    /// whose timeout passed is `timeout`, not still `pending` and acceptable — as it would
    /// on TaskRouter, where timers are not a separate step a client can overtake.
    pub fn lock_at(&self, now: Millis) -> MutexGuard<'_, Engine> {
        let mut engine = self.lock();
        if engine.next_deadline().is_some_and(|due| due <= now) {
            // A tick only fires deadlines; it cannot fail.
            if let Ok(outcome) = engine.apply(Command::Tick, now) {
                self.dispatch(&engine, outcome.effects);
            }
        }
        engine
    }

    /// The engine, locked.
    pub fn lock(&self) -> MutexGuard<'_, Engine> {
        // A panic while holding the lock would poison it; the state is still the last
        // consistent one (commands check before they change), so keep serving.
        self.engine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::token::{self, ApiKey, VerifyError, WorkerGrant};

    #[test]
    fn the_token_verifier_trusts_the_accepted_api_keys_only() {
        let credentials = Credentials {
            account_sid: crate::emulator::DEV_ACCOUNT_SID.into(),
            auth_token: Secret::new(crate::emulator::DEV_AUTH_TOKEN),
            api_keys: vec![crate::emulator::dev_api_key()],
        };
        let grant = WorkerGrant {
            identity: "Alice".into(),
            workspace_sid: "WS0123456789abcdef0123456789abcdef".into(),
            worker_sid: "WK0123456789abcdef0123456789abcdef".into(),
            role: "worker".into(),
        };
        let sign = |sid: &str, secret: &str| {
            let key = ApiKey {
                sid: sid.into(),
                secret: Secret::new(secret),
            };
            token::mint(&key, &credentials.account_sid, &grant, 1_000, 60).unwrap()
        };
        let verifier = credentials.token_verifier();
        let good = sign(
            crate::emulator::DEV_API_KEY_SID,
            crate::emulator::DEV_API_KEY_SECRET,
        );
        assert_eq!(
            verifier.verify(&good, 1_001).unwrap().worker_sid,
            grant.worker_sid
        );
        // Signed with the auth token as if it were the key's secret: refused.
        let with_token = sign(
            crate::emulator::DEV_API_KEY_SID,
            crate::emulator::DEV_AUTH_TOKEN,
        );
        assert_eq!(
            verifier.verify(&with_token, 1_001),
            Err(VerifyError::BadSignature)
        );
    }
}
