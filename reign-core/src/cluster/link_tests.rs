//! Tests of the link task: its reader over an in-memory pipe, and the reason it gives for an undecodable first frame.

use super::*;

/// Records, for each run it is handed, how far a task beside the reader got by then, and
/// answers each run with `full`.
struct Recorder {
    beside: Arc<AtomicU64>,
    seen: Mutex<Vec<u64>>,
    full: bool,
}

impl FrameHandler for Recorder {
    fn apply(&self, _: &Arc<Link>, _: Outputs) {}
    fn handle(&self, _: &Arc<Link>, _: Frame) -> Result<(), LinkDownReason> {
        Ok(())
    }
    fn handle_sends(
        &self,
        _: &Link,
        _: &mut crate::node::DeliveryCache,
        _: u64,
        _: u64,
        _: &[u8],
        _: &[&[u8]],
    ) -> bool {
        let at = self.beside.load(Ordering::Relaxed);
        self.seen.lock().unwrap().push(at);
        self.full
    }
}

/// What a task beside the reader saw of it: how far that task got by each run the
/// reader handled, for sixteen runs of one SEND (about 1.1 KiB each) that arrive in one read;
/// `takeover`: polled as a takeover polls.
async fn runs_seen_beside(full: bool, takeover: bool) -> Vec<u64> {
    let beside = Arc::new(AtomicU64::new(0));
    let counting = beside.clone();
    let task = tokio::spawn(async move {
        loop {
            counting.fetch_add(1, Ordering::Relaxed);
            tokio::task::yield_now().await;
        }
    });
    let out = Arc::new(Outbound::new(1 << 20, 1 << 16));
    let proven = Proven {
        id: NodeId::new("a").unwrap(),
        incarnation: Incarnation(3),
        valid_until: std::time::SystemTime::now() + Duration::from_secs(3600),
        tls: None,
    };
    let link = Arc::new(Link::new(
        proven,
        Incarnation(7),
        out,
        1 << 16,
        crate::proto::sim::test_limits(),
    ));
    let mut frames = BytesMut::new();
    for target in 1..=16u64 {
        wire::encode_send(&mut frames, target, 7, "t", |b| {
            b.extend_from_slice(&[0u8; 1100]);
            Ok::<(), ()>(())
        })
        .unwrap();
    }
    let (mut peer, ours) = tokio::io::duplex(1 << 20);
    tokio::io::AsyncWriteExt::write_all(&mut peer, &frames)
        .await
        .unwrap();
    drop(peer);
    let handler = Recorder {
        beside,
        seen: Mutex::new(Vec::new()),
        full,
    };
    let (rd, _wr) = tokio::io::split(ours);
    let ended = {
        let reading = read_loop(&link, rd, &handler);
        let mut reading = std::pin::pin!(reading);
        std::future::poll_fn(|cx| {
            crate::cluster::rescue::set_taking_over(takeover);
            let r = reading.as_mut().poll(cx);
            crate::cluster::rescue::set_taking_over(false);
            r
        })
        .await
    };
    assert_eq!(ended, LinkDownReason::ClosedByPeer);
    task.abort();
    handler.seen.into_inner().unwrap()
}

/// A run that a full mailbox refused makes the reader yield before its next frame once the
/// poll got 4 KiB through what arrived, so that the mailbox's receiver runs before more is
/// refused; otherwise (and in a takeover, where the receiver's runtime does not run) the
/// runs of one read are handled in one go, up to the reader's bounds.
#[tokio::test(flavor = "current_thread")]
async fn a_full_mailbox_lets_other_tasks_run_before_the_next_frame() {
    for (full, takeover) in [(false, false), (true, true)] {
        let seen = runs_seen_beside(full, takeover).await;
        assert_eq!(seen.len(), 16);
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    }
    // Four frames make 4 KiB: a yield after every fourth.
    let seen = runs_seen_beside(true, false).await;
    assert_eq!(seen.len(), 16);
    for (i, w) in seen.windows(2).enumerate() {
        if (i + 1) % 4 == 0 {
            assert!(w[0] < w[1], "a yield after run {}: {seen:?}", i + 1);
        } else {
            assert_eq!(w[0], w[1], "no yield after run {}: {seen:?}", i + 1);
        }
    }
}

/// A REFUSE where the first frame was due is the acceptor refusing; the same kind later,
/// or any other undecodable frame, is a protocol error.
#[test]
fn a_refuse_as_the_first_frame_is_a_refusal_not_a_protocol_error() {
    let refuse = wire::DecodeError::UnknownKind(wire::HANDSHAKE_REFUSE);
    assert_eq!(
        undecodable_reason(refuse.clone(), false),
        LinkDownReason::RefusedAfterAccept
    );
    assert!(matches!(
        undecodable_reason(refuse, true),
        LinkDownReason::ProtocolError(_)
    ));
    assert!(matches!(
        undecodable_reason(wire::DecodeError::UnknownKind(0x99), false),
        LinkDownReason::ProtocolError(_)
    ));
}
