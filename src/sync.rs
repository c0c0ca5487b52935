//! Locks that outlive a panicking holder.
//!
//! Owns: the one way the crate takes a [`Mutex`] or [`RwLock`] and waits on a
//! [`Condvar`]. The release profile aborts on panic, so a poisoned lock is seen
//! only in tests and debug builds; there the data is consistent wherever a
//! guard can be dropped, so the guard is taken back instead of panicking a
//! second thread.
//! Refuses: holding state of its own.

use std::sync::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// [`Mutex::lock`] that takes the guard back from a poisoned lock.
pub trait Locked<T: ?Sized> {
    /// The guard, poisoned or not.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// [`RwLock::read`] and [`RwLock::write`] that take the guard back from a
/// poisoned lock.
pub trait RwLocked<T: ?Sized> {
    /// The read guard, poisoned or not.
    fn read_locked(&self) -> RwLockReadGuard<'_, T>;
    /// The write guard, poisoned or not.
    fn write_locked(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T: ?Sized> RwLocked<T> for RwLock<T> {
    fn read_locked(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_locked(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Waits on `cv` while `condition` holds, at most `limit`; returns the guard,
/// poisoned or not.
pub fn wait_while<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    limit: Duration,
    condition: impl FnMut(&mut T) -> bool,
) -> MutexGuard<'a, T> {
    match cv.wait_timeout_while(guard, limit, condition) {
        Ok((g, _)) => g,
        Err(p) => p.into_inner().0,
    }
}

/// Waits on `cv` while `condition` holds, with no time limit (for a thread
/// that has nothing to do until another signals); returns the guard,
/// poisoned or not.
pub fn wait_while_unbounded<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    condition: impl FnMut(&mut T) -> bool,
) -> MutexGuard<'a, T> {
    cv.wait_while(guard, condition)
        .unwrap_or_else(|p| p.into_inner())
}

/// Waits on `cv` once, at most `limit` (a notification or the time ends it);
/// returns the guard, poisoned or not.
pub fn wait_once<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    limit: Duration,
) -> MutexGuard<'a, T> {
    match cv.wait_timeout(guard, limit) {
        Ok((g, _)) => g,
        Err(p) => p.into_inner().0,
    }
}
