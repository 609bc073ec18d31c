//! Helpers: starting servers, SDK clients, request entries, raw HTTP.

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::timeout::TimeoutConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;
use kinesis_test_server::{ServerConfig, TestServer};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A plain-HTTP server with the given streams and a fixed seed.
pub async fn start(streams: &[(&str, u32)]) -> TestServer {
    start_with(ServerConfig {
        streams: streams.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
        seed: Some(42),
        ..ServerConfig::default()
    })
    .await
}

pub async fn start_with(config: ServerConfig) -> TestServer {
    TestServer::start(config).await.expect("server starts")
}

/// The SDK's hyper-based HTTP client with rustls; `trusted_pem` replaces the system roots.
fn http_client(trusted_pem: Option<&str>) -> aws_sdk_kinesis::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match trusted_pem {
        None => builder.build_https(),
        Some(pem) => {
            let context = TlsContext::builder()
                .with_trust_store(TrustStore::empty().with_pem_certificate(pem.as_bytes()))
                .build()
                .expect("tls context");
            builder.tls_context(context).build_https()
        }
    }
}

fn config_builder(endpoint: &str, attempt_timeout: Duration) -> aws_sdk_kinesis::config::Builder {
    aws_sdk_kinesis::Config::builder()
        .http_client(http_client(None))
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(attempt_timeout).build())
}

/// An SDK client without retries (so each fault is seen once) and a 5 s attempt timeout.
pub fn client(endpoint: &str) -> Client {
    client_with_timeout(endpoint, Duration::from_secs(5))
}

pub fn client_with_timeout(endpoint: &str, attempt_timeout: Duration) -> Client {
    Client::from_conf(config_builder(endpoint, attempt_timeout).build())
}

/// An SDK client for an HTTPS server that trusts only `cert_pem`.
pub fn tls_client(endpoint: &str, cert_pem: &str) -> Client {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(cert_pem.as_bytes()))
        .build()
        .expect("tls context");
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https();
    Client::from_conf(config_builder(endpoint, Duration::from_secs(5)).http_client(http_client).build())
}

pub fn entry(partition_key: &str, data: impl Into<Vec<u8>>) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder().partition_key(partition_key).data(Blob::new(data)).build().expect("entry")
}

pub fn entry_with_hash(partition_key: &str, hash_key: u128, data: &[u8]) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(partition_key)
        .explicit_hash_key(hash_key.to_string())
        .data(Blob::new(data))
        .build()
        .expect("entry")
}

/// `count` entries with keys `k0, k1, ...` and data `record-0, ...`.
pub fn entries(count: usize) -> Vec<PutRecordsRequestEntry> {
    (0..count).map(|i| entry(&format!("k{i}"), format!("record-{i}"))).collect()
}

/// The service error code of an SDK error, if it is a service error.
pub fn code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<String> {
    match error {
        SdkError::ServiceError(_) => error.code().map(str::to_string),
        _ => None,
    }
}

/// Hash key of a partition key by the documented rule, computed here independently of the
/// server: MD5 of the UTF-8 bytes as a big-endian 128-bit number.
pub fn md5_hash_key(partition_key: &str) -> u128 {
    use md5::{Digest, Md5};
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// A raw HTTP/1.1 request with `Connection: close`; returns status and body.
pub async fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// A control API call; panics on transport errors, returns status and parsed JSON.
pub async fn control(port: u16, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, body) = http(port, method, path, body).await.expect("control request");
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    (status, json)
}
