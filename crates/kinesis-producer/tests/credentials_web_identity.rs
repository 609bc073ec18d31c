//! Web identity credentials (EKS IAM roles for service accounts) from the default chain:
//! AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN make the producer call
//! AssumeRoleWithWebIdentity on moto (AWS_ENDPOINT_URL_STS) and sign Kinesis requests with the
//! credentials it got.
//!
//! One test in its own binary: it changes the process environment. Needs moto
//! (tests/tools/setup.sh); tests/run-all.sh runs it with `--ignored`.

mod support;

use kinesis_producer::{Config, Outcome, Producer, UserRecord};
use kinesis_test_server::Faults;
use serde_json::json;
use std::time::Duration;
use support::moto::Moto;
use support::recording_proxy::RecordingProxy;
use support::test_server::Server;

const WAIT: Duration = Duration::from_secs(30);
const ROLE: &str = "arn:aws:iam::111122223333:role/eks-shipper";

#[test]
#[ignore = "needs moto (tests/tools/setup.sh)"]
fn web_identity_token_file_is_exchanged_for_role_credentials() {
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"] {
        std::env::remove_var(name);
    }
    let moto = Moto::start("web-identity");
    let dir = std::env::temp_dir().join(format!("web-identity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.service-account-token.signature").expect("token");
    std::env::set_var("AWS_CONFIG_FILE", dir.join("config"));
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"));
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file);
    std::env::set_var("AWS_ROLE_ARN", ROLE);
    std::env::set_var("AWS_ROLE_SESSION_NAME", "pod-shipper-0");
    std::env::set_var("AWS_ENDPOINT_URL_STS", &moto.endpoint);

    let server = Server::start(&[("s", 2)], Faults::default());
    let proxy = RecordingProxy::start();
    // No keys in the configuration: the default chain decides.
    let options = json!({
        "region": "us-east-1",
        "kinesis_endpoint": server.get().endpoint(),
        "metrics_level": "none",
        "proxy": proxy.url(None),
    });
    let producer = Producer::new(Config::from_json(&options.to_string()).expect("config")).expect("producer starts");
    let records: Vec<UserRecord> = (0..20).map(|i| UserRecord::new("s", format!("k{i}"), "pod log line")).collect();
    let outcomes = producer.submit(records, WAIT).expect("submitted").wait_outcomes(WAIT).expect("outcomes");
    assert!(outcomes.iter().all(Outcome::is_delivered), "{outcomes:?}");
    producer.close(WAIT);

    let assumed = moto.assumed(ROLE);
    assert_eq!(assumed.len(), 1, "{assumed:?}");
    assert_eq!(assumed[0].session_name, "pod-shipper-0");
    let kinesis = proxy.requests_with("Kinesis_20131202.PutRecords");
    assert!(!kinesis.is_empty());
    for request in &kinesis {
        assert_eq!(request.access_key_id().as_deref(), Some(assumed[0].access_key_id.as_str()));
    }
    let _ = std::fs::remove_dir_all(dir);
}
