//! The standard AWS environment variables for endpoints and proxies: AWS_ENDPOINT_URL_KINESIS
//! and AWS_ENDPOINT_URL_CLOUDWATCH are honoured unless an endpoint option is set, HTTP_PROXY
//! carries the traffic unless NO_PROXY names the host.
//!
//! One test in its own binary: it changes the process environment, which no other test of
//! this binary could share.

mod support;

use aws_types::service_config::ServiceConfigKey;
use kinesis_producer::{metrics_sdk_config, Config, Outcome, Producer, UserRecord};
use kinesis_test_server::Faults;
use serde_json::json;
use std::time::Duration;
use support::recording_proxy::RecordingProxy;
use support::test_server::Server;

const WAIT: Duration = Duration::from_secs(30);

fn config(json: serde_json::Value) -> Config {
    Config::from_json(&json.to_string()).expect("valid config")
}

fn delivered(producer: &Producer, tag: &str) -> bool {
    let records: Vec<UserRecord> = (0..5).map(|i| UserRecord::new("s", format!("{tag}-{i}"), "data")).collect();
    let outcomes = producer.submit(records, WAIT).expect("submitted").wait_outcomes(WAIT).expect("outcomes");
    outcomes.iter().all(Outcome::is_delivered)
}

#[test]
fn endpoint_and_proxy_environment_variables() {
    for name in
        ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"]
    {
        std::env::remove_var(name);
    }
    let server = Server::start(&[("s", 1)], Faults::default());
    let keys = json!({ "region": "us-east-1", "access_key": "test", "secret_key": "test", "record_ttl": 2000 });

    // No kinesis_endpoint: AWS_ENDPOINT_URL_KINESIS decides.
    std::env::set_var("AWS_ENDPOINT_URL_KINESIS", server.get().endpoint());
    let from_env = Producer::new(config(keys.clone())).expect("producer");
    assert!(delivered(&from_env, "env"), "sent to AWS_ENDPOINT_URL_KINESIS");
    from_env.close(WAIT);
    let before = server.get().records("s").iter().map(|s| s.records.len()).sum::<usize>();
    assert!(before > 0);

    // kinesis_endpoint wins over the variable.
    std::env::set_var("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:9");
    let mut explicit = keys.clone();
    explicit["kinesis_endpoint"] = json!(server.get().endpoint());
    let producer = Producer::new(config(explicit.clone())).expect("producer");
    assert!(delivered(&producer, "option"), "the option beats the variable");
    producer.close(WAIT);

    // HTTP_PROXY carries plain-HTTP traffic; NO_PROXY bypasses it.
    let proxy = RecordingProxy::start();
    std::env::set_var("HTTP_PROXY", proxy.url(None));
    let proxied = Producer::new(config(explicit.clone())).expect("producer");
    assert!(delivered(&proxied, "proxied"));
    proxied.close(WAIT);
    let through_proxy = proxy.requests_with("Kinesis_20131202.PutRecords").len();
    assert!(through_proxy > 0, "HTTP_PROXY was not used");
    std::env::set_var("NO_PROXY", "localhost,127.0.0.1");
    let direct = Producer::new(config(explicit)).expect("producer");
    assert!(delivered(&direct, "direct"));
    direct.close(WAIT);
    assert_eq!(proxy.requests_with("Kinesis_20131202.PutRecords").len(), through_proxy, "NO_PROXY was ignored");
    std::env::remove_var("HTTP_PROXY");
    std::env::remove_var("NO_PROXY");

    // CloudWatch: the variable reaches the SDK's service configuration (where the CloudWatch
    // client reads it) unless cloudwatch_endpoint is set.
    std::env::set_var("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:4582");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let key = ServiceConfigKey::builder()
        .service_id("CloudWatch")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("key");
    let from_env = runtime.block_on(metrics_sdk_config(&config(keys.clone()))).expect("metrics config");
    assert_eq!(from_env.endpoint_url(), None);
    let service = from_env.service_config().expect("service config");
    assert_eq!(service.load_config(key.clone()).as_deref(), Some("http://127.0.0.1:4582"));
    let mut explicit = keys;
    explicit["cloudwatch_endpoint"] = json!("http://127.0.0.1:4583");
    let option = runtime.block_on(metrics_sdk_config(&config(explicit))).expect("metrics config");
    assert_eq!(option.endpoint_url(), Some("http://127.0.0.1:4583"));
    assert!(option.get_origin("endpoint_url").is_client_config(), "the option wins over the variable");
}
