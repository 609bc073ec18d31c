//! Sends generated records to a stream and prints what happened to them.
//!
//! ```text
//! cargo run --release -p kinesis-producer --example send -- CONFIG_JSON STREAM [RECORDS] [BYTES]
//! ```

use kinesis_producer::{Config, Metric, Outcome, Producer, UserRecord};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: send CONFIG_JSON STREAM [RECORDS] [BYTES]");
        std::process::exit(2);
    }
    let config = Config::from_json(&args[1]).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let stream = &args[2];
    let count: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let size: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(200);

    let producer = Producer::new(config).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let started = Instant::now();
    let mut batches = Vec::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        let records = chunk
            .iter()
            .map(|i| UserRecord::new(stream.as_str(), format!("key-{i}"), format!("{i:0size$}").into_bytes()))
            .collect();
        batches.push(producer.submit(records, Duration::from_secs(60)).expect("submit"));
    }
    let mut delivered = 0;
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for batch in batches {
        for outcome in batch.wait_outcomes(Duration::from_secs(600)).expect("outcomes") {
            match outcome {
                Outcome::Delivered { .. } => delivered += 1,
                Outcome::Failed { code, message, .. } => {
                    *failures.entry(format!("{code}: {message}")).or_default() += 1
                }
            }
        }
    }
    let elapsed = started.elapsed();
    producer.close(Duration::from_secs(30));
    let registry = producer.metrics_registry();
    println!("submitted {count} records of {size} bytes to {stream} in {:.2} s", elapsed.as_secs_f64());
    println!("delivered {delivered}, failed {}", count - delivered);
    for (reason, n) in failures {
        println!("  {n} x {reason}");
    }
    println!(
        "{} Kinesis records in {} PutRecords requests",
        registry.total(Metric::KinesisRecordsPut),
        registry.snapshot().iter().filter(|(k, _)| k.metric == Metric::RequestTime).map(|(_, s)| s.count).sum::<u64>()
    );
    if delivered != count {
        std::process::exit(1);
    }
}
