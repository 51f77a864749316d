//! The request handler behind the UDP listener (`udp`) and hickory's TCP one: one query per
//! message, answered from the current index or forwarded upstream. hickory parses and frames the
//! messages (a packet it cannot read gets FORMERR or nothing); this handler never panics on what a
//! client sends. Answers from the index to plain UDP queries are kept for the UDP listener to
//! replay.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, Message, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::{DNSClass, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use crate::forward::Forwarder;
use crate::index::{Answer, Index, Lookup};
use crate::metrics::Metrics;
use crate::replay::{self, Replays};

/// The index in force; a rebuild swaps in a new one whole, so a query sees one consistent index.
/// Ready once the first index built from the listed Services and Endpoints is in.
pub struct Zone {
    index: RwLock<Arc<Served>>,
    ready: tokio::sync::watch::Sender<bool>,
}

/// An index, and the answers given from it that the UDP listener replays: they go with it, so
/// that no answer outlives the records it was made from.
pub struct Served {
    pub index: Index,
    pub replays: Replays,
}

impl Served {
    fn new(index: Index) -> Self {
        Self { index, replays: Replays::default() }
    }
}

impl Zone {
    /// A zone serving `index` (an empty one, before the first list), not ready yet.
    pub fn new(index: Index) -> Self {
        Self { index: RwLock::new(Arc::new(Served::new(index))), ready: tokio::sync::watch::Sender::new(false) }
    }

    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Whether the zone is ready, or becomes so within `limit`.
    pub async fn ready_within(&self, limit: Duration) -> bool {
        let mut ready = self.ready.subscribe();
        tokio::time::timeout(limit, ready.wait_for(|ready| *ready)).await.is_ok_and(|seen| seen.is_ok())
    }

    pub fn current(&self) -> Arc<Served> {
        // A panicking writer cannot leave a half-made index behind (the swap is one assignment).
        self.index.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Puts a rebuilt index in force, and marks the zone ready.
    pub fn replace(&self, index: Index) {
        *self.index.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Served::new(index));
        self.ready.send_if_modified(|ready| !std::mem::replace(ready, true));
    }
}

#[derive(Clone)]
pub struct Handler {
    pub zone: Arc<Zone>,
    pub forwarder: Arc<Forwarder>,
    pub metrics: Arc<Metrics>,
}

/// What goes back to the client.
struct Reply {
    rcode: ResponseCode,
    authoritative: bool,
    truncated: bool,
    answers: Vec<Record>,
    authorities: Vec<Record>,
    additionals: Vec<Record>,
}

impl Reply {
    fn error(rcode: ResponseCode) -> Self {
        Self { rcode, authoritative: false, truncated: false, answers: Vec::new(), authorities: Vec::new(), additionals: Vec::new() }
    }

    fn authoritative(answer: Answer) -> Self {
        Self {
            rcode: answer.rcode,
            authoritative: true,
            truncated: false,
            answers: answer.answers,
            authorities: answer.authorities,
            additionals: answer.additionals,
        }
    }

    fn forwarded(message: Message) -> Self {
        Self {
            rcode: message.metadata.response_code,
            authoritative: false,
            truncated: message.metadata.truncation,
            answers: message.answers,
            authorities: message.authorities,
            additionals: message.additionals,
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response_handle: R) -> ResponseInfo {
        let started = Instant::now();
        let query_type = request.queries.queries().first().map(|query| query.query_type());
        let (reply, replayable) = self.reply(request).await;
        // Clients that speak EDNS get answers up to the size they announce over UDP, not 512.
        let edns = request.edns.as_ref().map(|asked| {
            let mut ours = Edns::new();
            ours.set_max_payload(asked.max_payload().max(512));
            ours
        });
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = reply.rcode;
        metadata.authoritative = reply.authoritative;
        metadata.truncation = reply.truncated;
        metadata.recursion_available = true;
        let response = || {
            MessageResponseBuilder::new(&request.queries, edns.as_ref()).build(
                metadata,
                reply.answers.iter(),
                reply.authorities.iter(),
                std::iter::empty(),
                reply.additionals.iter(),
            )
        };
        // Kept for the UDP listener when the answer is the index's alone (`Replays::store` checks
        // the query); a truncated answer is not kept, so that the client's retry over TCP is what
        // gets the records.
        if let Some(served) = replayable
            && request.protocol() == Protocol::Udp
            && let (Some(query_type), Ok((info, bytes))) = (query_type, replay::encode(response()))
            && !info.truncation
        {
            served.replays.store(request.as_slice(), &bytes, query_type, info.response_code);
        }
        let info = match response_handle.send_response(response()).await {
            Ok(info) => info,
            Err(err) => {
                tracing::debug!(src = %request.src(), "cannot send the answer: {err}");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() })
            }
        };
        self.metrics.answered(query_type, info.response_code, started.elapsed());
        info
    }
}

impl Handler {
    /// The reply, and the index it came from when it came from the index alone.
    async fn reply(&self, request: &Request) -> (Reply, Option<Arc<Served>>) {
        if request.metadata.op_code != OpCode::Query {
            return (Reply::error(ResponseCode::NotImp), None);
        }
        // One question per message, as every resolver sends (RFC 9619).
        let Ok(info) = request.request_info() else { return (Reply::error(ResponseCode::FormErr), None) };
        let query = info.query;
        let served = self.zone.current();
        let lookup = if query.query_class() == DNSClass::IN || query.query_class() == DNSClass::ANY {
            served.index.lookup(query.name(), query.query_type())
        } else {
            Lookup::Forward
        };
        let reply = match lookup {
            Lookup::Answer(answer) if answer.follow.is_none() => return (Reply::authoritative(answer), Some(served)),
            Lookup::Answer(answer) => {
                let follow = answer.follow.clone();
                let mut reply = Reply::authoritative(answer);
                if let Some(target) = follow {
                    // An ExternalName outside the domain: add the target's addresses when an
                    // upstream has them; the CNAME alone is still a correct answer.
                    if let Some(records) = self.forwarder.resolve(&target, query.query_type()).await {
                        reply.answers.extend(records.into_iter().filter(|r| matches!(r.record_type(), RecordType::A | RecordType::AAAA | RecordType::CNAME)));
                    }
                }
                reply
            }
            Lookup::Forward => match self.forwarder.forward(request.as_slice(), request.metadata.id).await {
                Some(message) => Reply::forwarded(message),
                None => Reply::error(ResponseCode::ServFail),
            },
        };
        (reply, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readiness_can_be_waited_for() {
        let domain = hickory_server::proto::rr::Name::from_ascii("cluster.local.").unwrap();
        let zone = Arc::new(Zone::new(Index::empty(&domain, 30)));
        assert!(!zone.ready_within(Duration::from_millis(10)).await, "nothing listed yet");
        let waiting = tokio::spawn({
            let zone = zone.clone();
            async move { zone.ready_within(Duration::from_secs(60)).await }
        });
        zone.replace(Index::empty(&domain, 30));
        assert!(waiting.await.unwrap(), "the wait ends with the first index");
        assert!(zone.is_ready() && zone.ready_within(Duration::ZERO).await);
    }
}
