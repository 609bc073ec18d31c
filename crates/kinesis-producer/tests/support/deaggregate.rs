//! Splits a stored Kinesis record back into user records (test-side decoder of the KPL format).

use kinesis_producer::{partition_key_hash, MAGIC};
use md5::{Digest, Md5};

#[derive(Clone, PartialEq, prost::Message)]
struct AggregatedRecord {
    #[prost(string, repeated, tag = "1")]
    partition_key_table: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    explicit_hash_key_table: Vec<String>,
    #[prost(message, repeated, tag = "3")]
    records: Vec<SubRecord>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SubRecord {
    #[prost(uint64, required, tag = "1")]
    partition_key_index: u64,
    #[prost(uint64, optional, tag = "2")]
    explicit_hash_key_index: Option<u64>,
    #[prost(bytes = "vec", required, tag = "3")]
    data: Vec<u8>,
}

/// A user record found inside a Kinesis record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecordOut {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
}

impl UserRecordOut {
    /// The hash key Kinesis and consumers route this record by.
    pub fn hash_key(&self) -> u128 {
        match &self.explicit_hash_key {
            Some(k) => k.parse().expect("decimal"),
            None => partition_key_hash(&self.partition_key),
        }
    }
}

/// Deaggregates like a consumer: an aggregate must have the magic, a valid digest and parse;
/// anything else is one raw record.
pub fn deaggregate(partition_key: &str, explicit_hash_key: Option<&str>, data: &[u8]) -> Vec<UserRecordOut> {
    let raw = || {
        vec![UserRecordOut {
            partition_key: partition_key.to_owned(),
            explicit_hash_key: explicit_hash_key.map(str::to_owned),
            data: data.to_vec(),
        }]
    };
    if data.len() <= MAGIC.len() + 16 || data[..4] != MAGIC {
        return raw();
    }
    let body = &data[4..data.len() - 16];
    if Md5::digest(body).as_slice() != &data[data.len() - 16..] {
        return raw();
    }
    let Ok(aggregate) = <AggregatedRecord as prost::Message>::decode(body) else { return raw() };
    aggregate
        .records
        .into_iter()
        .map(|r| UserRecordOut {
            partition_key: aggregate.partition_key_table[r.partition_key_index as usize].clone(),
            explicit_hash_key: r.explicit_hash_key_index.map(|i| aggregate.explicit_hash_key_table[i as usize].clone()),
            data: r.data,
        })
        .collect()
}
