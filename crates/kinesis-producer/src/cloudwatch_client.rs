//! Builds the aws-sdk-cloudwatch client that uploads the producer's metrics.

use crate::config::Config;
use crate::http_client::{build_http_client, HttpOptions};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;

/// Idle connections kept to CloudWatch: uploads go one request at a time.
const MAX_IDLE_CONNECTIONS: usize = 1;

/// Builds a CloudWatch client: region, credentials (static keys or the AWS default chain),
/// endpoint (`cloudwatch_endpoint`/`cloudwatch_port`, else `AWS_ENDPOINT_URL_CLOUDWATCH` or the
/// region's), TLS and timeouts, with the SDK's standard retries.
pub async fn cloudwatch_client(config: &Config) -> Result<aws_sdk_cloudwatch::Client, String> {
    let http = build_http_client(&HttpOptions {
        connect_timeout: config.connect_timeout(),
        verify_certificate: config.verify_certificate,
        ca_bundle_pem: None,
        proxy: None,
        max_idle_per_host: MAX_IDLE_CONNECTIONS,
    })?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(config.connect_timeout())
        .operation_attempt_timeout(config.request_timeout())
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http).timeout_config(timeouts);
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = config.cloudwatch_endpoint_url() {
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
    Ok(aws_sdk_cloudwatch::Client::new(&shared))
}
