//! The transport over aws-sdk-kinesis.

use crate::pooled_buffers::PooledBuffers;
use crate::put_records_body::put_records_body;
use crate::shard_map::Shard;
use crate::transport::{BoxFuture, EntryResult, PutEntry, RequestError, RequestErrorKind, StreamTarget, Transport};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::types::{ShardFilter, ShardFilterType};
use aws_sdk_kinesis::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::display::DisplayErrorContext;
use std::sync::Arc;

/// Largest page ListShards returns.
const LIST_SHARDS_PAGE: i32 = 1000;

/// Sends through an aws-sdk-kinesis client (its own retries are off: the producer retries).
#[derive(Clone)]
pub struct SdkTransport {
    client: Arc<Client>,
    bodies: Arc<PooledBuffers>,
}

impl SdkTransport {
    /// Wraps a configured client.
    pub fn new(client: Client) -> Self {
        SdkTransport { client: Arc::new(client), bodies: Arc::default() }
    }
}

/// Turns an SDK error into the producer's request error, keeping the service code and message.
pub(crate) fn request_error<E>(error: SdkError<E, HttpResponse>) -> RequestError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(credentials) = find_source::<CredentialsError>(&error) {
        // No credentials to sign with (expired and not refreshed, role revoked, ...): retried.
        return RequestError {
            kind: RequestErrorKind::Other,
            code: "CredentialsUnavailable".into(),
            message: crate::credentials::error_chain(credentials),
        };
    }
    let detail = DisplayErrorContext(&error).to_string();
    match &error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            RequestError {
                kind: RequestErrorKind::Service { status: service.raw().status().as_u16() },
                code: err.code().unwrap_or("Unknown").to_owned(),
                message: err.message().map_or(detail, str::to_owned),
            }
        }
        SdkError::TimeoutError(_) => {
            RequestError { kind: RequestErrorKind::Timeout, code: "Timeout".into(), message: detail }
        }
        SdkError::DispatchFailure(failure) => {
            let (kind, code) = if failure.is_timeout() {
                (RequestErrorKind::Timeout, "Timeout")
            } else {
                (RequestErrorKind::Connection, "ConnectionError")
            };
            RequestError { kind, code: code.into(), message: detail }
        }
        _ => RequestError { kind: RequestErrorKind::Other, code: "RequestFailed".into(), message: detail },
    }
}

/// The first error of type `T` in the source chain of `error`.
fn find_source<'a, T: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        source = e.source();
    }
    None
}

impl Transport for SdkTransport {
    fn put_records(
        &self,
        stream: &StreamTarget,
        entries: &[PutEntry<'_>],
    ) -> BoxFuture<Result<Vec<EntryResult>, RequestError>> {
        let count = entries.len();
        let bodies = &self.bodies;
        let body = bodies.into_bytes(put_records_body(stream, entries, |size| bodies.take(size)));
        let client = self.client.clone();
        let stream = stream.clone();
        Box::pin(async move {
            let content_length = body.len().to_string();
            // The input carries only the stream (the endpoint rules read it); the records go in
            // the body written above, which replaces the serialized one before signing.
            let request = client.put_records().set_records(Some(Vec::new()));
            let request = match &stream {
                StreamTarget::Name(name) => request.stream_name(name),
                StreamTarget::Arn(arn) => request.stream_arn(arn),
            };
            let request = request.customize().mutate_request(move |http_request| {
                *http_request.body_mut() = SdkBody::from(body.clone());
                http_request.headers_mut().insert("Content-Length", content_length.clone());
            });
            let output = request.send().await.map_err(request_error)?;
            let results = output.records;
            if results.len() != count {
                return Err(RequestError {
                    kind: RequestErrorKind::Other,
                    code: "MalformedResponse".into(),
                    message: format!("PutRecords answered {} entries for {count} records", results.len()),
                });
            }
            Ok(results
                .into_iter()
                .map(|r| match (r.shard_id, r.sequence_number) {
                    (Some(shard_id), Some(sequence_number)) => EntryResult::Accepted { shard_id, sequence_number },
                    _ => EntryResult::Failed {
                        code: r.error_code.unwrap_or_else(|| "Unknown".into()),
                        message: r.error_message.unwrap_or_default(),
                    },
                })
                .collect())
        })
    }

    fn list_shards(&self, stream: &StreamTarget) -> BoxFuture<Result<Vec<Shard>, RequestError>> {
        let client = self.client.clone();
        let stream = stream.clone();
        Box::pin(async move {
            let mut shards = Vec::new();
            let mut next_token: Option<String> = None;
            loop {
                let mut request = client.list_shards().max_results(LIST_SHARDS_PAGE);
                request = match next_token.take() {
                    // StreamName/ARN must not be sent together with NextToken.
                    Some(token) => request.next_token(token),
                    None => {
                        let filter = ShardFilter::builder().r#type(ShardFilterType::AtLatest).build().map_err(|e| {
                            RequestError {
                                kind: RequestErrorKind::Other,
                                code: "InvalidRequest".into(),
                                message: e.to_string(),
                            }
                        })?;
                        let request = request.shard_filter(filter);
                        match &stream {
                            StreamTarget::Name(name) => request.stream_name(name),
                            StreamTarget::Arn(arn) => request.stream_arn(arn),
                        }
                    }
                };
                let page = request.send().await.map_err(request_error)?;
                for shard in page.shards.unwrap_or_default() {
                    // AT_LATEST lists open shards only; a closed one is skipped if a peer sends it anyway.
                    let range = shard.hash_key_range;
                    let closed =
                        shard.sequence_number_range.as_ref().and_then(|r| r.ending_sequence_number.as_ref()).is_some();
                    let parse = |s: &str| {
                        s.parse::<u128>().map_err(|_| RequestError {
                            kind: RequestErrorKind::Other,
                            code: "MalformedResponse".into(),
                            message: format!("ListShards returned hash key {s:?} for shard {}", shard.shard_id),
                        })
                    };
                    let (Some(range), false) = (range, closed) else { continue };
                    shards.push(Shard {
                        id: shard.shard_id.as_str().into(),
                        starting_hash_key: parse(&range.starting_hash_key)?,
                        ending_hash_key: parse(&range.ending_hash_key)?,
                    });
                }
                match page.next_token {
                    Some(token) if !token.is_empty() => next_token = Some(token),
                    _ => return Ok(shards),
                }
            }
        })
    }
}
