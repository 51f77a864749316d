//! Answers the index has given, kept to be given again: a query whose bytes, less the ID and
//! with the name in lower case, match one already answered from the current index gets that
//! answer's bytes with its own ID and question copied in, without parsing, building or encoding
//! a message. The names a cluster asks for are few and asked again and again.

use std::collections::HashMap;
use std::sync::RwLock;

use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::{Record, RecordType};
use hickory_server::proto::serialize::binary::BinEncoder;
use hickory_server::server::ResponseInfo;
use hickory_server::zone_handler::MessageResponse;

/// Answers kept per index: a bound on what random names can make the server hold (each entry is
/// at most a 512-byte query and an answer of the size the query allows).
const MAX_REPLAYS: usize = 4_096;
/// The largest query whose answer is kept: what a resolver sends is far smaller.
const MAX_REPLAYED_QUERY: usize = 512;
/// The fixed header of a DNS message.
pub const HEADER: usize = 12;

/// A stored answer: its bytes, and what the metrics count it as.
struct Replay {
    bytes: Box<[u8]>,
    query_type: RecordType,
    rcode: ResponseCode,
}

/// Answers the index has given, keyed by their queries (`replay_key`); they belong to one index
/// and go with it.
#[derive(Default)]
pub struct Replays {
    answers: RwLock<HashMap<Box<[u8]>, Replay>>,
}

impl Replays {
    /// Writes the stored answer to `query` into `out`, and says what it answered; None when
    /// there is none.
    pub fn answer(&self, query: &[u8], key: &mut Vec<u8>, out: &mut Vec<u8>) -> Option<(RecordType, ResponseCode)> {
        let question = replay_key(query, key)?;
        let answers = self.answers.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let replay = answers.get(key.as_slice()).filter(|replay| replay.bytes.len() >= HEADER + question)?;
        out.clear();
        out.extend_from_slice(&replay.bytes);
        // The ID, and the question as the client spelt it (a resolver using 0x20 case
        // randomisation checks it); the stored answer's question has the same length.
        out[..2].copy_from_slice(&query[..2]);
        out[HEADER..HEADER + question].copy_from_slice(&query[HEADER..HEADER + question]);
        Some((replay.query_type, replay.rcode))
    }

    /// Keeps `answer` for queries like `query`, when `query` may be replayed and there is room.
    pub fn store(&self, query: &[u8], answer: &[u8], query_type: RecordType, rcode: ResponseCode) {
        let mut key = Vec::new();
        if replay_key(query, &mut key).is_none() {
            return;
        }
        let mut answers = self.answers.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if answers.len() < MAX_REPLAYS {
            answers.insert(key.into(), Replay { bytes: answer.into(), query_type, rcode });
        }
    }
}

/// For a query that may be replayed (a query with one question and no answer or authority
/// records, of at most 512 bytes), its key written into `key` and its question's length; None
/// for anything else, which then takes the parsing path. The key is the message less its ID,
/// with the question's name in lower case: everything an answer depends on but the index. What
/// follows the question (EDNS's OPT record, say) is in it as sent.
fn replay_key(query: &[u8], key: &mut Vec<u8>) -> Option<usize> {
    if query.len() > MAX_REPLAYED_QUERY {
        return None;
    }
    let header = query.get(..HEADER)?;
    // QR clear and opcode QUERY; one question; no answer or authority records.
    if header[2] & 0xf8 != 0 || header[4..10] != [0, 1, 0, 0, 0, 0] {
        return None;
    }
    key.clear();
    key.extend_from_slice(&header[2..]);
    let mut at = HEADER;
    loop {
        let length = usize::from(*query.get(at)?);
        // A compression pointer or a reserved label type has no place in the first name.
        if length >= 64 || at - HEADER + length >= 255 {
            return None;
        }
        let label = query.get(at..=at + length)?;
        key.extend(label.iter().map(u8::to_ascii_lowercase));
        at += length + 1;
        if length == 0 {
            break;
        }
    }
    // The type and class.
    let question = at + 4 - HEADER;
    key.extend_from_slice(query.get(at..)?);
    (query.len() >= HEADER + question).then_some(question)
}

/// A UDP answer's bytes: at most the payload the query's EDNS announces, 512 without it
/// (RFC 1035 4.2.1); records that do not fit set the TC bit.
pub fn encode<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> Result<(ResponseInfo, Vec<u8>), hickory_server::proto::ProtoError> {
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(response.edns().map_or(512, |edns| edns.max_payload()));
    let info = response.destructive_emit(&mut encoder)?;
    Ok((info, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], flags: [u8; 2]) -> Vec<u8> {
        let mut bytes = vec![0x12, 0x34, flags[0], flags[1], 0, 1, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(&[0, 1, 0, 1]);
        bytes
    }

    #[test]
    fn queries_are_keyed_without_their_id_and_case_and_odd_ones_are_not_keyed() {
        let mut key = Vec::new();
        let upper = query(b"\x03WeB\x07default\x00", [1, 0]);
        assert_eq!(replay_key(&upper, &mut key), Some(upper.len() - HEADER));
        let first = key.clone();
        assert_eq!(replay_key(&query(b"\x03web\x07DEFAULT\x00", [1, 0]), &mut key), Some(upper.len() - HEADER));
        assert_eq!(key, first, "the name's case is not part of the key");
        assert_eq!(replay_key(&query(b"\x03web\x07default\x00", [0, 0]), &mut key), Some(upper.len() - HEADER));
        assert_ne!(key, first, "the flags are");

        let mut other_id = upper.clone();
        other_id[..2].copy_from_slice(&[9, 9]);
        assert_eq!(replay_key(&other_id, &mut key), Some(upper.len() - HEADER));
        assert_eq!(key, first, "nor is the ID");
        let mut with_edns = upper.clone();
        with_edns[11] = 1;
        with_edns.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
        assert_eq!(replay_key(&with_edns, &mut key), Some(upper.len() - HEADER));
        assert!(key.ends_with(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]), "what follows the question is");

        let mut response = upper.clone();
        response[2] |= 0x80;
        let mut with_answer = upper.clone();
        with_answer[7] = 1;
        let mut long = upper.clone();
        long.resize(MAX_REPLAYED_QUERY + 1, 0);
        let refused = [
            ("a response", response),
            ("an answer record", with_answer),
            ("more than 512 bytes", long),
            ("a compression pointer", query(b"\xc0\x0c", [1, 0])),
            ("no type and class", upper[..upper.len() - 4].to_vec()),
            ("a name cut short", upper[..HEADER + 3].to_vec()),
            ("a header alone", upper[..HEADER].to_vec()),
            ("less than a header", upper[..5].to_vec()),
            ("a name over 255 bytes", query(&[b"\x3f".as_slice(), &[b'a'; 63]].concat().repeat(5), [1, 0])),
        ];
        for (what, bytes) in refused {
            assert_eq!(replay_key(&bytes, &mut key), None, "{what}");
        }
    }

    #[test]
    fn a_stored_answer_is_replayed_with_the_querys_id_and_spelling() {
        let replays = Replays::default();
        let asked = query(b"\x03web\x00", [1, 0]);
        let mut answer = asked.clone();
        answer[2] |= 0x80;
        answer.extend_from_slice(b"the records");
        replays.store(&asked, &answer, RecordType::A, ResponseCode::NoError);

        let mut again = query(b"\x03WEB\x00", [1, 0]);
        again[..2].copy_from_slice(&[0xab, 0xcd]);
        let (mut key, mut out) = (Vec::new(), Vec::new());
        assert_eq!(replays.answer(&again, &mut key, &mut out), Some((RecordType::A, ResponseCode::NoError)));
        assert_eq!(out[..2], [0xab, 0xcd]);
        assert_eq!(&out[HEADER..HEADER + 5], b"\x03WEB\x00");
        assert!(out.ends_with(b"the records"));
        assert_eq!(replays.answer(&query(b"\x03web\x00", [0, 0]), &mut key, &mut out), None, "other flags, another answer");
    }
}
