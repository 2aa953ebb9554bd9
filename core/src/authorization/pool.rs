//! Prepared engines, reused across requests.
//!
//! A `regorus::Engine` is mutable while it evaluates (input, rule cache, scopes), so concurrent
//! requests each need their own. Cloning the prepared template is cheap (policies, compiled
//! schedule and data are shared behind reference counts) but not free, so engines go back to an
//! idle list after use instead of being dropped.

use std::sync::{Mutex, MutexGuard};

use regorus::{Engine, Value};

/// Idle engines kept for reuse; beyond this, returned engines are dropped. Sized well above the
/// number of worker threads that evaluate at once, so steady load never clones.
const MAX_IDLE: usize = 64;

/// The parsed and prepared template plus the engines cloned from it.
pub(crate) struct EnginePool {
    template: Engine,
    idle: Mutex<Vec<Engine>>,
}

impl EnginePool {
    pub(crate) fn new(template: Engine) -> Self {
        Self { template, idle: Mutex::new(Vec::new()) }
    }

    /// An engine for one evaluation: an idle one, or a fresh clone of the template.
    pub(crate) fn take(&self) -> Engine {
        // Pop in its own statement so the lock is released before cloning.
        let idle = lock(&self.idle).pop();
        idle.unwrap_or_else(|| self.template.clone())
    }

    /// Returns an engine after a successful evaluation. Engines that failed, timed out or
    /// panicked are dropped by the caller instead: their state is whatever the evaluation left,
    /// and a fresh clone costs less than reasoning about it.
    pub(crate) fn give_back(&self, mut engine: Engine) {
        // The input may hold a large request body; an idle engine should not keep it alive.
        engine.set_input(Value::new_object());
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push(engine);
        }
    }

    #[cfg(test)]
    pub(crate) fn idle_len(&self) -> usize {
        lock(&self.idle).len()
    }
}

/// A poisoned lock here only means another thread panicked while pushing or popping the `Vec`,
/// which never leaves it half-changed, so the data is still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
