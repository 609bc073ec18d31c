//! Which credentials each AWS client signs with: static keys or the AWS default chain, with an
//! STS role assumed on top when one is configured; and messages that say what failed.
//!
//! Kinesis uses `access_key`/`secret_key` and `role_arn`. CloudWatch uses
//! `metrics_access_key`/`metrics_secret_key` (each defaulting to its Kinesis counterpart) and
//! `metrics_role_arn`, which does not default to `role_arn` (as in the KPL-based plugin).

use crate::config::{Config, Secret};
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::ConnectorError;
use std::error::Error;
use std::sync::Arc;

/// Attempts of one AssumeRole call (the SDK retries transient STS failures).
const STS_ATTEMPTS: u32 = 3;

/// The service a set of credentials signs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// PutRecords and ListShards.
    Kinesis,
    /// PutMetricData.
    Metrics,
}

impl Purpose {
    fn name(self) -> &'static str {
        match self {
            Purpose::Kinesis => "Kinesis",
            Purpose::Metrics => "CloudWatch metrics",
        }
    }

    fn keys(self, config: &Config) -> Option<(&Secret, &Secret)> {
        match self {
            Purpose::Kinesis => config.kinesis_keys(),
            Purpose::Metrics => config.metrics_keys(),
        }
    }

    fn role_arn(self, config: &Config) -> Option<&str> {
        match self {
            Purpose::Kinesis => config.role_arn.as_deref(),
            Purpose::Metrics => config.metrics_role_arn.as_deref(),
        }
    }
}

/// The uncached credentials provider for `purpose` and a description of its failures.
///
/// `base` is the SDK configuration whose credentials provider is the AWS default chain;
/// `sts_http` is the HTTP client for STS (the STS proxy, if any).
pub(crate) async fn source(
    config: &Config,
    purpose: Purpose,
    base: &SdkConfig,
    sts_http: SharedHttpClient,
) -> Result<(SharedCredentialsProvider, crate::credentials_cache::Describe), String> {
    let base_provider = match purpose.keys(config) {
        Some((access_key, secret_key)) => SharedCredentialsProvider::new(Credentials::new(
            access_key.expose(),
            secret_key.expose(),
            None,
            None,
            "configuration",
        )),
        None => base.credentials_provider().ok_or("the AWS default credentials chain is not available")?,
    };
    let Some(role_arn) = purpose.role_arn(config) else {
        let chain = default_chain_name(config);
        let describe = move |e: &CredentialsError| describe_chain_failure(purpose, &chain, e);
        return Ok((base_provider, Arc::new(describe)));
    };
    let mut sts = base
        .clone()
        .into_builder()
        .http_client(sts_http)
        .credentials_provider(base_provider)
        .retry_config(RetryConfig::standard().with_max_attempts(STS_ATTEMPTS));
    if let Some(url) = config.sts_endpoint_url() {
        sts = sts.endpoint_url(url);
        sts.insert_origin("endpoint_url", aws_types::origin::Origin::shared_config());
    }
    let sts = sts.build();
    let mut role = AssumeRoleProvider::builder(role_arn).configure(&sts).session_name(&config.role_session_name);
    if let Some(external_id) = &config.external_id {
        role = role.external_id(external_id.expose());
    }
    let provider = SharedCredentialsProvider::new(role.build().await);
    let role_arn = role_arn.to_owned();
    let sts_at = match config.sts_endpoint_url() {
        Some(url) => format!("STS at {url}"),
        None => String::from("the region's STS endpoint"),
    };
    let describe = move |e: &CredentialsError| describe_role_failure(purpose, &role_arn, &sts_at, e);
    Ok((provider, Arc::new(describe)))
}

fn default_chain_name(config: &Config) -> String {
    let profile = match &config.profile {
        Some(name) => format!("profile {name:?}"),
        None => String::from("AWS_PROFILE or the default profile"),
    };
    format!(
        "the AWS default credentials chain (environment, shared config and credentials files with {profile}, \
         web identity token, ECS/EKS container credentials, EC2 instance metadata)"
    )
}

fn describe_chain_failure(purpose: Purpose, chain: &str, error: &CredentialsError) -> String {
    let purpose = purpose.name();
    match error {
        CredentialsError::CredentialsNotLoaded(_) => {
            format!("no {purpose} credentials: none found in {chain}: {}", error_chain(error))
        }
        CredentialsError::ProviderTimedOut(t) => {
            format!("no {purpose} credentials: {chain} gave no answer within {:?}", t.timeout_duration())
        }
        _ => format!("no {purpose} credentials: {chain} failed: {}", error_chain(error)),
    }
}

fn describe_role_failure(purpose: Purpose, role_arn: &str, sts_at: &str, error: &CredentialsError) -> String {
    let why = match error {
        CredentialsError::ProviderTimedOut(t) => format!("no answer within {:?}", t.timeout_duration()),
        _ => sts_failure(error),
    };
    format!("no {} credentials: assuming role {role_arn} through {sts_at} failed: {why}", purpose.name())
}

/// What went wrong with an AssumeRole call, from the errors inside a credentials error.
fn sts_failure(error: &CredentialsError) -> String {
    let mut source: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(sdk) = e.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>() {
            return match sdk {
                SdkError::ServiceError(service) => {
                    let err = service.err();
                    let status = service.raw().status().as_u16();
                    format!(
                        "STS refused (HTTP {status}, {}): {}",
                        err.code().unwrap_or("no error code"),
                        err.message().unwrap_or("no message")
                    )
                }
                SdkError::TimeoutError(_) => format!("STS did not answer in time: {}", error_chain(sdk)),
                SdkError::DispatchFailure(failure) if failure.is_timeout() => {
                    format!("STS did not answer in time: {}", error_chain(sdk))
                }
                _ if contains::<CredentialsError>(sdk) => {
                    format!("no base credentials to call STS with: {}", error_chain(sdk))
                }
                _ if contains::<ConnectorError>(sdk) => format!("STS is unreachable: {}", error_chain(sdk)),
                _ => error_chain(sdk),
            };
        }
        source = e.source();
    }
    error_chain(error)
}

/// True when `T` is somewhere in the source chain of `error` (not counting `error` itself).
fn contains<T: Error + 'static>(error: &dyn Error) -> bool {
    let mut source = error.source();
    while let Some(e) = source {
        if e.is::<T>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The messages of an error and its sources, joined with ": " (repeats left out).
pub(crate) fn error_chain(error: &dyn Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&dyn Error> = Some(error);
    while let Some(e) = source {
        let text = e.to_string();
        if !text.is_empty() && parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(&'static str, Option<Box<dyn Error + Send + Sync>>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    #[test]
    fn error_chain_joins_sources_without_repeats() {
        let inner = Wrapped("connection refused", None);
        let middle = Wrapped("io error", Some(Box::new(inner)));
        let outer = Wrapped("dispatch failure", Some(Box::new(middle)));
        assert_eq!(error_chain(&outer), "dispatch failure: io error: connection refused");
        let repeated = Wrapped("refused", Some(Box::new(Wrapped("refused", None))));
        assert_eq!(error_chain(&repeated), "refused");
    }

    #[test]
    fn chain_failures_say_where_credentials_were_looked_for() {
        let config = Config { profile: Some("ops".into()), ..Config::default() };
        let chain = default_chain_name(&config);
        let none = CredentialsError::not_loaded("no providers in chain provided credentials");
        let message = describe_chain_failure(Purpose::Kinesis, &chain, &none);
        assert!(message.starts_with("no Kinesis credentials: none found in the AWS default credentials chain"));
        assert!(message.contains("profile \"ops\"") && message.contains("EC2 instance metadata"), "{message}");
        let timed_out = CredentialsError::provider_timed_out(std::time::Duration::from_secs(12));
        let message = describe_chain_failure(Purpose::Metrics, &chain, &timed_out);
        assert!(message.starts_with("no CloudWatch metrics credentials: ") && message.ends_with("within 12s"));
    }

    #[test]
    fn role_failures_name_the_role_and_the_sts_endpoint() {
        let error = CredentialsError::provider_error(Wrapped("dispatch failure", None));
        let message = describe_role_failure(
            Purpose::Kinesis,
            "arn:aws:iam::123456789012:role/r",
            "STS at http://127.0.0.1:9",
            &error,
        );
        assert_eq!(
            message,
            "no Kinesis credentials: assuming role arn:aws:iam::123456789012:role/r through STS at \
             http://127.0.0.1:9 failed: an error occurred while loading credentials: dispatch failure"
        );
    }
}
