//! Cluster-wide names and process groups over real TLS, end to end: registration seen
//! everywhere, vanishing on termination and node shutdown, duplicate refusal, group membership
//! through joins, leaves, terminations and node loss. (Links ending and partitions healing
//! are tested on the in-memory harness, `reign-core/src/proto/tests.rs`.)

use reign::{Address, LookupError, NameChange, NameConflict, Node, RegistryError};
use serde::{Deserialize, Serialize};

use crate::mesh::{Mesh, fast_tunables};
use crate::support::{WAIT, bounded, node};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Svc {
    Work(u64),
    Conflict(NameConflict),
}
impl From<NameConflict> for Svc {
    fn from(c: NameConflict) -> Self {
        Svc::Conflict(c)
    }
}
reign::message!(Svc = "test.Svc");

async fn resolves_everywhere(nodes: &[&Node], name: &str, to: &Address<Svc>) {
    for n in nodes {
        let found: Address<Svc> = bounded(n.global().wait_for(name, WAIT)).await.unwrap();
        assert_eq!(&found, to, "{} resolves {name}", n.id());
    }
}

/// Waits until `name` is gone on node `n`.
async fn gone(n: &Node, name: &str) {
    let mut w = n.global().watch(name);
    bounded(async {
        while w.current().is_some() {
            w.changed().await.expect("node alive");
        }
    })
    .await;
    assert!(matches!(
        n.global().whereis::<Svc>(name),
        Err(LookupError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_name_is_seen_everywhere_and_vanishes_with_its_mailbox() {
    let mesh = Mesh::start(&["a", "b", "c"]).await;
    let (a, b, c) = (mesh.node("a"), mesh.node("b"), mesh.node("c"));
    let (mut inbox, addr) = a.mailbox::<Svc>();
    let mut watch_c = c.global().watch("svc");
    a.global().register("svc", &addr).unwrap();
    resolves_everywhere(&[a, b, c], "svc", &addr).await;
    assert_eq!(
        bounded(watch_c.changed()).await,
        Some(NameChange::Registered(addr.mailbox_ref()))
    );
    // Usable from anywhere, answered from the local copy.
    let from_c: Address<Svc> = c.global().whereis("svc").unwrap();
    from_c.try_send(Svc::Work(5)).unwrap();
    assert_eq!(inbox.recv_timeout(WAIT).await, Some(Svc::Work(5)));
    // Typed.
    assert!(matches!(
        b.global().whereis::<u64>("svc"),
        Err(LookupError::WrongType { .. })
    ));
    // Held by a reachable node: refused at once, on any node.
    let (_other, other_addr) = b.mailbox::<Svc>();
    assert!(matches!(
        b.global().register("svc", &other_addr),
        Err(RegistryError::NameTaken { .. })
    ));
    // Ends with its mailbox, everywhere.
    drop(inbox);
    for n in [a, b, c] {
        gone(n, "svc").await;
    }
    assert_eq!(
        bounded(watch_c.changed()).await,
        Some(NameChange::Gone(addr.mailbox_ref()))
    );
    // And can be taken again.
    b.global().register("svc", &other_addr).unwrap();
    resolves_everywhere(&[a, b, c], "svc", &other_addr).await;
    assert_eq!(b.global().unregister("svc"), Some(other_addr.mailbox_ref()));
    gone(a, "svc").await;
    mesh.shutdown().await;
}

#[tokio::test]
async fn names_of_a_node_that_shuts_down_vanish() {
    let mesh = Mesh::start(&["a", "b", "c"]).await;
    let (_inbox, addr) = mesh.node("c").mailbox::<Svc>();
    mesh.node("c").global().register("svc", &addr).unwrap();
    resolves_everywhere(&[mesh.node("a"), mesh.node("b")], "svc", &addr).await;
    bounded(mesh.node("c").shutdown()).await;
    gone(mesh.node("a"), "svc").await;
    gone(mesh.node("b"), "svc").await;
    mesh.shutdown().await;
}

#[tokio::test]
async fn process_groups_through_joins_leaves_terminations_and_node_loss() {
    let mesh = Mesh::start(&["a", "b", "c"]).await;
    let (a, b, c) = (mesh.node("a"), mesh.node("b"), mesh.node("c"));
    let (_ia, at_a) = a.mailbox::<String>();
    let (ib, at_b) = b.mailbox::<String>();
    let (_ic, at_c) = c.mailbox::<String>();
    a.groups().join("room", &at_a).unwrap();
    b.groups().join("room", &at_b).unwrap();
    c.groups().join("room", &at_c).unwrap();
    b.groups().join("other", &at_b).unwrap();
    let everyone = {
        let mut v = vec![at_a.clone(), at_b.clone(), at_c.clone()];
        v.sort();
        v
    };
    let converge = |n: &Node, group: &'static str, want: Vec<Address<String>>| {
        let mut w = n.groups().watch(group);
        let want: Vec<reign::MailboxRef> = want.iter().map(|a| a.mailbox_ref()).collect();
        async move {
            bounded(w.wait_for(|m| m == want.as_slice()))
                .await
                .expect("node alive");
        }
    };
    for n in [a, b, c] {
        converge(n, "room", everyone.clone()).await;
        converge(n, "other", vec![at_b.clone()]).await;
    }
    // Members of another type are left out of a typed view.
    assert!(a.groups().members::<u64>("room").is_empty());
    assert_eq!(a.groups().member_refs("room").len(), 3);
    // Leave.
    assert!(a.groups().leave("room", &at_a));
    let without_a: Vec<_> = everyone.iter().filter(|x| **x != at_a).cloned().collect();
    for n in [a, b, c] {
        converge(n, "room", without_a.clone()).await;
    }
    // Termination: b's mailbox leaves both groups.
    drop(ib);
    for n in [a, b, c] {
        converge(n, "room", vec![at_c.clone()]).await;
        converge(n, "other", vec![]).await;
    }
    assert!(!a.groups().list().contains(&"other".to_string()));
    // Node loss: c's members vanish from the others.
    bounded(c.shutdown()).await;
    for n in [a, b] {
        converge(n, "room", vec![]).await;
    }
    mesh.shutdown().await;
}

/// "Up" includes the peer's names: registering right after `cluster().wait_for` sees them.
#[tokio::test]
async fn a_node_up_again_brings_its_names_before_it_is_reported_up() {
    let (mesh, proxy) = Mesh::start_proxied(&["a", "b"], ("a", "b"), fast_tunables()).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let mut events = a.cluster().events();
    proxy.partition();
    crate::mesh::next_down(&mut events, &node("b")).await;
    let (_held, held_addr) = b.mailbox::<Svc>();
    b.global().register("x", &held_addr).unwrap();
    proxy.heal();
    bounded(a.cluster().wait_for(&node("b"), WAIT))
        .await
        .unwrap();
    let (_mine, mine_addr) = a.mailbox::<Svc>();
    match a.global().register("x", &mine_addr) {
        Err(RegistryError::NameTaken { holder, .. }) => assert_eq!(holder, held_addr.mailbox_ref()),
        other => panic!("expected NameTaken, got {other:?}"),
    }
    mesh.shutdown().await;
}
