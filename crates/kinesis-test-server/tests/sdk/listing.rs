//! ListShards paging and filters, DescribeStreamSummary.

use crate::common::{client, code, start};
use aws_sdk_kinesis::types::{ShardFilter, ShardFilterType};

#[tokio::test]
async fn list_shards_pages_with_next_token_only() {
    let server = start(&[("s", 7)]).await;
    let kinesis = client(&server.endpoint());
    let first = kinesis.list_shards().stream_name("s").max_results(3).send().await.expect("first page");
    assert_eq!(first.shards().len(), 3);
    let token = first.next_token().expect("more pages").to_string();

    let error =
        kinesis.list_shards().stream_name("s").next_token(&token).send().await.expect_err("StreamName with NextToken");
    assert_eq!(code(&error).as_deref(), Some("InvalidArgumentException"));

    let mut ids: Vec<String> = first.shards().iter().map(|s| s.shard_id().to_string()).collect();
    let mut next = Some(token);
    let mut pages = 1;
    while let Some(token) = next {
        let page = kinesis.list_shards().next_token(token).max_results(3).send().await.expect("next page");
        ids.extend(page.shards().iter().map(|s| s.shard_id().to_string()));
        next = page.next_token().map(str::to_string);
        pages += 1;
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).map(|i| format!("shardId-{i:012}")).collect();
    assert_eq!(ids, expected);

    let all = kinesis.list_shards().stream_name("s").send().await.expect("one page");
    assert_eq!(all.shards().len(), 7);
    assert!(all.next_token().is_none());
    server.stop().await;
}

#[tokio::test]
async fn shard_filters_after_a_split() {
    let server = start(&[("s", 2)]).await;
    let kinesis = client(&server.endpoint());
    server.split_shard("s", "shardId-000000000000", 1 << 100).expect("split");
    let filtered = |kind: ShardFilterType, shard: Option<&str>| {
        let kinesis = kinesis.clone();
        let filter =
            ShardFilter::builder().r#type(kind).set_shard_id(shard.map(str::to_string)).build().expect("filter");
        async move {
            kinesis
                .list_shards()
                .stream_name("s")
                .shard_filter(filter)
                .send()
                .await
                .expect("list")
                .shards()
                .iter()
                .map(|s| s.shard_id().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        filtered(ShardFilterType::AtLatest, None).await,
        vec!["shardId-000000000001", "shardId-000000000002", "shardId-000000000003"]
    );
    assert_eq!(filtered(ShardFilterType::AtTrimHorizon, None).await.len(), 4);
    assert_eq!(
        filtered(ShardFilterType::AfterShardId, Some("shardId-000000000001")).await,
        vec!["shardId-000000000002", "shardId-000000000003"]
    );
    let summary = kinesis.describe_stream_summary().stream_name("s").send().await.expect("summary");
    let summary = summary.stream_description_summary().expect("summary");
    assert_eq!(summary.open_shard_count(), 3);
    assert_eq!(summary.stream_name(), "s");
    server.stop().await;
}
