//! Errors of native calls and how they reach Java: as `IllegalArgumentException`,
//! `IllegalStateException` or, for panics and JNI failures, `RuntimeException`.

use jni::errors::{Error as JniError, ErrorPolicy};
use jni::strings::JNIString;
use jni::{jni_str, Env};
use std::any::Any;
use std::fmt;

/// Why a native call failed.
#[derive(Debug)]
pub enum BridgeError {
    /// The caller passed something invalid: `IllegalArgumentException`.
    InvalidArgument(String),
    /// The handle is closed or unknown: `IllegalStateException`.
    InvalidState(String),
    /// Something failed that the caller could not have prevented: `RuntimeException`.
    Failed(String),
    /// A JNI call failed; a Java exception may already be pending.
    Jni(JniError),
}

impl BridgeError {
    /// The error for a producer handle that is not (or no longer) open.
    pub fn closed() -> Self {
        BridgeError::InvalidState("producer is closed".to_owned())
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::InvalidArgument(message)
            | BridgeError::InvalidState(message)
            | BridgeError::Failed(message) => f.write_str(message),
            BridgeError::Jni(error) => write!(f, "JNI call failed: {error}"),
        }
    }
}

impl std::error::Error for BridgeError {}

impl From<JniError> for BridgeError {
    fn from(error: JniError) -> Self {
        BridgeError::Jni(error)
    }
}

/// Throws the Java exception matching a [`BridgeError`] or a panic, and returns the default value.
#[derive(Debug, Default)]
pub struct ThrowJavaException;

impl<T: Default> ErrorPolicy<T, BridgeError> for ThrowJavaException {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _captures: &mut Self::Captures<'unowned_env_local, 'native_method>,
        error: BridgeError,
    ) -> jni::errors::Result<T> {
        if env.exception_check() {
            // A Java exception from the failed call is already on its way.
            return Ok(T::default());
        }
        let message = JNIString::from(error.to_string());
        let _ = match error {
            BridgeError::InvalidArgument(_) => env.throw_new(jni_str!("java/lang/IllegalArgumentException"), &message),
            BridgeError::InvalidState(_) => env.throw_new(jni_str!("java/lang/IllegalStateException"), &message),
            BridgeError::Failed(_) | BridgeError::Jni(_) => {
                env.throw_new(jni_str!("java/lang/RuntimeException"), &message)
            }
        };
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _captures: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let reason = panic_message(payload);
        if env.exception_check() {
            env.exception_clear();
        }
        let message = JNIString::from(format!("kinesis-producer native code panicked: {reason}"));
        let _ = env.throw_new(jni_str!("java/lang/RuntimeException"), &message);
        Ok(T::default())
    }
}

/// The text of a panic payload (`panic!` with a literal or with format arguments).
pub fn panic_message(payload: Box<dyn Any + Send + 'static>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(text) => (*text).to_owned(),
            Err(other) => {
                // Dropping an arbitrary payload could panic again; leak it instead.
                std::mem::forget(other);
                "(no message)".to_owned()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_from_both_payload_kinds() {
        let literal = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_message(literal), "plain");
        let formatted = std::panic::catch_unwind(|| panic!("value {}", 7)).unwrap_err();
        assert_eq!(panic_message(formatted), "value 7");
    }
}
