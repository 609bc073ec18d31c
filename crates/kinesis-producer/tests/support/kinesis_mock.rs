//! Runs kinesis-mock (the fidelity reference peer) for a test, reads streams back, and has
//! them deaggregated by an independent implementation (PyPI aws-kinesis-agg).

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine;
use kinesis_producer::Config;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// A running kinesis-mock, stopped (by PID, through its script) when dropped.
pub struct KinesisMock {
    pub endpoint: String,
    state: PathBuf,
}

impl KinesisMock {
    /// Starts kinesis-mock on 127.0.0.1 with the given `name:shards` streams.
    pub fn start(streams: &str) -> KinesisMock {
        let root = repo_root();
        assert!(
            root.join(".tools/node/node_modules/kinesis-local").exists(),
            "kinesis-mock is not installed: run tests/tools/setup.sh (tests/run-all.sh does)"
        );
        let state = std::env::temp_dir().join(format!(
            "kinesis-mock-{}-{}",
            std::process::id(),
            streams.replace([',', ':'], "-")
        ));
        let output = Command::new(root.join("tests/peers/kinesis-mock.sh"))
            .args(["start", "--state"])
            .arg(&state)
            .args(["--streams", streams])
            .stderr(Stdio::inherit())
            .output()
            .expect("run kinesis-mock.sh");
        assert!(output.status.success(), "kinesis-mock did not start");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let endpoint =
            stdout.lines().find_map(|l| l.strip_prefix("KINESIS_MOCK_ENDPOINT=")).expect("endpoint line").to_owned();
        KinesisMock { endpoint, state }
    }

    /// Producer configuration pointing at this peer.
    pub fn config(&self, extra: Value) -> Config {
        let mut json = json!({
            "region": "us-east-1",
            "access_key": "test",
            "secret_key": "test",
            "kinesis_endpoint": self.endpoint,
            "metrics_level": "none",
        });
        for (k, v) in extra.as_object().expect("object").iter() {
            json[k] = v.clone();
        }
        Config::from_json(&json.to_string()).expect("valid config")
    }
}

impl Drop for KinesisMock {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("tests/peers/kinesis-mock.sh"))
            .args(["stop", "--state"])
            .arg(&self.state)
            .status();
    }
}

/// Every Kinesis record of every shard (open or closed) of a stream, as the deaggregation
/// checker expects them: with the hash range of the shard each was read from.
pub async fn read_stream(client: &aws_sdk_kinesis::Client, stream: &str) -> Vec<Value> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = match token.take() {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(stream),
        };
        let page = request.send().await.expect("ListShards");
        shards.extend(page.shards.unwrap_or_default());
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let mut out = Vec::new();
    for shard in shards {
        let range = shard.hash_key_range.expect("hash range");
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(&shard.shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator")
            .shard_iterator;
        while let Some(it) = iterator.take() {
            let page = client.get_records().shard_iterator(it).limit(10_000).send().await.expect("GetRecords");
            let empty = page.records.is_empty();
            for r in page.records {
                out.push(json!({
                    "shard_id": shard.shard_id,
                    "starting_hash_key": range.starting_hash_key,
                    "ending_hash_key": range.ending_hash_key,
                    "partition_key": r.partition_key,
                    "explicit_hash_key": null,
                    "sequence_number": r.sequence_number,
                    "data_b64": base64::engine::general_purpose::STANDARD.encode(Blob::into_inner(r.data)),
                }));
            }
            let caught_up = page.millis_behind_latest.unwrap_or(0) == 0;
            if empty && caught_up {
                break;
            }
            iterator = page.next_shard_iterator;
        }
    }
    out
}

/// Runs tests/tools/deaggregate.py on records read back; its JSON report.
pub fn deaggregate_independently(records: Vec<Value>) -> Value {
    let root = repo_root();
    let mut child = Command::new(root.join(".tools/venv/bin/python"))
        .arg(root.join("tests/tools/deaggregate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run deaggregate.py (tests/tools/setup.sh installs its venv)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(json!({ "records": records }).to_string().as_bytes()).expect("write records");
    }
    let output = child.wait_with_output().expect("deaggregate.py output");
    let report: Value = serde_json::from_slice(&output.stdout).expect("deaggregate.py JSON");
    assert!(output.status.success(), "deaggregation errors: {}", report["errors"]);
    report
}
