//! A real CloudWatch implementation for metrics tests: moto server (tests/peers/moto.sh)
//! behind the RPC v2 CBOR translation proxy (tests/tools/cloudwatch_cbor_proxy.py), since
//! aws-sdk-cloudwatch speaks only CBOR and moto does not. Metrics are read back from moto with
//! boto3 (tests/tools/cloudwatch_read.py).

use super::kinesis_mock::repo_root;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// One metric series as read back: name, dimensions in stored order, unit and statistics.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub unit: String,
    pub sum: f64,
    pub sample_count: f64,
    /// Unknown (None) for the series without dimensions (see cloudwatch_read.py).
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
}

impl Series {
    /// The dimension names, in order.
    pub fn dimension_names(&self) -> Vec<&str> {
        self.dimensions.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The value of a dimension.
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// moto and the proxy in front of it; both stopped by PID when dropped.
pub struct CloudWatchPeer {
    /// moto's endpoint (JSON and query protocols).
    pub moto_endpoint: String,
    /// The proxy's endpoint, for `cloudwatch_endpoint`.
    pub proxy_endpoint: String,
    proxy: Child,
    state: PathBuf,
}

impl CloudWatchPeer {
    /// Starts moto and the proxy on 127.0.0.1; `tag` names the state directory.
    pub fn start(tag: &str) -> CloudWatchPeer {
        let root = repo_root();
        let python = root.join(".tools/venv/bin/python");
        assert!(python.exists(), "the test venv is missing: run tests/tools/setup.sh (tests/run-all.sh does)");
        let state = std::env::temp_dir().join(format!("moto-{}-{tag}", std::process::id()));
        let output = Command::new(root.join("tests/peers/moto.sh"))
            .args(["start", "--state"])
            .arg(&state)
            .stderr(Stdio::inherit())
            .output()
            .expect("run moto.sh");
        assert!(output.status.success(), "moto did not start");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let moto_endpoint =
            stdout.lines().find_map(|l| l.strip_prefix("MOTO_ENDPOINT=")).expect("moto endpoint line").to_owned();
        let mut proxy = Command::new(&python)
            .arg(root.join("tests/tools/cloudwatch_cbor_proxy.py"))
            .args(["--moto", &moto_endpoint])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the CloudWatch proxy");
        let mut line = String::new();
        BufReader::new(proxy.stdout.take().expect("proxy stdout")).read_line(&mut line).expect("proxy banner");
        let Some(proxy_endpoint) = line.trim().strip_prefix("CLOUDWATCH_PROXY_ENDPOINT=").map(str::to_owned) else {
            let _ = proxy.kill();
            panic!("unexpected proxy banner {line:?}");
        };
        CloudWatchPeer { moto_endpoint, proxy_endpoint, proxy, state }
    }

    /// What went through the proxy: `requests` by operation, `gzip_requests`, `metric_data`.
    pub fn proxy_stats(&self) -> Value {
        let address = self.proxy_endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("connect to the proxy");
        write!(stream, "GET /_proxy/stats HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").expect("request");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("answer");
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).expect("HTTP answer");
        serde_json::from_str(body).expect("stats JSON")
    }

    /// PutMetricData requests the proxy took.
    pub fn put_requests(&self) -> u64 {
        self.proxy_stats()["requests"]["PutMetricData"].as_u64().unwrap_or(0)
    }

    /// Every series of `namespace` stored in moto, read with boto3.
    pub fn read(&self, namespace: &str) -> Vec<Series> {
        let root = repo_root();
        let output = Command::new(root.join(".tools/venv/bin/python"))
            .arg(root.join("tests/tools/cloudwatch_read.py"))
            .args(["--endpoint", &self.moto_endpoint, "--namespace", namespace])
            .stderr(Stdio::inherit())
            .output()
            .expect("run cloudwatch_read.py");
        assert!(output.status.success(), "cloudwatch_read.py failed");
        let report: Value = serde_json::from_slice(&output.stdout).expect("reader JSON");
        let number = |v: &Value| v.as_f64();
        report["series"]
            .as_array()
            .expect("series")
            .iter()
            .map(|s| Series {
                name: s["name"].as_str().expect("name").to_owned(),
                dimensions: s["dimensions"]
                    .as_array()
                    .expect("dimensions")
                    .iter()
                    .map(|d| (d[0].as_str().expect("name").to_owned(), d[1].as_str().expect("value").to_owned()))
                    .collect(),
                unit: s["unit"].as_str().unwrap_or_default().to_owned(),
                sum: number(&s["sum"]).expect("sum"),
                sample_count: number(&s["sample_count"]).expect("sample count"),
                minimum: number(&s["minimum"]),
                maximum: number(&s["maximum"]),
            })
            .collect()
    }
}

impl Drop for CloudWatchPeer {
    fn drop(&mut self) {
        let _ = self.proxy.kill();
        let _ = self.proxy.wait();
        let _ = Command::new(repo_root().join("tests/peers/moto.sh"))
            .args(["stop", "--state"])
            .arg(&self.state)
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
