//! Builds the aws-sdk-kinesis client from the producer's configuration.

use crate::config::Config;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;

/// Builds a Kinesis client: region, credentials (static keys or the AWS default chain),
/// endpoint, timeouts, and no SDK retries (the producer does its own).
pub async fn kinesis_client(config: &Config) -> aws_sdk_kinesis::Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let (Some(access_key), Some(secret_key)) = (&config.access_key, &config.secret_key) {
        let credentials =
            Credentials::new(access_key.expose(), secret_key.expose(), None, None, "logstash-output-kinesis");
        loader = loader.credentials_provider(credentials);
    }
    let shared = loader.load().await;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(config.connect_timeout())
        .operation_attempt_timeout(config.request_timeout())
        .operation_timeout(config.request_timeout())
        .build();
    let mut builder =
        aws_sdk_kinesis::config::Builder::from(&shared).retry_config(RetryConfig::disabled()).timeout_config(timeouts);
    if let Some(url) = config.kinesis_endpoint_url() {
        builder = builder.endpoint_url(url);
    }
    aws_sdk_kinesis::Client::from_conf(builder.build())
}
