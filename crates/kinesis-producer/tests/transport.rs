//! Transport and start-time credential checks that need no external peer: the `proxy` option
//! (with proxy credentials), `ca_bundle`, and a producer that cannot start because STS is
//! unreachable, silent or refuses the role, with a message that says which.

mod support;

use kinesis_producer::{Outcome, Producer, UserRecord};
use kinesis_test_server::{Faults, ServerConfig};
use serde_json::json;
use std::net::TcpListener;
use std::time::{Duration, Instant};
use support::recording_proxy::RecordingProxy;
use support::refusing_sts::{access_denied_message, RefusingSts};
use support::test_server::Server;

const WAIT: Duration = Duration::from_secs(30);
const ROLE: &str = "arn:aws:iam::123456789012:role/kinesis-writer";
/// Secret values of the options; no message may show them.
const SECRETS: [&str; 4] = ["AKIDTRANSPORTKEY", "transport-secret-value", "transport-external-id", "proxy-password-1"];

fn records(n: usize) -> Vec<UserRecord> {
    (0..n).map(|i| UserRecord::new("s", format!("key-{i}"), format!("record {i}"))).collect()
}

fn send(producer: &Producer, n: usize) -> Vec<Outcome> {
    producer.submit(records(n), WAIT).expect("submitted").wait_outcomes(WAIT).expect("outcomes")
}

fn start_error(server: &Server, extra: serde_json::Value) -> String {
    let mut options = json!({
        "access_key": SECRETS[0], "secret_key": SECRETS[1], "external_id": SECRETS[2], "role_arn": ROLE,
    });
    for (k, v) in extra.as_object().expect("object") {
        options[k] = v.clone();
    }
    let error = Producer::new(server.config(options)).expect_err("start fails").to_string();
    eprintln!("start error: {error}");
    for secret in SECRETS {
        assert!(!error.contains(secret), "secret in {error}");
    }
    error
}

#[test]
fn all_traffic_goes_through_the_proxy_with_its_credentials() {
    let server = Server::start(&[("s", 2)], Faults::default());
    let proxy = RecordingProxy::start();
    let producer = server.producer(json!({ "proxy": proxy.url(Some(("shipper", SECRETS[3]))) }));
    assert!(send(&producer, 20).iter().all(Outcome::is_delivered));
    producer.close(WAIT);

    let tunnels = proxy.tunnels();
    let expected_auth = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("shipper:{}", SECRETS[3]))
    );
    assert!(!tunnels.is_empty());
    for (target, auth) in &tunnels {
        assert_eq!(target, &format!("127.0.0.1:{}", server.get().port()));
        assert_eq!(auth.as_deref(), Some(expected_auth.as_str()));
    }
    let puts = proxy.requests_with("Kinesis_20131202.PutRecords");
    assert!(!puts.is_empty());
    assert_eq!(puts[0].access_key_id().as_deref(), Some("test"));
}

#[test]
fn a_proxy_that_refuses_fails_records_with_the_reason_and_never_shows_its_password() {
    let server = Server::start(&[("s", 1)], Faults::default());
    let proxy = RecordingProxy::start();
    proxy.refuse(true);
    let producer = server.producer(json!({ "proxy": proxy.url(Some(("shipper", SECRETS[3]))), "record_ttl": 1500 }));
    for outcome in send(&producer, 3) {
        let Outcome::Failed { code, message, .. } = outcome else { panic!("delivered through a refusing proxy") };
        assert_eq!(&*code, "Expired");
        assert!(message.contains("ConnectionError"), "{message}");
        assert!(!message.contains(SECRETS[3]), "{message}");
    }
    producer.close(WAIT);
}

#[test]
fn ca_bundle_adds_a_trusted_authority() {
    let server =
        Server::start_with(ServerConfig { tls: true, streams: vec![("s".into(), 1)], ..ServerConfig::default() });
    let dir = std::env::temp_dir().join(format!("ca-bundle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bundle = dir.join("test-server.pem");
    std::fs::write(&bundle, server.get().cert_pem().expect("certificate")).expect("write bundle");

    let trusting = server.producer(json!({ "ca_bundle": bundle.to_str().expect("path") }));
    assert!(send(&trusting, 5).iter().all(Outcome::is_delivered));
    trusting.close(WAIT);

    let error = Producer::new(server.config(json!({ "ca_bundle": dir.join("missing.pem").to_str().expect("path") })))
        .expect_err("missing bundle")
        .to_string();
    assert!(error.contains("option \"ca_bundle\": cannot read the file") && error.contains("missing.pem"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreachable_sts_fails_start_and_says_so() {
    let server = Server::start(&[("s", 1)], Faults::default());
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let sts = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let error = start_error(&server, json!({ "sts_endpoint": sts }));
    let expected =
        format!("no Kinesis credentials: assuming role {ROLE} through STS at {sts} failed: STS is unreachable");
    assert!(error.contains(&expected), "{error}");
}

#[test]
fn silent_sts_fails_start_within_the_request_timeout() {
    let server = Server::start(&[("s", 1)], Faults::default());
    // Accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let sts = format!("http://{}", silent.local_addr().expect("address"));
    let started = Instant::now();
    let error = start_error(&server, json!({ "sts_endpoint": sts, "request_timeout": 1000, "connect_timeout": 1000 }));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(error.contains(&format!("assuming role {ROLE} through STS at {sts} failed:")), "{error}");
    assert!(error.contains("did not answer in time") || error.contains("no answer within"), "{error}");
    drop(silent);
}

#[test]
fn a_role_sts_refuses_fails_start_with_the_sts_message() {
    let server = Server::start(&[("s", 1)], Faults::default());
    let sts = RefusingSts::start(ROLE);
    let error = start_error(&server, json!({ "sts_endpoint": sts.endpoint }));
    let expected = format!(
        "no Kinesis credentials: assuming role {ROLE} through STS at {} failed: STS refused (HTTP 403, AccessDenied): {}",
        sts.endpoint,
        access_denied_message(ROLE)
    );
    assert!(error.contains(&expected), "{error}");
    assert_eq!(sts.calls(), 1, "a refusal is not retried");
}
