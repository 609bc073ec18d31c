//! The metrics snapshot as JSON text, so Java and Ruby callers read it with their own parser.

use kinesis_producer::{MetricKey, Stat};
use serde_json::{json, Value};

/// One JSON array: per series, its metric, unit, stream, shard, error code and statistics.
pub fn metrics_json(snapshot: &[(MetricKey, Stat)]) -> String {
    let series: Vec<Value> = snapshot
        .iter()
        .map(|(key, stat)| {
            json!({
                "metric": key.metric.name(),
                "unit": key.metric.unit(),
                "stream": &*key.stream,
                "shard": key.shard.as_deref(),
                "error_code": key.error_code.as_deref(),
                "sum": stat.sum,
                "min": stat.min,
                "max": stat.max,
                "count": stat.count,
            })
        })
        .collect();
    Value::Array(series).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinesis_producer::Metric;

    #[test]
    fn series_become_objects() {
        let key = MetricKey {
            metric: Metric::UserRecordsPut,
            error_code: None,
            stream: "s".into(),
            shard: Some("shardId-1".into()),
        };
        let stat = Stat { sum: 3.0, min: 1.0, max: 1.0, count: 3 };
        let text = metrics_json(&[(key, stat)]);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed[0]["metric"], "UserRecordsPut");
        assert_eq!(parsed[0]["shard"], "shardId-1");
        assert_eq!(parsed[0]["error_code"], Value::Null);
        assert_eq!(parsed[0]["count"], 3);
        assert_eq!(parsed[0]["unit"], "Count");
    }
}
