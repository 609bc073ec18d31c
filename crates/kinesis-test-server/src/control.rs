//! The JSON control API under `/_control/`: faults, limits, stats, streams, records,
//! resharding and outages.

use crate::config::Limits;
use crate::faults::Faults;
use crate::server::{Command, Context};
use crate::store::ShardRecords;
use base64_simd::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Path prefix of the control API.
pub(crate) const PREFIX: &str = "/_control/";

const MAX_CONTROL_BODY: usize = 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateStream {
    name: String,
    shards: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Split {
    stream: String,
    shard: String,
    /// Decimal hash key; the middle of the shard's range when absent.
    #[serde(default)]
    new_starting_hash_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Merge {
    stream: String,
    shard: String,
    adjacent_shard: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Outage {
    duration_ms: u64,
}

/// Answers one control request.
pub(crate) async fn handle(context: &Context, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().trim_start_matches(PREFIX).to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let body = match Limited::new(request.into_body(), MAX_CONTROL_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return reply(StatusCode::BAD_REQUEST, json!({"error": "unreadable body"})),
    };
    match route(context, &method, &path, &query, &body).await {
        Ok(value) => reply(StatusCode::OK, value),
        Err((status, message)) => reply(status, json!({ "error": message })),
    }
}

type Outcome = Result<Value, (StatusCode, String)>;

async fn route(context: &Context, method: &Method, path: &str, query: &str, body: &[u8]) -> Outcome {
    let state = &context.state;
    match (method.as_str(), path) {
        ("GET", "stats") => to_json(&state.counters.snapshot()),
        ("POST", "stats/reset") => {
            state.counters.clear();
            Ok(json!({}))
        }
        ("GET", "faults") => to_json(&*state.faults()),
        ("POST", "faults") => {
            let faults: Faults = parse(body)?;
            state.set_faults(faults);
            to_json(&*state.faults())
        }
        ("GET", "limits") => to_json(&*state.limits()),
        ("POST", "limits") => {
            let limits: Limits = parse(body)?;
            state.set_limits(limits);
            to_json(&*state.limits())
        }
        ("GET", "streams") => {
            let streams: Vec<Value> = state
                .registry
                .all()
                .iter()
                .map(|s| json!({"name": s.name, "arn": s.arn, "open_shards": s.open_shard_count()}))
                .collect();
            Ok(Value::Array(streams))
        }
        ("POST", "streams") => {
            let input: CreateStream = parse(body)?;
            let stream = state.registry.create(&input.name, input.shards).map_err(bad)?;
            Ok(json!({"name": stream.name, "arn": stream.arn}))
        }
        ("GET", "records") => {
            let stream =
                query_param(query, "stream").ok_or((StatusCode::BAD_REQUEST, "missing ?stream=".to_string()))?;
            let limit = query_param(query, "limit").and_then(|l| l.parse().ok());
            let stream = state.registry.get(stream).map_err(not_found)?;
            Ok(json!({
                "stream": stream.name,
                "shards": stream.snapshot().iter().map(|s| shard_json(s, limit)).collect::<Vec<_>>(),
            }))
        }
        ("POST", "split") => {
            let input: Split = parse(body)?;
            let stream = state.registry.get(&input.stream).map_err(not_found)?;
            let new_start = match input.new_starting_hash_key {
                Some(text) => crate::hash::parse_explicit_hash_key(&text)
                    .ok_or((StatusCode::BAD_REQUEST, format!("bad hash key {text}")))?,
                None => midpoint(&stream, &input.shard)?,
            };
            let (low, high) = stream.split(&input.shard, new_start).map_err(bad)?;
            Ok(json!({ "children": [low, high] }))
        }
        ("POST", "merge") => {
            let input: Merge = parse(body)?;
            let stream = state.registry.get(&input.stream).map_err(not_found)?;
            let child = stream.merge(&input.shard, &input.adjacent_shard).map_err(bad)?;
            Ok(json!({ "child": child }))
        }
        ("POST", "outage") => {
            let input: Outage = parse(body)?;
            let (ack, started) = oneshot::channel();
            let command = Command::Outage(Duration::from_millis(input.duration_ms), ack);
            if context.commands.send(command).is_err() {
                return Err((StatusCode::SERVICE_UNAVAILABLE, "server is stopping".into()));
            }
            let _ = started.await;
            Ok(json!({ "duration_ms": input.duration_ms }))
        }
        _ => Err((StatusCode::NOT_FOUND, format!("no control endpoint {method} {PREFIX}{path}"))),
    }
}

/// The middle of an open shard's hash key range.
pub(crate) fn midpoint(stream: &crate::store::Stream, shard_id: &str) -> Result<u128, (StatusCode, String)> {
    let topology = stream.read();
    let shard = topology.find(shard_id).ok_or((StatusCode::NOT_FOUND, format!("no shard {shard_id}")))?;
    Ok(shard.start + (shard.end - shard.start) / 2 + 1)
}

fn shard_json(shard: &ShardRecords, limit: Option<usize>) -> Value {
    let records: Vec<Value> = shard
        .records
        .iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|r| {
            json!({
                "sequence_number": r.sequence_number,
                "partition_key": r.partition_key,
                "explicit_hash_key": r.explicit_hash_key.map(|k| k.to_string()),
                "data": STANDARD.encode_to_string(&r.data),
                "arrival_ms": r.arrival.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            })
        })
        .collect();
    json!({
        "shard_id": shard.shard_id,
        "starting_hash_key": shard.starting_hash_key.to_string(),
        "ending_hash_key": shard.ending_hash_key.to_string(),
        "parent_shard_id": shard.parent_shard_id,
        "adjacent_parent_shard_id": shard.adjacent_parent_shard_id,
        "open": shard.open,
        "record_count": shard.record_count,
        "byte_count": shard.byte_count,
        // As a string: JSON readers in other languages lose bits above 2^53.
        "digest": shard.digest.to_string(),
        "records": records,
    })
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(key, _)| *key == name).map(|(_, value)| value)
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, (StatusCode, String)> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
}

fn to_json<T: serde::Serialize>(value: &T) -> Outcome {
    serde_json::to_value(value).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn bad(error: crate::error::ServiceError) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, error.to_string())
}

fn not_found(error: crate::error::ServiceError) -> (StatusCode, String) {
    (StatusCode::NOT_FOUND, error.to_string())
}

fn reply(status: StatusCode, value: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}
