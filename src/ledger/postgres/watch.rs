//! A deadline on every call to the PostgreSQL server.
//!
//! The synchronous client waits for the server's answer without a limit of
//! its own, and neither TCP keepalives nor a server-side statement timeout
//! help when the server's processes are stopped (SIGSTOP, a frozen VM): the
//! kernel keeps the socket alive and nothing on the server runs. So each
//! use of the connection is watched: when one call has waited longer than
//! the limit ([`TIMEOUT_ENV`], 60 s by default), the command stops with a sentence and exit status 1.
//! Nothing is half-recorded: the open transaction never commits, and the
//! server rolls it back when the connection goes.

use std::cell::{RefCell, RefMut};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ::postgres::Client;

/// The environment variable that sets the deadline, in seconds.
pub const TIMEOUT_ENV: &str = "ACCESS_LETTERS_LEDGER_TIMEOUT";

/// The deadline unless [`TIMEOUT_ENV`] says otherwise.
pub const DEFAULT_TIMEOUT_S: u64 = 60;

/// How often the watcher looks.
const WATCH_EVERY_MS: u64 = 250;

/// How long a call may still run after a stop was asked for: a statement
/// that answers within it reaches the caller's own safe point.
const GRACE_AFTER_STOP: Duration = Duration::from_secs(2);

/// The exit status of a command stopped while it waited for the server:
/// the CLI's "stopped, run the same command again".
pub const EXIT_STOPPED_WAITING: i32 = 10;

/// The flag a scheduler's stop (SIGTERM, SIGINT) sets, if the program
/// registered one ([`stop_waiting_on`]).
static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Makes a wait for the server end when `flag` turns true: a connection
/// being set up gives up at once, and a call in progress ends the process
/// after a short grace (the open transaction never commits).
pub fn stop_waiting_on(flag: Arc<AtomicBool>) {
    let _ = STOP.set(flag);
}

/// True once a stop was asked for.
pub(super) fn stop_asked() -> bool {
    STOP.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// The sentence for a command stopped while it waited for `label`.
pub(super) fn stopped_waiting(label: &str) -> String {
    format!(
        "stopped while waiting for the PostgreSQL issuance ledger {label}: nothing of that \
         step was saved (its open transaction is rolled back when the connection closes); \
         run the same command again to finish"
    )
}

/// The deadline: [`TIMEOUT_ENV`] if it holds a whole number of seconds
/// (at least 1), else [`DEFAULT_TIMEOUT_S`].
pub fn timeout_from_env() -> Duration {
    let secs = std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s >= 1)
        .unwrap_or(DEFAULT_TIMEOUT_S);
    Duration::from_secs(secs)
}

/// What the watcher shares with the connection.
struct Shared {
    /// Since when the connection has been in use, if it is.
    busy_since: Mutex<Option<Instant>>,
    /// The ledger as shown in messages (no password).
    label: String,
}

/// A client whose every use is watched against a deadline.
pub(super) struct Watched {
    client: RefCell<Client>,
    shared: Arc<Shared>,
}

/// The client in use; the deadline is disarmed when it is dropped.
pub(super) struct InUse<'a> {
    client: RefMut<'a, Client>,
    shared: &'a Shared,
}

impl Watched {
    /// Watches `client` with a thread that ends the process when one use
    /// outlasts `limit`.
    pub fn new(client: Client, label: &str, limit: Duration) -> Self {
        let shared = Arc::new(Shared {
            busy_since: Mutex::new(None),
            label: label.to_string(),
        });
        let watcher = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("ledger-deadline".into())
            .spawn(move || {
                let mut stop_seen: Option<Instant> = None;
                loop {
                    std::thread::sleep(Duration::from_millis(WATCH_EVERY_MS));
                    // The ledger is gone: so is the watcher.
                    let Some(shared) = watcher.upgrade() else {
                        return;
                    };
                    let since = *shared.busy_since.lock().unwrap_or_else(|p| p.into_inner());
                    stop_seen = match (stop_asked(), since) {
                        (true, Some(_)) => stop_seen.or(Some(Instant::now())),
                        _ => None,
                    };
                    if stop_seen.is_some_and(|t| t.elapsed() > GRACE_AFTER_STOP) {
                        eprintln!("error: {}", stopped_waiting(&shared.label));
                        std::process::exit(EXIT_STOPPED_WAITING);
                    }
                    if since.is_some_and(|t| t.elapsed() > limit) {
                        eprintln!(
                            "error: the PostgreSQL issuance ledger {} did not answer within {} s; \
                         nothing from this step was saved (the open transaction is rolled back \
                         when the connection closes); check that the server is running and \
                         reachable, then run the same command again (the limit is {} seconds, \
                         set by {TIMEOUT_ENV})",
                            shared.label,
                            limit.as_secs(),
                            limit.as_secs(),
                        );
                        std::process::exit(1);
                    }
                }
            })
            .ok();
        Watched {
            client: RefCell::new(client),
            shared,
        }
    }

    fn arm(&self) {
        *self
            .shared
            .busy_since
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    /// The client, for one use (reads through `&self`).
    pub fn borrow_mut(&self) -> InUse<'_> {
        self.arm();
        InUse {
            client: self.client.borrow_mut(),
            shared: &self.shared,
        }
    }

    /// The client, for one use.
    pub fn get_mut(&mut self) -> InUse<'_> {
        self.borrow_mut()
    }
}

impl Deref for InUse<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for InUse<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        *self
            .shared
            .busy_since
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }
}
