//! The standard AWS environment: AWS_ENDPOINT_URL_KINESIS and AWS_ENDPOINT_URL_CLOUDWATCH are
//! honoured unless an endpoint option is set, HTTP_PROXY carries the traffic unless NO_PROXY
//! names the host; the default credentials chain reads the shared files with `profile`, ECS
//! container credentials (refreshed before they expire), EC2 instance metadata (IMDSv2) and
//! SSO profiles, and says where it looked when it finds nothing.
//!
//! One test in its own binary: it changes the process environment, which no other test of
//! this binary could share.

mod support;

use aws_types::service_config::ServiceConfigKey;
use kinesis_producer::{metrics_sdk_config, Config, Outcome, Producer, UserRecord};
use kinesis_test_server::Faults;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
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

/// A container credentials endpoint (the ECS agent's): each call hands out new credentials
/// that expire `lifetime` later.
fn start_container_credentials(lifetime: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/credentials", listener.local_addr().expect("address"));
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            let expiry = SystemTime::now() + lifetime;
            let seconds = expiry.duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_secs();
            let body = format!(
                r#"{{"AccessKeyId": "AKIDCONTAINER{n}", "SecretAccessKey": "container-secret", "Token": "token-{n}", "Expiration": "{}"}}"#,
                rfc3339(seconds)
            );
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, calls)
}

/// One answer of a local credentials service: status line, extra headers, body.
type Answer = (&'static str, &'static str, String);

/// A local HTTP service answering each request (its text, lowercased) with `answer`; returns
/// its base URL and every request line seen.
fn serve(answer: fn(&str) -> Answer) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let text = String::from_utf8_lossy(&request[..n]).to_ascii_lowercase();
            log.lock().expect("log").push(text.lines().next().unwrap_or_default().to_owned());
            let (status, headers, body) = answer(&text);
            let response = format!(
                "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, seen)
}

fn in_an_hour() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_secs()
}

const IMDS_TOKEN: &str = "imds-session-token";

/// EC2 instance metadata that answers only IMDSv2: a session token first (PUT), then the role
/// and its credentials to GETs that carry the token.
fn instance_metadata(request: &str) -> Answer {
    let line = request.lines().next().unwrap_or_default();
    if line.starts_with("put /latest/api/token ") {
        return ("200 OK", "x-aws-ec2-metadata-token-ttl-seconds: 21600\r\n", IMDS_TOKEN.to_owned());
    }
    if !request.contains(&format!("x-aws-ec2-metadata-token: {IMDS_TOKEN}")) {
        return ("401 Unauthorized", "", String::new());
    }
    let expiry = rfc3339(unix_seconds(in_an_hour()));
    match line.split(' ').nth(1) {
        Some("/latest/meta-data/iam/security-credentials/") => ("200 OK", "", "shipper-role".to_owned()),
        Some("/latest/meta-data/iam/security-credentials/shipper-role") => (
            "200 OK",
            "",
            format!(
                r#"{{"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "AKIDINSTANCEROLE", "SecretAccessKey": "instance-secret", "Token": "instance-token", "Expiration": "{expiry}"}}"#
            ),
        ),
        _ => ("404 Not Found", "", String::new()),
    }
}

const SSO_START_URL: &str = "https://shipper.awsapps.com/start";
/// The SDK finds the cached login token of a start URL under the SHA-1 of that URL.
const SSO_CACHE_FILE: &str = "24b6e41369bb621560fd975d9b0b31c7961b8319.json";
const SSO_ACCESS_TOKEN: &str = "sso-login-token";

/// The SSO portal's GetRoleCredentials, for the cached login token and one account and role.
fn sso_portal(request: &str) -> Answer {
    let line = request.lines().next().unwrap_or_default();
    let wanted = line.starts_with("get /federation/credentials?")
        && ["account_id=111122223333", "role_name=shipper"].iter().all(|p| line.contains(p));
    if !wanted || !request.contains(&format!("x-amz-sso_bearer_token: {SSO_ACCESS_TOKEN}")) {
        return ("403 Forbidden", "", String::new());
    }
    let expiry_ms = unix_seconds(in_an_hour()) * 1000;
    let body = format!(
        r#"{{"roleCredentials": {{"accessKeyId": "AKIDSSOROLE", "secretAccessKey": "sso-secret", "sessionToken": "sso-session", "expiration": {expiry_ms}}}}}"#
    );
    ("200 OK", "content-type: application/json\r\n", body)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time (days to civil date, proleptic Gregorian).
fn rfc3339(unix_seconds: u64) -> String {
    let (days, rest) = ((unix_seconds / 86_400) as i64, unix_seconds % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

#[test]
fn endpoint_proxy_and_credentials_environment() {
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_ENDPOINT_URL",
    ] {
        std::env::remove_var(name);
    }
    // No instance metadata service here: do not wait for one.
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let home = std::env::temp_dir().join(format!("aws-environment-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("dir");
    std::env::set_var("AWS_CONFIG_FILE", home.join("config"));
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"));
    default_chain(&home);

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

/// The default chain: `profile` picks a profile of the shared files; container credentials
/// are loaded and refreshed; with nothing anywhere, start fails and says where it looked.
fn default_chain(home: &std::path::Path) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let region = json!({ "region": "us-east-1", "kinesis_endpoint": "http://127.0.0.1:9" });
    let key = |options: serde_json::Value| {
        runtime.block_on(async {
            let sdk = kinesis_producer::kinesis_sdk_config(&config(options)).await?;
            let provider = sdk.credentials_provider().expect("provider");
            let credentials = aws_credential_types::provider::ProvideCredentials::provide_credentials(&provider)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<String, String>(credentials.access_key_id().to_owned())
        })
    };

    let error = key(region.clone()).expect_err("no credentials anywhere");
    assert!(
        error.starts_with("no Kinesis credentials: none found in the AWS default credentials chain (environment, shared config and credentials files"),
        "{error}"
    );

    std::fs::write(
        home.join("credentials"),
        "[default]\naws_access_key_id = AKIDDEFAULTPROFILE\naws_secret_access_key = d\n\n\
         [ops]\naws_access_key_id = AKIDOPSPROFILE\naws_secret_access_key = o\n",
    )
    .expect("write credentials");
    assert_eq!(key(region.clone()).as_deref(), Ok("AKIDDEFAULTPROFILE"));
    let mut ops = region.clone();
    ops["profile"] = json!("ops");
    assert_eq!(key(ops).as_deref(), Ok("AKIDOPSPROFILE"));
    std::fs::remove_file(home.join("credentials")).expect("remove credentials");

    // Container credentials of 12 s: refreshed in the background after 6 s.
    let (url, calls) = start_container_credentials(Duration::from_secs(12));
    std::env::set_var("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url);
    runtime.block_on(async {
        let sdk = kinesis_producer::kinesis_sdk_config(&config(region.clone())).await.expect("container credentials");
        let provider = sdk.credentials_provider().expect("provider");
        let first = aws_credential_types::provider::ProvideCredentials::provide_credentials(&provider).await;
        assert_eq!(first.expect("credentials").access_key_id(), "AKIDCONTAINER1");
        tokio::time::sleep(Duration::from_millis(6_500)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "refreshed once, in the background");
        let second = aws_credential_types::provider::ProvideCredentials::provide_credentials(&provider).await;
        assert_eq!(second.expect("credentials").access_key_id(), "AKIDCONTAINER2");
    });
    std::env::remove_var("AWS_CONTAINER_CREDENTIALS_FULL_URI");

    // EC2 instance metadata, IMDSv2 only: the session token is fetched first and sent with
    // every read.
    let (endpoint, seen) = serve(instance_metadata);
    std::env::remove_var("AWS_EC2_METADATA_DISABLED");
    std::env::set_var("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint);
    assert_eq!(key(region.clone()).as_deref(), Ok("AKIDINSTANCEROLE"));
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.first().map(String::as_str), Some("put /latest/api/token http/1.1"), "{seen:?}");
    assert!(
        seen.iter().any(|l| l.starts_with("get /latest/meta-data/iam/security-credentials/shipper-role ")),
        "{seen:?}"
    );
    std::env::remove_var("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");

    // An SSO profile: the cached login token is exchanged at the portal for role credentials.
    let (portal, portal_seen) = serve(sso_portal);
    std::fs::create_dir_all(home.join(".aws/sso/cache")).expect("cache dir");
    std::fs::write(
        home.join(".aws/sso/cache").join(SSO_CACHE_FILE),
        format!(r#"{{"accessToken": "{SSO_ACCESS_TOKEN}", "expiresAt": "{}"}}"#, rfc3339(unix_seconds(in_an_hour()))),
    )
    .expect("write token");
    std::fs::write(
        home.join("config"),
        format!(
            "[profile sso-shipper]\nsso_start_url = {SSO_START_URL}\nsso_region = us-east-1\n\
             sso_account_id = 111122223333\nsso_role_name = shipper\n"
        ),
    )
    .expect("write config");
    let real_home = std::env::var_os("HOME");
    std::env::set_var("HOME", home);
    std::env::set_var("AWS_ENDPOINT_URL_SSO", &portal);
    let mut sso = region.clone();
    sso["profile"] = json!("sso-shipper");
    assert_eq!(key(sso).as_deref(), Ok("AKIDSSOROLE"), "{:?}", portal_seen.lock().expect("log"));
    std::env::remove_var("AWS_ENDPOINT_URL_SSO");
    match real_home {
        Some(h) => std::env::set_var("HOME", h),
        None => std::env::remove_var("HOME"),
    }
    let _ = std::fs::remove_dir_all(home);
}
