//! Cluster-wide names: the state every node keeps, and the `Node` methods that use it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::{NameConflict, NameWatch};
use crate::hook::HookHandle;
use crate::node::NodeInner;
use crate::proto::wire::{Frame, Text};
use crate::registry::MAX_NAME_LEN;
use crate::{Address, LookupError, MailboxId, MailboxRef, Message, Node, NodeId, RegistryError};
use reign_tls::ratelimit::Escaped;

/// One node's claim of a name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Claim {
    holder: MailboxRef,
    tag: Arc<str>,
    /// The link this claim was learned through (0 for our own claims): when that link
    /// ends, its claims go, and not those a newer link of the same node brought.
    via: u64,
}

impl Claim {
    /// The conflict rule (see the module docs): the holder node's rank for this name, then
    /// the node ID itself. Nothing in it is chosen by the claimant at claim time: a node's ID
    /// is fixed by its certificate.
    fn key(&self, name: &str) -> (u64, &NodeId) {
        (rank(name, self.holder.node()), self.holder.node())
    }
}

/// A node's rank for a name in conflicts: 64-bit FNV-1a of the name's bytes, a zero byte and
/// the node ID's bytes (lower wins). Stable across builds and platforms, so every node (and
/// any other implementation, see docs/PROTOCOL.md) computes the same winner; spread over
/// names, so no node wins every conflict.
pub(crate) fn rank(name: &str, node: &NodeId) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for b in name
        .as_bytes()
        .iter()
        .chain(&[0u8])
        .chain(node.as_str().as_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

struct Own {
    hook: HookHandle,
    notify: Box<dyn Fn(NameConflict) + Send + Sync>,
}

/// The cost model: a name's claims are at most one per node (a node's new claim replaces its
/// old one), so NAME_ADD and NAME_REMOVE are O(nodes) on one name's list; a link's end is
/// O(the names it brought), which the link's control plane lists
/// ([`crate::proto::link::Output::Forget`]).
#[derive(Default)]
struct State {
    /// Every claim known, ours included, by name.
    claims: HashMap<Arc<str>, Vec<Claim>>,
    /// Our own claims' hooks and conflict notifiers, by name.
    own: HashMap<Arc<str>, Own>,
    /// Followers of a name: the current winner.
    watches: HashMap<Arc<str>, watch::Sender<Option<MailboxRef>>>,
}

impl State {
    fn winner(&self, name: &str) -> Option<&Claim> {
        self.claims
            .get(name)?
            .iter()
            .min_by(|a, b| a.key(name).cmp(&b.key(name)))
    }

    /// Removes the claims of `name` that `drop` selects; returns how many went.
    fn remove_claims(&mut self, name: &str, mut drop: impl FnMut(&Claim) -> bool) -> usize {
        let Some(list) = self.claims.get_mut(name) else {
            return 0;
        };
        let before = list.len();
        list.retain(|c| !drop(c));
        let removed = before - list.len();
        if list.is_empty() {
            self.claims.remove(name);
        }
        removed
    }

    /// Tells the followers of `name` where it resolves now.
    fn publish(&mut self, name: &str) {
        let now = self.winner(name).map(|c| c.holder.clone());
        super::publish(&mut self.watches, name, now);
    }
}

/// The cluster-wide names as this node knows them.
#[derive(Default)]
pub(crate) struct NameTable {
    state: Mutex<State>,
}

impl NameTable {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A name claim by `holder` (a peer's mailbox) arrived over link `via`. If it beats a
    /// claim of ours, ours is dropped and its mailbox told. True if the claim is new (not
    /// a replacement of that peer's earlier claim of the name).
    pub(crate) fn peer_add(
        &self,
        node: &Node,
        via: u64,
        holder: MailboxRef,
        key: Arc<str>,
        tag: &str,
    ) {
        let name = &*key;
        let peer = &holder.node().clone();
        let claim = Claim {
            holder,
            tag: tag.into(),
            via,
        };
        let mut lost = None;
        {
            let mut st = self.lock();
            let before = st.winner(name).map(|c| c.holder.clone());
            st.remove_claims(name, |c| c.holder.node() == peer);
            st.claims.entry(key.clone()).or_default().push(claim);
            let me = node.id();
            let winner = st.winner(name).cloned();
            if let Some(w) = winner
                && w.holder.node() != me
                && let Some(own) = st.own.remove(name)
            {
                let mut mine = 0;
                st.remove_claims(name, |c| {
                    let ours = c.holder.node() == me;
                    if ours {
                        mine = c.holder.id().get();
                    }
                    ours
                });
                lost = Some((own, w.holder, mine));
            } else if let Some(from) = before
                && from.node() != peer
                && from.node() != me
                && st.winner(name).is_some_and(|w| w.holder.node() == peer)
            {
                // Two other nodes claim it and the newcomer ranks first: the holder may never
                // hear of it (it is told only by the newcomer), so say so here.
                reign_tls::warn_limited!(node = %me, name = %Escaped(name), %from, to = %peer, "cluster-wide name moved between two other nodes in a conflict (the newcomer's node ranks first for it)");
            }
            st.publish(name);
        }
        if let Some((own, winner, mine)) = lost {
            own.hook.detach();
            tracing::warn!(node = %node.id(), name = %Escaped(name), %winner, "cluster-wide name lost in a conflict (the winner's node ranks first for it)");
            broadcast(
                node,
                &Frame::NameRemove {
                    name: Text::new(name),
                    mailbox: mine,
                },
            );
            (own.notify)(NameConflict {
                name: name.to_owned(),
                winner,
            });
        }
    }

    /// `peer` withdrew its claim of `name` (`mailbox` 0: whatever it claimed).
    pub(crate) fn peer_remove(&self, peer: &NodeId, name: &str, mailbox: u64) {
        let mut st = self.lock();
        let removed = st.remove_claims(name, |c| {
            c.holder.node() == peer && (mailbox == 0 || c.holder.id().get() == mailbox)
        });
        if removed > 0 {
            st.publish(name);
        }
    }

    /// Link `via` ended: the claims it brought of `names` go (O(their number)).
    pub(crate) fn link_down(&self, via: u64, names: &[Arc<str>]) {
        let mut st = self.lock();
        for name in names {
            if st.remove_claims(name, |c| c.via == via) > 0 {
                st.publish(name);
            }
        }
    }

    /// Whether any claim learned through link `via` is still held (for the harness's checks).
    pub(crate) fn held_via(&self, via: u64) -> bool {
        self.lock().claims.values().flatten().any(|c| c.via == via)
    }

    /// Our own claims, as NAME_ADD frames for a link that just came up (O(our claims)).
    pub(crate) fn own_frames(&self, me: &NodeId) -> Vec<Frame> {
        let st = self.lock();
        st.own
            .keys()
            .filter_map(|name| {
                let c = st
                    .claims
                    .get(name)?
                    .iter()
                    .find(|c| c.holder.node() == me)?;
                Some(name_add(name, c))
            })
            .collect()
    }
}

/// The NAME_ADD frame announcing claim `c` of `name`. `registered_at` is informational (the
/// claimant's clock); no node uses it to decide anything.
fn name_add(name: &str, c: &Claim) -> Frame {
    Frame::NameAdd {
        name: Text::new(name),
        mailbox: c.holder.id().get(),
        tag: Text::new(&c.tag),
        registered_at: now_ms(),
    }
}

/// Sends `frame` to every peer with a live link.
fn broadcast(node: &Node, frame: &Frame) {
    node.broadcast(frame);
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Removes our claim of `name` if `mailbox` still holds it, and tells the peers.
fn drop_own(inner: &Weak<NodeInner>, name: &str, mailbox: MailboxId) {
    let Some(inner) = inner.upgrade() else { return };
    let node = Node { inner };
    let removed = {
        let mut st = node.inner.names.lock();
        let me = node.id().clone();
        let held =
            st.remove_claims(name, |c| c.holder.node() == &me && c.holder.id() == mailbox) > 0;
        if held {
            let own = st.own.remove(name);
            st.publish(name);
            own
        } else {
            None
        }
    };
    if let Some(own) = removed {
        own.hook.detach();
        tracing::debug!(node = %node.id(), name, "cluster-wide name released");
        broadcast(
            &node,
            &Frame::NameRemove {
                name: Text::new(name),
                mailbox: mailbox.get(),
            },
        );
    }
}

/// The cluster-wide names as this node knows them (Erlang's `global`): made by
/// [`Node::global`]. Every node keeps its own copy, so lookups never wait on the network.
#[derive(Clone, Copy)]
pub struct GlobalNames<'a> {
    node: &'a Node,
}

impl std::fmt::Debug for GlobalNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalNames")
            .field("node", self.node.id())
            .finish()
    }
}

impl Node {
    /// The cluster-wide names: register a mailbox for every node to find, look names up,
    /// follow them.
    pub fn global(&self) -> GlobalNames<'_> {
        GlobalNames { node: self }
    }
}

impl GlobalNames<'_> {
    /// Registers `name` cluster-wide for `address`, a live mailbox of this node: every node
    /// of the cluster resolves it (with [`GlobalNames::whereis`]) from its own copy.
    ///
    /// Fails with [`RegistryError::NameTaken`] if any reachable node (this one included)
    /// holds the name. The name vanishes everywhere when the mailbox ends, or with
    /// [`GlobalNames::unregister`]; from other nodes, also while this node is unreachable.
    /// If a partition hid another claim, the conflict rule of the [module docs](crate::NameConflict)
    /// decides, and a losing mailbox receives [`NameConflict`].
    ///
    /// ```
    /// use reign_core::{NameConflict, Node};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Serialize, Deserialize)]
    /// enum Msg { Hello, Conflict(NameConflict) }
    /// impl From<NameConflict> for Msg {
    ///     fn from(c: NameConflict) -> Self { Msg::Conflict(c) }
    /// }
    /// reign_core::message!(Msg = "doc.Msg");
    ///
    /// let node = Node::new("a".parse().unwrap());
    /// let (_inbox, addr) = node.mailbox::<Msg>();
    /// node.global().register("service", &addr).unwrap();
    /// assert_eq!(node.global().whereis::<Msg>("service").unwrap(), addr);
    /// ```
    pub fn register<M: Message + From<NameConflict>>(
        &self,
        name: &str,
        address: &Address<M>,
    ) -> Result<(), RegistryError> {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(RegistryError::InvalidName {
                name: name.to_owned(),
            });
        }
        let target = self.node.local_target(address)?;
        let holder = address.mailbox_ref();
        let name_arc: Arc<str> = name.into();
        let mut st = self.node.inner.names.lock();
        if let Some(w) = st.winner(name) {
            if w.holder == holder {
                return Ok(());
            }
            return Err(RegistryError::NameTaken {
                name: name.to_owned(),
                holder: w.holder.clone(),
            });
        }
        let weak = Arc::downgrade(&self.node.inner);
        let (hook_name, id) = (name.to_owned(), holder.id());
        let hook = HookHandle::attach(self.node.inner.next_monitor(), &target, move |_| {
            drop_own(&weak, &hook_name, id)
        })
        .ok_or_else(|| RegistryError::Closed {
            address: holder.clone(),
        })?;
        let notify_addr = address.clone();
        let notify = Box::new(move |c: NameConflict| {
            if let Err(e) = notify_addr.try_send(M::from(c)) {
                tracing::warn!(mailbox = %notify_addr, reason = %e.reason(), "could not tell a mailbox it lost its name");
            }
        });
        let claim = Claim {
            holder: holder.clone(),
            tag: M::TAG.into(),
            via: 0,
        };
        let frame = name_add(name, &claim);
        st.claims.entry(name_arc.clone()).or_default().push(claim);
        st.own.insert(name_arc, Own { hook, notify });
        st.publish(name);
        drop(st);
        tracing::debug!(node = %self.node.id(), name, %holder, "cluster-wide name registered");
        broadcast(self.node, &frame);
        Ok(())
    }

    /// Removes this node's cluster-wide registration of `name`. Returns the mailbox that held
    /// it, or `None` if this node did not hold it.
    pub fn unregister(&self, name: &str) -> Option<MailboxRef> {
        let holder = {
            let st = self.node.inner.names.lock();
            st.claims
                .get(name)?
                .iter()
                .find(|c| c.holder.node() == self.node.id())?
                .holder
                .clone()
        };
        drop_own(&Arc::downgrade(&self.node.inner), name, holder.id());
        Some(holder)
    }

    /// Resolves a cluster-wide name from this node's own copy (no network round trip).
    /// Typed: a name whose mailbox takes another message type is [`LookupError::WrongType`].
    pub fn whereis<M: Message>(&self, name: &str) -> Result<Address<M>, LookupError> {
        let (holder, tag) = {
            let st = self.node.inner.names.lock();
            let w = st.winner(name).ok_or_else(|| LookupError::NotFound {
                name: name.to_owned(),
            })?;
            (w.holder.clone(), w.tag.clone())
        };
        if &*tag != M::TAG {
            return Err(LookupError::WrongType {
                name: name.to_owned(),
                expected: M::TAG,
                actual: tag.to_string(),
            });
        }
        Ok(self.node.with_decode_scope(|| Address::resolve(holder)))
    }

    /// Waits until `name` resolves cluster-wide (at once if it does), up to `timeout`.
    pub async fn wait_for<M: Message>(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<Address<M>, LookupError> {
        let mut watch = self.watch(name);
        let found = tokio::time::timeout(timeout, async {
            while watch.current().is_none() {
                if watch.changed().await.is_none() {
                    break;
                }
            }
        })
        .await;
        match found {
            Ok(()) => self.whereis(name),
            Err(_) => Err(LookupError::NotRegisteredInTime {
                name: name.to_owned(),
                timeout,
            }),
        }
    }

    /// Follows cluster-wide name `name`: registered, moved, gone.
    pub fn watch(&self, name: &str) -> NameWatch {
        let mut st = self.node.inner.names.lock();
        let current = st.winner(name).map(|c| c.holder.clone());
        let tx = st
            .watches
            .entry(name.into())
            .or_insert_with(|| watch::channel(current).0);
        NameWatch::new(tx.subscribe())
    }

    /// Every cluster-wide name this node knows, sorted, with the mailbox it resolves to.
    pub fn list(&self) -> Vec<(String, MailboxRef)> {
        let st = self.node.inner.names.lock();
        let mut v: Vec<_> = st
            .claims
            .keys()
            .filter_map(|n| st.winner(n).map(|w| (n.to_string(), w.holder.clone())))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rank_is_fnv1a_of_name_zero_node() {
        // The values docs/PROTOCOL.md quotes.
        assert_eq!(
            super::rank("alice", &"a".parse().unwrap()),
            0x24723760cb47b24c
        );
        assert_eq!(
            super::rank("alice", &"b".parse().unwrap()),
            0x24723a60cb47b765
        );
    }
}
