//! Engine configuration: the KPL options (same names, defaults and ranges as KPL) plus the
//! engine's own region, record size, buffering and credential options.
//!
//! Every option may be left out of the JSON; `null` also means "use the default". Durations
//! are whole milliseconds. Unknown options, wrong types and out-of-range values are rejected
//! with a message that names the option. Credential values never appear in error messages or
//! in `Debug` output.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
/// KPL's upper bound for "unbounded" numeric options (Java's `Long.MAX_VALUE`).
const I64_MAX: u64 = i64::MAX as u64;

/// Most records in one PutRecords request (a Kinesis limit).
pub const MAX_RECORDS_PER_REQUEST: u64 = 500;
/// Most bytes (partition keys plus data) in one PutRecords request (a Kinesis limit).
pub const MAX_REQUEST_BYTES: u64 = 10 * MIB;
/// Largest Kinesis record (partition key plus data) a stream can be configured to accept.
pub const MAX_RECORD_BYTES: u64 = 10 * MIB;
/// Longest duration the accessors return: about 100 years, so `Instant + d` cannot overflow.
pub const DURATION_CAP: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// Declares every option once: its doc line, type, default and (for numbers) inclusive range.
macro_rules! options {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $ty:ty = $default:expr $(, range($min:expr, $max:expr))?;
    )+) => {
        /// The engine's configuration; `Config::default()` is KPL's defaults.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Config {
            $( $(#[doc = $doc])+ pub $name: $ty, )+
        }

        impl Default for Config {
            fn default() -> Self {
                Config { $( $name: $default, )+ }
            }
        }

        /// Every option name, in table order.
        pub const OPTION_NAMES: &[&str] = &[$( stringify!($name) ),+];

        /// `(option, min, max)` of every numeric option; both bounds are inclusive.
        const RANGES: &[(&str, u64, u64)] = &[$($( (stringify!($name), $min, $max), )?)+];

        impl Config {
            /// Sets one option from its JSON value (type checks only; ranges come later).
            fn set_option(&mut self, option: &str, value: &Value) -> Result<(), ConfigError> {
                match option {
                    $( stringify!($name) => {
                        self.$name = <$ty as OptionValue>::parse(stringify!($name), value)?;
                    } )+
                    unknown => return Err(ConfigError::UnknownOption(unknown.to_owned())),
                }
                Ok(())
            }

            /// Checks every numeric option against its range.
            fn check_ranges(&self) -> Result<(), ConfigError> {
                $($( check_range(stringify!($name), RangeValue::range_value(&self.$name), $min, $max)?; )?)+
                Ok(())
            }
        }
    };
}

options! {
    /// Packs several user records into one Kinesis record (KPL aggregation format).
    aggregation_enabled: bool = true;
    /// Most user records in one aggregated record.
    aggregation_max_count: u64 = 4_294_967_295, range(1, I64_MAX);
    /// Largest aggregated record in bytes.
    aggregation_max_size: u64 = 51_200, range(64, MAX_RECORD_BYTES);
    /// CloudWatch host name, or a full `http://`/`https://` URL; `None` = the region's endpoint.
    cloudwatch_endpoint: Option<String> = None;
    /// CloudWatch port, used only with a bare host name in `cloudwatch_endpoint`.
    cloudwatch_port: u64 = 443, range(1, 65_535);
    /// Most records in one PutRecords request.
    collection_max_count: u64 = MAX_RECORDS_PER_REQUEST, range(1, MAX_RECORDS_PER_REQUEST);
    /// Most bytes in one PutRecords request; see `effective_collection_max_size`.
    collection_max_size: u64 = 5 * MIB, range(52_224, I64_MAX);
    /// Connection timeout in milliseconds.
    connect_timeout: u64 = 6_000, range(100, 300_000);
    /// Credential refresh interval in milliseconds.
    credentials_refresh_delay: u64 = 5_000, range(1, 300_000);
    /// Accepted for compatibility; has no effect (there is no daemon to dump).
    enable_core_dumps: bool = false;
    /// Fails throttled records at once instead of retrying them.
    fail_if_throttled: bool = false;
    /// Kinesis host name, or a full `http://`/`https://` URL; `None` = the region's endpoint.
    kinesis_endpoint: Option<String> = None;
    /// Kinesis port, used only with a bare host name in `kinesis_endpoint`.
    kinesis_port: u64 = 443, range(1, 65_535);
    /// Least severe level the engine logs.
    log_level: LogLevel = LogLevel::Info;
    /// Most concurrent HTTP connections (requests in flight).
    max_connections: u64 = 24, range(1, 256);
    /// Finest dimension of the uploaded metrics.
    metrics_granularity: MetricsGranularity = MetricsGranularity::Shard;
    /// Which metrics are uploaded.
    metrics_level: MetricsLevel = MetricsLevel::Detailed;
    /// CloudWatch namespace of the metrics: 1..255 characters, not starting with `AWS/`.
    metrics_namespace: String = String::from("KinesisProducerLibrary");
    /// Metrics upload interval in milliseconds.
    metrics_upload_delay: u64 = 60_000, range(1, 60_000);
    /// Accepted for compatibility; has no effect.
    min_connections: u64 = 1, range(1, 16);
    /// Accepted for compatibility; has no effect (there is no daemon).
    native_executable: Option<String> = None;
    /// Per-shard send rate limit, in percent of the shard's capacity.
    rate_limit: u64 = 150, range(1, I64_MAX);
    /// Longest time a record waits for batching, in milliseconds.
    record_max_buffered_time: u64 = 100, range(0, I64_MAX);
    /// Time after which an undelivered record fails as expired, in milliseconds.
    record_ttl: u64 = 30_000, range(100, I64_MAX);
    /// HTTP request timeout in milliseconds.
    request_timeout: u64 = 6_000, range(100, 600_000);
    /// Accepted for compatibility; has no effect (there is no daemon to extract).
    temp_directory: Option<String> = None;
    /// Checks TLS certificates.
    verify_certificate: bool = true;
    /// AWS region; `None` = taken from the AWS environment.
    region: Option<String> = None;
    /// Largest user record in bytes (data plus partition key).
    max_user_record_size: u64 = MIB, range(KIB, MAX_RECORD_BYTES);
    /// Most user records buffered before submitters wait.
    max_pending_records: u64 = 100_000, range(1, 1 << 32);
    /// Most user record bytes buffered before submitters wait.
    max_pending_bytes: u64 = 256 * MIB, range(MIB, 64 * GIB);
    /// Static access key id; needs `secret_key`.
    access_key: Option<Secret> = None;
    /// Static secret access key; needs `access_key`.
    secret_key: Option<Secret> = None;
    /// Profile of the shared AWS config/credentials files used by the default chain.
    profile: Option<String> = None;
    /// IAM role assumed through STS for Kinesis.
    role_arn: Option<String> = None;
    /// Session name of every assumed role.
    role_session_name: String = String::from(DEFAULT_ROLE_SESSION_NAME);
    /// External id sent with every AssumeRole call.
    external_id: Option<Secret> = None;
    /// STS host name, or a full `http://`/`https://` URL; `None` = the region's endpoint.
    sts_endpoint: Option<String> = None;
    /// HTTP proxy host for STS requests only.
    sts_proxy_host: Option<String> = None;
    /// HTTP proxy port for STS requests only (80 when only the host is set).
    sts_proxy_port: Option<u64> = None, range(1, 65_535);
    /// CloudWatch access key id; defaults to `access_key`.
    metrics_access_key: Option<Secret> = None;
    /// CloudWatch secret access key; defaults to `secret_key`.
    metrics_secret_key: Option<Secret> = None;
    /// IAM role assumed through STS for CloudWatch; does not default to `role_arn`.
    metrics_role_arn: Option<String> = None;
    /// `http://[user:password@]host:port` proxy for all AWS traffic; `None` = HTTP(S)_PROXY.
    proxy: Option<Secret> = None;
    /// PEM file of certificate authorities trusted in addition to the system's.
    ca_bundle: Option<String> = None;
}

/// Session name of assumed roles unless `role_session_name` is set (the old gem's name).
pub const DEFAULT_ROLE_SESSION_NAME: &str = "logstash-output-kinesis";

impl Config {
    /// Parses and validates a JSON object of options.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        // serde_json's syntax errors give a position only, never the offending text.
        let value: Value = serde_json::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        Config::from_value(&value)
    }

    /// Builds a configuration from a parsed JSON object and validates it.
    fn from_value(value: &Value) -> Result<Config, ConfigError> {
        let Value::Object(options) = value else {
            return Err(ConfigError::NotAnObject { found: json_kind(value) });
        };
        let mut config = Config::default();
        for (option, value) in options {
            if !OPTION_NAMES.contains(&option.as_str()) {
                return Err(ConfigError::UnknownOption(option.clone()));
            }
            if !value.is_null() {
                config.set_option(option, value)?;
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges, names, endpoints and the options that depend on each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_ranges()?;
        check_namespace(&self.metrics_namespace)?;
        check_endpoint("kinesis_endpoint", self.kinesis_endpoint.as_deref())?;
        check_endpoint("cloudwatch_endpoint", self.cloudwatch_endpoint.as_deref())?;
        check_region(self.region.as_deref())?;
        check_credentials(self)?;
        check_endpoint("sts_endpoint", self.sts_endpoint.as_deref())?;
        check_sts_proxy(self.sts_proxy_host.as_deref(), self.sts_proxy_port)?;
        check_proxy(self.proxy.as_ref())?;
        check_not_empty("profile", self.profile.as_deref())?;
        check_not_empty("ca_bundle", self.ca_bundle.as_deref())?;
        if self.max_pending_bytes < self.max_user_record_size {
            return Err(ConfigError::InvalidValue {
                option: "max_pending_bytes",
                value: Some(self.max_pending_bytes.to_string()),
                requirement: format!("must be at least max_user_record_size ({})", self.max_user_record_size),
            });
        }
        Ok(())
    }

    /// Byte limit of one PutRecords request: `collection_max_size`, clamped to 10 MiB.
    pub fn effective_collection_max_size(&self) -> u64 {
        self.collection_max_size.min(MAX_REQUEST_BYTES)
    }

    /// Full Kinesis endpoint URL, or `None` for the region's default endpoint.
    pub fn kinesis_endpoint_url(&self) -> Option<String> {
        let endpoint = self.kinesis_endpoint.as_deref()?;
        Some(endpoint_url(endpoint, self.kinesis_port))
    }

    /// Full CloudWatch endpoint URL, or `None` for the region's default endpoint.
    pub fn cloudwatch_endpoint_url(&self) -> Option<String> {
        let endpoint = self.cloudwatch_endpoint.as_deref()?;
        Some(endpoint_url(endpoint, self.cloudwatch_port))
    }

    /// Full STS endpoint URL, or `None` for the region's default endpoint.
    pub fn sts_endpoint_url(&self) -> Option<String> {
        let endpoint = self.sts_endpoint.as_deref()?;
        Some(endpoint_url(endpoint, 443))
    }

    /// `http://host:port` of the STS-only proxy (port 80 when only the host is set).
    pub fn sts_proxy_url(&self) -> Option<String> {
        let host = self.sts_proxy_host.as_deref()?;
        Some(format!("http://{host}:{}", self.sts_proxy_port.unwrap_or(80)))
    }

    /// Static keys for Kinesis: `access_key` and `secret_key`.
    pub fn kinesis_keys(&self) -> Option<(&Secret, &Secret)> {
        self.access_key.as_ref().zip(self.secret_key.as_ref())
    }

    /// Static keys for CloudWatch: each metrics key, or else its Kinesis counterpart.
    pub fn metrics_keys(&self) -> Option<(&Secret, &Secret)> {
        let access_key = self.metrics_access_key.as_ref().or(self.access_key.as_ref());
        let secret_key = self.metrics_secret_key.as_ref().or(self.secret_key.as_ref());
        access_key.zip(secret_key)
    }

    // The duration accessors cap at DURATION_CAP; callers adding them to an `Instant` should
    // still prefer `checked_add` where the base itself may be far in the future.

    /// `connect_timeout` as a duration (capped at `DURATION_CAP`).
    pub fn connect_timeout(&self) -> Duration {
        millis(self.connect_timeout)
    }

    /// `credentials_refresh_delay` as a duration (capped at `DURATION_CAP`).
    pub fn credentials_refresh_delay(&self) -> Duration {
        millis(self.credentials_refresh_delay)
    }

    /// `metrics_upload_delay` as a duration (capped at `DURATION_CAP`).
    pub fn metrics_upload_delay(&self) -> Duration {
        millis(self.metrics_upload_delay)
    }

    /// `record_max_buffered_time` as a duration (capped at `DURATION_CAP`).
    pub fn record_max_buffered_time(&self) -> Duration {
        millis(self.record_max_buffered_time)
    }

    /// `record_ttl` as a duration (capped at `DURATION_CAP`).
    pub fn record_ttl(&self) -> Duration {
        millis(self.record_ttl)
    }

    /// `request_timeout` as a duration (capped at `DURATION_CAP`).
    pub fn request_timeout(&self) -> Duration {
        millis(self.request_timeout)
    }
}

impl<'de> Deserialize<'de> for Config {
    /// Goes through `Config::from_json`'s checks so errors stay clean and secret-free.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Config::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// A credential string; its `Debug` prints `<redacted>` so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself, for handing to the credentials provider.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Declares a string-valued option type: its variants and their JSON names.
macro_rules! choices {
    (
        $(#[doc = $doc:literal])+
        $name:ident { $( $(#[doc = $vdoc:literal])+ $variant:ident = $text:literal, )+ }
    ) => {
        $(#[doc = $doc])+
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[doc = $vdoc])+ #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in increasing order.
            pub const ALL: &'static [$name] = &[$( $name::$variant ),+];

            /// The name used in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl OptionValue for $name {
            fn parse(option: &'static str, value: &Value) -> Result<Self, ConfigError> {
                parse_choice(option, value, $name::ALL, $name::as_str)
            }
        }
    };
}

choices! {
    /// Severity threshold of the engine's log output.
    LogLevel {
        /// Informational messages and above.
        Info = "info",
        /// Warnings and errors.
        Warning = "warning",
        /// Errors only.
        Error = "error",
    }
}

choices! {
    /// Finest dimension of uploaded metrics; coarser series are always included.
    MetricsGranularity {
        /// Per metric only.
        Global = "global",
        /// Per stream.
        Stream = "stream",
        /// Per shard.
        Shard = "shard",
    }
}

choices! {
    /// Which metrics are uploaded (none < summary < detailed).
    MetricsLevel {
        /// No metrics.
        None = "none",
        /// The summary metrics.
        Summary = "summary",
        /// Every metric.
        Detailed = "detailed",
    }
}

/// Why a configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The text is not JSON (the message gives a position, not the text).
    Syntax(String),
    /// The JSON is not an object.
    NotAnObject {
        /// The kind of JSON value found instead.
        found: &'static str,
    },
    /// No option has this name.
    UnknownOption(String),
    /// The value has the wrong JSON type.
    WrongType {
        /// The option.
        option: &'static str,
        /// The type the option takes.
        expected: &'static str,
        /// The kind of JSON value found.
        found: &'static str,
    },
    /// A number outside the option's inclusive range.
    OutOfRange {
        /// The option.
        option: &'static str,
        /// The value as written.
        value: String,
        /// Smallest value allowed.
        min: u64,
        /// Largest value allowed.
        max: u64,
    },
    /// A value of the right type that the option does not accept.
    InvalidValue {
        /// The option.
        option: &'static str,
        /// The value as JSON text; `None` for secrets.
        value: Option<String>,
        /// What the option requires.
        requirement: String,
    },
    /// One of two options that only work together is set without the other.
    Incomplete {
        /// The option that is set.
        given: &'static str,
        /// The option that is missing.
        missing: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Syntax(message) => write!(f, "configuration is not valid JSON: {message}"),
            ConfigError::NotAnObject { found } => {
                write!(f, "configuration must be a JSON object, got {found}")
            }
            ConfigError::UnknownOption(option) => write!(f, "unknown option {}", quoted(option)),
            ConfigError::WrongType { option, expected, found } => {
                write!(f, "invalid type for option \"{option}\": expected {expected}, got {found}")
            }
            ConfigError::OutOfRange { option, value, min, max } => {
                write!(f, "invalid value {value} for option \"{option}\": must be between {min} and {max}")
            }
            ConfigError::InvalidValue { option, value: Some(value), requirement } => {
                write!(f, "invalid value {value} for option \"{option}\": {requirement}")
            }
            ConfigError::InvalidValue { option, value: None, requirement } => {
                write!(f, "invalid value for option \"{option}\": {requirement}")
            }
            ConfigError::Incomplete { given, missing } => {
                write!(f, "option \"{given}\" is set but \"{missing}\" is not: static credentials need both")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// A type an option can take, read from its JSON value.
trait OptionValue: Sized {
    /// Reads the value; `null` never reaches here (it means "keep the default").
    fn parse(option: &'static str, value: &Value) -> Result<Self, ConfigError>;
}

impl OptionValue for bool {
    fn parse(option: &'static str, value: &Value) -> Result<Self, ConfigError> {
        value.as_bool().ok_or_else(|| wrong_type(option, "a boolean (true or false)", value))
    }
}

impl OptionValue for u64 {
    fn parse(option: &'static str, value: &Value) -> Result<Self, ConfigError> {
        const EXPECTED: &str = "a whole number";
        let Value::Number(number) = value else {
            return Err(wrong_type(option, EXPECTED, value));
        };
        if let Some(n) = number.as_u64() {
            return Ok(n);
        }
        // Negative or huge numbers are range errors; whole floats such as 500.0 are accepted.
        let out_of_range = || {
            let (min, max) = range_of(option);
            ConfigError::OutOfRange { option, value: number.to_string(), min, max }
        };
        if number.is_i64() {
            return Err(out_of_range());
        }
        match number.as_f64() {
            Some(f) if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) => Ok(f as u64),
            Some(f) if f.fract() == 0.0 => Err(out_of_range()),
            _ => Err(wrong_type(option, EXPECTED, value)),
        }
    }
}

impl OptionValue for String {
    fn parse(option: &'static str, value: &Value) -> Result<Self, ConfigError> {
        value.as_str().map(str::to_owned).ok_or_else(|| wrong_type(option, "a string", value))
    }
}

impl OptionValue for Secret {
    fn parse(option: &'static str, value: &Value) -> Result<Self, ConfigError> {
        String::parse(option, value).map(Secret)
    }
}

impl<T: OptionValue> OptionValue for Option<T> {
    fn parse(option: &'static str, value: &Value) -> Result<Self, ConfigError> {
        T::parse(option, value).map(Some)
    }
}

/// Reads a string that must be one of `choices`.
fn parse_choice<T: Copy>(
    option: &'static str,
    value: &Value,
    choices: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, ConfigError> {
    let text = value.as_str().ok_or_else(|| wrong_type(option, "a string", value))?;
    choices.iter().copied().find(|&choice| name(choice) == text).ok_or_else(|| {
        let allowed: Vec<String> = choices.iter().map(|&c| quoted(name(c))).collect();
        ConfigError::InvalidValue {
            option,
            value: Some(quoted(text)),
            requirement: format!("must be one of {}", allowed.join(", ")),
        }
    })
}

/// The inclusive range of a numeric option.
fn range_of(option: &str) -> (u64, u64) {
    RANGES.iter().find(|(name, _, _)| *name == option).map_or((0, u64::MAX), |&(_, min, max)| (min, max))
}

/// A numeric option's value for the range check; `None` (unset) is always in range.
trait RangeValue {
    fn range_value(&self) -> Option<u64>;
}

impl RangeValue for u64 {
    fn range_value(&self) -> Option<u64> {
        Some(*self)
    }
}

impl RangeValue for Option<u64> {
    fn range_value(&self) -> Option<u64> {
        *self
    }
}

fn check_range(option: &'static str, value: Option<u64>, min: u64, max: u64) -> Result<(), ConfigError> {
    let Some(value) = value else {
        return Ok(());
    };
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { option, value: value.to_string(), min, max })
    }
}

fn check_namespace(namespace: &str) -> Result<(), ConfigError> {
    let length = namespace.chars().count();
    let requirement = if !(1..=255).contains(&length) {
        format!("must be 1 to 255 characters long (is {length})")
    } else if namespace.starts_with("AWS/") {
        String::from("must not start with \"AWS/\" (reserved for AWS services)")
    } else {
        return Ok(());
    };
    Err(ConfigError::InvalidValue { option: "metrics_namespace", value: Some(quoted(namespace)), requirement })
}

fn check_region(region: Option<&str>) -> Result<(), ConfigError> {
    match region {
        Some(name) if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            Err(ConfigError::InvalidValue {
                option: "region",
                value: Some(quoted(name)),
                requirement: String::from("must be an AWS region name such as \"eu-west-1\""),
            })
        }
        _ => Ok(()),
    }
}

/// Static keys come in pairs (the metrics pair after defaulting field by field to the
/// Kinesis pair), roles are IAM role ARNs, and secrets are printable and never shown.
fn check_credentials(config: &Config) -> Result<(), ConfigError> {
    let keys = [
        ("access_key", &config.access_key),
        ("secret_key", &config.secret_key),
        ("metrics_access_key", &config.metrics_access_key),
        ("metrics_secret_key", &config.metrics_secret_key),
    ];
    for (option, secret) in keys {
        if let Some(secret) = secret {
            check_key_text(option, secret)?;
        }
    }
    check_pair("access_key", config.access_key.as_ref(), "secret_key", config.secret_key.as_ref())?;
    check_pair(
        "metrics_access_key",
        config.metrics_access_key.as_ref().or(config.access_key.as_ref()),
        "metrics_secret_key",
        config.metrics_secret_key.as_ref().or(config.secret_key.as_ref()),
    )?;
    check_role_arn("role_arn", config.role_arn.as_deref())?;
    check_role_arn("metrics_role_arn", config.metrics_role_arn.as_deref())?;
    check_session_name(&config.role_session_name)?;
    if let Some(external_id) = &config.external_id {
        check_external_id(external_id)?;
        if config.role_arn.is_none() && config.metrics_role_arn.is_none() {
            return Err(secret_error(
                "external_id",
                "is only used with role_arn or metrics_role_arn, and neither is set",
            ));
        }
    }
    Ok(())
}

fn secret_error(option: &'static str, requirement: &str) -> ConfigError {
    ConfigError::InvalidValue { option, value: None, requirement: requirement.to_owned() }
}

fn check_key_text(option: &'static str, secret: &Secret) -> Result<(), ConfigError> {
    let text = secret.expose();
    if text.is_empty() {
        return Err(secret_error(option, "must not be empty"));
    }
    if !text.chars().all(|c| c.is_ascii_graphic()) {
        return Err(secret_error(option, "must be printable ASCII characters without spaces"));
    }
    Ok(())
}

fn check_pair(
    first: &'static str,
    first_value: Option<&Secret>,
    second: &'static str,
    second_value: Option<&Secret>,
) -> Result<(), ConfigError> {
    match (first_value, second_value) {
        (Some(_), None) => Err(ConfigError::Incomplete { given: first, missing: second }),
        (None, Some(_)) => Err(ConfigError::Incomplete { given: second, missing: first }),
        _ => Ok(()),
    }
}

/// `arn:PARTITION:iam::ACCOUNT:role/NAME`.
fn check_role_arn(option: &'static str, arn: Option<&str>) -> Result<(), ConfigError> {
    let Some(arn) = arn else {
        return Ok(());
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let valid = matches!(
        parts.as_slice(),
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty()
                && !account.is_empty()
                && account.chars().all(|c| c.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty())
                && !arn.chars().any(|c| c.is_whitespace() || c.is_control())
    );
    if valid {
        return Ok(());
    }
    Err(ConfigError::InvalidValue {
        option,
        value: Some(quoted(arn)),
        requirement: String::from("must be an IAM role ARN such as \"arn:aws:iam::123456789012:role/logstash\""),
    })
}

/// STS's rule for RoleSessionName: 2 to 64 of letters, digits and `_+=,.@-`.
fn check_session_name(name: &str) -> Result<(), ConfigError> {
    let length = name.chars().count();
    if (2..=64).contains(&length) && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)) {
        return Ok(());
    }
    Err(ConfigError::InvalidValue {
        option: "role_session_name",
        value: Some(quoted(name)),
        requirement: String::from("must be 2 to 64 letters, digits or _+=,.@- characters"),
    })
}

/// STS's rule for ExternalId: 2 to 1224 of letters, digits and `_+=,.@:/-`.
fn check_external_id(id: &Secret) -> Result<(), ConfigError> {
    let text = id.expose();
    let length = text.chars().count();
    if (2..=1224).contains(&length) && text.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c)) {
        return Ok(());
    }
    Err(secret_error("external_id", "must be 2 to 1224 letters, digits or _+=,.@:/- characters"))
}

fn check_sts_proxy(host: Option<&str>, port: Option<u64>) -> Result<(), ConfigError> {
    match (host, port) {
        (Some(host), _) if !is_host(host) => Err(ConfigError::InvalidValue {
            option: "sts_proxy_host",
            value: Some(quoted(host)),
            requirement: String::from("must be a host name or IP address (the port goes in sts_proxy_port)"),
        }),
        (None, Some(port)) => Err(ConfigError::InvalidValue {
            option: "sts_proxy_port",
            value: Some(port.to_string()),
            requirement: String::from("needs sts_proxy_host"),
        }),
        _ => Ok(()),
    }
}

/// `http://[user:password@]host[:port]`; the value is never shown (it may hold a password).
fn check_proxy(proxy: Option<&Secret>) -> Result<(), ConfigError> {
    let Some(proxy) = proxy else {
        return Ok(());
    };
    let requirement = match proxy.expose().parse::<http::Uri>() {
        Ok(uri) if uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("https")) => {
            "must be an http:// URL: HTTPS proxies are not supported (the tunnel to AWS is TLS all the same)"
        }
        Ok(uri)
            if uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("http"))
                && uri.host().is_some_and(is_host)
                && uri.path_and_query().is_none_or(|p| p.as_str() == "/") =>
        {
            return Ok(());
        }
        _ => "must be an http://[user:password@]host:port URL",
    };
    Err(secret_error("proxy", requirement))
}

fn check_not_empty(option: &'static str, value: Option<&str>) -> Result<(), ConfigError> {
    match value {
        Some(text) if text.trim().is_empty() => Err(ConfigError::InvalidValue {
            option,
            value: Some(quoted(text)),
            requirement: String::from("must not be empty"),
        }),
        _ => Ok(()),
    }
}

/// Accepts a bare host name or an `http://`/`https://` URL with a host.
fn check_endpoint(option: &'static str, endpoint: Option<&str>) -> Result<(), ConfigError> {
    let Some(endpoint) = endpoint else {
        return Ok(());
    };
    let valid = match split_scheme(endpoint) {
        Some((scheme, rest)) => {
            (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) && is_url_rest(rest)
        }
        None => is_host(endpoint),
    };
    if valid {
        return Ok(());
    }
    Err(ConfigError::InvalidValue {
        option,
        value: Some(quoted(endpoint)),
        requirement: String::from(
            "must be a host name (letters, digits, '-', '.') or an http:// or https:// URL with a host",
        ),
    })
}

/// The URL for an endpoint: a URL as given; a host name gets `https://` and the port.
fn endpoint_url(endpoint: &str, port: u64) -> String {
    if split_scheme(endpoint).is_some() {
        endpoint.to_owned()
    } else {
        format!("https://{endpoint}:{port}")
    }
}

fn split_scheme(endpoint: &str) -> Option<(&str, &str)> {
    endpoint.split_once("://")
}

/// Checks what follows `scheme://`: a host, an optional port, then an optional path.
fn is_url_rest(rest: &str) -> bool {
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    // A bracketed IPv6 address contains colons of its own; the port follows the bracket.
    let port_start = match authority.rfind(']') {
        Some(bracket) => authority[bracket..].find(':').map(|i| bracket + i),
        None => authority.rfind(':'),
    };
    let (host, port) = match port_start {
        Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
        None => (authority, None),
    };
    is_host(host) && port.is_none_or(is_port)
}

/// A DNS name or IPv4 address, or a bracketed IPv6 address.
fn is_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty() && inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    }
    !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
}

fn is_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.chars().all(|c| c.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p))
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms).min(DURATION_CAP)
}

fn wrong_type(option: &'static str, expected: &'static str, value: &Value) -> ConfigError {
    ConfigError::WrongType { option, expected, found: json_kind(value) }
}

/// Names a JSON value's kind without showing the value.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string as a JSON literal, so control characters and quotes stay visible and harmless.
fn quoted(text: &str) -> String {
    Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const I64_MAX_TEXT: u64 = 9_223_372_036_854_775_807;

    fn parse(json: &str) -> Result<Config, ConfigError> {
        Config::from_json(json)
    }

    fn error(json: &str) -> String {
        match parse(json) {
            Ok(config) => panic!("accepted {json}: {config:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_match_the_contract_table() {
        let c = Config::default();
        assert!(c.aggregation_enabled);
        assert_eq!(c.aggregation_max_count, 4_294_967_295);
        assert_eq!(c.aggregation_max_size, 51_200);
        assert_eq!(c.cloudwatch_endpoint, None);
        assert_eq!(c.cloudwatch_port, 443);
        assert_eq!(c.collection_max_count, 500);
        assert_eq!(c.collection_max_size, 5_242_880);
        assert_eq!(c.connect_timeout, 6_000);
        assert_eq!(c.credentials_refresh_delay, 5_000);
        assert!(!c.enable_core_dumps);
        assert!(!c.fail_if_throttled);
        assert_eq!(c.kinesis_endpoint, None);
        assert_eq!(c.kinesis_port, 443);
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.max_connections, 24);
        assert_eq!(c.metrics_granularity, MetricsGranularity::Shard);
        assert_eq!(c.metrics_level, MetricsLevel::Detailed);
        assert_eq!(c.metrics_namespace, "KinesisProducerLibrary");
        assert_eq!(c.metrics_upload_delay, 60_000);
        assert_eq!(c.min_connections, 1);
        assert_eq!(c.native_executable, None);
        assert_eq!(c.rate_limit, 150);
        assert_eq!(c.record_max_buffered_time, 100);
        assert_eq!(c.record_ttl, 30_000);
        assert_eq!(c.request_timeout, 6_000);
        assert_eq!(c.temp_directory, None);
        assert!(c.verify_certificate);
        assert_eq!(c.region, None);
        assert_eq!(c.max_user_record_size, 1_048_576);
        assert_eq!(c.max_pending_records, 100_000);
        assert_eq!(c.max_pending_bytes, 268_435_456);
        assert_eq!(c.access_key, None);
        assert_eq!(c.secret_key, None);
        assert_eq!(c.role_session_name, "logstash-output-kinesis");
        assert_eq!((c.profile.as_ref(), c.role_arn.as_ref(), c.metrics_role_arn.as_ref()), (None, None, None));
        assert_eq!((c.external_id.as_ref(), c.proxy.as_ref(), c.ca_bundle.as_ref()), (None, None, None));
        assert_eq!((c.sts_endpoint.as_ref(), c.sts_proxy_host.as_ref(), c.sts_proxy_port), (None, None, None));
        assert_eq!((c.metrics_access_key.as_ref(), c.metrics_secret_key.as_ref()), (None, None));
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(parse("{}"), Ok(c.clone()));
        assert_eq!(parse("  { } "), Ok(c));
    }

    #[test]
    fn every_option_round_trips_its_default_and_null_means_default() {
        let defaults = [
            ("aggregation_enabled", "true"),
            ("aggregation_max_count", "4294967295"),
            ("aggregation_max_size", "51200"),
            ("cloudwatch_port", "443"),
            ("collection_max_count", "500"),
            ("collection_max_size", "5242880"),
            ("connect_timeout", "6000"),
            ("credentials_refresh_delay", "5000"),
            ("enable_core_dumps", "false"),
            ("fail_if_throttled", "false"),
            ("kinesis_port", "443"),
            ("log_level", "\"info\""),
            ("max_connections", "24"),
            ("metrics_granularity", "\"shard\""),
            ("metrics_level", "\"detailed\""),
            ("metrics_namespace", "\"KinesisProducerLibrary\""),
            ("metrics_upload_delay", "60000"),
            ("min_connections", "1"),
            ("rate_limit", "150"),
            ("record_max_buffered_time", "100"),
            ("record_ttl", "30000"),
            ("request_timeout", "6000"),
            ("verify_certificate", "true"),
            ("max_user_record_size", "1048576"),
            ("max_pending_records", "100000"),
            ("max_pending_bytes", "268435456"),
            ("role_session_name", "\"logstash-output-kinesis\""),
        ];
        for (option, value) in defaults {
            let json = format!("{{\"{option}\": {value}}}");
            assert_eq!(parse(&json), Ok(Config::default()), "{json}");
        }
        for option in OPTION_NAMES {
            let json = format!("{{\"{option}\": null}}");
            assert_eq!(parse(&json), Ok(Config::default()), "{json}");
        }
    }

    #[test]
    fn options_are_set() {
        let c = parse(
            r#"{"aggregation_enabled": false, "collection_max_count": 7, "log_level": "error",
                "metrics_level": "summary", "metrics_granularity": "global",
                "metrics_namespace": "Mine", "region": "eu-west-1", "record_ttl": 250,
                "native_executable": "/opt/kpl", "temp_directory": "/tmp/x",
                "enable_core_dumps": true, "access_key": "AK", "secret_key": "SK"}"#,
        )
        .expect("valid");
        assert!(!c.aggregation_enabled);
        assert_eq!(c.collection_max_count, 7);
        assert_eq!(c.log_level, LogLevel::Error);
        assert_eq!(c.metrics_level, MetricsLevel::Summary);
        assert_eq!(c.metrics_granularity, MetricsGranularity::Global);
        assert_eq!(c.metrics_namespace, "Mine");
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.record_ttl(), Duration::from_millis(250));
        assert_eq!(c.native_executable.as_deref(), Some("/opt/kpl"));
        assert_eq!(c.temp_directory.as_deref(), Some("/tmp/x"));
        assert!(c.enable_core_dumps);
        assert_eq!(c.access_key.as_ref().map(Secret::expose), Some("AK"));
        assert_eq!(c.secret_key.as_ref().map(Secret::expose), Some("SK"));
    }

    /// Every numeric option with its range from the contract table (written out independently).
    const EDGES: &[(&str, u64, u64)] = &[
        ("aggregation_max_count", 1, I64_MAX_TEXT),
        ("aggregation_max_size", 64, 10_485_760),
        ("cloudwatch_port", 1, 65_535),
        ("collection_max_count", 1, 500),
        ("collection_max_size", 52_224, I64_MAX_TEXT),
        ("connect_timeout", 100, 300_000),
        ("credentials_refresh_delay", 1, 300_000),
        ("kinesis_port", 1, 65_535),
        ("max_connections", 1, 256),
        ("metrics_upload_delay", 1, 60_000),
        ("min_connections", 1, 16),
        ("rate_limit", 1, I64_MAX_TEXT),
        ("record_max_buffered_time", 0, I64_MAX_TEXT),
        ("record_ttl", 100, I64_MAX_TEXT),
        ("request_timeout", 100, 600_000),
        ("max_user_record_size", 1_024, 10_485_760),
        ("max_pending_records", 1, 4_294_967_296),
        ("max_pending_bytes", 1_048_576, 68_719_476_736),
        ("sts_proxy_port", 1, 65_535),
    ];

    #[test]
    fn every_range_edge() {
        let mut tested: Vec<&str> = EDGES.iter().map(|e| e.0).collect();
        let mut declared: Vec<&str> = RANGES.iter().map(|r| r.0).collect();
        tested.sort_unstable();
        declared.sort_unstable();
        assert_eq!(tested, declared, "EDGES must list every ranged option");

        for &(option, min, max) in EDGES {
            let below = if min == 0 { "-1".to_owned() } else { (min - 1).to_string() };
            let cases = [
                (below, false),
                (min.to_string(), true),
                (max.to_string(), true),
                ((u128::from(max) + 1).to_string(), false),
            ];
            // An option that needs another one gets it.
            let companion = if option == "sts_proxy_port" { r#", "sts_proxy_host": "proxy.local""# } else { "" };
            for (value, accepted) in cases {
                let json = format!("{{\"{option}\": {value}{companion}}}");
                match parse(&json) {
                    Ok(_) => assert!(accepted, "{json} accepted"),
                    Err(e) => {
                        assert!(!accepted, "{json} rejected: {e}");
                        let expected =
                            format!("invalid value {value} for option \"{option}\": must be between {min} and {max}");
                        assert_eq!(e.to_string(), expected);
                    }
                }
            }
        }
    }

    #[test]
    fn validate_checks_ranges_of_a_built_config() {
        let config = Config { collection_max_count: 0, ..Config::default() };
        assert_eq!(
            config.validate().map_err(|e| e.to_string()),
            Err("invalid value 0 for option \"collection_max_count\": must be between 1 and 500".to_owned())
        );
    }

    #[test]
    fn whole_floats_are_numbers_and_fractions_are_not() {
        assert_eq!(parse(r#"{"collection_max_count": 500.0}"#).map(|c| c.collection_max_count), Ok(500));
        assert_eq!(
            error(r#"{"collection_max_count": 1.5}"#),
            "invalid type for option \"collection_max_count\": expected a whole number, got a fractional number"
        );
        assert_eq!(
            error(r#"{"record_ttl": 1e30}"#),
            format!("invalid value 1e+30 for option \"record_ttl\": must be between 100 and {I64_MAX_TEXT}")
        );
    }

    #[test]
    fn collection_size_is_clamped_to_the_request_limit() {
        assert_eq!(Config::default().effective_collection_max_size(), 5_242_880);
        let big = parse(r#"{"collection_max_size": 9223372036854775807}"#).expect("valid");
        assert_eq!(big.effective_collection_max_size(), 10_485_760);
        let small = parse(r#"{"collection_max_size": 52224}"#).expect("valid");
        assert_eq!(small.effective_collection_max_size(), 52_224);
    }

    #[test]
    fn durations_are_milliseconds_and_capped() {
        let c = Config::default();
        assert_eq!(c.connect_timeout(), Duration::from_secs(6));
        assert_eq!(c.credentials_refresh_delay(), Duration::from_secs(5));
        assert_eq!(c.metrics_upload_delay(), Duration::from_secs(60));
        assert_eq!(c.record_max_buffered_time(), Duration::from_millis(100));
        assert_eq!(c.record_ttl(), Duration::from_secs(30));
        assert_eq!(c.request_timeout(), Duration::from_secs(6));

        let max = I64_MAX_TEXT;
        let huge = parse(&format!("{{\"record_ttl\": {max}, \"record_max_buffered_time\": {max}}}")).expect("valid");
        assert_eq!(huge.record_ttl(), DURATION_CAP);
        assert_eq!(huge.record_max_buffered_time(), DURATION_CAP);
        let now = Instant::now();
        assert!(now.checked_add(huge.record_ttl()).is_some());
        assert!(now + huge.record_max_buffered_time() > now);
    }

    #[test]
    fn endpoints() {
        let url = |json: &str| parse(json).map(|c| (c.kinesis_endpoint_url(), c.cloudwatch_endpoint_url()));
        assert_eq!(url("{}"), Ok((None, None)));
        assert_eq!(
            url(r#"{"kinesis_endpoint": "kinesis.eu-west-1.amazonaws.com"}"#),
            Ok((Some("https://kinesis.eu-west-1.amazonaws.com:443".to_owned()), None))
        );
        assert_eq!(
            url(r#"{"kinesis_endpoint": "localhost", "kinesis_port": 4567,
                    "cloudwatch_endpoint": "127.0.0.1", "cloudwatch_port": 4582}"#),
            Ok((Some("https://localhost:4567".to_owned()), Some("https://127.0.0.1:4582".to_owned())))
        );
        assert_eq!(
            url(r#"{"kinesis_endpoint": "http://127.0.0.1:4567", "kinesis_port": 9,
                    "cloudwatch_endpoint": "https://monitoring.example.com/base/"}"#),
            Ok((Some("http://127.0.0.1:4567".to_owned()), Some("https://monitoring.example.com/base/".to_owned())))
        );
        assert_eq!(
            url(r#"{"kinesis_endpoint": "http://[::1]:4567", "cloudwatch_endpoint": "[::1]"}"#),
            Ok((Some("http://[::1]:4567".to_owned()), Some("https://[::1]:443".to_owned())))
        );
        assert!(url(r#"{"kinesis_endpoint": "HTTPS://Kinesis.Example.com"}"#).is_ok());

        for bad in [
            "ftp://kinesis.example.com",
            "http://",
            "https://:443",
            "http://host:0",
            "http://host:65536",
            "http://host:port",
            "http://user:pw@host",
            "http://ho st",
            "",
            "kinesis example.com",
            "kinesis.example.com/path",
            "localhost:4567",
            "[]",
        ] {
            for option in ["kinesis_endpoint", "cloudwatch_endpoint"] {
                let json = format!("{{\"{option}\": {}}}", quoted(bad));
                assert_eq!(
                    error(&json),
                    format!(
                        "invalid value {} for option \"{option}\": must be a host name (letters, digits, '-', '.') or an http:// or https:// URL with a host",
                        quoted(bad)
                    )
                );
            }
        }
    }

    #[test]
    fn unknown_options_are_named() {
        assert_eq!(error(r#"{"foo": 1}"#), "unknown option \"foo\"");
        assert_eq!(error(r#"{"foo": null}"#), "unknown option \"foo\"");
        assert_eq!(error(r#"{"stream_name": "s"}"#), "unknown option \"stream_name\"");
        assert_eq!(error("{\"Record_TTL\\n\": 1}"), "unknown option \"Record_TTL\\n\"");
    }

    #[test]
    fn wrong_types_name_option_and_expected_type() {
        let cases = [
            ("collection_max_count", r#""500""#, "a whole number", "a string"),
            ("aggregation_enabled", r#""true""#, "a boolean (true or false)", "a string"),
            ("verify_certificate", "1", "a boolean (true or false)", "a number"),
            ("log_level", "3", "a string", "a number"),
            ("kinesis_endpoint", r#"["a"]"#, "a string", "an array"),
            ("metrics_namespace", "{}", "a string", "an object"),
            ("record_ttl", "false", "a whole number", "a boolean"),
        ];
        for (option, value, expected, found) in cases {
            assert_eq!(
                error(&format!("{{\"{option}\": {value}}}")),
                format!("invalid type for option \"{option}\": expected {expected}, got {found}")
            );
        }
    }

    #[test]
    fn choices_list_allowed_values() {
        assert_eq!(
            error(r#"{"log_level": "debug"}"#),
            "invalid value \"debug\" for option \"log_level\": must be one of \"info\", \"warning\", \"error\""
        );
        assert_eq!(
            error(r#"{"metrics_level": "Detailed"}"#),
            "invalid value \"Detailed\" for option \"metrics_level\": must be one of \"none\", \"summary\", \"detailed\""
        );
        assert_eq!(
            error(r#"{"metrics_granularity": "region"}"#),
            "invalid value \"region\" for option \"metrics_granularity\": must be one of \"global\", \"stream\", \"shard\""
        );
    }

    #[test]
    fn choice_names_match_serde_names() {
        fn check<T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug + Copy>(
            all: &[T],
            name: fn(T) -> &'static str,
            option: &'static str,
        ) {
            for &value in all {
                assert_eq!(serde_json::to_value(value).ok(), Some(Value::from(name(value))));
                assert_eq!(serde_json::from_value::<T>(Value::from(name(value))).ok(), Some(value));
                let json = format!("{{\"{option}\": \"{}\"}}", name(value));
                assert!(parse(&json).is_ok(), "{json}");
            }
        }
        check(LogLevel::ALL, LogLevel::as_str, "log_level");
        check(MetricsGranularity::ALL, MetricsGranularity::as_str, "metrics_granularity");
        check(MetricsLevel::ALL, MetricsLevel::as_str, "metrics_level");
        assert_eq!(LogLevel::ALL.len(), 3);
        assert_eq!(MetricsGranularity::ALL.len(), 3);
        assert_eq!(MetricsLevel::ALL.len(), 3);
        assert!(MetricsLevel::None < MetricsLevel::Summary && MetricsLevel::Summary < MetricsLevel::Detailed);
        assert!(MetricsGranularity::Global < MetricsGranularity::Stream);
        assert!(MetricsGranularity::Stream < MetricsGranularity::Shard);
        assert_eq!(LogLevel::Warning.to_string(), "warning");
    }

    #[test]
    fn metrics_namespace_rules() {
        assert_eq!(
            error(r#"{"metrics_namespace": ""}"#),
            "invalid value \"\" for option \"metrics_namespace\": must be 1 to 255 characters long (is 0)"
        );
        assert_eq!(
            error(r#"{"metrics_namespace": "AWS/Kinesis"}"#),
            "invalid value \"AWS/Kinesis\" for option \"metrics_namespace\": must not start with \"AWS/\" (reserved for AWS services)"
        );
        let max = "é".repeat(255);
        assert!(parse(&format!("{{\"metrics_namespace\": \"{max}\"}}")).is_ok());
        let over = "n".repeat(256);
        assert!(error(&format!("{{\"metrics_namespace\": \"{over}\"}}")).contains("(is 256)"));
        assert!(parse(r#"{"metrics_namespace": "aws/lowercase"}"#).is_ok());
    }

    #[test]
    fn region_rules() {
        assert!(parse(r#"{"region": "us-gov-west-1"}"#).is_ok());
        for bad in ["", "eu west 1", "eu-west-1.evil.com", "eu/west"] {
            assert_eq!(
                error(&format!("{{\"region\": {}}}", quoted(bad))),
                format!(
                    "invalid value {} for option \"region\": must be an AWS region name such as \"eu-west-1\"",
                    quoted(bad)
                )
            );
        }
    }

    #[test]
    fn pending_bytes_must_hold_the_largest_record() {
        assert_eq!(
            error(r#"{"max_user_record_size": 2097152, "max_pending_bytes": 1048576}"#),
            "invalid value 1048576 for option \"max_pending_bytes\": must be at least max_user_record_size (2097152)"
        );
        assert!(parse(r#"{"max_user_record_size": 2097152, "max_pending_bytes": 2097152}"#).is_ok());
    }

    #[test]
    fn credentials_come_in_pairs() {
        assert_eq!(
            error(r#"{"access_key": "AKIAEXAMPLE"}"#),
            "option \"access_key\" is set but \"secret_key\" is not: static credentials need both"
        );
        assert_eq!(
            error(r#"{"secret_key": "s3cr3t-value"}"#),
            "option \"secret_key\" is set but \"access_key\" is not: static credentials need both"
        );
        assert_eq!(
            error(r#"{"access_key": "AKIAEXAMPLE", "secret_key": ""}"#),
            "invalid value for option \"secret_key\": must not be empty"
        );
        assert!(parse(r#"{"access_key": null, "secret_key": null}"#).is_ok());
    }

    #[test]
    fn secrets_never_appear_in_debug_or_errors() {
        let c =
            parse(r#"{"access_key": "AKIAEXAMPLEKEYID", "secret_key": "wJalrXUtnFEMIsecretvalue"}"#).expect("valid");
        let debug = format!("{c:?}");
        assert!(!debug.contains("AKIAEXAMPLEKEYID"), "{debug}");
        assert!(!debug.contains("wJalrXUtnFEMIsecretvalue"), "{debug}");
        assert!(debug.contains("access_key: Some(<redacted>)"), "{debug}");
        assert!(debug.contains("secret_key: Some(<redacted>)"), "{debug}");
        assert!(format!("{:#?}", c).contains("<redacted>"));

        let leaks = [
            (r#"{"secret_key": 987654321, "access_key": "A"}"#, "987654321"),
            (r#"{"secret_key": ["hunter2hunter2"], "access_key": "A"}"#, "hunter2hunter2"),
            (r#"{"access_key": {"k": "AKIALEAKED"}, "secret_key": "S"}"#, "AKIALEAKED"),
            (r#"{"access_key": true, "secret_key": "S"}"#, "true"),
            (r#"{"access_key": "AKIALEAKED"}"#, "AKIALEAKED"),
            (r#"{"secret_key": "hunter2hunter2"}"#, "hunter2hunter2"),
        ];
        for (json, secret) in leaks {
            let from_json = error(json);
            assert!(!from_json.contains(secret), "{from_json}");
            assert!(from_json.contains("_key"), "{from_json}");
            let via_serde = serde_json::from_str::<Config>(json).expect_err("rejected").to_string();
            assert!(!via_serde.contains(secret), "{via_serde}");
            assert!(format!("{:?}", parse(json)).find(secret).is_none());
        }
    }

    #[test]
    fn metrics_keys_default_field_by_field_and_lone_keys_are_errors() {
        let keys = |json: &str| {
            parse(json).map(|c| {
                let pair =
                    |p: Option<(&Secret, &Secret)>| p.map(|(a, s)| (a.expose().to_owned(), s.expose().to_owned()));
                (pair(c.kinesis_keys()), pair(c.metrics_keys()))
            })
        };
        let both = |a: &str, s: &str| Some((a.to_owned(), s.to_owned()));
        assert_eq!(keys("{}"), Ok((None, None)));
        assert_eq!(keys(r#"{"access_key": "AK", "secret_key": "SK"}"#), Ok((both("AK", "SK"), both("AK", "SK"))));
        assert_eq!(
            keys(r#"{"access_key": "AK", "secret_key": "SK", "metrics_access_key": "MAK"}"#),
            Ok((both("AK", "SK"), both("MAK", "SK")))
        );
        assert_eq!(
            keys(r#"{"access_key": "AK", "secret_key": "SK", "metrics_secret_key": "MSK"}"#),
            Ok((both("AK", "SK"), both("AK", "MSK")))
        );
        assert_eq!(
            keys(r#"{"metrics_access_key": "MAK", "metrics_secret_key": "MSK"}"#),
            Ok((None, both("MAK", "MSK")))
        );
        assert_eq!(
            error(r#"{"metrics_access_key": "AKIAMETRICSLONE"}"#),
            "option \"metrics_access_key\" is set but \"metrics_secret_key\" is not: static credentials need both"
        );
        assert_eq!(
            error(r#"{"metrics_secret_key": "metrics-lone-secret"}"#),
            "option \"metrics_secret_key\" is set but \"metrics_access_key\" is not: static credentials need both"
        );
        for (option, bad) in
            [("access_key", "AKIA WITH SPACE"), ("metrics_secret_key", "s\u{e9}cret"), ("secret_key", "tab\there")]
        {
            let json = format!(
                r#"{{"access_key": "AK", "secret_key": "SK", "metrics_access_key": "M", "metrics_secret_key": "M", {}: {}}}"#,
                quoted(option),
                quoted(bad)
            );
            let message = error(&json);
            assert_eq!(
                message,
                format!("invalid value for option \"{option}\": must be printable ASCII characters without spaces")
            );
        }
    }

    #[test]
    fn role_options() {
        let role = "arn:aws:iam::123456789012:role/logstash";
        let c = parse(&format!(
            r#"{{"role_arn": "{role}", "metrics_role_arn": "arn:aws-cn:iam::123456789012:role/path/metrics",
                "role_session_name": "shipper_1+=,.@-", "external_id": "ext:id/1", "sts_endpoint": "sts.local",
                "sts_proxy_host": "proxy.local", "profile": "ops"}}"#
        ))
        .expect("valid");
        assert_eq!(c.role_arn.as_deref(), Some(role));
        assert_eq!(c.sts_endpoint_url().as_deref(), Some("https://sts.local:443"));
        assert_eq!(c.sts_proxy_url().as_deref(), Some("http://proxy.local:80"));
        assert_eq!(c.external_id.as_ref().map(Secret::expose), Some("ext:id/1"));
        let c =
            parse(r#"{"sts_endpoint": "http://127.0.0.1:5000", "sts_proxy_host": "10.0.0.1", "sts_proxy_port": 3128}"#)
                .expect("valid");
        assert_eq!(c.sts_endpoint_url().as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(c.sts_proxy_url().as_deref(), Some("http://10.0.0.1:3128"));

        for bad in [
            "",
            "logstash",
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam::12345678901a:role/x",
            "arn:aws:s3::123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam:eu-west-1:1:role/x",
        ] {
            for option in ["role_arn", "metrics_role_arn"] {
                assert_eq!(
                    error(&format!("{{{}: {}}}", quoted(option), quoted(bad))),
                    format!("invalid value {} for option \"{option}\": must be an IAM role ARN such as \"arn:aws:iam::123456789012:role/logstash\"", quoted(bad))
                );
            }
        }
        for bad in ["x", "has space", "semi;colon", &"n".repeat(65)] {
            assert_eq!(
                error(&format!(r#"{{"role_session_name": {}}}"#, quoted(bad))),
                format!("invalid value {} for option \"role_session_name\": must be 2 to 64 letters, digits or _+=,.@- characters", quoted(bad))
            );
        }
        assert_eq!(
            error(r#"{"external_id": "ext-id-without-role"}"#),
            "invalid value for option \"external_id\": is only used with role_arn or metrics_role_arn, and neither is set"
        );
        assert!(parse(&format!(r#"{{"external_id": "ext-id", "metrics_role_arn": "{role}"}}"#)).is_ok());
        let bad_id = error(&format!(r#"{{"external_id": "secret id with spaces", "role_arn": "{role}"}}"#));
        assert_eq!(
            bad_id,
            "invalid value for option \"external_id\": must be 2 to 1224 letters, digits or _+=,.@:/- characters"
        );
        assert_eq!(
            error(r#"{"sts_proxy_port": 3128}"#),
            "invalid value 3128 for option \"sts_proxy_port\": needs sts_proxy_host"
        );
        assert_eq!(
            error(r#"{"sts_proxy_host": "http://proxy.local:3128"}"#),
            "invalid value \"http://proxy.local:3128\" for option \"sts_proxy_host\": must be a host name or IP address (the port goes in sts_proxy_port)"
        );
        assert!(error(r#"{"sts_endpoint": "ftp://sts"}"#).contains("option \"sts_endpoint\""));
        assert_eq!(error(r#"{"profile": " "}"#), "invalid value \" \" for option \"profile\": must not be empty");
        assert_eq!(error(r#"{"ca_bundle": ""}"#), "invalid value \"\" for option \"ca_bundle\": must not be empty");
    }

    #[test]
    fn proxy_urls_are_checked_without_being_shown() {
        for good in
            ["http://proxy.local:3128", "http://user:p%40ss@10.0.0.1:8080", "http://[::1]:3128", "HTTP://proxy/"]
        {
            assert!(parse(&format!(r#"{{"proxy": {}}}"#, quoted(good))).is_ok(), "{good}");
        }
        let cases = [
            (
                "https://user:hunter2pw@proxy:443",
                "must be an http:// URL: HTTPS proxies are not supported (the tunnel to AWS is TLS all the same)",
            ),
            ("socks5://user:hunter2pw@proxy:1080", "must be an http://[user:password@]host:port URL"),
            ("user:hunter2pw@proxy:3128", "must be an http://[user:password@]host:port URL"),
            ("http://user:hunter2pw@proxy:3128/path", "must be an http://[user:password@]host:port URL"),
            ("http://user:hunter2pw@ bad:3128", "must be an http://[user:password@]host:port URL"),
        ];
        for (bad, requirement) in cases {
            let message = error(&format!(r#"{{"proxy": {}}}"#, quoted(bad)));
            assert_eq!(message, format!("invalid value for option \"proxy\": {requirement}"));
        }
    }

    #[test]
    fn new_secrets_never_appear_in_debug() {
        let c = parse(
            r#"{"access_key": "AKIAK", "secret_key": "SK", "metrics_access_key": "AKIAMETRICSDEBUG",
                "metrics_secret_key": "metrics-secret-debug", "external_id": "external-id-debug",
                "role_arn": "arn:aws:iam::123456789012:role/r", "proxy": "http://u:proxy-pw-debug@proxy:3128"}"#,
        )
        .expect("valid");
        let debug = format!("{c:?} {c:#?}");
        for secret in ["AKIAMETRICSDEBUG", "metrics-secret-debug", "external-id-debug", "proxy-pw-debug"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(
            debug.contains("external_id: Some(<redacted>)") && debug.contains("proxy: Some(<redacted>)"),
            "{debug}"
        );
    }

    #[test]
    fn syntax_errors_and_non_objects() {
        assert!(error("{\"record_ttl\": }").starts_with("configuration is not valid JSON: "));
        assert!(error("").starts_with("configuration is not valid JSON: "));
        let secret_in_broken_json = error(r#"{"secret_key": "hunter2hunter2" "#);
        assert!(!secret_in_broken_json.contains("hunter2"), "{secret_in_broken_json}");
        assert_eq!(error("[]"), "configuration must be a JSON object, got an array");
        assert_eq!(error("42"), "configuration must be a JSON object, got a number");
    }

    #[test]
    fn deserialize_trait_uses_the_same_rules() {
        let c: Config = serde_json::from_str(r#"{"collection_max_count": 3}"#).expect("valid");
        assert_eq!(c.collection_max_count, 3);
        let e = serde_json::from_str::<Config>(r#"{"collection_max_count": 501}"#).expect_err("rejected").to_string();
        assert!(e.contains("invalid value 501 for option \"collection_max_count\": must be between 1 and 500"), "{e}");
        let e = serde_json::from_str::<Config>(r#"{"bogus": 1}"#).expect_err("rejected").to_string();
        assert!(e.contains("unknown option \"bogus\""), "{e}");
    }

    #[test]
    fn error_is_a_std_error() {
        let e: Box<dyn std::error::Error> = Box::new(ConfigError::UnknownOption("x".into()));
        assert_eq!(e.to_string(), "unknown option \"x\"");
    }
}
