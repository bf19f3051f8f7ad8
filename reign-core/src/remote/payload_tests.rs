//! Hostile payloads through a node's receive path: refused one by one, typed, and the
//! mailbox keeps taking messages.

use std::time::Duration;

use crate::{Node, PayloadError, RemoteDeliveryError};
use serde::{Deserialize, Serialize};

fn node(name: &str) -> Node {
    Node::new(name.parse().unwrap())
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(v, bincode::config::standard()).unwrap()
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Units(Vec<()>);
crate::message!(Units = "test.Units");

/// Panics on the byte 0xbb, as a user's careless `Deserialize` might.
#[derive(Debug, PartialEq)]
struct Careless(u8);
crate::message!(Careless = "test.Careless");

impl Serialize for Careless {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for Careless {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u8::deserialize(d)?;
        assert!(n != 0xbb, "careless");
        Ok(Careless(n))
    }
}

#[tokio::test]
async fn the_reported_payload_is_refused_and_the_mailbox_lives_on() {
    let b = node("b");
    let (mut inbox, addr) = b.mailbox::<String>();
    let target = addr.mailbox_ref();
    // fd + 2^45 little-endian + one byte: bincode allocated 32 TiB here and aborted.
    let mut hostile = vec![0xfd];
    hostile.extend_from_slice(&(1u64 << 45).to_le_bytes());
    hostile.push(b'x');
    assert_eq!(
        b.deliver_remote(&target, "string", &hostile),
        Err(RemoteDeliveryError::Decode(
            PayloadError::LengthExceedsInput {
                declared: 1 << 45,
                remaining: 1
            }
        ))
    );
    let mut huge = vec![0xfd];
    huge.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        b.deliver_remote(&target, "string", &huge),
        Err(RemoteDeliveryError::Decode(
            PayloadError::LengthExceedsInput { .. }
        ))
    ));
    b.deliver_remote(&target, "string", &encode(&"after"))
        .unwrap();
    let got = inbox.recv_timeout(Duration::from_secs(1)).await;
    assert_eq!(got.as_deref(), Some("after"));
}

#[tokio::test]
async fn zero_sized_elements_cannot_loop_the_receiver() {
    let b = node("b");
    let (mut inbox, addr) = b.mailbox::<Units>();
    let target = addr.mailbox_ref();
    let mut hostile = vec![0xfd];
    hostile.extend_from_slice(&(1u64 << 63).to_le_bytes());
    assert!(matches!(
        b.deliver_remote(&target, "test.Units", &hostile),
        Err(RemoteDeliveryError::Decode(
            PayloadError::TooManyElements { .. }
        ))
    ));
    let fine = Units(vec![(); 100]);
    b.deliver_remote(&target, "test.Units", &encode(&fine))
        .unwrap();
    assert_eq!(inbox.recv_timeout(Duration::from_secs(1)).await, Some(fine));
}

#[tokio::test]
async fn a_panicking_deserialize_refuses_only_its_payload() {
    let b = node("b");
    let (mut inbox, addr) = b.mailbox::<Careless>();
    let target = addr.mailbox_ref();
    assert_eq!(
        b.deliver_remote(&target, "test.Careless", &[0xbb]),
        Err(RemoteDeliveryError::Decode(PayloadError::Panicked))
    );
    b.deliver_remote(&target, "test.Careless", &[7]).unwrap();
    assert_eq!(
        inbox.recv_timeout(Duration::from_secs(1)).await,
        Some(Careless(7))
    );
}

/// One run of SENDs as a link reader delivers it.
fn run(
    b: &Node,
    target: &crate::MailboxRef,
    tag: &str,
    payloads: &[&[u8]],
) -> crate::remote::BatchOutcome {
    b.deliver_run(
        &mut crate::node::DeliveryCache::default(),
        target.id.get(),
        target.incarnation().get(),
        tag.as_bytes(),
        payloads,
    )
    .unwrap()
}

#[tokio::test]
async fn panics_in_a_run_refuse_only_their_payloads_and_the_run_goes_on() {
    let b = node("b");
    let (mut inbox, addr) = b.mailbox::<Careless>();
    let target = addr.mailbox_ref();
    // Panics first, in the middle, twice in a row and last; one payload with a trailing byte.
    let payloads: [&[u8]; 8] = [
        &[0xbb],
        &[1],
        &[0xbb],
        &[2],
        &[0xbb],
        &[0xbb],
        &[3, 0],
        &[4],
    ];
    let o = run(&b, &target, "test.Careless", &payloads);
    assert_eq!((o.delivered, o.undecodable, o.full, o.closed), (3, 5, 0, 0));
    assert_eq!(
        o.decode_error,
        Some(PayloadError::Panicked),
        "the first one"
    );
    for want in [1, 2, 4] {
        assert_eq!(inbox.try_recv(), Some(Careless(want)));
    }
    assert_eq!(inbox.try_recv(), None);
    // A run of one that panics, then one that does not.
    let o = run(&b, &target, "test.Careless", &[&[0xbb]]);
    assert_eq!((o.delivered, o.undecodable), (0, 1));
    assert_eq!(o.decode_error, Some(PayloadError::Panicked));
    let o = run(&b, &target, "test.Careless", &[&[9]]);
    assert_eq!((o.delivered, o.undecodable), (1, 0));
    assert_eq!(inbox.try_recv(), Some(Careless(9)));
    // The thread is not left marked as decoding a peer's bytes.
    assert!(!crate::codec::from_peer());
}

#[tokio::test]
async fn runs_of_one_and_longer_runs_count_full_and_closed_alike() {
    let b = node("b");
    let (mut inbox, addr) = b.bounded_mailbox::<Careless>(2);
    let target = addr.mailbox_ref();
    let o = run(&b, &target, "test.Careless", &[&[1]]);
    assert_eq!((o.delivered, o.full), (1, 0));
    let o = run(&b, &target, "test.Careless", &[&[2], &[3], &[4]]);
    assert_eq!((o.delivered, o.full), (1, 2));
    let o = run(&b, &target, "test.Careless", &[&[5]]);
    assert_eq!((o.delivered, o.full), (0, 1));
    assert_eq!(inbox.try_recv(), Some(Careless(1)));
    assert_eq!(inbox.try_recv(), Some(Careless(2)));
    let o = run(&b, &target, "test.Careless", &[&[6]]);
    assert_eq!((o.delivered, o.full), (1, 0));
    inbox.close(crate::DownReason::Normal);
    // The mailbox ended: gone from the table, so the run finds no mailbox.
    assert_eq!(
        b.deliver_run(
            &mut crate::node::DeliveryCache::default(),
            target.id.get(),
            target.incarnation().get(),
            b"test.Careless",
            &[&[7]],
        )
        .unwrap_err(),
        RemoteDeliveryError::NoSuchMailbox
    );
}
