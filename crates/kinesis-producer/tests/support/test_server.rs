//! The project's fault-injecting Kinesis server, run in-process on its own threads.

use super::deaggregate::{deaggregate, UserRecordOut};
use kinesis_producer::{Config, Producer};
use kinesis_test_server::{Faults, ServerConfig, TestServer};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// A running server and the runtime that drives it.
pub struct Server {
    pub server: Option<TestServer>,
    pub runtime: tokio::runtime::Runtime,
}

impl Server {
    /// Starts a plain-HTTP server with `streams` (name, shards) and a fixed fault seed.
    pub fn start(streams: &[(&str, u32)], faults: Faults) -> Server {
        Self::start_with(ServerConfig {
            streams: streams.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
            faults,
            seed: Some(7),
            ..ServerConfig::default()
        })
    }

    /// Starts a server from a full configuration.
    pub fn start_with(config: ServerConfig) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-server")
            .enable_all()
            .build()
            .expect("runtime");
        let server = runtime.block_on(TestServer::start(config)).expect("test server starts");
        Server { server: Some(server), runtime }
    }

    pub fn get(&self) -> &TestServer {
        self.server.as_ref().expect("running")
    }

    /// A producer configuration pointing at this server.
    pub fn config(&self, extra: Value) -> Config {
        let mut json = json!({
            "region": "us-east-1",
            "access_key": "test",
            "secret_key": "test",
            "kinesis_endpoint": self.get().endpoint(),
            "metrics_level": "none",
        });
        for (k, v) in extra.as_object().expect("object") {
            json[k] = v.clone();
        }
        Config::from_json(&json.to_string()).expect("valid config")
    }

    pub fn producer(&self, extra: Value) -> Producer {
        Producer::new(self.config(extra)).expect("producer")
    }

    /// Stored user records of a stream as a consumer sees them, by data: deaggregated, and
    /// without aggregates that hold a record outside their shard's range (consumers drop
    /// those whole). Also returns how many aggregates were dropped that way.
    pub fn consumer_view(&self, stream: &str) -> (HashMap<Vec<u8>, usize>, usize) {
        let mut seen = HashMap::new();
        let mut dropped = 0;
        for shard in self.get().records(stream) {
            for record in &shard.records {
                let ehk = record.explicit_hash_key.map(|k| k.to_string());
                let users: Vec<UserRecordOut> = deaggregate(&record.partition_key, ehk.as_deref(), &record.data);
                let aggregated = users.len() > 1 || record.partition_key == "a" && users[0].data != record.data;
                let in_range =
                    |u: &UserRecordOut| (shard.starting_hash_key..=shard.ending_hash_key).contains(&u.hash_key());
                if aggregated && !users.iter().all(in_range) {
                    dropped += 1;
                    continue;
                }
                for u in users {
                    *seen.entry(u.data).or_insert(0) += 1;
                }
            }
        }
        (seen, dropped)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(5), server.stop()).await;
            });
        }
    }
}
