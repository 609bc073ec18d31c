//! State shared by every connection of a server.

use crate::config::Limits;
use crate::faults::Faults;
use crate::stats::Counters;
use crate::store::Registry;
use std::sync::{Arc, RwLock};

/// Streams, settings and counters of one server.
pub(crate) struct State {
    pub registry: Registry,
    pub counters: Counters,
    pub seed: u64,
    faults: RwLock<Arc<Faults>>,
    limits: RwLock<Arc<Limits>>,
}

impl State {
    pub fn new(registry: Registry, faults: Faults, limits: Limits, seed: u64) -> Self {
        State {
            registry,
            counters: Counters::default(),
            seed,
            faults: RwLock::new(Arc::new(faults)),
            limits: RwLock::new(Arc::new(limits)),
        }
    }

    /// The faults in force now.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(faults);
    }

    /// The limits in force now.
    pub fn limits(&self) -> Arc<Limits> {
        self.limits.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_limits(&self, limits: Limits) {
        *self.limits.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(limits);
    }
}
