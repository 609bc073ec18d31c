//! Which shard owns which hash keys, as last listed by ListShards.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// An open shard and the hash keys it owns (inclusive range).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    /// ShardId as Kinesis names it (`shardId-000000000007`).
    pub id: Arc<str>,
    /// First hash key of the shard.
    pub starting_hash_key: u128,
    /// Last hash key of the shard.
    pub ending_hash_key: u128,
}

impl Shard {
    /// True when the shard owns `hash_key`.
    pub fn contains(&self, hash_key: u128) -> bool {
        self.starting_hash_key <= hash_key && hash_key <= self.ending_hash_key
    }
}

/// Open shards sorted by ending hash key, for predicting where a hash key lands.
#[derive(Clone, Debug)]
pub struct ShardMap {
    shards: Vec<Shard>,
    fetched: Instant,
}

impl ShardMap {
    /// Builds a map from the open shards of a stream.
    pub fn new(mut shards: Vec<Shard>) -> Self {
        shards.sort_by_key(|s| s.ending_hash_key);
        ShardMap { shards, fetched: Instant::now() }
    }

    /// Index of the shard predicted to own `hash_key`: the first whose end is >= the key.
    pub fn predict(&self, hash_key: u128) -> Option<usize> {
        let i = self.shards.partition_point(|s| s.ending_hash_key < hash_key);
        (i < self.shards.len()).then_some(i)
    }

    /// The shard at a predicted index.
    pub fn shard(&self, index: usize) -> &Shard {
        &self.shards[index]
    }

    /// Looks a shard up by its id.
    pub fn find(&self, id: &str) -> Option<&Shard> {
        self.shards.iter().find(|s| &*s.id == id)
    }

    /// Number of open shards.
    pub fn len(&self) -> usize {
        self.shards.len()
    }

    /// True when the stream listed no open shard.
    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// Age of the listing.
    pub fn age(&self) -> Duration {
        self.fetched.elapsed()
    }
}

/// Pause before retrying a failed ListShards: 1 s, growing by half each time, up to 30 s.
pub fn refresh_backoff(failures: u32) -> Duration {
    let ms = 1000.0 * 1.5f64.powi(failures.saturating_sub(1).min(20) as i32);
    Duration::from_millis(ms.min(30_000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn even_split(n: u128) -> ShardMap {
        let step = u128::MAX / n;
        let shards = (0..n)
            .map(|i| Shard {
                id: format!("shardId-{i:012}").into(),
                starting_hash_key: i * step,
                ending_hash_key: if i == n - 1 { u128::MAX } else { (i + 1) * step - 1 },
            })
            .rev()
            .collect();
        ShardMap::new(shards)
    }

    #[test]
    fn predicts_at_range_edges() {
        let map = even_split(4);
        let step = u128::MAX / 4;
        assert_eq!(map.predict(0), Some(0));
        assert_eq!(map.predict(step - 1), Some(0));
        assert_eq!(map.predict(step), Some(1));
        assert_eq!(map.predict(2 * step - 1), Some(1));
        assert_eq!(map.predict(2 * step), Some(2));
        assert_eq!(map.predict(u128::MAX), Some(3));
        assert_eq!(&*map.shard(3).id, "shardId-000000000003");
    }

    #[test]
    fn every_prediction_contains_the_key() {
        let map = even_split(7);
        let mut k = 1u128;
        for _ in 0..200 {
            k = k.wrapping_mul(0x2545_f491_4f6c_dd1d_2545_f491_4f6c_dd1d).wrapping_add(7);
            let i = map.predict(k).unwrap();
            assert!(map.shard(i).contains(k));
        }
    }

    #[test]
    fn gaps_are_reported() {
        let map = ShardMap::new(vec![Shard { id: "s".into(), starting_hash_key: 0, ending_hash_key: 10 }]);
        assert_eq!(map.predict(11), None);
        assert!(map.find("s").is_some());
        assert!(map.find("t").is_none());
    }

    #[test]
    fn refresh_backoff_grows_to_thirty_seconds() {
        assert_eq!(refresh_backoff(1), Duration::from_secs(1));
        assert_eq!(refresh_backoff(2), Duration::from_millis(1500));
        assert_eq!(refresh_backoff(100), Duration::from_secs(30));
    }
}
