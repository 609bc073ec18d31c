#!/usr/bin/env python3
"""Reads every metric series of a CloudWatch namespace back, for tests, and prints them as JSON.

Usage:
    cloudwatch_read.py --endpoint URL --namespace NS [--region us-east-1]

Talks to the endpoint with boto3, which speaks CloudWatch's JSON protocol, so it reads from
moto directly (not through cloudwatch_cbor_proxy.py). Prints one JSON object:
    {"series": [{"name", "dimensions": [[name, value], ...] in stored order, "unit",
                 "sum", "sample_count", "minimum", "maximum"}, ...]}
summed over the last and the next hour.

moto matches the dimensions of GetMetricStatistics as a subset (a query for StreamName=s also
counts the series StreamName=s,ShardId=x) and ignores them when none are given; GetMetricData
matches them exactly when some are given. So a series with dimensions is read with
GetMetricData, and the series without any (the global one) is what GetMetricStatistics counts
for the metric name minus the other series of that name; its minimum and maximum are then
unknown (null).
"""

import argparse
import datetime
import json
import sys

import boto3

STATISTICS = {"sum": "Sum", "sample_count": "SampleCount", "minimum": "Minimum", "maximum": "Maximum"}
WINDOW = datetime.timedelta(hours=1)


def list_series(client, namespace):
    series, token = [], None
    while True:
        page = client.list_metrics(Namespace=namespace, **({"NextToken": token} if token else {}))
        for metric in page.get("Metrics", []):
            dims = [[d["Name"], d["Value"]] for d in metric.get("Dimensions", [])]
            if [metric["MetricName"], dims] not in [[s["name"], s["dimensions"]] for s in series]:
                series.append({"name": metric["MetricName"], "dimensions": dims})
        token = page.get("NextToken")
        if not token:
            return series


def statistics(client, namespace, name, dims, start, end):
    """GetMetricStatistics over the whole window: (unit, {statistic: value})."""
    answer = client.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": n, "Value": v} for n, v in dims],
        StartTime=start,
        EndTime=end,
        Period=int((end - start).total_seconds()),
        Statistics=list(STATISTICS.values()),
    )
    points = answer.get("Datapoints", [])
    units = {p.get("Unit") for p in points}
    values = {key: sum(p.get(stat, 0.0) for p in points) for key, stat in STATISTICS.items()}
    if points:
        values["minimum"] = min(p["Minimum"] for p in points)
        values["maximum"] = max(p["Maximum"] for p in points)
    return (units.pop() if len(units) == 1 else sorted(u or "" for u in units)), values


def exact_values(client, namespace, name, dims, start, end):
    """GetMetricData for exactly these dimensions: {statistic: value}."""
    queries = [
        {
            "Id": key,
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                },
                "Period": int((end - start).total_seconds()),
                "Stat": stat,
            },
        }
        for key, stat in STATISTICS.items()
    ]
    answer = client.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    results = {r["Id"]: r.get("Values", []) for r in answer.get("MetricDataResults", [])}
    return {
        "sum": sum(results.get("sum", [])),
        "sample_count": sum(results.get("sample_count", [])),
        "minimum": min(results.get("minimum", []), default=None),
        "maximum": max(results.get("maximum", []), default=None),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()
    client = boto3.client(
        "cloudwatch",
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start, end = now - WINDOW, now + WINDOW
    series = list_series(client, args.namespace)
    for s in series:
        s["unit"], values = statistics(client, args.namespace, s["name"], s["dimensions"], start, end)
        if s["dimensions"]:
            s.update(exact_values(client, args.namespace, s["name"], s["dimensions"], start, end))
    for s in series:
        if not s["dimensions"]:
            _, total = statistics(client, args.namespace, s["name"], [], start, end)
            others = [o for o in series if o["name"] == s["name"] and o["dimensions"]]
            for key in ("sum", "sample_count"):
                s[key] = total[key] - sum(o[key] for o in others)
            s["minimum"] = s["maximum"] = None
    json.dump({"series": series}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
