//! The checker against well-formed and broken messages, the inputs that crashed pgwire's decoders
//! (kept as regression cases), and a bounded mutation fuzzer: whatever the checker passes, pgwire
//! decodes without panicking.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::BytesMut;
use pgwire::messages::{DecodeContext, PgWireFrontendMessage, ProtocolVersion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

const MAX: usize = 1 << 20;

fn typed(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut message = vec![kind];
    message.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    message.extend_from_slice(body);
    message
}

fn startup() -> Vec<u8> {
    let mut body = 196608u32.to_be_bytes().to_vec();
    body.extend_from_slice(b"user\0analist\0database\0zicht\0\0");
    let mut message = (body.len() as i32 + 4).to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    message
}

fn bind(parameters: &[Option<&[u8]>]) -> Vec<u8> {
    let mut body = b"\0\0".to_vec();
    body.extend_from_slice(&1i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&(parameters.len() as i16).to_be_bytes());
    for parameter in parameters {
        match parameter {
            Some(bytes) => {
                body.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                body.extend_from_slice(bytes);
            }
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    body.extend_from_slice(&0i16.to_be_bytes());
    typed(b'B', &body)
}

/// Messages of every type a client sends, well formed.
fn corpus() -> Vec<Vec<u8>> {
    let mut parse = b"s1\0SELECT $1\0".to_vec();
    parse.extend_from_slice(&1i16.to_be_bytes());
    parse.extend_from_slice(&23i32.to_be_bytes());
    let mut execute = b"\0".to_vec();
    execute.extend_from_slice(&0i32.to_be_bytes());
    let mut sasl = b"SCRAM-SHA-256\0".to_vec();
    sasl.extend_from_slice(&8i32.to_be_bytes());
    sasl.extend_from_slice(b"n,,n=,r=");
    vec![
        typed(b'Q', b"SELECT 1\0"),
        typed(b'P', &parse),
        bind(&[Some(b"42"), None]),
        typed(b'E', &execute),
        typed(b'D', b"S\0"),
        typed(b'C', b"P\0"),
        typed(b'S', b""),
        typed(b'H', b""),
        typed(b'p', &sasl),
        typed(b'p', b"c=biws,r=abc,p=xyz"),
        typed(b'd', b"1\t2\n"),
        typed(b'c', b""),
        typed(b'f', b"stop\0"),
    ]
}

fn check(stream: &[u8]) -> Result<Vec<u8>, ProtocolViolation> {
    let mut checker = FrameChecker::new(MAX);
    let mut out = Vec::new();
    checker.feed(&startup(), &mut out)?;
    out.clear();
    checker.feed(stream, &mut out)?;
    Ok(out)
}

#[test]
fn well_formed_messages_pass_whole_and_in_pieces() {
    let stream: Vec<u8> = corpus().concat();
    assert_eq!(check(&stream).unwrap(), stream);
    let mut checker = FrameChecker::new(MAX);
    let mut out = Vec::new();
    let all: Vec<u8> = [startup(), stream.clone()].concat();
    for byte in &all {
        checker.feed(std::slice::from_ref(byte), &mut out).unwrap();
    }
    assert_eq!(out, all);
}

#[test]
fn a_message_is_held_back_until_it_is_complete() {
    let message = typed(b'Q', b"SELECT 1\0");
    assert_eq!(check(&message[..message.len() - 1]).unwrap(), Vec::<u8>::new());
}

/// The inputs that made pgwire panic, each refused before pgwire sees it.
#[test]
fn inputs_that_crashed_the_decoder_are_refused() {
    let crashers: Vec<(&str, Vec<u8>)> = vec![
        ("password message of length 0", vec![b'p', 0, 0, 0, 0]),
        ("password message of length 3", vec![b'p', 0, 0, 0, 3]),
        ("query of length 2", vec![b'Q', 0, 0, 0, 2, 0]),
        ("negative length", vec![b'Q', 0xff, 0xff, 0xff, 0xff]),
        ("bind parameter past the end", {
            let mut message = bind(&[Some(b"42")]);
            let at = message.len() - 2 - 2 - 4;
            message[at..at + 4].copy_from_slice(&1000i32.to_be_bytes());
            message
        }),
        ("bind parameter length below -1", {
            let mut message = bind(&[None]);
            let at = message.len() - 2 - 4;
            message[at..at + 4].copy_from_slice(&(-7i32).to_be_bytes());
            message
        }),
        ("bind with a negative parameter count", {
            let mut message = bind(&[]);
            let at = message.len() - 2 - 2;
            message[at..at + 2].copy_from_slice(&(-1i16).to_be_bytes());
            message
        }),
        ("parse with more type oids than bytes", {
            let mut body = b"\0SELECT 1\0".to_vec();
            body.extend_from_slice(&100i16.to_be_bytes());
            typed(b'P', &body)
        }),
        ("execute without its row limit", typed(b'E', b"\0")),
        ("describe of an unknown kind", typed(b'D', b"X\0")),
        ("unterminated query", typed(b'Q', b"SELECT 1")),
        ("sync with a body", typed(b'S', b"x")),
        ("function call", typed(b'F', b"\0\0\0\0")),
        ("unknown type", typed(b'z', b"")),
        ("message over the limit", {
            let mut message = vec![b'Q'];
            message.extend_from_slice(&(MAX as i32 + 5).to_be_bytes());
            message
        }),
    ];
    for (name, input) in crashers {
        assert!(check(&input).is_err(), "{name} passed the checker");
    }
}

#[test]
fn startup_messages_and_cancel_requests_are_checked() {
    let mut checker = FrameChecker::new(MAX);
    let mut out = Vec::new();
    assert!(checker.feed(&[0, 0, 0, 3], &mut out).is_err());
    let mut checker = FrameChecker::new(MAX);
    assert!(checker.feed(&[0, 0, 0, 12, 0, 1, 0, 0, b'u', 0, b'x', 0], &mut out).is_err(), "protocol 1");
    let mut unterminated = startup();
    let last = unterminated.len() - 1;
    unterminated[last] = b'x';
    assert!(FrameChecker::new(MAX).feed(&unterminated, &mut out).is_err());
    let mut cancel = 16i32.to_be_bytes().to_vec();
    cancel.extend_from_slice(&CANCEL_REQUEST_CODE.to_be_bytes());
    cancel.extend_from_slice(&[0, 0, 0, 7, 1, 2, 3, 4]);
    assert!(FrameChecker::new(MAX).feed(&cancel, &mut out).is_ok());
}

/// Decodes `stream` (the messages after startup) as pgwire does, catching panics.
fn decode_all(stream: &[u8]) -> Result<(), String> {
    let mut context = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
    context.awaiting_frontend_ssl = false;
    context.awaiting_frontend_startup = false;
    let mut buffer = BytesMut::from(stream);
    catch_unwind(AssertUnwindSafe(|| {
        while !buffer.is_empty() {
            match PgWireFrontendMessage::decode(&mut buffer, &context) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }))
    .map_err(|panic| format!("{panic:?}"))
}

fn mutate(rng: &mut ChaCha8Rng, message: &mut Vec<u8>) {
    match rng.random_range(0..6) {
        0 => {
            let at = rng.random_range(0..message.len());
            message[at] = rng.random();
        }
        1 => message.truncate(rng.random_range(0..message.len())),
        2 => {
            // A length field anywhere: small, negative, or huge.
            let at = rng.random_range(0..message.len());
            let value: i32 = [0, 1, 3, 4, -1, -2, i32::MAX, rng.random_range(-10..1000)][rng.random_range(0..8)];
            let bytes = value.to_be_bytes();
            for (i, byte) in bytes.iter().enumerate() {
                if let Some(slot) = message.get_mut(at + i) {
                    *slot = *byte;
                }
            }
        }
        3 => {
            let at = rng.random_range(0..=message.len());
            let extra: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
            message.splice(at..at, extra);
        }
        4 => {
            // A count field: an Int16 anywhere.
            let at = rng.random_range(0..message.len());
            let value: i16 = [0, 1, -1, i16::MAX, rng.random()][rng.random_range(0..5)];
            for (i, byte) in value.to_be_bytes().iter().enumerate() {
                if let Some(slot) = message.get_mut(at + i) {
                    *slot = *byte;
                }
            }
        }
        _ => message[0] = b"QPBEDCSHXpdcfF\0z"[rng.random_range(0..16)],
    }
}

/// The fuzz target, bounded for CI: 20,000 mutated messages (one to four mutations each, and a
/// valid message after them), fed in random pieces. Whatever passes the checker decodes without
/// a panic.
#[test]
fn whatever_passes_the_checker_decodes_without_panicking() {
    let corpus = corpus();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut refused = 0;
    for _ in 0..20_000 {
        let mut message = corpus[rng.random_range(0..corpus.len())].clone();
        for _ in 0..rng.random_range(1..=4) {
            if !message.is_empty() {
                mutate(&mut rng, &mut message);
            }
        }
        message.extend_from_slice(&corpus[0]);
        let mut checker = FrameChecker::new(MAX);
        let mut passed = Vec::new();
        checker.feed(&startup(), &mut passed).unwrap();
        passed.clear();
        let mut result = Ok(());
        for piece in message.chunks(rng.random_range(1..=message.len())) {
            result = checker.feed(piece, &mut passed);
            if result.is_err() {
                break;
            }
        }
        refused += usize::from(result.is_err());
        if let Err(panic) = decode_all(&passed) {
            panic!("pgwire panicked on checked input {passed:?}: {panic}");
        }
    }
    assert!(refused > 1000, "the mutations should break many messages ({refused} refused)");
}
