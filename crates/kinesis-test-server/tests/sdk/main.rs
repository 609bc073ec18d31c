//! Tests against the server with the real `aws-sdk-kinesis` client (and raw HTTP where the
//! wire matters), in one test binary to keep linking time down.

mod binary;
mod common;
mod control;
mod faults;
mod limits;
mod listing;
mod outage;
mod resharding;
mod routing;
mod tls;
