//! Credentials against moto server as STS: the Kinesis role and, separately, the metrics role
//! are assumed with the session name and external id as sent; role credentials are refreshed
//! before they expire; an STS that becomes unreachable later makes records retry and then fail
//! with that reason, and delivery resumes once STS is back.
//!
//! Kinesis is the project's test server (it does not check signatures); the recording proxy
//! shows which access key signed each request and what each AssumeRole call carried.
//! These need moto (tests/tools/setup.sh); tests/run-all.sh runs them with `--ignored`:
//!   cargo test --workspace --test credentials_moto -- --ignored

mod support;

use aws_credential_types::provider::ProvideCredentials;
use kinesis_producer::{kinesis_sdk_config, metrics_sdk_config, Config, Outcome, Producer, UserRecord};
use kinesis_test_server::Faults;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::moto::Moto;
use support::recording_proxy::RecordingProxy;
use support::test_server::Server;

const WAIT: Duration = Duration::from_secs(30);
const KINESIS_ROLE: &str = "arn:aws:iam::111122223333:role/kinesis-writer";
const METRICS_ROLE: &str = "arn:aws:iam::444455556666:role/metrics-writer";
const STATIC_KEY: &str = "AKIDSTATICBASEKEY";
const METRICS_KEY: &str = "AKIDMETRICSBASEKEY";

fn records(n: usize, tag: &str) -> Vec<UserRecord> {
    (0..n).map(|i| UserRecord::new("s", format!("{tag}-{i}"), format!("{tag} record {i}"))).collect()
}

fn send(producer: &Producer, n: usize, tag: &str) -> Vec<Outcome> {
    producer.submit(records(n, tag), WAIT).expect("submitted").wait_outcomes(WAIT).expect("outcomes")
}

fn merged(base: Value, extra: Value) -> Value {
    let mut json = base;
    for (k, v) in extra.as_object().expect("object") {
        json[k] = v.clone();
    }
    json
}

fn config(json: Value) -> Config {
    Config::from_json(&json.to_string()).expect("valid config")
}

#[test]
#[ignore = "needs moto (tests/tools/setup.sh)"]
fn kinesis_signs_with_the_role_assumed_with_session_name_and_external_id() {
    let moto = Moto::start("kinesis-role");
    let server = Server::start(&[("s", 2)], Faults::default());
    let proxy = RecordingProxy::start();
    let producer = Producer::new(server.config(json!({
        "access_key": STATIC_KEY, "secret_key": "static-secret",
        "role_arn": KINESIS_ROLE, "role_session_name": "shipper-7", "external_id": "ext-kinesis-42",
        "sts_endpoint": moto.endpoint, "proxy": proxy.url(None),
    })))
    .expect("producer starts");
    assert!(send(&producer, 50, "k").iter().all(Outcome::is_delivered));
    producer.close(WAIT);

    // What moto received...
    let assumed = moto.assumed(KINESIS_ROLE);
    assert_eq!(assumed.len(), 1, "{assumed:?}");
    assert_eq!(assumed[0].session_name, "shipper-7");
    assert_eq!(assumed[0].external_id.as_deref(), Some("ext-kinesis-42"));
    // ...and what was sent: one AssumeRole, signed with the static keys.
    let calls = proxy.requests_with("Action=AssumeRole");
    assert_eq!(calls.len(), 1);
    let body = calls[0].body_text();
    for part in ["RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fkinesis-writer", "RoleSessionName=shipper-7"] {
        assert!(body.contains(part), "{body}");
    }
    assert!(body.contains("ExternalId=ext-kinesis-42"), "{body}");
    assert_eq!(calls[0].access_key_id().as_deref(), Some(STATIC_KEY));
    // Every Kinesis request is signed with the assumed role's key and carries its session token.
    let kinesis = proxy.requests_with("Kinesis_20131202");
    assert!(kinesis.iter().any(|r| r.head.contains("Kinesis_20131202.PutRecords")));
    for request in &kinesis {
        assert_eq!(request.access_key_id().as_deref(), Some(assumed[0].access_key_id.as_str()));
        assert!(request.head.to_ascii_lowercase().contains("x-amz-security-token:"), "{}", request.head);
    }
}

#[test]
#[ignore = "needs moto (tests/tools/setup.sh)"]
fn metrics_assume_their_own_role_with_their_own_keys_and_never_default_to_role_arn() {
    let moto = Moto::start("metrics-role");
    let sts_proxy = RecordingProxy::start();
    let base = json!({
        "region": "us-east-1", "access_key": STATIC_KEY, "secret_key": "static-secret",
        "metrics_access_key": METRICS_KEY, "metrics_secret_key": "metrics-secret",
        "role_arn": KINESIS_ROLE, "external_id": "ext-both-1", "sts_endpoint": moto.endpoint,
        "sts_proxy_host": "127.0.0.1", "sts_proxy_port": sts_proxy.port,
        "kinesis_endpoint": "http://127.0.0.1:9", "cloudwatch_endpoint": moto.endpoint,
    });
    let with_metrics_role = config(merged(base.clone(), json!({ "metrics_role_arn": METRICS_ROLE })));
    let without_metrics_role = config(base);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (kinesis_key, metrics_key, unassumed_key, endpoint) = runtime.block_on(async {
        let key = |sdk: aws_config::SdkConfig| async move {
            let provider = sdk.credentials_provider().expect("provider");
            provider.provide_credentials().await.expect("credentials").access_key_id().to_owned()
        };
        let kinesis = kinesis_sdk_config(&with_metrics_role).await.expect("kinesis config");
        let metrics = metrics_sdk_config(&with_metrics_role).await.expect("metrics config");
        let endpoint = metrics.endpoint_url().map(str::to_owned);
        let unassumed = metrics_sdk_config(&without_metrics_role).await.expect("metrics config");
        (key(kinesis).await, key(metrics).await, key(unassumed).await, endpoint)
    });
    assert_eq!(endpoint.as_deref(), Some(moto.endpoint.as_str()));

    let kinesis = moto.assumed(KINESIS_ROLE);
    let metrics = moto.assumed(METRICS_ROLE);
    assert_eq!((kinesis.len(), metrics.len()), (1, 1), "no other AssumeRole: {:?}", moto.assumed_roles());
    assert_eq!(kinesis_key, kinesis[0].access_key_id);
    assert_eq!(metrics_key, metrics[0].access_key_id);
    assert_ne!(kinesis_key, metrics_key);
    assert_eq!(metrics[0].session_name, "logstash-output-kinesis");
    assert_eq!(metrics[0].external_id.as_deref(), Some("ext-both-1"));
    // Without metrics_role_arn, metrics sign with the metrics keys: role_arn is not used for them.
    assert_eq!(unassumed_key, METRICS_KEY);

    // Both calls went through the STS proxy, each signed with its own keys.
    let calls = sts_proxy.requests_with("Action=AssumeRole");
    let signers: BTreeSet<(String, bool)> = calls
        .iter()
        .map(|c| (c.access_key_id().unwrap_or_default(), c.body_text().contains("metrics-writer")))
        .collect();
    let expected: BTreeSet<(String, bool)> =
        [(STATIC_KEY.to_owned(), false), (METRICS_KEY.to_owned(), true)].into_iter().collect();
    assert_eq!(signers, expected);
    assert!(sts_proxy.tunnels().iter().all(|(target, _)| moto.endpoint.ends_with(target.as_str())));
}

#[test]
#[ignore = "needs moto (tests/tools/setup.sh)"]
fn role_credentials_are_refreshed_before_they_expire() {
    let moto = Moto::start("refresh");
    let server = Server::start(&[("s", 2)], Faults::default());
    let proxy = RecordingProxy::start();
    // Sessions of 4 s: renewed after 2 s, not used in their last 0.4 s.
    proxy.assume_role_duration(4);
    let producer = Producer::new(server.config(json!({
        "role_arn": KINESIS_ROLE, "sts_endpoint": moto.endpoint, "proxy": proxy.url(None),
        "record_max_buffered_time": 20,
    })))
    .expect("producer starts");
    // Idle: the sessions are renewed in the background, without any request asking.
    std::thread::sleep(Duration::from_millis(7_500));
    let idle_sessions = moto.assumed(KINESIS_ROLE).len();
    assert!(idle_sessions >= 4, "{idle_sessions} sessions after 7.5 s idle");
    // Busy: batches keep flowing over several renewals.
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut batches = 0;
    while started.elapsed() < Duration::from_secs(7) {
        let sent = Instant::now();
        assert!(send(&producer, 10, &format!("b{batches}")).iter().all(Outcome::is_delivered));
        slowest = slowest.max(sent.elapsed());
        batches += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    producer.close(WAIT);

    let assumed = moto.assumed(KINESIS_ROLE);
    assert!(assumed.len() >= idle_sessions + 3, "{} sessions in all", assumed.len());
    // Kinesis requests used the sessions in order, switching well before each one expired.
    let order: Vec<String> = assumed.iter().map(|a| a.access_key_id.clone()).collect();
    let used: Vec<String> =
        proxy.requests_with("Kinesis_20131202.PutRecords").iter().map(|r| r.access_key_id().expect("signed")).collect();
    let mut positions: Vec<usize> =
        used.iter().map(|key| order.iter().position(|k| k == key).expect("an assumed key")).collect();
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "keys went back: {positions:?}");
    positions.dedup();
    assert!(positions.len() >= 3, "only {} sessions signed PutRecords", positions.len());
    eprintln!("{batches} batches over {} sessions; slowest batch {slowest:?}", assumed.len());
}

#[test]
#[ignore = "needs moto (tests/tools/setup.sh)"]
fn sts_lost_later_makes_records_retry_then_fail_with_the_reason_and_delivery_resumes() {
    let moto = Moto::start("lost");
    let server = Server::start(&[("s", 1)], Faults::default());
    let sts_proxy = RecordingProxy::start();
    sts_proxy.assume_role_duration(3);
    let producer = Producer::new(server.config(json!({
        "role_arn": KINESIS_ROLE, "sts_endpoint": moto.endpoint,
        "sts_proxy_host": "127.0.0.1", "sts_proxy_port": sts_proxy.port,
        // A credential load through the refusing proxy can take 3 s (STS's own retries): the
        // records' ttl leaves room for several attempts.
        "record_ttl": 8000, "credentials_refresh_delay": 500,
    })))
    .expect("producer starts");
    assert!(send(&producer, 5, "before").iter().all(Outcome::is_delivered));

    sts_proxy.refuse(true);
    std::thread::sleep(Duration::from_secs(3));
    for outcome in send(&producer, 5, "lost") {
        let Outcome::Failed { code, message, attempts } = outcome else { panic!("sent without credentials") };
        assert_eq!(&*code, "Expired");
        assert!(attempts > 1, "retried: {attempts}");
        let reason = format!(
            "CredentialsUnavailable: an error occurred while loading credentials: no Kinesis credentials: \
             assuming role {KINESIS_ROLE} through STS at {} failed: STS is unreachable",
            moto.endpoint
        );
        assert!(message.contains(&reason), "{message}");
    }

    sts_proxy.refuse(false);
    std::thread::sleep(Duration::from_secs(1));
    assert!(send(&producer, 5, "after").iter().all(Outcome::is_delivered));
    producer.close(WAIT);
}
