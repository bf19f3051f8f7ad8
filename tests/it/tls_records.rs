//! A member that writes its own TLS records (rustls' traffic secrets extracted after the
//! handshake, as `secret_extraction` allows): a record costs the node about the same to open
//! whatever it carries, and records of nothing but padding carry no frame at all. An outside
//! test held one of a node's workers, then the node's own thread, for 20 s with a flood of
//! them (32 records of padding, the most rustls takes in a row, then one holding a frame):
//! the reader's budget counted frames, and the node's thread waited on the link's lock
//! meanwhile. Now the link's TLS stream yields after each 64 KiB of records, whatever they
//! held, and an honest member's round trips stay prompt throughout.

use std::time::Duration;

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use reign::{NodeEvent, Tunables};
use rustls::ConnectionTrafficSecrets;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::raw_member::{
    Isolated, RawMember, Watch, frame, honest_c, lookup, serve_echo, victim_b,
};
use crate::support::{Pki, WAIT, bounded, node};

/// The longest an honest round trip may take while the flood runs. Measured in a debug build
/// on an idle 2-core VM: 115 ms with the yield after each 64 KiB of records, 1.8 s without it
/// (the reader then yielded only after 256 frames, some 8,400 records). Between the two,
/// with room for a machine loaded by other tests.
const BOUND: Duration = Duration::from_secs(1);

/// Groups of [`EMPTY_IN_A_ROW`] records of padding and one record holding a HEARTBEAT.
const GROUPS: usize = 250;
const EMPTY_IN_A_ROW: usize = 32;
/// The most a TLS 1.3 record's inner plaintext holds: content, content type, padding.
const INNER_MAX: usize = (1 << 14) + 1;

/// One direction of a TLS 1.3 connection's application traffic.
struct Direction {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl Direction {
    fn new(seq: u64, secrets: ConnectionTrafficSecrets) -> Direction {
        let (alg, key, iv) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&AES_256_GCM, key, iv),
            _ => panic!("the node chose a cipher this test does not seal"),
        };
        let key = LessSafeKey::new(UnboundKey::new(alg, key.as_ref()).expect("key"));
        Direction {
            key,
            iv: iv.as_ref().try_into().expect("iv"),
            seq,
        }
    }

    fn nonce(&mut self) -> Nonce {
        let mut n = self.iv;
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        self.seq += 1;
        Nonce::assume_unique_for_key(n)
    }

    /// Appends one application-data record holding `content` and as much padding as fits.
    fn seal(&mut self, content: &[u8], out: &mut Vec<u8>) {
        let mut inner = content.to_vec();
        inner.push(0x17);
        inner.resize(INNER_MAX, 0);
        let len = inner.len() + self.key.algorithm().tag_len();
        let header = [0x17, 0x03, 0x03, (len >> 8) as u8, len as u8];
        let nonce = self.nonce();
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(header), &mut inner)
            .expect("seal");
        out.extend_from_slice(&header);
        out.extend_from_slice(&inner);
    }

    /// Opens the records at the front of `wire`, appending application data to `plain`.
    fn open(&mut self, wire: &mut Vec<u8>, plain: &mut Vec<u8>) {
        while wire.len() >= 5 {
            let len = u16::from_be_bytes([wire[3], wire[4]]) as usize;
            if wire.len() < 5 + len {
                return;
            }
            let header: [u8; 5] = wire[..5].try_into().unwrap();
            let mut body = wire[5..5 + len].to_vec();
            wire.drain(..5 + len);
            let nonce = self.nonce();
            let inner = self
                .key
                .open_in_place(nonce, Aad::from(header), &mut body)
                .expect("a record from the node opens");
            let end = inner.iter().rposition(|&b| b != 0).expect("content type");
            if inner[end] == 0x17 {
                plain.extend_from_slice(&inner[..end]);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_padding_do_not_hold_the_node() {
    let pki = Pki::new("demo", &["a", "b", "c"]);
    let honest = honest_c(&pki).await;
    let mut honest_events = honest.cluster().events();
    let (victim, log) =
        Isolated::start_logged(victim_b(&pki, &honest, Tunables::default()), serve_echo);
    let mut victim_events = victim.node.cluster().events();
    bounded(honest.cluster().wait_for(&node("b"), WAIT))
        .await
        .expect("c meets b");
    let addr = victim.node.cluster().local_addr().unwrap();
    let wire = RawMember::handshake_with(&pki, "a", "b", addr, &mut victim_events, |c| {
        c.enable_secret_extraction = true;
    })
    .await;
    let (mut tcp, conn): (TcpStream, _) = wire.into_inner();
    let secrets = conn.dangerous_extract_secrets().expect("secrets");
    let mut tx = Direction::new(secrets.tx.0, secrets.tx.1);
    let mut rx = Direction::new(secrets.rx.0, secrets.rx.1);

    let heartbeat = frame(0x30, &7u64.to_be_bytes());
    let mut flood = Vec::with_capacity(GROUPS * (EMPTY_IN_A_ROW + 1) * (INNER_MAX + 21));
    for _ in 0..GROUPS {
        for _ in 0..EMPTY_IN_A_ROW {
            tx.seal(&[], &mut flood);
        }
        tx.seal(&heartbeat, &mut flood);
    }
    // Answered once the node has opened every record before it.
    let barrier = 1 << 61;
    tx.seal(&lookup(barrier, "barrier"), &mut flood);

    let watch = Watch::start(&honest, "b");
    let (mut rd, mut wr) = tcp.split();
    let write = async {
        wr.write_all(&flood).await.expect("flood");
    };
    let answered = async {
        let (mut wire, mut plain) = (Vec::new(), Vec::new());
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = rd
                .read(&mut buf)
                .await
                .unwrap_or_else(|e| panic!("{e}: {}", log.text()));
            assert!(n > 0, "the node closed the link");
            wire.extend_from_slice(&buf[..n]);
            rx.open(&mut wire, &mut plain);
            let mut pos = 0;
            while plain.len() >= pos + 4 {
                let len = u32::from_be_bytes(plain[pos..pos + 4].try_into().unwrap()) as usize;
                if plain.len() < pos + 4 + len {
                    break;
                }
                let f = &plain[pos + 4..pos + 4 + len];
                if f[0] == 0x41 && f[1..9] == barrier.to_be_bytes() {
                    return;
                }
                pos += 4 + len;
            }
            plain.drain(..pos);
        }
    };
    bounded(async { tokio::join!(write, answered) }).await;
    let (worst, n) = watch.finish().await;
    assert!(
        worst < BOUND,
        "an honest round trip took {worst:?} during the flood (bound {BOUND:?}, {n} round trips)"
    );
    assert!(n > 0, "no honest round trip completed");
    while let Ok(Some(e)) = honest_events.try_recv() {
        assert!(
            !matches!(e, NodeEvent::Down { .. }),
            "the honest member lost its link: {e}"
        );
    }
    drop(tcp);
    victim.stop().await;
}
