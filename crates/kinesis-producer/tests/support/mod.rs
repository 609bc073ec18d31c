//! Shared test helpers.
#![allow(dead_code)]

pub mod cloudwatch;
pub mod deaggregate;
pub mod fake_kinesis;
pub mod kinesis_mock;
pub mod test_server;
