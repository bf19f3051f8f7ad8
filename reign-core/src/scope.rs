//! The decode scope: which node an [`Address`](crate::Address) being deserialized binds to.
//!
//! An address on the wire is just `(node, incarnation, mailbox ID)`; to send, a decoded
//! address needs a route through a node. The scope is a per-thread slot set for the length
//! of one synchronous decode by a guard; it is not a registry of nodes.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::Node;
use crate::node::NodeInner;

thread_local! {
    static SCOPE: RefCell<Option<Arc<NodeInner>>> = const { RefCell::new(None) };
    /// The node whose link delivered the bytes being decoded (its certificate proved it),
    /// while a remote message is decoded; `None` for any other decode.
    static SENDER: RefCell<Option<crate::NodeId>> = const { RefCell::new(None) };
}

/// Runs `f` (a decode of bytes that `from`'s link delivered) with `from` as the sender that
/// [`sender_is`] checks against. The ID is moved in and back out, not cloned: a run of
/// messages costs no allocation.
pub(crate) fn with_sender<R>(from: &mut Option<crate::NodeId>, f: impl FnOnce() -> R) -> R {
    if from.is_none() {
        return f();
    }
    struct Restore<'a> {
        slot: &'a mut Option<crate::NodeId>,
        previous: Option<crate::NodeId>,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let previous = self.previous.take();
            *self.slot = SENDER.with(|s| std::mem::replace(&mut *s.borrow_mut(), previous));
        }
    }
    let previous = SENDER.with(|s| std::mem::replace(&mut *s.borrow_mut(), from.take()));
    let _restore = Restore {
        slot: from,
        previous,
    };
    f()
}

/// While bytes from another node are decoded: whether that node is `node`. `None` outside
/// such a decode (a local decode has no sender to check).
pub(crate) fn sender_is(node: &crate::NodeId) -> Option<bool> {
    SENDER.with(|s| s.borrow().as_ref().map(|from| from == node))
}

/// While this guard lives, addresses deserialized on this thread bind to its node.
///
/// Made by [`Node::enter_decode_scope`]. Scopes nest; drop guards in the reverse order of
/// their creation (as lexical scoping does). The guard cannot leave its thread.
#[must_use = "the scope ends when the guard is dropped"]
pub struct DecodeScope {
    previous: Option<Arc<NodeInner>>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for DecodeScope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        SCOPE.with(|s| *s.borrow_mut() = previous);
    }
}

impl std::fmt::Debug for DecodeScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecodeScope")
    }
}

impl Node {
    /// Binds addresses deserialized on this thread to this node until the guard drops.
    ///
    /// Inside the scope, a decoded address that names this node and incarnation routes
    /// straight to the live mailbox (or, if that mailbox has ended or takes another type,
    /// its sends fail with [`Closed`](crate::SendErrorReason::Closed) or
    /// [`WrongType`](crate::SendErrorReason::WrongType)); one that names another life of
    /// this node (an earlier incarnation: its mailboxes are all gone) fails with `Closed`; an
    /// address naming another node routes through this node's cluster links. Outside any
    /// scope a decoded address is
    /// *detached*: its identity is intact, but sends fail with
    /// [`Detached`](crate::SendErrorReason::Detached).
    ///
    /// ```
    /// use reign_core::{Address, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let node = Node::new("a".parse().unwrap());
    /// let (mut inbox, addr) = node.mailbox::<u64>();
    /// let json = serde_json::to_string(&addr).unwrap();
    ///
    /// let bound: Address<u64> = {
    ///     let _scope = node.enter_decode_scope();
    ///     serde_json::from_str(&json).unwrap()
    /// };
    /// assert_eq!(bound, addr);
    /// bound.try_send(5).unwrap();
    /// assert_eq!(inbox.recv().await, 5);
    /// # }
    /// ```
    pub fn enter_decode_scope(&self) -> DecodeScope {
        let previous = SCOPE.with(|s| s.borrow_mut().replace(self.inner.clone()));
        DecodeScope {
            previous,
            _not_send: PhantomData,
        }
    }

    /// Runs `f` inside this node's decode scope (see [`Node::enter_decode_scope`]).
    pub fn with_decode_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _scope = self.enter_decode_scope();
        f()
    }
}

/// The node of the innermost decode scope on this thread; `None` also while the thread's
/// local storage is torn down (a decode in another thread-local's destructor).
pub(crate) fn current() -> Option<Arc<NodeInner>> {
    SCOPE.try_with(|s| s.borrow().clone()).ok().flatten()
}
