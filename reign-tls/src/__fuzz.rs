//! The entry points for the hello and operator fuzz targets in `fuzz/` and for the test that
//! replays their corpora. Not an API: they take arbitrary bytes, and panic only when they
//! find a bug.

use crate::hello::{self, HandshakeMessage};
use crate::operator;

/// Decodes `data` as one handshake frame (length field, then at most that many bytes of
/// body). A message that decodes must survive re-encoding: a hello exactly, a refusal
/// after one round (its text fields are cut to the wire's limit).
pub fn hello(data: &[u8]) {
    let Some((len, body)) = data.split_first_chunk::<4>() else {
        return;
    };
    let Ok(len) = hello::check_length(u32::from_be_bytes(*len)) else {
        return;
    };
    let Ok(msg) = hello::decode_body(&body[..len.min(body.len())]) else {
        return;
    };
    let once = round_trip(&msg);
    match msg {
        HandshakeMessage::Refuse(_) => assert_eq!(round_trip(&once), once),
        _ => assert_eq!(once, msg),
    }
}

fn round_trip(msg: &HandshakeMessage) -> HandshakeMessage {
    let frame = hello::encode(msg);
    let (len, body) = frame.split_first_chunk::<4>().expect("a length field");
    let len = hello::check_length(u32::from_be_bytes(*len)).expect("an encoded frame's length");
    assert_eq!(len, body.len());
    hello::decode_body(body).expect("an encoded frame decodes")
}

/// Decodes `data` (a frame body: kind and payload) as an operator request and as a reply,
/// the way a node and the `reign` tool read them; whatever decodes must survive re-encoding.
/// (An ERROR's text is cut to its limit on encoding, so that one is compared after a round.)
pub fn operator(data: &[u8]) {
    if let Ok(r) = operator::decode_request(data) {
        let frame = operator::encode_request(&r);
        assert_eq!(
            frame.len() - 4,
            u32::from_be_bytes(frame[..4].try_into().expect("4")) as usize
        );
        assert_eq!(
            operator::decode_request(&frame[4..]).expect("re-encoded request"),
            r
        );
    }
    if let Ok(r) = operator::decode_reply(data) {
        let once =
            operator::decode_reply(&operator::encode_reply(&r)[4..]).expect("re-encoded reply");
        match r {
            operator::OperatorReply::Error { .. } => {
                let twice =
                    operator::decode_reply(&operator::encode_reply(&once)[4..]).expect("twice");
                assert_eq!(twice, once);
            }
            _ => assert_eq!(once, r),
        }
    }
}
