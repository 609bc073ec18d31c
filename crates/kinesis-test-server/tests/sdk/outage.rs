//! An outage refuses connections, then the server comes back on the same port.

use crate::common::{client, entry, start};
use aws_sdk_kinesis::error::SdkError;
use std::time::{Duration, Instant};

#[tokio::test]
async fn outage_then_recovery_with_store_intact() {
    let server = start(&[("s", 2)]).await;
    let kinesis = client(&server.endpoint());
    kinesis.put_records().stream_name("s").records(entry("k", "before")).send().await.expect("put before outage");

    let started = Instant::now();
    server.outage(Duration::from_millis(400)).await;
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", server.port())).await;
    assert_eq!(refused.map(|_| ()).map_err(|e| e.kind()), Err(std::io::ErrorKind::ConnectionRefused));
    // The client's pooled connection is gone as well.
    let error = kinesis.put_records().stream_name("s").records(entry("k", "during")).send().await.expect_err("outage");
    assert!(matches!(error, SdkError::DispatchFailure(_)), "{error:?}");

    // Back after the outage, same port, same data.
    let mut recovered = false;
    while started.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if kinesis.put_records().stream_name("s").records(entry("k", "after")).send().await.is_ok() {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "server came back");
    assert!(started.elapsed() >= Duration::from_millis(400));
    let data: Vec<Vec<u8>> =
        server.records("s").iter().flat_map(|s| s.records.iter().map(|r| r.data.to_vec())).collect();
    assert_eq!(data, vec![b"before".to_vec(), b"after".to_vec()]);
    assert_eq!(server.stats().faults.outages, 1);
    server.stop().await;
}
