//! SPDY/3.1 frames: as much of a client as exec and attach need towards containerd's streaming
//! server (open streams with headers, send data and half-closes, read data, answer pings), and
//! of a server as port-forward needs (a client's streams with their headers, replies).
//!
//! Header blocks are zlib streams (one per direction per connection). Ours are written as
//! stored blocks, which any inflater reads without the SPDY dictionary; a client's are read by
//! [`super::headers`]; a server's are never needed (streams are told apart by the ids this side
//! chose), so they are skipped unread.

use bytes::{Buf, Bytes, BytesMut};

const VERSION: u16 = 3;
const CONTROL: u8 = 0x80;
pub const FLAG_FIN: u8 = 0x01;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;
// No flow control: spdystream (containerd's side) neither sends WINDOW_UPDATE nor honours it.

/// RST_STREAM status for a stream the server tried to open towards us.
pub const REFUSED_STREAM: u32 = 3;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpdyError {
    #[error("unsupported SPDY version {0} (3 is spoken)")]
    Version(u16),
    #[error("malformed SPDY {kind} frame: {why}")]
    Malformed { kind: &'static str, why: &'static str },
}

/// A frame as this client cares about it.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Data { stream: u32, fin: bool, data: Bytes },
    /// The peer opening a stream: its compressed header block.
    SynStream { stream: u32, fin: bool, headers: Bytes },
    Reply { stream: u32, fin: bool },
    Reset { stream: u32, status: u32 },
    Ping { id: u32 },
    GoAway,
    /// SETTINGS, WINDOW_UPDATE and control frames of unknown types: nothing to do.
    Ignored,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Takes one frame off the front of `buffer`, or None when it does not hold a whole one yet.
pub fn next_frame(buffer: &mut BytesMut) -> Result<Option<Frame>, SpdyError> {
    if buffer.len() < 8 {
        return Ok(None);
    }
    let length = usize::from(buffer[5]) << 16 | usize::from(buffer[6]) << 8 | usize::from(buffer[7]);
    if buffer.len() < 8 + length {
        return Ok(None);
    }
    let flags = buffer[4];
    let head = buffer.split_to(8);
    let mut payload = buffer.split_to(length).freeze();
    if head[0] & CONTROL == 0 {
        let stream = u32_at(&head, 0) & 0x7fff_ffff;
        return Ok(Some(Frame::Data { stream, fin: flags & FLAG_FIN != 0, data: payload }));
    }
    let version = u16::from_be_bytes([head[0], head[1]]) & 0x7fff;
    if version != VERSION {
        return Err(SpdyError::Version(version));
    }
    let kind = u16::from_be_bytes([head[2], head[3]]);
    let need = |name: &'static str, bytes: usize| {
        if payload.len() < bytes { Err(SpdyError::Malformed { kind: name, why: "too short" }) } else { Ok(()) }
    };
    let frame = match kind {
        SYN_STREAM => {
            need("SYN_STREAM", 10)?;
            let stream = payload.get_u32() & 0x7fff_ffff;
            // The associated stream, the priority and the slot are of no use here.
            payload.advance(6);
            Frame::SynStream { stream, fin: flags & FLAG_FIN != 0, headers: payload }
        }
        SYN_REPLY | HEADERS => {
            need("SYN_REPLY", 4)?;
            Frame::Reply { stream: payload.get_u32() & 0x7fff_ffff, fin: flags & FLAG_FIN != 0 }
        }
        RST_STREAM => {
            need("RST_STREAM", 8)?;
            Frame::Reset { stream: payload.get_u32() & 0x7fff_ffff, status: payload.get_u32() }
        }
        PING => {
            need("PING", 4)?;
            Frame::Ping { id: payload.get_u32() }
        }
        GOAWAY => Frame::GoAway,
        SETTINGS | WINDOW_UPDATE => Frame::Ignored,
        _ => Frame::Ignored,
    };
    Ok(Some(frame))
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    frame.extend_from_slice(&kind.to_be_bytes());
    frame.push(flags);
    frame.extend_from_slice(&length(payload.len()));
    frame.extend_from_slice(payload);
    frame
}

fn length(length: usize) -> [u8; 3] {
    let bytes = u32::try_from(length).unwrap_or(u32::MAX).min(0x00ff_ffff).to_be_bytes();
    [bytes[1], bytes[2], bytes[3]]
}

/// The largest DATA frame sent (data beyond it goes in several frames).
pub const MAX_DATA: usize = 32 * 1024;

/// Writes this client's frames; it holds the state of the outgoing header compression.
#[derive(Default)]
pub struct Encoder {
    zlib_started: bool,
}

impl Encoder {
    /// SYN_STREAM for `stream` (odd: client-initiated) with `headers`.
    pub fn open(&mut self, stream: u32, headers: &[(&str, &str)], fin: bool) -> Vec<u8> {
        let block = block(headers);
        let mut payload = Vec::with_capacity(10 + block.len() + 16);
        payload.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        payload.extend_from_slice(&0u32.to_be_bytes()); // no associated stream
        payload.extend_from_slice(&[0, 0]); // priority 0, slot 0
        self.stored(&block, &mut payload);
        control(SYN_STREAM, if fin { FLAG_FIN } else { 0 }, &payload)
    }

    /// SYN_REPLY accepting the peer's `stream`, with `headers`.
    pub fn reply(&mut self, stream: u32, headers: &[(&str, &str)]) -> Vec<u8> {
        let block = block(headers);
        let mut payload = Vec::with_capacity(4 + block.len() + 16);
        payload.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        self.stored(&block, &mut payload);
        control(SYN_REPLY, 0, &payload)
    }

    /// `block` as zlib stored (uncompressed) deflate blocks, continuing this direction's stream.
    fn stored(&mut self, block: &[u8], out: &mut Vec<u8>) {
        if !self.zlib_started {
            // CMF (deflate, 32 KiB window) and FLG (no dictionary, check bits).
            out.extend_from_slice(&[0x78, 0x01]);
            self.zlib_started = true;
        }
        for chunk in block.chunks(usize::from(u16::MAX)) {
            let size = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
            out.push(0x00); // not final, stored
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&(!size).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        // The sync-flush marker (an empty stored block): Go's inflater hands out a stored
        // block's bytes only when the next block begins.
        out.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
    }
}

/// An uncompressed SPDY/3 name/value block.
fn block(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    let count = u32::try_from(headers.len()).unwrap_or(0);
    block.extend_from_slice(&count.to_be_bytes());
    for (name, value) in headers {
        for text in [name.to_ascii_lowercase().as_str(), value] {
            block.extend_from_slice(&u32::try_from(text.len()).unwrap_or(0).to_be_bytes());
            block.extend_from_slice(text.as_bytes());
        }
    }
    block
}

/// The 8 bytes in front of a DATA frame of `length` bytes.
pub fn data_head(stream: u32, length: usize, fin: bool) -> [u8; 8] {
    let id = (stream & 0x7fff_ffff).to_be_bytes();
    let length = self::length(length);
    [id[0], id[1], id[2], id[3], if fin { FLAG_FIN } else { 0 }, length[0], length[1], length[2]]
}

pub fn data(stream: u32, data: &[u8], fin: bool) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + data.len());
    frame.extend_from_slice(&data_head(stream, data.len(), fin));
    frame.extend_from_slice(data);
    frame
}

pub fn ping(id: u32) -> Vec<u8> {
    control(PING, 0, &id.to_be_bytes())
}

pub fn reset(stream: u32, status: u32) -> Vec<u8> {
    let mut payload = (stream & 0x7fff_ffff).to_be_bytes().to_vec();
    payload.extend_from_slice(&status.to_be_bytes());
    control(RST_STREAM, 0, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_stored(mut zlib: &[u8]) -> Vec<u8> {
        assert_eq!(&zlib[..2], &[0x78, 0x01]);
        zlib = &zlib[2..];
        let mut out = Vec::new();
        assert_eq!(&zlib[zlib.len() - 5..], &[0, 0, 0, 0xff, 0xff], "ends with a sync flush");
        while !zlib.is_empty() {
            assert_eq!(zlib[0], 0);
            let size = usize::from(u16::from_le_bytes([zlib[1], zlib[2]]));
            assert_eq!(u16::from_le_bytes([zlib[3], zlib[4]]), !u16::try_from(size).unwrap());
            out.extend_from_slice(&zlib[5..5 + size]);
            zlib = &zlib[5 + size..];
        }
        out
    }

    #[test]
    fn syn_stream_carries_its_headers_in_a_zlib_stream() {
        let frame = Encoder::default().open(3, &[("streamType", "stdin")], false);
        assert_eq!(&frame[..4], &[0x80, 0x03, 0x00, 0x01]);
        assert_eq!(frame[4], 0);
        assert_eq!(usize::from(frame[7]) + 8, frame.len());
        assert_eq!(u32_at(&frame, 8), 3);
        let block = inflate_stored(&frame[18..]);
        let expected = [&1u32.to_be_bytes()[..], &10u32.to_be_bytes(), b"streamtype", &5u32.to_be_bytes(), b"stdin"].concat();
        assert_eq!(block, expected);
    }

    #[test]
    fn only_the_first_header_block_starts_the_zlib_stream() {
        let mut encoder = Encoder::default();
        let first = encoder.open(1, &[("a", "b")], false);
        let second = encoder.open(3, &[("a", "b")], true);
        assert_eq!(first.len(), second.len() + 2);
        assert_eq!(second[4], FLAG_FIN);
    }

    #[test]
    fn frames_come_off_the_buffer_whole() {
        let mut buffer = BytesMut::new();
        buffer.extend_from_slice(&data(5, b"hello", true));
        buffer.extend_from_slice(&ping(7));
        buffer.extend_from_slice(&reset(3, 5)[..10]);
        assert_eq!(next_frame(&mut buffer).unwrap(), Some(Frame::Data { stream: 5, fin: true, data: Bytes::from_static(b"hello") }));
        assert_eq!(next_frame(&mut buffer).unwrap(), Some(Frame::Ping { id: 7 }));
        assert_eq!(next_frame(&mut buffer).unwrap(), None, "half a frame waits for the rest");
        buffer.extend_from_slice(&reset(3, 5)[10..]);
        assert_eq!(next_frame(&mut buffer).unwrap(), Some(Frame::Reset { stream: 3, status: 5 }));
        assert!(buffer.is_empty());
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let mut wrong_version = BytesMut::from(&[0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert_eq!(next_frame(&mut wrong_version), Err(SpdyError::Version(2)));
        let mut short_ping = BytesMut::from(&[0x80, 0x03, 0x00, 0x06, 0, 0, 0, 2, 0, 0][..]);
        assert!(next_frame(&mut short_ping).is_err());
        // Random bytes: every outcome is a frame, a wait or an error.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            let mut buffer = BytesMut::new();
            for _ in 0..64 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                buffer.extend_from_slice(&seed.to_le_bytes()[..1]);
            }
            buffer[5] = 0;
            while let Ok(Some(_)) = next_frame(&mut buffer) {}
        }
    }
}
