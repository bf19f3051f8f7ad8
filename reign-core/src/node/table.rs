//! The node's mailbox table: every live mailbox by number, in shards of `RwLock`ed hash maps.
//!
//! A mailbox number is the output of a keyed permutation ([`crate::ids::MailboxIds`]), so its
//! bits are uniform: a shard is chosen by bits that the shard's map uses neither for the
//! bucket (low bits) nor for its tag (the top seven), and the map hashes a number as itself
//! ([`crate::ids::MailboxIdHasher`]).
//!
//! What this adds to a sharded map is [`MailboxTable::warm`]: a link reader about to deliver
//! frames to many mailboxes probes all their entries first under read guards taken once, so
//! that the cache misses of the probes (and of each mailbox's reference counts) overlap
//! instead of waiting on one another: every lookup takes a lock, and on x86 a locked
//! instruction waits for every earlier load, so one-at-a-time lookups of entries out of
//! cache pay their misses in turn (see BENCHMARKS.md, "many mailboxes").

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, Weak};

use smallvec::SmallVec;

use crate::ids::{MailboxId, MailboxIdHash};
use crate::inbox::AnyInbox;

type Shard = HashMap<MailboxId, Weak<dyn AnyInbox>, MailboxIdHash>;

/// A shard on its own cache lines, so that the locks of two shards never share one.
#[repr(align(128))]
struct Padded(RwLock<Shard>);

/// The most targets one [`MailboxTable::warm`] probes.
pub(crate) const WARM_MAX: usize = 64;

/// Every live mailbox of a node, by number (see the module docs).
pub(crate) struct MailboxTable {
    shards: Box<[Padded]>,
    /// `shards.len() - 1` (a power of two).
    mask: usize,
}

impl Default for MailboxTable {
    fn default() -> Self {
        // As many shards as dashmap would make (four per core, a power of two), at least 4
        // and at most 64.
        let n = std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 4)
            .next_power_of_two()
            .clamp(4, 64);
        Self {
            shards: (0..n)
                .map(|_| Padded(RwLock::new(Shard::default())))
                .collect(),
            mask: n - 1,
        }
    }
}

impl MailboxTable {
    fn shard_of(&self, id: MailboxId) -> usize {
        // Bits 48.. : not the map's bucket bits (the low ones) nor its tag (the top seven).
        (id.0 >> 48) as usize & self.mask
    }

    fn read(&self, i: usize) -> RwLockReadGuard<'_, Shard> {
        self.shards[i]
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds mailbox `id` (a number is never reused within a node's life).
    pub(crate) fn insert(&self, id: MailboxId, inbox: Weak<dyn AnyInbox>) {
        let i = self.shard_of(id);
        let old = self.shards[i]
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, inbox);
        // Dropped outside the lock (a `Weak` frees at most its allocation).
        drop(old);
    }

    /// Forgets mailbox `id`.
    pub(crate) fn remove(&self, id: MailboxId) {
        let i = self.shard_of(id);
        let old = self.shards[i]
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        drop(old);
    }

    /// The live mailbox `id`, if any.
    pub(crate) fn get(&self, id: MailboxId) -> Option<Arc<dyn AnyInbox>> {
        // Upgraded in place, under the shard's read lock.
        self.read(self.shard_of(id)).get(&id)?.upgrade()
    }

    /// How many mailboxes are in the table.
    pub(crate) fn len(&self) -> usize {
        (0..self.shards.len()).map(|i| self.read(i).len()).sum()
    }

    /// Brings the entries of `ids` (at most [`WARM_MAX`] are looked at) and their mailboxes'
    /// reference counts into the cache, with no lock taken between two probes: a read guard
    /// on each shard is taken once, then every probe is plain loads. Returns how many of
    /// the numbers are in the table. Nothing is upgraded or dropped here, so no mailbox can
    /// end (and take a write lock) while the guards are held.
    pub(crate) fn warm(&self, ids: &[u64]) -> usize {
        let ids = &ids[..ids.len().min(WARM_MAX)];
        if ids.is_empty() {
            return 0;
        }
        let guards: SmallVec<[RwLockReadGuard<'_, Shard>; 16]> =
            (0..self.shards.len()).map(|i| self.read(i)).collect();
        let mut found = 0;
        for &id in ids {
            let id = MailboxId(id);
            if let Some(w) = guards[self.shard_of(id)].get(&id) {
                // A plain load of the mailbox's counts (no read-modify-write, which would
                // wait for the probes before it): the line the delivery's upgrade takes.
                found += usize::from(std::hint::black_box(w.strong_count()) > 0);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Node;

    #[test]
    fn entries_are_found_in_their_shard_and_forgotten() {
        let node = Node::new(crate::NodeId::new("table-test").expect("id"));
        let table = MailboxTable::default();
        let mut boxes = Vec::new();
        for _ in 0..1_000 {
            let (mb, addr) = node.mailbox::<u32>();
            let id = addr.mailbox_ref().id();
            let inbox = node.inner.inbox(id).expect("live");
            table.insert(id, Arc::downgrade(&inbox));
            boxes.push((id, mb, inbox));
        }
        assert_eq!(table.len(), 1_000);
        let ids: Vec<u64> = boxes.iter().map(|(id, ..)| id.0).collect();
        assert_eq!(table.warm(&ids[..WARM_MAX]), WARM_MAX);
        assert_eq!(
            table.warm(&[1, 2, 3]),
            0,
            "numbers never issued are not found"
        );
        for (id, _, inbox) in &boxes {
            let got = table.get(*id).expect("present");
            assert!(Arc::ptr_eq(&got, inbox));
        }
        let (gone, ..) = boxes.remove(0);
        table.remove(gone);
        assert!(table.get(gone).is_none());
        assert_eq!(table.len(), 999);
        assert_eq!(table.warm(&[gone.0]), 0);
    }
}
