//! Every message a client sends is checked here before pgwire decodes it.
//!
//! pgwire's decoders trust the lengths inside a message: a `p` message whose length field says 0
//! to 3, or a Bind whose parameter lengths run past the end of the message, panicked inside
//! `bytes` (79 such inputs were found). A [`FrameGuard`] sits between the socket (after TLS) and
//! pgwire's framing: it holds back each message until it has all of it, checks its length against
//! the configured maximum and its layout against the protocol (every count and length inside it
//! fits, every string ends), and passes on only messages that hold. The first one that does not
//! becomes an error the connection answers with FATAL 08P01 before it closes.
//!
//! Upstream-worthy: pgwire's `decode_packet` hands each decoder the whole read buffer rather than
//! the message, and its decoders use panicking `Buf` getters; both should bound reads by the
//! message length and return `PgWireError` instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The protocol version of a startup message (3.0; 3.2 is 3.x too).
const PROTOCOL_MAJOR: u32 = 3;
const CANCEL_REQUEST_CODE: u32 = 80877102;
/// PostgreSQL's limit for the startup packet.
const MAX_STARTUP_BYTES: usize = 10_000;

/// Why a message was refused; carried inside the `io::Error` the guard returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid frontend message: {0}")]
pub struct ProtocolViolation(pub String);

/// The protocol violation inside an I/O error from a [`FrameGuard`], if that is what it is.
pub fn violation(error: &io::Error) -> Option<&ProtocolViolation> {
    error.get_ref().and_then(|inner| inner.downcast_ref::<ProtocolViolation>())
}

/// Where in the conversation the next message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The startup message or a cancel request: a length, then the body, no type byte.
    Startup,
    /// Typed messages: a type byte, a length, the body.
    Typed,
}

/// Splits the client's bytes into messages and checks each.
#[derive(Debug)]
pub struct FrameChecker {
    phase: Phase,
    max_message_bytes: usize,
    /// Bytes of the message not yet complete.
    partial: Vec<u8>,
}

impl FrameChecker {
    /// A checker that expects the startup message first.
    pub fn new(max_message_bytes: usize) -> FrameChecker {
        FrameChecker { phase: Phase::Startup, max_message_bytes, partial: Vec::new() }
    }

    /// Takes the next bytes from the client; appends every message they complete, checked, to
    /// `out`. Fails at the first message that breaks the protocol.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), ProtocolViolation> {
        self.partial.extend_from_slice(bytes);
        loop {
            let header = match self.phase {
                Phase::Startup => 4,
                Phase::Typed => 5,
            };
            if self.partial.len() < header {
                return Ok(());
            }
            let length = i32::from_be_bytes(self.partial[header - 4..header].try_into().expect("four bytes"));
            let length = self.check_length(length)?;
            let total = header - 4 + length;
            if self.partial.len() < total {
                return Ok(());
            }
            let body = &self.partial[header..total];
            match self.phase {
                Phase::Startup => check_startup(body)?,
                Phase::Typed => check_typed(self.partial[0], body)?,
            }
            self.phase = Phase::Typed;
            out.extend_from_slice(&self.partial[..total]);
            self.partial.drain(..total);
        }
    }

    /// The length field of a message (which counts itself), checked against the limits.
    fn check_length(&self, length: i32) -> Result<usize, ProtocolViolation> {
        let (minimum, maximum) = match self.phase {
            Phase::Startup => (8, MAX_STARTUP_BYTES),
            Phase::Typed => (4, self.max_message_bytes.saturating_add(4)),
        };
        let length = usize::try_from(length).unwrap_or(0);
        if length < minimum {
            return Err(violation_of(format!("message length {length} is below the minimum {minimum}")));
        }
        if length > maximum {
            return Err(violation_of(format!("message of {length} bytes exceeds the limit of {maximum} bytes")));
        }
        Ok(length)
    }
}

fn violation_of(message: impl Into<String>) -> ProtocolViolation {
    ProtocolViolation(message.into())
}

/// The startup message (protocol 3, then name/value strings and a closing zero byte) or a
/// cancel request (a code, a process id and a secret key).
fn check_startup(body: &[u8]) -> Result<(), ProtocolViolation> {
    let mut reader = Reader::new(body);
    let code = reader.u32()?;
    if code == CANCEL_REQUEST_CODE {
        reader.u32()?;
        return match reader.rest() {
            4..=256 => Ok(()),
            n => Err(violation_of(format!("cancel request with a key of {n} bytes"))),
        };
    }
    if code >> 16 != PROTOCOL_MAJOR {
        return Err(violation_of(format!("unsupported protocol {}.{}", code >> 16, code & 0xffff)));
    }
    loop {
        let name = reader.cstring()?;
        if name.is_empty() {
            return reader.end();
        }
        reader.cstring()?;
    }
}

/// The layout of each message type a client may send (PostgreSQL's "Message Formats").
fn check_typed(kind: u8, body: &[u8]) -> Result<(), ProtocolViolation> {
    let mut reader = Reader::new(body);
    match kind {
        // Query, CopyFail
        b'Q' | b'f' => {
            reader.cstring()?;
        }
        // Parse: name, query, parameter type oids
        b'P' => {
            reader.cstring()?;
            reader.cstring()?;
            let types = reader.count()?;
            reader.skip(types * 4)?;
        }
        // Bind: portal, statement, parameter formats, parameters, result formats
        b'B' => {
            reader.cstring()?;
            reader.cstring()?;
            let formats = reader.count()?;
            reader.skip(formats * 2)?;
            for _ in 0..reader.count()? {
                let length = reader.i32()?;
                if length < -1 {
                    return Err(violation_of(format!("parameter length {length}")));
                }
                reader.skip(usize::try_from(length).unwrap_or(0))?;
            }
            let formats = reader.count()?;
            reader.skip(formats * 2)?;
        }
        // Execute: portal, row limit
        b'E' => {
            reader.cstring()?;
            reader.i32()?;
        }
        // Describe, Close: 'S'tatement or 'P'ortal, and a name
        b'D' | b'C' => {
            match reader.u8()? {
                b'S' | b'P' => {}
                other => return Err(violation_of(format!("Describe/Close of kind {other}"))),
            }
            reader.cstring()?;
        }
        // Sync, Flush, Terminate, CopyDone: nothing
        b'S' | b'H' | b'X' | b'c' => {}
        // CopyData, and the password family (password, SASL initial response, SASL response),
        // whose layout depends on the authentication step: the startup handler parses those.
        b'd' | b'p' => return Ok(()),
        other => return Err(violation_of(format!("unknown or unsupported message type {:?}", other as char))),
    }
    reader.end()
}

/// Reads a message body; every read checks that the bytes are there.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolViolation> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| violation_of("a length or count runs past the end of the message"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn skip(&mut self, n: usize) -> Result<(), ProtocolViolation> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Result<u8, ProtocolViolation> {
        Ok(self.take(1)?[0])
    }

    pub fn i32(&mut self) -> Result<i32, ProtocolViolation> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("four bytes")))
    }

    fn u32(&mut self) -> Result<u32, ProtocolViolation> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("four bytes")))
    }

    /// A count of the protocol's Int16 kind: never negative.
    fn count(&mut self) -> Result<usize, ProtocolViolation> {
        let count = i16::from_be_bytes(self.take(2)?.try_into().expect("two bytes"));
        usize::try_from(count).map_err(|_| violation_of(format!("negative count {count}")))
    }

    /// A zero-terminated string, without its terminator.
    pub fn cstring(&mut self) -> Result<&'a [u8], ProtocolViolation> {
        let rest = &self.bytes[self.at..];
        let end = rest.iter().position(|&b| b == 0).ok_or_else(|| violation_of("a string is not terminated"))?;
        self.at += end + 1;
        Ok(&rest[..end])
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub fn remaining_bytes(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.at..];
        self.at = self.bytes.len();
        rest
    }

    pub fn end(&self) -> Result<(), ProtocolViolation> {
        match self.rest() {
            0 => Ok(()),
            n => Err(violation_of(format!("{n} bytes after the end of the message"))),
        }
    }
}

/// A socket whose reads yield only whole, checked messages (see the module docs).
pub struct FrameGuard<IO> {
    inner: IO,
    checker: FrameChecker,
    /// Checked bytes not yet read by pgwire.
    ready: Vec<u8>,
    /// Set once a violation was found: every later read fails with it.
    failed: Option<ProtocolViolation>,
}

impl<IO> FrameGuard<IO> {
    /// Wraps `inner`; `already_read` are bytes of the client's that were read from it before (by
    /// TLS negotiation) and are checked first.
    pub fn new(inner: IO, max_message_bytes: usize, already_read: &[u8]) -> FrameGuard<IO> {
        let mut guard =
            FrameGuard { inner, checker: FrameChecker::new(max_message_bytes), ready: Vec::new(), failed: None };
        if let Err(violation) = guard.checker.feed(already_read, &mut guard.ready) {
            guard.failed = Some(violation);
        }
        guard
    }

    pub fn get_ref(&self) -> &IO {
        &self.inner
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for FrameGuard<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.drain(..n);
                return Poll::Ready(Ok(()));
            }
            if let Some(violation) = &this.failed {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, violation.clone())));
            }
            let mut chunk = [0u8; 8192];
            let mut chunk_buf = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut chunk_buf))?;
            let filled = chunk_buf.filled();
            if filled.is_empty() {
                // End of stream; a message cut short is simply never delivered.
                return Poll::Ready(Ok(()));
            }
            if let Err(violation) = this.checker.feed(filled, &mut this.ready) {
                this.failed = Some(violation);
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for FrameGuard<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
