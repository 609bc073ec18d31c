//! Forwards the engine's `tracing` events to log4j2, so Logstash's `log4j2.properties` controls
//! them.
//!
//! Two loggers: [`ENGINE_LOGGER`] for the engine and this bridge, [`SDK_LOGGER`] for everything
//! else (AWS SDK, HTTP, TLS). Levels map one to one (ERROR, WARN, INFO, DEBUG, TRACE). Each
//! logger's level is read from log4j2 when the first producer is created and again, at most every
//! few seconds, during later native calls; tracing's own level filter then drops disabled events
//! before anything is formatted. Events are sent on the thread that emits them, through its
//! existing JVM attachment (engine threads are attached once, when they start); events from
//! threads that are not attached are dropped, never attached for the occasion.

use jni::objects::{JMethodID, JObject, JString};
use jni::refs::Global;
use jni::signature::{JavaType, Primitive};
use jni::vm::JavaVM;
use jni::{jni_sig, jni_str, Env, JValue};
use std::fmt::{self, Write as _};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// log4j2 logger of the engine's and the bridge's own events.
pub const ENGINE_LOGGER: &str = "kinesis.producer";
/// log4j2 logger of events from the AWS SDK, HTTP and TLS crates.
pub const SDK_LOGGER: &str = "kinesis.producer.sdk";

/// How often the log4j2 levels are read again.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// A log level, from `Off` (nothing) to `Trace` (everything).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Nothing is logged.
    Off = 0,
    /// Errors.
    Error = 1,
    /// Warnings and above.
    Warn = 2,
    /// Information and above.
    Info = 3,
    /// Debug and above.
    Debug = 4,
    /// Everything.
    Trace = 5,
}

impl LogLevel {
    const ENABLED: [LogLevel; 5] = [LogLevel::Error, LogLevel::Warn, LogLevel::Info, LogLevel::Debug, LogLevel::Trace];

    /// The level of a tracing event.
    pub fn of(level: &tracing::Level) -> LogLevel {
        match *level {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::TRACE => LogLevel::Trace,
        }
    }

    fn from_rank(rank: u8) -> LogLevel {
        LogLevel::ENABLED.get(usize::from(rank).wrapping_sub(1)).copied().unwrap_or(LogLevel::Off)
    }

    fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Off => LevelFilter::OFF,
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }

    /// Position of the log4j2 method (`error`, `warn`, ...) for this level; none for `Off`.
    fn method_slot(self) -> Option<usize> {
        (self as usize).checked_sub(1)
    }
}

/// Index of the logger (0: [`ENGINE_LOGGER`], 1: [`SDK_LOGGER`]) that gets a target's events.
pub fn logger_for_target(target: &str) -> usize {
    if target.starts_with("kinesis_producer") {
        0
    } else {
        1
    }
}

/// The levels of both loggers as last read from log4j2 (`Off` until then).
static LEVELS: [AtomicU8; 2] = [AtomicU8::new(0), AtomicU8::new(0)];

fn level(logger: usize) -> LogLevel {
    LogLevel::from_rank(LEVELS[logger].load(Ordering::Relaxed))
}

fn enabled(metadata: &Metadata<'_>) -> bool {
    LogLevel::of(metadata.level()) <= level(logger_for_target(metadata.target()))
}

/// One log4j2 `Logger` object and the method ids used on it.
struct JavaLogger {
    object: Global<JObject<'static>>,
    /// `error`, `warn`, `info`, `debug`, `trace` taking one `String`.
    log: [JMethodID; 5],
    /// `isErrorEnabled` ... `isTraceEnabled`.
    is_enabled: [JMethodID; 5],
}

/// Both loggers; absent when log4j2 is not on the class path.
struct Forwarder {
    loggers: [JavaLogger; 2],
}

static FORWARDER: OnceLock<Option<Forwarder>> = OnceLock::new();
static EPOCH: OnceLock<Instant> = OnceLock::new();
static LAST_REFRESH_MS: AtomicU64 = AtomicU64::new(0);

/// Looks the loggers up on the calling Java thread (whose class loader sees log4j2), installs the
/// tracing subscriber and reads the levels. Runs its lookups once per process.
pub fn install(env: &mut Env<'_>) {
    FORWARDER.get_or_init(|| {
        let forwarder = match find_loggers(env) {
            Ok(forwarder) => Some(forwarder),
            Err(_) => {
                // No log4j2 here: run without forwarding rather than fail.
                if env.exception_check() {
                    env.exception_clear();
                }
                None
            }
        };
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Log4jLayer));
        forwarder
    });
    refresh(env);
}

fn find_loggers(env: &mut Env<'_>) -> jni::errors::Result<Forwarder> {
    Ok(Forwarder { loggers: [find_logger(env, ENGINE_LOGGER)?, find_logger(env, SDK_LOGGER)?] })
}

fn find_logger(env: &mut Env<'_>, name: &str) -> jni::errors::Result<JavaLogger> {
    let manager = env.find_class(jni_str!("org/apache/logging/log4j/LogManager"))?;
    let interface = env.find_class(jni_str!("org/apache/logging/log4j/Logger"))?;
    let name = JString::from_str(env, name)?;
    let logger = env
        .call_static_method(
            &manager,
            jni_str!("getLogger"),
            jni_sig!("(Ljava/lang/String;)Lorg/apache/logging/log4j/Logger;"),
            &[JValue::Object(&name)],
        )?
        .l()?;
    let log_signature = jni_sig!("(Ljava/lang/String;)V");
    let check_signature = jni_sig!("()Z");
    let log = [
        env.get_method_id(&interface, jni_str!("error"), &log_signature)?,
        env.get_method_id(&interface, jni_str!("warn"), &log_signature)?,
        env.get_method_id(&interface, jni_str!("info"), &log_signature)?,
        env.get_method_id(&interface, jni_str!("debug"), &log_signature)?,
        env.get_method_id(&interface, jni_str!("trace"), &log_signature)?,
    ];
    let is_enabled = [
        env.get_method_id(&interface, jni_str!("isErrorEnabled"), &check_signature)?,
        env.get_method_id(&interface, jni_str!("isWarnEnabled"), &check_signature)?,
        env.get_method_id(&interface, jni_str!("isInfoEnabled"), &check_signature)?,
        env.get_method_id(&interface, jni_str!("isDebugEnabled"), &check_signature)?,
        env.get_method_id(&interface, jni_str!("isTraceEnabled"), &check_signature)?,
    ];
    Ok(JavaLogger { object: env.new_global_ref(logger)?, log, is_enabled })
}

/// Reads the levels again if the last read is older than a few seconds.
pub fn refresh_if_stale(env: &mut Env<'_>) {
    let now = EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64;
    let last = LAST_REFRESH_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) < REFRESH_EVERY.as_millis() as u64 {
        return;
    }
    // One caller refreshes; the others go on.
    if LAST_REFRESH_MS.compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
        refresh(env);
    }
}

/// Reads both loggers' levels from log4j2 now.
pub fn refresh(env: &mut Env<'_>) {
    let Some(Some(forwarder)) = FORWARDER.get() else { return };
    LAST_REFRESH_MS.store(EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64, Ordering::Relaxed);
    if env.exception_check() {
        return;
    }
    let mut changed = false;
    for (slot, logger) in forwarder.loggers.iter().enumerate() {
        let Some(current) = read_level(env, logger) else { continue };
        changed |= LEVELS[slot].swap(current as u8, Ordering::Relaxed) != current as u8;
    }
    if changed {
        // Callsites cached their interest under the old levels.
        tracing_core::callsite::rebuild_interest_cache();
    }
}

/// The most verbose level the logger has enabled; `None` if log4j2 threw.
fn read_level(env: &mut Env<'_>, logger: &JavaLogger) -> Option<LogLevel> {
    for level in LogLevel::ENABLED.iter().rev() {
        let method = logger.is_enabled[level.method_slot()?];
        // SAFETY: the id is the no-argument boolean method looked up on the Logger interface.
        let answer = unsafe {
            env.call_method_unchecked(logger.object.as_ref(), method, JavaType::Primitive(Primitive::Boolean), &[])
        };
        match answer.and_then(|value| value.z()) {
            Ok(true) => return Some(*level),
            Ok(false) => {}
            Err(_) => {
                env.exception_clear();
                return None;
            }
        }
    }
    Some(LogLevel::Off)
}

/// Sends one formatted event to its logger on the current thread, if the thread is attached.
fn send(logger: usize, level: LogLevel, text: &str) {
    let Some(Some(forwarder)) = FORWARDER.get() else { return };
    let Some(slot) = level.method_slot() else { return };
    let Ok(vm) = JavaVM::singleton() else { return };
    let target = &forwarder.loggers[logger];
    // Fails without side effects when the thread is not attached.
    let _ = vm.with_local_frame(4, |env| -> jni::errors::Result<()> {
        if env.exception_check() {
            // Never disturb an exception on its way to Java.
            return Ok(());
        }
        let message = JString::from_str(env, text)?;
        // SAFETY: the id is the `(String) -> void` method looked up on the Logger interface.
        let sent = unsafe {
            env.call_method_unchecked(
                target.object.as_ref(),
                target.log[slot],
                JavaType::Primitive(Primitive::Void),
                &[JValue::Object(&message).as_jni()],
            )
        };
        if sent.is_err() && env.exception_check() {
            env.exception_clear();
        }
        Ok(())
    });
}

/// The tracing layer that hands events to [`send`].
struct Log4jLayer;

impl<S: Subscriber> Layer<S> for Log4jLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Rebuilt by `refresh` whenever a level changes.
        if enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _context: Context<'_, S>) -> bool {
        enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(level(0).max(level(1)).filter())
    }

    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let metadata = event.metadata();
        if !enabled(metadata) {
            return;
        }
        // Logging must never unwind into the code that logged.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let logger = logger_for_target(metadata.target());
            // The SDK's events can hold credentials (key ids at DEBUG, bodies at TRACE).
            let text = kinesis_producer::redact(&format_event(event, logger)).into_owned();
            send(logger, LogLevel::of(metadata.level()), &text);
        }));
    }
}

/// `message key=value ...`; events of the SDK logger start with their target.
fn format_event(event: &Event<'_>, logger: usize) -> String {
    let mut text = EventText::default();
    event.record(&mut text);
    let mut line = String::with_capacity(text.message.len() + text.fields.len() + 48);
    if logger == 1 {
        let _ = write!(line, "{}: ", event.metadata().target());
    }
    line.push_str(&text.message);
    line.push_str(&text.fields);
    line
}

#[derive(Default)]
struct EventText {
    message: String,
    fields: String,
}

impl Visit for EventText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_one_to_one_and_order_by_verbosity() {
        assert_eq!(LogLevel::of(&tracing::Level::ERROR), LogLevel::Error);
        assert_eq!(LogLevel::of(&tracing::Level::WARN), LogLevel::Warn);
        assert_eq!(LogLevel::of(&tracing::Level::INFO), LogLevel::Info);
        assert_eq!(LogLevel::of(&tracing::Level::DEBUG), LogLevel::Debug);
        assert_eq!(LogLevel::of(&tracing::Level::TRACE), LogLevel::Trace);
        assert!(LogLevel::Off < LogLevel::Error && LogLevel::Debug < LogLevel::Trace);
        for level in LogLevel::ENABLED {
            assert_eq!(LogLevel::from_rank(level as u8), level);
        }
        assert_eq!(LogLevel::from_rank(0), LogLevel::Off);
        assert_eq!(LogLevel::from_rank(200), LogLevel::Off);
        assert_eq!(LogLevel::Off.filter(), LevelFilter::OFF);
        assert_eq!(LogLevel::Warn.filter(), LevelFilter::WARN);
        assert_eq!(LogLevel::Off.method_slot(), None);
        assert_eq!(LogLevel::Error.method_slot(), Some(0));
        assert_eq!(LogLevel::Trace.method_slot(), Some(4));
    }

    #[test]
    fn targets_pick_their_logger() {
        assert_eq!(logger_for_target("kinesis_producer::stream"), 0);
        assert_eq!(logger_for_target("kinesis_producer_jni::natives"), 0);
        assert_eq!(logger_for_target("aws_smithy_runtime::client"), 1);
        assert_eq!(logger_for_target("hyper_util::client"), 1);
    }
}
