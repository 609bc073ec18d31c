//! An in-memory Kinesis for producer tests: routes entries like the service, stores them,
//! and answers from a script of failures.

use bytes::Bytes;
use kinesis_producer::partition_key_hash;
use kinesis_producer::shard_map::Shard;
use kinesis_producer::transport::{BoxFuture, EntryResult, PutEntry, RequestError, StreamTarget, Transport};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How one PutRecords call is answered.
#[derive(Clone)]
pub enum Answer {
    /// Store every entry.
    Accept,
    /// Fail the entries at these positions with this code; store the rest.
    FailEntries(Vec<usize>, &'static str),
    /// Fail the whole request.
    Fail(RequestError),
    /// Never answer.
    Hang,
}

/// One stored Kinesis record.
#[derive(Clone, Debug)]
pub struct Stored {
    pub shard_id: String,
    pub sequence_number: String,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Bytes,
}

/// One entry of a PutRecords call, as the fake received it.
struct Received {
    data: Bytes,
    partition_key: String,
    explicit_hash_key: Option<String>,
}

impl Received {
    fn new(entry: &PutEntry<'_>) -> Self {
        let mut scratch = Vec::new();
        Received {
            data: Bytes::copy_from_slice(entry.data.bytes(&mut scratch)),
            partition_key: entry.partition_key.to_owned(),
            explicit_hash_key: entry.explicit_hash_key.map(|k| k.to_string()),
        }
    }
}

#[derive(Default)]
pub struct FakeKinesis {
    /// Shards the service really has.
    pub shards: Mutex<Vec<Shard>>,
    /// Shards ListShards reports (defaults to the real ones).
    pub listed: Mutex<Option<Vec<Shard>>>,
    /// When set, ListShards fails with this error.
    pub list_error: Mutex<Option<RequestError>>,
    /// ListShards answers after this long.
    pub list_delay: Mutex<Duration>,
    pub script: Mutex<VecDeque<Answer>>,
    /// Answer once the script is used up.
    pub default_answer: Mutex<Option<Answer>>,
    pub stored: Mutex<Vec<Stored>>,
    pub put_calls: AtomicU64,
    pub list_calls: AtomicU64,
    sequence: AtomicU64,
}

/// `n` shards splitting the hash key space evenly.
pub fn even_shards(n: u128) -> Vec<Shard> {
    let step = u128::MAX / n;
    (0..n)
        .map(|i| Shard {
            id: format!("shardId-{i:012}").into(),
            starting_hash_key: i * step,
            ending_hash_key: if i == n - 1 { u128::MAX } else { (i + 1) * step - 1 },
        })
        .collect()
}

impl FakeKinesis {
    pub fn new(shards: Vec<Shard>) -> Arc<Self> {
        let fake = FakeKinesis::default();
        *fake.shards.lock().unwrap() = shards;
        Arc::new(fake)
    }

    pub fn then(&self, answer: Answer) -> &Self {
        self.script.lock().unwrap().push_back(answer);
        self
    }

    pub fn stored(&self) -> Vec<Stored> {
        self.stored.lock().unwrap().clone()
    }

    pub fn shard(&self, id: &str) -> Shard {
        self.shards.lock().unwrap().iter().find(|s| &*s.id == id).cloned().expect("known shard")
    }

    fn route(&self, entry: &Received) -> String {
        let hash = match &entry.explicit_hash_key {
            Some(k) => k.parse::<u128>().expect("decimal hash key"),
            None => partition_key_hash(&entry.partition_key),
        };
        let shards = self.shards.lock().unwrap();
        shards.iter().find(|s| s.contains(hash)).expect("a shard owns every hash key").id.to_string()
    }

    fn store(&self, entry: Received) -> EntryResult {
        let shard_id = self.route(&entry);
        let sequence_number = format!("{:056}", self.sequence.fetch_add(1, Ordering::SeqCst));
        self.stored.lock().unwrap().push(Stored {
            shard_id: shard_id.clone(),
            sequence_number: sequence_number.clone(),
            partition_key: entry.partition_key,
            explicit_hash_key: entry.explicit_hash_key,
            data: entry.data,
        });
        EntryResult::Accepted { shard_id, sequence_number }
    }

    fn answer(&self, entries: Vec<Received>) -> Option<Result<Vec<EntryResult>, RequestError>> {
        let answer = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .or_else(|| self.default_answer.lock().unwrap().clone())
            .unwrap_or(Answer::Accept);
        match answer {
            Answer::Accept => Some(Ok(entries.into_iter().map(|e| self.store(e)).collect())),
            Answer::FailEntries(positions, code) => Some(Ok(entries
                .into_iter()
                .enumerate()
                .map(|(i, e)| {
                    if positions.contains(&i) {
                        EntryResult::Failed { code: code.into(), message: format!("injected {code}") }
                    } else {
                        self.store(e)
                    }
                })
                .collect())),
            Answer::Fail(error) => Some(Err(error)),
            Answer::Hang => None,
        }
    }
}

/// Shares one fake between the test and the producer.
pub struct FakeTransport(pub Arc<FakeKinesis>);

impl Transport for FakeTransport {
    fn put_records(
        &self,
        _stream: &StreamTarget,
        entries: &[PutEntry<'_>],
    ) -> BoxFuture<Result<Vec<EntryResult>, RequestError>> {
        let entries: Vec<Received> = entries.iter().map(Received::new).collect();
        let fake = self.0.clone();
        Box::pin(async move {
            fake.put_calls.fetch_add(1, Ordering::SeqCst);
            match fake.answer(entries) {
                Some(result) => result,
                None => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    unreachable!("hung request answered")
                }
            }
        })
    }

    fn list_shards(&self, _stream: &StreamTarget) -> BoxFuture<Result<Vec<Shard>, RequestError>> {
        let fake = self.0.clone();
        Box::pin(async move {
            fake.list_calls.fetch_add(1, Ordering::SeqCst);
            let delay = *fake.list_delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            if let Some(error) = fake.list_error.lock().unwrap().clone() {
                return Err(error);
            }
            let listed = fake.listed.lock().unwrap().take();
            Ok(listed.unwrap_or_else(|| fake.shards.lock().unwrap().clone()))
        })
    }
}
