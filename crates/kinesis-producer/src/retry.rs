//! What to do with a failure: retry, slow down and retry, or give up; and how long to wait.

use crate::transport::{RequestError, RequestErrorKind};
use std::time::Duration;

/// How a failed record or request is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// A passing fault: send again after a backoff.
    Retry,
    /// The shard or account is over its limit: slow down, then send again
    /// (or fail at once when `fail_if_throttled` is set).
    Throttled,
    /// Sending again cannot help: fail with the service's message.
    Permanent,
}

/// First retry waits about this long...
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// ...doubling per attempt up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

fn classify_code(code: &str) -> Option<Disposition> {
    use Disposition::*;
    Some(match code {
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "Throttling"
        | "LimitExceededException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "KMSThrottlingException" => Throttled,
        "InternalFailure"
        | "InternalFailureException"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "ExpiredTokenException"
        | "ExpiredToken"
        | "RequestExpired"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "ResourceInUseException"
        | "IDPCommunicationError" => Retry,
        "ResourceNotFoundException"
        | "AccessDeniedException"
        | "AccessDenied"
        | "InvalidArgumentException"
        | "ValidationException"
        | "SerializationException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "InvalidClientTokenId"
        | "KMSDisabledException"
        | "KMSInvalidStateException"
        | "KMSAccessDeniedException"
        | "KMSNotFoundException"
        | "KMSOptInRequired"
        | "KMSInvalidKeyUsageException" => Permanent,
        _ => return None,
    })
}

/// Classifies the ErrorCode of one failed PutRecords entry. Unknown codes are retried.
pub fn classify_entry(code: &str) -> Disposition {
    classify_code(code).unwrap_or(Disposition::Retry)
}

/// What rustls says when it refuses the endpoint's certificate ("invalid peer certificate: UnknownIssuer").
const CERTIFICATE_REFUSED: &str = "invalid peer certificate";

/// The reason, when a connection failed because the endpoint's TLS certificate was refused.
pub fn certificate_problem(error: &RequestError) -> Option<&str> {
    if error.kind != RequestErrorKind::Connection {
        return None;
    }
    let start = error.message.find(CERTIFICATE_REFUSED)?;
    let rest = &error.message[start..];
    let end = rest.find(['(', ')', '\n']).unwrap_or(rest.len());
    Some(rest[..end].trim_end())
}

/// Classifies a failure of a whole request.
pub fn classify_request(error: &RequestError) -> Disposition {
    match error.kind {
        // A refused certificate stays refused: fail at once instead of until record_ttl.
        RequestErrorKind::Connection if certificate_problem(error).is_some() => Disposition::Permanent,
        RequestErrorKind::Timeout | RequestErrorKind::Connection | RequestErrorKind::Other => Disposition::Retry,
        RequestErrorKind::Service { status } => classify_code(&error.code).unwrap_or(match status {
            429 => Disposition::Throttled,
            500..=599 => Disposition::Retry,
            _ => Disposition::Permanent,
        }),
    }
}

/// Wait before attempt `failures + 1`: exponential from 100 ms to 5 s, with jitter over the
/// upper half so that records failing together do not come back together.
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let full = exp.min(BACKOFF_MAX);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, code: &str) -> RequestError {
        RequestError { kind: RequestErrorKind::Service { status }, code: code.into(), message: String::new() }
    }

    #[test]
    fn entry_codes() {
        assert_eq!(classify_entry("ProvisionedThroughputExceededException"), Disposition::Throttled);
        assert_eq!(classify_entry("InternalFailure"), Disposition::Retry);
        assert_eq!(classify_entry("KMSThrottlingException"), Disposition::Throttled);
        assert_eq!(classify_entry("KMSAccessDeniedException"), Disposition::Permanent);
        assert_eq!(classify_entry("SomethingNew"), Disposition::Retry);
    }

    #[test]
    fn request_classification_table() {
        let table = [
            (400, "ProvisionedThroughputExceededException", Disposition::Throttled),
            (400, "LimitExceededException", Disposition::Throttled),
            (400, "ThrottlingException", Disposition::Throttled),
            (429, "Unknown", Disposition::Throttled),
            (500, "InternalFailure", Disposition::Retry),
            (503, "ServiceUnavailable", Disposition::Retry),
            (502, "", Disposition::Retry),
            (400, "ExpiredTokenException", Disposition::Retry),
            (400, "ResourceNotFoundException", Disposition::Permanent),
            (400, "AccessDeniedException", Disposition::Permanent),
            (400, "InvalidArgumentException", Disposition::Permanent),
            (400, "ValidationException", Disposition::Permanent),
            (400, "KMSDisabledException", Disposition::Permanent),
            (400, "KMSNotFoundException", Disposition::Permanent),
            (400, "UnrecognizedClientException", Disposition::Permanent),
            (403, "", Disposition::Permanent),
        ];
        for (status, code, expected) in table {
            assert_eq!(classify_request(&service(status, code)), expected, "{status} {code}");
        }
        for kind in [RequestErrorKind::Timeout, RequestErrorKind::Connection, RequestErrorKind::Other] {
            let e = RequestError { kind, code: String::new(), message: String::new() };
            assert_eq!(classify_request(&e), Disposition::Retry);
        }
    }

    #[test]
    fn refused_certificates_are_permanent() {
        let refused = RequestError {
            kind: RequestErrorKind::Connection,
            code: "ConnectionError".into(),
            message: "dispatch failure: io error: client error (Connect): invalid peer certificate: UnknownIssuer \
                      (DispatchFailure(...))"
                .into(),
        };
        assert_eq!(certificate_problem(&refused), Some("invalid peer certificate: UnknownIssuer"));
        assert_eq!(classify_request(&refused), Disposition::Permanent);
        let refused_connection = RequestError { message: "tcp connect error: Connection refused".into(), ..refused };
        assert_eq!(certificate_problem(&refused_connection), None);
        assert_eq!(classify_request(&refused_connection), Disposition::Retry);
        let service = service(400, "ValidationException");
        assert_eq!(certificate_problem(&RequestError { message: CERTIFICATE_REFUSED.into(), ..service }), None);
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        assert_eq!(backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(1, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(10, 1.0), Duration::from_secs(5));
        assert_eq!(backoff(u32::MAX, 1.0), Duration::from_secs(5));
        assert_eq!(backoff(0, 1.0), Duration::from_millis(100));
    }
}
