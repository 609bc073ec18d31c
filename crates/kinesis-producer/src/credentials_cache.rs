//! Credentials kept ready for signing: refreshed in the background before they expire, so that
//! a request never waits for STS, the metadata service or a token file while the credentials
//! it has are still good.
//!
//! A request waits for a load only when there are no usable credentials at all (the refreshes
//! kept failing until expiry); that wait is bounded by `load_timeout`, and while loads keep
//! failing, requests fail at once with the last reason instead of queueing behind STS.

use aws_credential_types::provider::{error::CredentialsError, future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime};

/// Credentials are refreshed this long before they expire (or halfway through a shorter life).
const REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// Credentials are no longer used this long before they expire (or in the last tenth of a
/// shorter life), so that a request signed with them still arrives in time.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// Least time between two successful refreshes.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The wall clock (replaced in tests).
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;
/// Turns a load failure into a message that says which source failed and why (never a secret).
pub(crate) type Describe = Arc<dyn Fn(&CredentialsError) -> String + Send + Sync>;

/// How a [`RefreshingCredentials`] behaves.
#[derive(Clone)]
pub(crate) struct RefreshSettings {
    /// Longest wait for one load from the source.
    pub load_timeout: Duration,
    /// Wait after a failed load before the next attempt.
    pub retry_delay: Duration,
    /// Describes load failures.
    pub describe: Describe,
    /// The wall clock that credential expiry times are compared with.
    pub clock: Clock,
}

/// A credentials provider that serves cached credentials and refreshes them ahead of expiry.
#[derive(Clone)]
pub(crate) struct RefreshingCredentials {
    inner: Arc<Inner>,
}

struct Inner {
    source: SharedCredentialsProvider,
    settings: RefreshSettings,
    state: Mutex<State>,
    /// Held while loading, so that one load runs at a time.
    loading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    /// Reason and time of the last failed load.
    failure: Option<(Arc<str>, SystemTime)>,
    /// When the background refresher loads next; `None` = never (credentials that never expire).
    next_load: Option<SystemTime>,
}

struct Current {
    credentials: Credentials,
    /// After this the credentials are not handed out any more.
    usable_until: Option<SystemTime>,
}

impl RefreshingCredentials {
    /// Loads credentials once (bounded by `load_timeout`), then keeps them fresh in the
    /// background on the current tokio runtime. Fails with the reason when the first load fails.
    pub async fn start(source: SharedCredentialsProvider, settings: RefreshSettings) -> Result<Self, String> {
        let provider = Self::new(source, settings);
        provider.inner.load().await.map_err(|reason| reason.to_string())?;
        spawn_refresher(Arc::downgrade(&provider.inner));
        Ok(provider)
    }

    /// Starts loading in the background at once and keeps the credentials fresh; a request
    /// made before the first load succeeds waits for it (bounded) or gets its failure.
    pub fn start_in_background(source: SharedCredentialsProvider, settings: RefreshSettings) -> Self {
        let provider = Self::new(source, settings);
        provider.inner.lock_state().next_load = Some(SystemTime::UNIX_EPOCH);
        spawn_refresher(Arc::downgrade(&provider.inner));
        provider
    }

    fn new(source: SharedCredentialsProvider, settings: RefreshSettings) -> Self {
        let inner = Inner { source, settings, state: Mutex::default(), loading: tokio::sync::Mutex::new(()) };
        RefreshingCredentials { inner: Arc::new(inner) }
    }
}

impl fmt::Debug for RefreshingCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock_state();
        f.debug_struct("RefreshingCredentials")
            .field("loaded", &state.current.is_some())
            .field("last_failure", &state.failure.as_ref().map(|(reason, _)| reason))
            .finish()
    }
}

impl ProvideCredentials for RefreshingCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let now = (self.inner.settings.clock)();
        match self.inner.usable(now) {
            Some(credentials) => future::ProvideCredentials::ready(Ok(credentials)),
            None => future::ProvideCredentials::new(async move {
                self.inner.load().await.map_err(|reason| CredentialsError::provider_error(reason.to_string()))
            }),
        }
    }
}

impl Inner {
    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn usable(&self, now: SystemTime) -> Option<Credentials> {
        let state = self.lock_state();
        let current = state.current.as_ref()?;
        current.usable_until.is_none_or(|until| now < until).then(|| current.credentials.clone())
    }

    /// True when the credentials held are usable and not yet due for a refresh.
    fn fresh(&self, now: SystemTime) -> bool {
        let state = self.lock_state();
        state.current.as_ref().is_some_and(|c| c.usable_until.is_none_or(|until| now < until))
            && state.next_load.is_none_or(|at| now < at)
    }

    /// Loads from the source, one load at a time. A caller that waited for another load gets
    /// that load's result; while loads keep failing, callers get the last failure at once
    /// rather than a new attempt each.
    async fn load(&self) -> Result<Credentials, Arc<str>> {
        let clock = &self.settings.clock;
        let asked_at = clock();
        let _loading = self.loading.lock().await;
        let now = clock();
        if self.fresh(now) {
            if let Some(credentials) = self.usable(now) {
                return Ok(credentials);
            }
        }
        let last_failure = self.lock_state().failure.clone();
        if let Some((reason, failed_at)) = last_failure {
            let recent = now.duration_since(failed_at).is_ok_and(|ago| ago < self.settings.retry_delay);
            if failed_at >= asked_at || (recent && self.usable(now).is_none()) {
                return Err(reason);
            }
        }
        let result = match tokio::time::timeout(self.settings.load_timeout, self.source.provide_credentials()).await {
            Ok(Ok(credentials)) => Ok(credentials),
            Ok(Err(error)) => Err((self.settings.describe)(&error)),
            Err(_) => Err((self.settings.describe)(&CredentialsError::provider_timed_out(self.settings.load_timeout))),
        };
        let now = clock();
        let mut state = self.lock_state();
        match result {
            Ok(credentials) => {
                crate::redaction::register_loaded(&credentials);
                let (usable_until, refresh_at) = schedule(now, credentials.expiry());
                if state.failure.take().is_some() {
                    tracing::info!("credentials loaded again after failures");
                }
                tracing::debug!(expires_in = ?credentials.expiry().and_then(|e| e.duration_since(now).ok()), "credentials loaded");
                state.current = Some(Current { credentials: credentials.clone(), usable_until });
                state.next_load = refresh_at;
                Ok(credentials)
            }
            Err(reason) => {
                let reason: Arc<str> = reason.into();
                if state.failure.is_none() {
                    tracing::warn!(
                        retry_in = ?self.settings.retry_delay,
                        still_usable = state.current.as_ref().is_some_and(|c| c.usable_until.is_none_or(|u| now < u)),
                        "{reason}"
                    );
                } else {
                    tracing::debug!("{reason}");
                }
                state.failure = Some((reason.clone(), now));
                state.next_load = Some(now + self.settings.retry_delay);
                Err(reason)
            }
        }
    }

    /// Time until the next background load; `None` when no load is ever needed.
    fn next_wait(&self) -> Option<Duration> {
        let next = self.lock_state().next_load?;
        Some(next.duration_since((self.settings.clock)()).unwrap_or(Duration::ZERO))
    }
}

/// When credentials loaded at `now` stop being used, and when to refresh them.
fn schedule(now: SystemTime, expiry: Option<SystemTime>) -> (Option<SystemTime>, Option<SystemTime>) {
    let Some(expiry) = expiry else {
        return (None, None);
    };
    let life = expiry.duration_since(now).unwrap_or(Duration::ZERO);
    let usable_until = expiry - EXPIRY_MARGIN.min(life / 10);
    let refresh_at = (expiry - REFRESH_AHEAD.min(life / 2)).max(now + MIN_REFRESH_INTERVAL);
    (Some(usable_until), Some(refresh_at))
}

/// Reloads ahead of expiry (and after failures) until the provider is dropped or the
/// credentials never expire.
fn spawn_refresher(inner: Weak<Inner>) {
    tokio::spawn(async move {
        loop {
            let wait = match inner.upgrade() {
                Some(inner) => inner.next_wait(),
                None => return,
            };
            let Some(wait) = wait else { return };
            tokio::time::sleep(wait).await;
            let Some(inner) = inner.upgrade() else { return };
            let _ = inner.load().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::ProvideCredentials;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A source whose answers the test scripts: a lifetime for good credentials, or a failure.
    #[derive(Clone, Debug, Default)]
    struct FakeSource {
        calls: Arc<AtomicUsize>,
        script: Arc<Mutex<Script>>,
    }

    #[derive(Clone, Debug, Default)]
    struct Script {
        lifetime: Option<Duration>,
        fail: Option<&'static str>,
        delay: Duration,
    }

    impl FakeSource {
        fn set(&self, script: Script) {
            *self.script.lock().expect("script") = script;
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl ProvideCredentials for FakeSource {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::new(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                let script = self.script.lock().expect("script").clone();
                tokio::time::sleep(script.delay).await;
                if let Some(reason) = script.fail {
                    return Err(CredentialsError::provider_error(reason));
                }
                let expiry = script.lifetime.map(|life| test_clock()() + life);
                Ok(Credentials::new(format!("KEY{n}"), "fake-source-secret", None, expiry, "fake"))
            })
        }
    }

    /// Wall clock that moves with tokio's paused test time.
    fn test_clock() -> Clock {
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        thread_local! { static START: tokio::time::Instant = tokio::time::Instant::now(); }
        Arc::new(move || base + START.with(|start| start.elapsed()))
    }

    fn settings() -> RefreshSettings {
        RefreshSettings {
            load_timeout: Duration::from_secs(10),
            retry_delay: Duration::from_secs(5),
            describe: Arc::new(|e| {
                format!("source failed: {}", aws_smithy_types::error::display::DisplayErrorContext(e))
            }),
            clock: test_clock(),
        }
    }

    async fn key(provider: &RefreshingCredentials) -> Result<String, String> {
        provider
            .provide_credentials()
            .await
            .map(|c| c.access_key_id().to_owned())
            .map_err(|e| aws_smithy_types::error::display::DisplayErrorContext(&e).to_string())
    }

    /// Resolves without waiting: the answer is there on the first poll.
    async fn key_now(provider: &RefreshingCredentials) -> Result<String, String> {
        let at = tokio::time::Instant::now();
        let result = key(provider).await;
        assert_eq!(at.elapsed(), Duration::ZERO, "the request waited for a load");
        result
    }

    fn start_source(script: Script) -> (FakeSource, SharedCredentialsProvider) {
        let source = FakeSource::default();
        source.set(script);
        (source.clone(), SharedCredentialsProvider::new(source))
    }

    #[tokio::test(start_paused = true)]
    async fn credentials_that_never_expire_are_loaded_once() {
        let (source, shared) = start_source(Script::default());
        let provider = RefreshingCredentials::start(shared, settings()).await.expect("loads");
        for _ in 0..3 {
            assert_eq!(key_now(&provider).await.as_deref(), Ok("KEY1"));
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        assert_eq!(source.calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn refreshed_in_the_background_before_expiry_without_making_requests_wait() {
        // One-hour credentials are refreshed 5 minutes before they expire; the refresh takes
        // 4 s, during which requests keep getting the old credentials at once.
        let (source, shared) = start_source(Script { lifetime: Some(Duration::from_secs(3600)), ..Script::default() });
        let provider = RefreshingCredentials::start(shared, settings()).await.expect("loads");
        source.set(Script { lifetime: Some(Duration::from_secs(3600)), delay: Duration::from_secs(4), fail: None });
        tokio::time::sleep(Duration::from_secs(3299)).await;
        assert_eq!((key_now(&provider).await.as_deref(), source.calls()), (Ok("KEY1"), 1));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(source.calls(), 2, "refresh started 300 s before expiry");
        assert_eq!(key_now(&provider).await.as_deref(), Ok("KEY1"), "old credentials while refreshing");
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(key_now(&provider).await.as_deref(), Ok("KEY2"));
        // KEY2 came at 3304 s: its refresh starts at 6604 s and ends at 6608 s.
        tokio::time::sleep(Duration::from_secs(3304)).await;
        assert_eq!((key_now(&provider).await.as_deref(), source.calls()), (Ok("KEY3"), 3));
    }

    #[tokio::test(start_paused = true)]
    async fn short_lived_credentials_refresh_halfway_and_stop_being_used_before_expiry() {
        let (source, shared) = start_source(Script { lifetime: Some(Duration::from_secs(20)), ..Script::default() });
        let provider = RefreshingCredentials::start(shared, settings()).await.expect("loads");
        source.set(Script { fail: Some("STS is down"), ..Script::default() });
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert_eq!(source.calls(), 2, "refresh at half of the 20 s life");
        assert_eq!(key_now(&provider).await.as_deref(), Ok("KEY1"), "still usable until 2 s before expiry");
        tokio::time::sleep(Duration::from_secs(7)).await;
        let error = key_now(&provider).await.expect_err("no usable credentials");
        assert!(error.contains("source failed") && error.contains("STS is down"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_retried_in_the_background_and_recovery_is_picked_up() {
        let (source, shared) = start_source(Script { lifetime: Some(Duration::from_secs(20)), ..Script::default() });
        let provider = RefreshingCredentials::start(shared, settings()).await.expect("loads");
        source.set(Script { fail: Some("AccessDenied: role revoked"), ..Script::default() });
        tokio::time::sleep(Duration::from_secs(32)).await;
        // Refresh at 10 s, then every 5 s: 10, 15, 20, 25, 30.
        assert_eq!(source.calls(), 1 + 5);
        // Many requests while failing: each fails at once with the reason, none starts a load.
        for _ in 0..50 {
            let error = key_now(&provider).await.expect_err("expired");
            assert!(error.contains("AccessDenied: role revoked"), "{error}");
        }
        assert_eq!(source.calls(), 6);
        source.set(Script { lifetime: Some(Duration::from_secs(3600)), ..Script::default() });
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(key_now(&provider).await.as_deref(), Ok("KEY7"), "picked up by the retry at 35 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_first_load_fails_start_with_the_reason() {
        let (_, shared) = start_source(Script { fail: Some("no credentials in the chain"), ..Script::default() });
        let error = RefreshingCredentials::start(shared, settings()).await.expect_err("fails");
        assert!(error.contains("no credentials in the chain"), "{error}");

        let (_, shared) = start_source(Script { delay: Duration::from_secs(60), ..Script::default() });
        let error = RefreshingCredentials::start(shared, settings()).await.expect_err("times out");
        assert!(error.contains("timed out") || error.contains("10s"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn background_start_loads_without_a_request_and_a_request_waits_for_it() {
        let (source, shared) = start_source(Script { delay: Duration::from_secs(2), ..Script::default() });
        let provider = RefreshingCredentials::start_in_background(shared, settings());
        assert_eq!(key(&provider).await.as_deref(), Ok("KEY1"));
        assert_eq!(source.calls(), 1, "the request shared the background load");

        let (source, shared) = start_source(Script::default());
        let _provider = RefreshingCredentials::start_in_background(shared, settings());
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(source.calls(), 1, "loaded without any request");
    }

    #[tokio::test(start_paused = true)]
    async fn the_refresher_stops_when_the_provider_is_dropped() {
        let (source, shared) = start_source(Script { lifetime: Some(Duration::from_secs(20)), ..Script::default() });
        let provider = RefreshingCredentials::start(shared, settings()).await.expect("loads");
        drop(provider);
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert!(source.calls() <= 2, "{} loads after drop", source.calls());
    }

    #[test]
    fn schedule_rules() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = schedule(now, Some(now + Duration::from_secs(3600)));
        assert_eq!(hour, (Some(now + Duration::from_secs(3590)), Some(now + Duration::from_secs(3300))));
        let short = schedule(now, Some(now + Duration::from_secs(20)));
        assert_eq!(short, (Some(now + Duration::from_secs(18)), Some(now + Duration::from_secs(10))));
        let nearly_expired = schedule(now, Some(now + Duration::from_millis(500)));
        assert_eq!(nearly_expired.1, Some(now + MIN_REFRESH_INTERVAL));
        assert_eq!(schedule(now, None), (None, None));
    }
}
