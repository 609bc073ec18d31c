//! Builds the aws-sdk-cloudwatch client that uploads the producer's metrics.

use crate::client::metrics_sdk_config;
use crate::config::Config;

/// Builds a CloudWatch client with the metrics credentials (metrics keys or role, else the
/// Kinesis ones), the proxy and TLS settings, and the CloudWatch endpoint
/// (`cloudwatch_endpoint`/`cloudwatch_port`, else `AWS_ENDPOINT_URL_CLOUDWATCH` or the region's).
pub async fn cloudwatch_client(config: &Config) -> Result<aws_sdk_cloudwatch::Client, String> {
    Ok(aws_sdk_cloudwatch::Client::new(&metrics_sdk_config(config).await?))
}
