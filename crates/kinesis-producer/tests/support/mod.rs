//! Shared test helpers.
#![allow(dead_code)]

pub mod cloudwatch;
pub mod deaggregate;
pub mod fake_kinesis;
pub mod kinesis_mock;
pub mod moto;
pub mod recording_proxy;
pub mod refusing_sts;
pub mod test_server;
