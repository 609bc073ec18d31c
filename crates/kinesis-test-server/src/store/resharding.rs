//! Splitting and merging shards, and uniform rescaling built from splits and merges.

use super::shard::Shard;
use super::stream::{now_ms, Stream, Topology};
use crate::error::{ServiceError, ACCOUNT_ID};
use crate::hash;
use std::sync::Arc;

impl Stream {
    /// Splits open shard `shard_id` into `[start, new_start - 1]` and `[new_start, end]`.
    /// Returns the ids of the two children.
    pub fn split(&self, shard_id: &str, new_start: u128) -> Result<(String, String), ServiceError> {
        let mut topology = self.write();
        let parent = self.open_shard(&topology, shard_id)?;
        if new_start <= parent.start || new_start > parent.end {
            return Err(ServiceError::invalid_argument(format!(
                "NewStartingHashKey {new_start} used in SplitShard() on shard {shard_id} in stream {} under account {ACCOUNT_ID} is not both greater than the shard's StartingHashKey {} and at most its EndingHashKey {}.",
                self.name, parent.start, parent.end
            )));
        }
        Ok(self.split_unchecked(&mut topology, &parent, new_start))
    }

    /// Merges open shards `shard_id` and `adjacent_id` (their ranges must touch).
    /// Returns the id of the child.
    pub fn merge(&self, shard_id: &str, adjacent_id: &str) -> Result<String, ServiceError> {
        let mut topology = self.write();
        let first = self.open_shard(&topology, shard_id)?;
        let second = self.open_shard(&topology, adjacent_id)?;
        let touching = first.end.checked_add(1) == Some(second.start) || second.end.checked_add(1) == Some(first.start);
        if !touching {
            return Err(ServiceError::invalid_argument(format!(
                "Shard {shard_id} and shard {adjacent_id} in stream {} under account {ACCOUNT_ID} are not adjacent.",
                self.name
            )));
        }
        Ok(self.merge_unchecked(&mut topology, &first, &second))
    }

    /// Reshards to `target` open shards with evenly split ranges (UNIFORM_SCALING), by
    /// splitting at the new boundaries and merging what lies between them. Returns the
    /// open shard count before.
    pub fn update_shard_count(&self, target: u32) -> Result<u32, ServiceError> {
        let mut topology = self.write();
        let current = topology.open.len() as u32;
        if target == 0 || target > current.saturating_mul(2) || target < current.div_ceil(2) {
            return Err(ServiceError::limit_exceeded(format!(
                "UpdateShardCount to {target} shards for stream {} under account {ACCOUNT_ID}: the target must be between half and double the current open shard count {current}.",
                self.name
            )));
        }
        let targets = hash::even_ranges(target);
        for &(boundary, _) in targets.iter().skip(1) {
            let position = topology.route(boundary);
            let shard = topology.open[position].clone();
            if shard.start != boundary {
                self.split_unchecked(&mut topology, &shard, boundary);
            }
        }
        for &(low, high) in &targets {
            loop {
                let inside: Vec<Arc<Shard>> =
                    topology.open.iter().filter(|s| s.start >= low && s.end <= high).take(2).cloned().collect();
                if inside.len() < 2 {
                    break;
                }
                self.merge_unchecked(&mut topology, &inside[0], &inside[1]);
            }
        }
        Ok(current)
    }

    fn open_shard(&self, topology: &Topology, shard_id: &str) -> Result<Arc<Shard>, ServiceError> {
        let shard = topology.find(shard_id).ok_or_else(|| {
            ServiceError::not_found(format!(
                "Could not find shard {shard_id} in stream {} under account {ACCOUNT_ID}.",
                self.name
            ))
        })?;
        if !topology.open.iter().any(|open| Arc::ptr_eq(open, shard)) {
            return Err(ServiceError::invalid_argument(format!(
                "Shard {shard_id} in stream {} under account {ACCOUNT_ID} is closed.",
                self.name
            )));
        }
        Ok(shard.clone())
    }

    fn split_unchecked(&self, topology: &mut Topology, parent: &Arc<Shard>, new_start: u128) -> (String, String) {
        let first_child = self.close(topology, &[parent]);
        let index = topology.shards.len() as u32;
        let created = now_ms();
        let low = Arc::new(Shard::new(
            index,
            (parent.start, new_start - 1),
            (Some(parent.index), None),
            first_child,
            created,
        ));
        let high =
            Arc::new(Shard::new(index + 1, (new_start, parent.end), (Some(parent.index), None), first_child, created));
        let ids = (low.id.clone(), high.id.clone());
        self.open_children(topology, vec![low, high]);
        ids
    }

    fn merge_unchecked(&self, topology: &mut Topology, shard: &Arc<Shard>, adjacent: &Arc<Shard>) -> String {
        let first_child = self.close(topology, &[shard, adjacent]);
        let child = Arc::new(Shard::new(
            topology.shards.len() as u32,
            (shard.start.min(adjacent.start), shard.end.max(adjacent.end)),
            (Some(shard.index), Some(adjacent.index)),
            first_child,
            now_ms(),
        ));
        let id = child.id.clone();
        self.open_children(topology, vec![child]);
        id
    }

    /// Closes `parents` at the current sequence point and returns the first counter of
    /// their children, which is above every parent's ending counter.
    fn close(&self, topology: &mut Topology, parents: &[&Arc<Shard>]) -> u64 {
        let ending = self.take_counters(1);
        let closed_ms = now_ms();
        for parent in parents {
            let mut state = parent.lock();
            state.ending_counter = Some(ending);
            state.closed_ms = Some(closed_ms);
            state.bucket = None;
            topology.open.retain(|open| !Arc::ptr_eq(open, parent));
        }
        ending + 1
    }

    fn open_children(&self, topology: &mut Topology, children: Vec<Arc<Shard>>) {
        for child in children {
            topology.shards.push(child.clone());
            topology.open.push(child);
        }
        topology.open.sort_by_key(|shard| shard.start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_ranges(stream: &Stream) -> Vec<(u128, u128)> {
        stream.read().open.iter().map(|s| (s.start, s.end)).collect()
    }

    #[test]
    fn split_then_merge() {
        let stream = Stream::new("s", "us-east-1", 1, false);
        let (low, high) = stream.split("shardId-000000000000", 1000).expect("split");
        assert_eq!(low, "shardId-000000000001");
        assert_eq!(high, "shardId-000000000002");
        assert_eq!(open_ranges(&stream), vec![(0, 999), (1000, u128::MAX)]);
        assert!(stream.split("shardId-000000000000", 5).is_err());
        assert!(stream.split("shardId-000000000001", 0).is_err());
        assert!(stream.split("shardId-000000000001", 1000).is_err());
        assert!(stream.split("shardId-000000000009", 5).is_err());
        let child = stream.merge(&high, &low).expect("merge");
        assert_eq!(child, "shardId-000000000003");
        let infos = stream.shard_infos();
        assert_eq!(infos[3].parent, Some(2));
        assert_eq!(infos[3].adjacent_parent, Some(1));
        assert!(infos[1].ending_counter.is_some());
        assert!(infos[3].starting_counter > infos[1].ending_counter.unwrap_or(u64::MAX));
        assert_eq!(open_ranges(&stream), vec![(0, u128::MAX)]);
    }

    #[test]
    fn merge_requires_adjacent() {
        let stream = Stream::new("s", "us-east-1", 3, false);
        let err = stream.merge("shardId-000000000000", "shardId-000000000002").expect_err("not adjacent");
        assert_eq!(err.error_type, "InvalidArgumentException");
    }

    #[test]
    fn uniform_scaling_up_and_down() {
        let stream = Stream::new("s", "us-east-1", 3, false);
        assert_eq!(stream.update_shard_count(5).expect("up"), 3);
        assert_eq!(open_ranges(&stream), hash::even_ranges(5));
        assert_eq!(stream.update_shard_count(3).expect("down"), 5);
        assert_eq!(open_ranges(&stream), hash::even_ranges(3));
        assert_eq!(stream.update_shard_count(7).expect_err("limit").error_type, "LimitExceededException");
        // Every closed shard has an ending point, every later shard has parents.
        for info in stream.shard_infos() {
            if info.index >= 3 {
                assert!(info.parent.is_some());
            }
        }
    }
}
