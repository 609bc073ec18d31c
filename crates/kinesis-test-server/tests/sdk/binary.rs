//! The `kinesis-test-server` binary: starts fast, reports its port, stops on SIGTERM.

use crate::common::{client, entry};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn binary_starts_reports_port_and_stops_on_sigterm() {
    let port_file = std::env::temp_dir().join(format!("kinesis-test-server-port-{}", std::process::id()));
    let _ = std::fs::remove_file(&port_file);
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kinesis-test-server"))
        .args(["--stream", "b:3", "--blackhole", "--seed", "1", "--port-file"])
        .arg(&port_file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    let startup = started.elapsed();
    assert!(startup < Duration::from_secs(1), "started in {startup:?}");
    let endpoint = line.trim().strip_prefix("listening on ").expect(&line).to_string();
    let port: u16 = std::fs::read_to_string(&port_file).expect("port file").trim().parse().expect("port");
    let _ = std::fs::remove_file(&port_file);
    assert_eq!(endpoint, format!("http://127.0.0.1:{port}"));

    let answer = client(&endpoint).put_records().stream_name("b").records(entry("k", "x")).send().await.expect("put");
    assert_eq!(answer.failed_record_count(), Some(0));

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            assert!(exit.success(), "{exit:?}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn binary_rejects_unknown_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_kinesis-test-server")).arg("--no-such-flag").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown option"));
}
