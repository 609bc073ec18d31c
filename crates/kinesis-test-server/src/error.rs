//! Errors in the service's form: an exception name, a message and an HTTP status.

use std::fmt;

/// An error answer of the Kinesis API (`{"__type": ..., "message": ...}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceError {
    /// HTTP status code.
    pub status: u16,
    /// Exception name, e.g. `ResourceNotFoundException`.
    pub error_type: &'static str,
    /// Human-readable message.
    pub message: String,
}

/// The account id used in ARNs and messages.
pub const ACCOUNT_ID: &str = "000000000000";

impl ServiceError {
    fn new(status: u16, error_type: &'static str, message: impl Into<String>) -> Self {
        ServiceError { status, error_type, message: message.into() }
    }

    /// 400 ResourceNotFoundException.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(400, "ResourceNotFoundException", message)
    }

    /// 400 ResourceNotFoundException for a missing stream.
    pub fn stream_not_found(stream: &str) -> Self {
        Self::not_found(format!("Stream {stream} under account {ACCOUNT_ID} not found."))
    }

    /// 400 ResourceInUseException.
    pub fn in_use(message: impl Into<String>) -> Self {
        Self::new(400, "ResourceInUseException", message)
    }

    /// 400 InvalidArgumentException.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidArgumentException", message)
    }

    /// 400 ValidationException.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationException", message)
    }

    /// 400 LimitExceededException.
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(400, "LimitExceededException", message)
    }

    /// 400 SerializationException (malformed request body).
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(400, "SerializationException", message)
    }

    /// 400 UnknownOperationException.
    pub fn unknown_operation() -> Self {
        Self::new(400, "UnknownOperationException", "")
    }

    /// 400 ProvisionedThroughputExceededException.
    pub fn throughput_exceeded(message: impl Into<String>) -> Self {
        Self::new(400, "ProvisionedThroughputExceededException", message)
    }

    /// 400 AccessDeniedException for an operation on a stream the caller may not use.
    pub fn access_denied(operation: &str, stream: &str) -> Self {
        Self::new(
            400,
            "AccessDeniedException",
            format!(
                "User: arn:aws:iam::{ACCOUNT_ID}:user/test is not authorized to perform: kinesis:{operation} \
                 on resource: stream/{stream} because no identity-based policy allows the kinesis:{operation} action"
            ),
        )
    }

    /// 500 InternalFailure.
    pub fn internal_failure() -> Self {
        Self::new(500, "InternalFailure", "Internal service failure.")
    }

    /// 503 ServiceUnavailable.
    pub fn service_unavailable() -> Self {
        Self::new(503, "ServiceUnavailable", "Service unavailable, try again.")
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for ServiceError {}
