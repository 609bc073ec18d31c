//! Builds the aws-sdk-kinesis client from the producer's configuration.

use crate::config::Config;
use crate::http_client::{build_http_client, HttpOptions};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;

/// Builds a Kinesis client: region, credentials (static keys or the AWS default chain),
/// endpoint, TLS and timeouts, and no SDK retries (the producer does its own).
pub async fn kinesis_client(config: &Config) -> Result<aws_sdk_kinesis::Client, String> {
    let http = build_http_client(&HttpOptions {
        connect_timeout: config.connect_timeout(),
        verify_certificate: config.verify_certificate,
        ca_bundle_pem: None,
        proxy: None,
        max_idle_per_host: config.max_connections as usize,
    })?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(config.connect_timeout())
        .operation_attempt_timeout(config.request_timeout())
        .operation_timeout(config.request_timeout())
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::disabled());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = config.kinesis_endpoint_url() {
        loader = loader.endpoint_url(url);
    }
    if let (Some(access_key), Some(secret_key)) = (&config.access_key, &config.secret_key) {
        let credentials = Credentials::new(access_key.expose(), secret_key.expose(), None, None, "configuration");
        loader = loader.credentials_provider(credentials);
    }
    let shared = loader.load().await;
    if shared.region().is_none() {
        return Err("no AWS region: set the region option or AWS_REGION".into());
    }
    Ok(aws_sdk_kinesis::Client::new(&shared))
}
