//! Deadlines of the registrar, kept in one ordered set with lazy deletion.
//!
//! Owns: the ordering of deadlines. Each entity (SA set, contact,
//! transaction) holds the instant of its own current deadline; an entry
//! popped here whose instant no longer matches the entity's is stale and the
//! caller ignores it. Insertion and pop cost O(log n); the earliest deadline
//! is read in O(log n) without allocation. Must never: read a clock.

use super::table::{ContactId, SaSetId};
use crate::time::Instant;
use std::collections::BTreeSet;

/// What a deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerKey {
    /// An SA set's SIP-level lifetime ends.
    SetExpiry(SaSetId),
    /// The set in use for a contact is about to expire (64*T1 left): switch
    /// to the newly established set (table 5.2.2-1, row 3).
    Switchover(ContactId),
    /// The registration of a contact expires.
    RegExpiry(ContactId),
    /// A forwarded REGISTER got no final response in time.
    Txn(u64),
    /// An Annex N/O binding may have expired.
    Binding(u64),
}

/// The deadline set.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    set: BTreeSet<(Instant, TimerKey)>,
}

impl Timers {
    pub(crate) fn schedule(&mut self, at: Instant, key: TimerKey) {
        self.set.insert((at, key));
    }

    pub(crate) fn cancel(&mut self, at: Instant, key: TimerKey) {
        self.set.remove(&(at, key));
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.set.first().map(|&(t, _)| t)
    }

    /// Pop one entry due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, TimerKey)> {
        match self.set.first() {
            Some(&(t, _)) if t <= now => self.set.pop_first(),
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }
}
