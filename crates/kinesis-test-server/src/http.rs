//! One HTTP request: control API or Kinesis operation, with request-level faults applied.

use crate::api::{self, Operation};
use crate::conn_io::ConnectionControl;
use crate::control;
use crate::error::ServiceError;
use crate::faults::{Dice, RequestFault};
use crate::server::Context;
use crate::stats::FaultKind;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// Largest request body read (well above the service's 10 MiB plus base64 overhead).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Answers one request. Never fails: errors become service error answers.
pub(crate) async fn handle(
    context: Arc<Context>,
    connection: Arc<ConnectionControl>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path().starts_with(control::PREFIX) {
        return Ok(control::handle(&context, request).await);
    }
    let state = &context.state;
    let operation =
        request.headers().get("x-amz-target").and_then(|value| value.to_str().ok()).and_then(Operation::from_target);
    let Some(operation) = operation else {
        let error = ServiceError::unknown_operation();
        state.counters.error(error.error_type);
        return Ok(error_response(&error, 0));
    };
    let request_number = state.counters.request(operation);
    let mut dice = Dice::new(state.seed, request_number);
    let faults = state.faults();

    if faults.latency_ms > 0 {
        state.counters.fault(FaultKind::Delayed, 1);
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let fault = if faults.applies_to(operation.name()) { dice.request_fault(&faults) } else { RequestFault::None };
    match fault {
        RequestFault::Hang => {
            state.counters.fault(FaultKind::Hang, 1);
            return std::future::pending().await;
        }
        RequestFault::Reset => {
            state.counters.fault(FaultKind::Reset, 1);
            connection.reset_connection();
            return std::future::pending().await;
        }
        _ => {}
    }

    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let error = ServiceError::serialization("Request body could not be read.");
            state.counters.error(error.error_type);
            return Ok(error_response(&error, request_number));
        }
    };

    let injected = match fault {
        RequestFault::Throttled => {
            Some((FaultKind::RequestThrottled, ServiceError::throughput_exceeded("Rate exceeded.")))
        }
        RequestFault::Http500 => Some((FaultKind::Http500, ServiceError::internal_failure())),
        RequestFault::Http503 => Some((FaultKind::Http503, ServiceError::service_unavailable())),
        _ => None,
    };
    if let Some((kind, error)) = injected {
        state.counters.fault(kind, 1);
        state.counters.error(error.error_type);
        return Ok(error_response(&error, request_number));
    }

    let result = match api::access_denied(&faults.denied_streams, operation, &body) {
        Some(denied) => Err(denied),
        None => api::dispatch(state, operation, &body, &mut dice),
    };
    if fault == RequestFault::CommitThenDrop {
        state.counters.fault(FaultKind::CommitThenDrop, 1);
        connection.drop_connection();
        return std::future::pending().await;
    }
    Ok(match result {
        Ok(json) => json_response(StatusCode::OK, Bytes::from(json), request_number),
        Err(error) => {
            state.counters.error(error.error_type);
            error_response(&error, request_number)
        }
    })
}

/// A service error in the awsJson1.1 form.
pub(crate) fn error_response(error: &ServiceError, request_number: u64) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "__type": error.error_type, "message": error.message });
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json_response(status, Bytes::from(body.to_string()), request_number);
    if let Ok(value) = error.error_type.parse() {
        response.headers_mut().insert("x-amzn-errortype", value);
    }
    response
}

fn json_response(status: StatusCode, body: Bytes, request_number: u64) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(JSON_CONTENT_TYPE));
    let request_id = format!("00000000-0000-4000-8000-{request_number:012x}");
    if let Ok(value) = request_id.parse() {
        headers.insert("x-amzn-requestid", value);
    }
    response
}
