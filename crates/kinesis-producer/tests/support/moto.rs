//! Runs moto server (the STS peer) for a test through tests/peers/moto.sh, and reads back
//! what it recorded of AssumeRole calls through its /moto-api/data.json.

use super::kinesis_mock::repo_root;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A running moto server, stopped (by PID, through its script) when dropped.
pub struct Moto {
    pub endpoint: String,
    state: PathBuf,
}

/// One AssumeRole call as moto recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumedRole {
    pub role_arn: String,
    pub session_name: String,
    pub external_id: Option<String>,
    pub access_key_id: String,
}

impl Moto {
    pub fn start(name: &str) -> Moto {
        let root = repo_root();
        assert!(
            root.join(".tools/venv/bin/python").exists(),
            "the test venv with moto is missing: run tests/tools/setup.sh (tests/run-all.sh does)"
        );
        let state = std::env::temp_dir().join(format!("moto-{}-{name}", std::process::id()));
        let output = Command::new(root.join("tests/peers/moto.sh"))
            .args(["start", "--state"])
            .arg(&state)
            .stderr(Stdio::inherit())
            .output()
            .expect("run moto.sh");
        assert!(output.status.success(), "moto did not start");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let endpoint = stdout.lines().find_map(|l| l.strip_prefix("MOTO_ENDPOINT=")).expect("endpoint line").to_owned();
        Moto { endpoint, state }
    }

    /// Every AssumeRole moto answered, in order.
    pub fn assumed_roles(&self) -> Vec<AssumedRole> {
        let data = self.get("/moto-api/data.json");
        let roles = data["sts"]["AssumedRole"].as_array().cloned().unwrap_or_default();
        roles
            .iter()
            .map(|r| AssumedRole {
                role_arn: r["role_arn"].as_str().unwrap_or_default().to_owned(),
                session_name: r["session_name"].as_str().unwrap_or_default().to_owned(),
                external_id: r["external_id"].as_str().map(str::to_owned),
                access_key_id: r["access_key_id"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }

    /// Calls of one role.
    pub fn assumed(&self, role_arn: &str) -> Vec<AssumedRole> {
        self.assumed_roles().into_iter().filter(|r| r.role_arn == role_arn).collect()
    }

    fn get(&self, path: &str) -> Value {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("connect to moto");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").expect("request");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("response");
        let text = String::from_utf8_lossy(&response);
        let (_, body) = text.split_once("\r\n\r\n").expect("HTTP response");
        serde_json::from_str(body).expect("moto JSON")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ =
            Command::new(repo_root().join("tests/peers/moto.sh")).args(["stop", "--state"]).arg(&self.state).status();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
