//! Time-bounded mutation fuzzing of the packed batch decoder, on the stable toolchain: valid
//! batches are mutated at random (lengths, counts, indexes, bytes, buffer sizes) for
//! `DECODER_FUZZ_SECONDS` (default 5) and every result must be a clean refusal or exactly the
//! records an independent reading of the arrays gives. `DECODER_FUZZ_SEED` repeats a run.

use bytes::Bytes;
use kinesis_producer_jni::packed::{decode, PackedBatch};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// xorshift64*: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn length(&mut self) -> i32 {
        match self.below(6) {
            0 => i32::MIN,
            1 => -1 - self.below(5) as i32,
            2 => i32::MAX,
            3 => self.next() as i32,
            _ => self.below(24) as i32,
        }
    }
}

/// The arrays of one packed batch, owned.
#[derive(Clone, Debug)]
struct Arrays {
    streams: Vec<String>,
    stream_index: Option<Vec<i32>>,
    keys: Vec<u8>,
    key_lengths: Vec<i32>,
    explicit_hash_keys: Option<Vec<Option<String>>>,
    payloads: Vec<u8>,
    payload_lengths: Vec<i32>,
}

fn valid(rng: &mut Rng) -> Arrays {
    let streams: Vec<String> = (0..1 + rng.below(3)).map(|s| format!("stream-{s}")).collect();
    let count = rng.below(12);
    let mut arrays = Arrays {
        stream_index: (streams.len() > 1 || rng.chance(50))
            .then(|| (0..count).map(|_| rng.below(streams.len()) as i32).collect()),
        streams,
        keys: Vec::new(),
        key_lengths: Vec::new(),
        explicit_hash_keys: rng.chance(30).then(|| {
            (0..count).map(|i| rng.chance(50).then(|| format!("{}", (i as u64).wrapping_mul(rng.next())))).collect()
        }),
        payloads: Vec::new(),
        payload_lengths: Vec::new(),
    };
    for i in 0..count {
        let key = format!("key-{i}-é");
        arrays.key_lengths.push(key.len() as i32);
        arrays.keys.extend(key.bytes());
        let size = rng.below(40);
        arrays.payload_lengths.push(size as i32);
        arrays.payloads.extend((0..size).map(|b| (b + i) as u8));
    }
    arrays
}

fn mutate(arrays: &mut Arrays, rng: &mut Rng) {
    let pick = |rng: &mut Rng, len: usize| rng.below(len);
    match rng.below(12) {
        0 if !arrays.key_lengths.is_empty() => {
            let i = pick(rng, arrays.key_lengths.len());
            arrays.key_lengths[i] = rng.length();
        }
        1 if !arrays.payload_lengths.is_empty() => {
            let i = pick(rng, arrays.payload_lengths.len());
            arrays.payload_lengths[i] = rng.length();
        }
        2 => {
            let cut = rng.below(arrays.keys.len() + 1);
            arrays.keys.truncate(cut);
        }
        3 => {
            let cut = rng.below(arrays.payloads.len() + 1);
            arrays.payloads.truncate(cut);
        }
        4 if !arrays.keys.is_empty() => {
            // Any byte, often making a key invalid UTF-8.
            let i = pick(rng, arrays.keys.len());
            arrays.keys[i] = rng.next() as u8;
        }
        5 => {
            if rng.chance(50) {
                arrays.key_lengths.pop();
            } else {
                arrays.key_lengths.push(rng.length());
            }
        }
        6 => match &mut arrays.stream_index {
            Some(index) if !index.is_empty() && rng.chance(70) => {
                let i = pick(rng, index.len());
                index[i] = if rng.chance(50) { rng.length() } else { arrays.streams.len() as i32 };
            }
            Some(_) => arrays.stream_index = None,
            None => arrays.stream_index = Some((0..rng.below(8)).map(|_| rng.length()).collect()),
        },
        7 => {
            if rng.chance(50) {
                arrays.streams.clear();
            } else {
                arrays.streams.push(String::new());
            }
        }
        8 => {
            let count = arrays.payload_lengths.len() + rng.below(3);
            let count = count.saturating_sub(1);
            arrays.explicit_hash_keys =
                Some((0..count).map(|_| rng.chance(50).then(|| format!("{:x}", rng.next()))).collect());
        }
        9 => {
            if rng.chance(50) {
                arrays.payload_lengths.pop();
            } else {
                arrays.payload_lengths.push(rng.length());
            }
        }
        10 => arrays.keys.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
        _ => arrays.payloads.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
    }
}

/// One record as read independently: stream, key bytes, payload, explicit hash key.
type Expected = (String, Vec<u8>, Vec<u8>, Option<String>);

/// The records an independent reading of the arrays gives, or None when the arrays do not fit
/// together.
fn expected(a: &Arrays) -> Option<Vec<Expected>> {
    let count = a.payload_lengths.len();
    if a.key_lengths.len() != count || a.explicit_hash_keys.as_ref().is_some_and(|k| k.len() != count) {
        return None;
    }
    match &a.stream_index {
        Some(index) => {
            if index.len() != count || index.iter().any(|&s| s < 0 || s as usize >= a.streams.len()) {
                return None;
            }
        }
        None if a.streams.len() == 1 || (count == 0 && a.streams.is_empty()) => {}
        None => return None,
    }
    let total = |lengths: &[i32], available: usize| -> Option<()> {
        let mut sum: i64 = 0;
        for &l in lengths {
            if l < 0 {
                return None;
            }
            sum += i64::from(l);
        }
        (sum <= available as i64).then_some(())
    };
    total(&a.key_lengths, a.keys.len())?;
    total(&a.payload_lengths, a.payloads.len())?;
    let (mut k, mut p) = (0usize, 0usize);
    let mut records = Vec::new();
    for i in 0..count {
        let key = a.keys[k..k + a.key_lengths[i] as usize].to_vec();
        let payload = a.payloads[p..p + a.payload_lengths[i] as usize].to_vec();
        k += key.len();
        p += payload.len();
        let stream = match &a.stream_index {
            Some(index) => a.streams[index[i] as usize].clone(),
            None => a.streams[0].clone(),
        };
        let hash_key = a.explicit_hash_keys.as_ref().and_then(|keys| keys[i].clone());
        records.push((stream, key, payload, hash_key));
    }
    Some(records)
}

/// Decodes and compares with the independent reading; Err describes a mismatch.
fn check(a: &Arrays) -> Result<(), String> {
    let batch = PackedBatch {
        streams: &a.streams,
        stream_index: a.stream_index.as_deref(),
        keys: &a.keys,
        key_lengths: &a.key_lengths,
        explicit_hash_keys: a.explicit_hash_keys.as_deref(),
        payloads: Bytes::copy_from_slice(&a.payloads),
        payload_lengths: &a.payload_lengths,
    };
    let decoded = catch_unwind(AssertUnwindSafe(|| decode(&batch))).map_err(|_| "decode panicked".to_string())?;
    match (decoded, expected(a)) {
        (Err(_), None) => Ok(()),
        (Err(e), Some(_)) => Err(format!("refused a consistent batch: {e}")),
        (Ok(_), None) => Err("accepted arrays that do not fit together".into()),
        (Ok(decoded), Some(records)) => {
            let mut accepted = decoded.records.iter();
            let mut rejected = decoded.rejected.iter().peekable();
            for (i, (stream, key, payload, hash_key)) in records.iter().enumerate() {
                if rejected.next_if(|r| r.index == i).is_some() {
                    if std::str::from_utf8(key).is_ok() {
                        return Err(format!("record {i} refused with a valid UTF-8 key"));
                    }
                    continue;
                }
                let record = accepted.next().ok_or(format!("record {i} missing"))?;
                let same = *record.stream == **stream
                    && record.partition_key.as_bytes() == key.as_slice()
                    && record.data[..] == payload[..]
                    && &record.explicit_hash_key == hash_key;
                if !same {
                    return Err(format!("record {i} differs: {record:?}"));
                }
            }
            if accepted.next().is_some() || rejected.next().is_some() {
                return Err("more records than the arrays hold".into());
            }
            Ok(())
        }
    }
}

#[test]
fn mutated_batches_are_refused_cleanly_or_split_exactly() {
    let seconds = std::env::var("DECODER_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let seed = std::env::var("DECODER_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1);
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let (mut cases, mut refused) = (0u64, 0u64);
    let mut failure = None;
    while Instant::now() < deadline && failure.is_none() {
        for _ in 0..256 {
            let mut arrays = valid(&mut rng);
            for _ in 0..rng.below(4) {
                mutate(&mut arrays, &mut rng);
            }
            refused += u64::from(expected(&arrays).is_none());
            cases += 1;
            if let Err(problem) = check(&arrays) {
                failure = Some(format!("{problem}\ncase: {arrays:?}"));
                break;
            }
        }
    }
    if let Some(failure) = failure {
        panic!("DECODER_FUZZ_SEED={seed}: {failure}");
    }
    eprintln!("decoder fuzz: {cases} cases ({refused} malformed) in {seconds} s, DECODER_FUZZ_SEED={seed}");
    assert!(cases > 1000, "only {cases} cases ran");
}
