//! Builds the AWS SDK configurations of the producer's clients from its options: region,
//! credentials, endpoint, proxy, TLS and timeouts.
//!
//! Endpoints: an endpoint option wins; without it the SDK's own rules apply
//! (`AWS_ENDPOINT_URL_KINESIS`, `AWS_ENDPOINT_URL_CLOUDWATCH`, `AWS_ENDPOINT_URL_STS`,
//! `AWS_ENDPOINT_URL`, `endpoint_url` in the profile, then the region's endpoint).

use crate::config::Config;
use crate::credentials::{self, Purpose};
use crate::credentials_cache::{RefreshSettings, RefreshingCredentials};
use crate::http_client::{build_http_client, HttpOptions};
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::origin::Origin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Shortest wait before a failed credentials refresh is tried again.
const MIN_CREDENTIALS_RETRY: Duration = Duration::from_secs(1);

/// Builds a Kinesis client: see [`kinesis_sdk_config`].
pub async fn kinesis_client(config: &Config) -> Result<aws_sdk_kinesis::Client, String> {
    Ok(aws_sdk_kinesis::Client::new(&kinesis_sdk_config(config).await?))
}

/// The SDK configuration for Kinesis (its secrets are registered for [`crate::redact`]): region, the Kinesis credentials, endpoint, proxy, TLS and
/// timeouts, and no SDK retries (the producer does its own).
///
/// Resolves the credentials once, bounded by `connect_timeout + request_timeout`, and fails
/// with a message saying which source failed and why (no static keys and nothing in the default
/// chain, STS unreachable, role refused). From then on they are refreshed in the background
/// on the current tokio runtime before they expire.
pub async fn kinesis_sdk_config(config: &Config) -> Result<SdkConfig, String> {
    crate::redaction::register_config(config);
    let clients = HttpClients::new(config)?;
    let base = base_sdk_config(config, clients.aws.clone(), RetryConfig::disabled()).await?;
    let (source, describe) = credentials::source(config, Purpose::Kinesis, &base, clients.sts).await?;
    let credentials = RefreshingCredentials::start(source, refresh_settings(config, describe)).await?;
    Ok(for_service(base, credentials, config.kinesis_endpoint_url()))
}

/// The SDK configuration for CloudWatch metrics (its secrets are registered for
/// [`crate::redact`]): region, the metrics credentials
/// (`metrics_access_key`/`metrics_secret_key`, each defaulting to its Kinesis counterpart, and
/// `metrics_role_arn`, which does not default to `role_arn`), the CloudWatch endpoint, proxy,
/// TLS, timeouts, and the SDK's standard retries.
///
/// Credentials are loaded in the background and kept fresh; a failure does not fail this call
/// (metrics never stop delivery) but fails the uploads with its reason until it is resolved.
/// Must be called on a tokio runtime that outlives the returned configuration's use.
pub async fn metrics_sdk_config(config: &Config) -> Result<SdkConfig, String> {
    crate::redaction::register_config(config);
    let clients = HttpClients::new(config)?;
    let base = base_sdk_config(config, clients.aws.clone(), RetryConfig::standard()).await?;
    let (source, describe) = credentials::source(config, Purpose::Metrics, &base, clients.sts).await?;
    let credentials = RefreshingCredentials::start_in_background(source, refresh_settings(config, describe));
    Ok(for_service(base, credentials, config.cloudwatch_endpoint_url()))
}

/// HTTP clients: one for AWS services, one for STS (with the STS-only proxy, if set).
struct HttpClients {
    aws: SharedHttpClient,
    sts: SharedHttpClient,
}

impl HttpClients {
    fn new(config: &Config) -> Result<Self, String> {
        let ca_bundle_pem = match &config.ca_bundle {
            Some(path) => Some(read_ca_bundle(path)?),
            None => None,
        };
        let options = HttpOptions {
            connect_timeout: config.connect_timeout(),
            verify_certificate: config.verify_certificate,
            ca_bundle_pem,
            proxy: config.proxy.as_ref().map(|p| p.expose().to_owned()),
            max_idle_per_host: config.max_connections as usize,
        };
        let aws = build_http_client(&options)?;
        let sts = match config.sts_proxy_url() {
            Some(url) => build_http_client(&HttpOptions { proxy: Some(url), ..options })?,
            None => aws.clone(),
        };
        Ok(HttpClients { aws, sts })
    }
}

/// The PEM file of `ca_bundle`, checked to hold certificates.
fn read_ca_bundle(path: &str) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("option \"ca_bundle\": cannot read the file {path:?}: {e}"))?;
    crate::tls_config::client_tls_config(true, Some(&pem))
        .map_err(|e| format!("option \"ca_bundle\": the file {path:?} is not usable: {e}"))?;
    Ok(pem)
}

/// Region, profile, timeouts and the HTTP client; the default credentials chain built from them.
async fn base_sdk_config(config: &Config, http: SharedHttpClient, retry: RetryConfig) -> Result<SdkConfig, String> {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(config.connect_timeout())
        .operation_attempt_timeout(config.request_timeout())
        .operation_timeout(config.request_timeout())
        .build();
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(http).timeout_config(timeouts).retry_config(retry);
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &config.profile {
        loader = loader.profile_name(profile);
    }
    let base = loader.load().await;
    if base.region().is_none() {
        return Err("no AWS region: set the region option or AWS_REGION".into());
    }
    Ok(base)
}

/// `base` with these credentials (the SDK's own cache off: they are cached already) and, when
/// set, this endpoint ahead of the endpoint environment variables.
fn for_service(base: SdkConfig, credentials: RefreshingCredentials, endpoint: Option<String>) -> SdkConfig {
    let mut builder = base
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .identity_cache(IdentityCache::no_cache());
    if let Some(url) = endpoint {
        builder = builder.endpoint_url(url);
        builder.insert_origin("endpoint_url", Origin::shared_config());
    }
    builder.build()
}

fn refresh_settings(config: &Config, describe: crate::credentials_cache::Describe) -> RefreshSettings {
    RefreshSettings {
        load_timeout: config.connect_timeout() + config.request_timeout(),
        retry_delay: config.credentials_refresh_delay().max(MIN_CREDENTIALS_RETRY),
        describe,
        clock: Arc::new(SystemTime::now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::ProvideCredentials;

    fn config(json: &str) -> Config {
        Config::from_json(json).expect("valid")
    }

    async fn access_key(sdk: &SdkConfig) -> String {
        let provider = sdk.credentials_provider().expect("provider");
        provider.provide_credentials().await.expect("credentials").access_key_id().to_owned()
    }

    #[tokio::test]
    async fn metrics_keys_default_field_by_field_to_the_kinesis_keys() {
        let cases = [
            (r#""access_key": "AKIDKINESIS", "secret_key": "s1""#, "AKIDKINESIS", "AKIDKINESIS"),
            (
                r#""access_key": "AKIDKINESIS", "secret_key": "s1", "metrics_access_key": "AKIDMETRICS""#,
                "AKIDKINESIS",
                "AKIDMETRICS",
            ),
            (
                r#""access_key": "AKIDKINESIS", "secret_key": "s1", "metrics_secret_key": "s2""#,
                "AKIDKINESIS",
                "AKIDKINESIS",
            ),
        ];
        for (keys, kinesis, metrics) in cases {
            let c = config(&format!(r#"{{"region": "eu-west-1", {keys}}}"#));
            let k = kinesis_sdk_config(&c).await.expect("kinesis config");
            let m = metrics_sdk_config(&c).await.expect("metrics config");
            assert_eq!((access_key(&k).await, access_key(&m).await), (kinesis.to_owned(), metrics.to_owned()));
            let secret = m.credentials_provider().expect("p").provide_credentials().await.expect("c");
            let expected = if keys.contains("metrics_secret_key") { "s2" } else { "s1" };
            assert_eq!(secret.secret_access_key(), expected);
        }
    }

    #[tokio::test]
    async fn endpoints_region_and_identity_cache() {
        let c = config(
            r#"{"region": "eu-west-1", "access_key": "A", "secret_key": "S",
                "kinesis_endpoint": "http://127.0.0.1:4567", "cloudwatch_endpoint": "monitoring.local",
                "cloudwatch_port": 4443}"#,
        );
        let k = kinesis_sdk_config(&c).await.expect("kinesis");
        let m = metrics_sdk_config(&c).await.expect("metrics");
        assert_eq!(k.endpoint_url(), Some("http://127.0.0.1:4567"));
        assert_eq!(m.endpoint_url(), Some("https://monitoring.local:4443"));
        assert!(k.get_origin("endpoint_url").is_client_config());
        assert_eq!(k.region().map(|r| r.as_ref().to_owned()), Some("eu-west-1".to_owned()));
        assert_eq!(m.region().map(|r| r.as_ref().to_owned()), Some("eu-west-1".to_owned()));
        assert!(m.http_client().is_some() && k.http_client().is_some());
        assert_eq!(k.retry_config().map(|r| r.max_attempts()), Some(1));
        assert!(m.retry_config().is_some_and(|r| r.max_attempts() > 1));
    }

    #[tokio::test]
    async fn an_unreadable_or_invalid_ca_bundle_names_the_option() {
        let missing =
            config(r#"{"region": "eu-west-1", "access_key": "A", "secret_key": "S", "ca_bundle": "/no/such/ca.pem"}"#);
        let error = kinesis_sdk_config(&missing).await.expect_err("fails");
        assert!(error.starts_with("option \"ca_bundle\": cannot read the file \"/no/such/ca.pem\": "), "{error}");
        assert_eq!(metrics_sdk_config(&missing).await.expect_err("fails"), error);

        let dir = std::env::temp_dir().join(format!("ca-bundle-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let json = format!(
            r#"{{"region": "eu-west-1", "access_key": "A", "secret_key": "S", "ca_bundle": {:?}}}"#,
            empty.display().to_string()
        );
        let error = kinesis_sdk_config(&config(&json)).await.expect_err("fails");
        assert!(
            error.starts_with("option \"ca_bundle\": the file \"") && error.contains("no PEM certificate"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
