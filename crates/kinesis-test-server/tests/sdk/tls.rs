//! HTTPS with the generated self-signed certificate.

use crate::common::{client, entry, start_with, tls_client};
use kinesis_test_server::ServerConfig;

#[tokio::test]
async fn tls_with_trusted_generated_certificate() {
    let cert_path = std::env::temp_dir().join(format!("kinesis-test-server-{}.pem", std::process::id()));
    let server = start_with(ServerConfig {
        tls: true,
        cert_pem_path: Some(cert_path.clone()),
        streams: vec![("s".into(), 1)],
        ..ServerConfig::default()
    })
    .await;
    assert!(server.endpoint().starts_with("https://127.0.0.1:"));
    let pem = std::fs::read_to_string(&cert_path).expect("certificate written");
    let _ = std::fs::remove_file(&cert_path);
    assert_eq!(Some(pem.as_str()), server.cert_pem());
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    let kinesis = tls_client(&server.endpoint(), &pem);
    let answer =
        kinesis.put_records().stream_name("s").records(entry("k", "over tls")).send().await.expect("put over TLS");
    assert_eq!(answer.failed_record_count(), Some(0));

    // Also reachable as localhost, which the certificate names too.
    let by_name = server.endpoint().replace("127.0.0.1", "localhost");
    tls_client(&by_name, &pem).list_shards().stream_name("s").send().await.expect("localhost over TLS");

    // A client that does not trust the certificate fails.
    assert!(client(&server.endpoint()).list_shards().stream_name("s").send().await.is_err());
    server.stop().await;
}
