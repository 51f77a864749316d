//! SPDY/3 header blocks as a client compresses them: one zlib stream per direction per
//! connection, primed with the dictionary of the SPDY/3 draft (section 2.6.10.1), each block
//! ending in a sync flush. kubectl's (Go's) blocks are real deflate with back-references into
//! that dictionary, so reading them takes an inflater that keeps its window across blocks.

use std::sync::LazyLock;

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

/// The length-prefixed words at the head of the SPDY/3 dictionary.
const WORDS: [&str; 65] = [
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding", "accept-language",
    "accept-ranges", "age", "allow", "authorization", "cache-control", "connection", "content-base", "content-encoding",
    "content-language", "content-length", "content-location", "content-md5", "content-range", "content-type", "date", "etag",
    "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
    "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
    "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie",
    "keep-alive", "origin",
];

/// The dictionary's tail: status codes and phrases, dates and common values, unprefixed.
const TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized",
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable",
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,",
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
);

static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut dictionary = Vec::with_capacity(1423);
    for word in WORDS {
        dictionary.extend_from_slice(&u32::try_from(word.len()).unwrap_or_default().to_be_bytes());
        dictionary.extend_from_slice(word.as_bytes());
    }
    dictionary.extend_from_slice(TAIL.as_bytes());
    dictionary
});

/// Deflate's window: back-references reach at most this far, into earlier blocks or the
/// dictionary in front of them.
const WINDOW: usize = 32 * 1024;
/// The most a connection's header blocks may inflate to, each: a block beyond it is refused
/// rather than buffered (the headers port-forward reads are a few dozen bytes).
const MAX_BLOCK: usize = 64 * 1024;
/// At most this many name/value pairs in a block.
const MAX_PAIRS: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("the header block's zlib stream is not one: {0}")]
    Zlib(&'static str),
    #[error("the header block's zlib stream asks for dictionary {0:#010x}, not SPDY/3's")]
    Dictionary(u32),
    #[error("a header block inflates to more than {MAX_BLOCK} bytes")]
    TooLarge,
    #[error("malformed header block: {0}")]
    Malformed(&'static str),
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    b << 16 | a
}

/// One direction's header decompression.
pub struct Inflater {
    state: Box<DecompressorOxide>,
    /// The ring buffer deflate's back-references read from, the dictionary at its start.
    window: Vec<u8>,
    position: usize,
    /// The zlib header's bytes until it is whole (2, or 6 with a dictionary id).
    header: Option<Vec<u8>>,
}

impl Default for Inflater {
    fn default() -> Self {
        let mut window = vec![0u8; WINDOW];
        window[..DICTIONARY.len()].copy_from_slice(&DICTIONARY);
        Self { state: Box::default(), window, position: DICTIONARY.len(), header: Some(Vec::new()) }
    }
}

impl Inflater {
    /// The bytes of one header block (a frame's compressed part).
    pub fn inflate(&mut self, mut input: &[u8]) -> Result<Vec<u8>, HeaderError> {
        if let Some(header) = &mut self.header {
            while header.len() < 2 || (header[1] & 0x20 != 0 && header.len() < 6) {
                let Some((&byte, rest)) = input.split_first() else { return Ok(Vec::new()) };
                header.push(byte);
                input = rest;
            }
            let (cmf, flg) = (header[0], header[1]);
            if cmf & 0x0f != 8 || cmf >> 4 > 7 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
                return Err(HeaderError::Zlib("bad zlib header"));
            }
            if flg & 0x20 != 0 {
                let id = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
                if id != adler32(&DICTIONARY) {
                    return Err(HeaderError::Dictionary(id));
                }
            }
            self.header = None;
        }
        let mut out = Vec::new();
        loop {
            let (status, read, written) = decompress(&mut self.state, input, &mut self.window, self.position, inflate_flags::TINFL_FLAG_HAS_MORE_INPUT);
            // Within the window and the input by the inflater's contract; checked all the same,
            // as the bytes are a client's.
            let produced = self.window.get(self.position..self.position + written).ok_or(HeaderError::Zlib("inflater overran its window"))?;
            out.extend_from_slice(produced);
            self.position = (self.position + written) & (WINDOW - 1);
            input = input.get(read..).unwrap_or_default();
            if out.len() > MAX_BLOCK {
                return Err(HeaderError::TooLarge);
            }
            match status {
                // The window's end was reached: go on from its start.
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput | TINFLStatus::Done => return Ok(out),
                _ => return Err(HeaderError::Zlib("corrupt deflate data")),
            }
        }
    }
}

/// The name/value pairs of an inflated SPDY/3 block; a value holding NULs is several values.
pub fn pairs(mut block: &[u8]) -> Result<Vec<(String, String)>, HeaderError> {
    fn take<'a>(block: &mut &'a [u8], length: usize) -> Result<&'a [u8], HeaderError> {
        if block.len() < length {
            return Err(HeaderError::Malformed("shorter than its lengths say"));
        }
        let (head, rest) = block.split_at(length);
        *block = rest;
        Ok(head)
    }
    fn length(block: &mut &[u8]) -> Result<usize, HeaderError> {
        let bytes = take(block, 4)?;
        usize::try_from(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])).map_err(|_| HeaderError::Malformed("length"))
    }
    let count = length(&mut block)?;
    if count > MAX_PAIRS {
        return Err(HeaderError::Malformed("too many headers"));
    }
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        let name = length(&mut block)?;
        let name = String::from_utf8_lossy(take(&mut block, name)?).to_ascii_lowercase();
        let value = length(&mut block)?;
        for value in take(&mut block, value)?.split(|&byte| byte == 0) {
            pairs.push((name.clone(), String::from_utf8_lossy(value).into_owned()));
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap()).collect()
    }

    #[test]
    fn the_dictionary_is_spdy_3s() {
        // The id every SPDY/3 peer writes in its zlib header (the dictionary's Adler-32).
        assert_eq!(DICTIONARY.len(), 1423);
        assert_eq!(adler32(&DICTIONARY), 0xe3c6_a7c2);
    }

    #[test]
    fn blocks_compressed_against_the_dictionary_and_each_other_inflate() {
        // Two of kubectl's port-forward blocks in a row, from zlib level 9 with the SPDY/3
        // dictionary and a sync flush after each (Python's zlib with zdict, as Go's writes).
        let first = hex("78f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45e01c6061606100a4398b20d198094ade8c0600000000ffff");
        let second = hex("c2aa19540e2512d60b000000ffff");
        let mut inflater = Inflater::default();
        // The zlib header may come split across reads too.
        assert_eq!(inflater.inflate(&first[..1]).unwrap(), Vec::<u8>::new());
        let block = inflater.inflate(&first[1..]).unwrap();
        let expect = |kind: &str| vec![("streamtype".to_string(), kind.to_string()), ("port".into(), "8080".into()), ("requestid".into(), "0".into())];
        assert_eq!(pairs(&block).unwrap(), expect("error"));
        // The second block refers back into the first: only the same inflater reads it.
        assert_eq!(pairs(&inflater.inflate(&second).unwrap()).unwrap(), expect("data"));
        assert!(Inflater::default().inflate(&second).is_err());
    }

    #[test]
    fn a_foreign_dictionary_or_garbage_is_an_error() {
        let mut other = hex("78f9e3c6a7c2");
        other[5] ^= 1;
        assert!(matches!(Inflater::default().inflate(&other), Err(HeaderError::Dictionary(_))));
        assert!(Inflater::default().inflate(&[0x78, 0x01, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(pairs(&[0, 0, 0, 1, 0, 0, 0, 9, b'x']).is_err());
        assert!(pairs(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn nul_separated_values_are_several() {
        let block = [&1u32.to_be_bytes()[..], &4u32.to_be_bytes(), b"Port", &9u32.to_be_bytes(), b"8080\x009090"].concat();
        assert_eq!(pairs(&block).unwrap(), [("port".to_string(), "8080".to_string()), ("port".into(), "9090".into())]);
    }
}
