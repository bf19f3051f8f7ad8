//! The entry point for the hello fuzz target in `fuzz/` and for the test that replays its
//! corpus. Not an API: it takes arbitrary bytes, and panics only when it finds a bug.

use crate::hello::{self, HandshakeMessage};

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
