//! The UDP listener: a query answered before from the current index is answered again from
//! the stored bytes (`replay`); everything else goes through hickory's parser and the
//! `server::Handler`, as in hickory's own server, which stores the answers that may be replayed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, MessageType, ResponseCode};
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};
use tokio::net::UdpSocket;

use crate::replay::{self, HEADER};
use crate::server::{Handler, Zone};

/// The largest datagram read: EDNS allows up to 65,535 bytes, though resolvers send far less.
const DATAGRAM: usize = 65_535;

/// Answers queries on `socket` until the task is dropped.
pub async fn serve(socket: Arc<UdpSocket>, zone: Arc<Zone>, handler: Arc<Handler>) {
    let mut buffer = vec![0; DATAGRAM];
    let mut key = Vec::with_capacity(HEADER + 260);
    let mut out = Vec::with_capacity(512);
    loop {
        let (size, source) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            // An ICMP error from an earlier answer's destination, reported on this socket.
            Err(err) => {
                tracing::debug!("receiving a query: {err}");
                continue;
            }
        };
        let started = Instant::now();
        let query = &buffer[..size];
        if let Some((query_type, rcode)) = zone.current().replays.answer(query, &mut key, &mut out) {
            if let Err(err) = socket.send_to(&out, source).await {
                tracing::debug!(%source, "cannot send the answer: {err}");
            }
            handler.metrics.answered(Some(query_type), rcode, started.elapsed());
            continue;
        }
        let query = query.to_vec();
        let (socket, handler) = (socket.clone(), handler.clone());
        tokio::spawn(async move { parse_and_answer(query, source, socket, &handler).await });
    }
}

/// The path of every query that has no stored answer: hickory parses it, and the handler
/// answers, as hickory's own server would.
async fn parse_and_answer(query: Vec<u8>, source: SocketAddr, socket: Arc<UdpSocket>, handler: &Handler) {
    let reply = Reply { socket, destination: source };
    match Request::from_bytes(query.clone(), source, Protocol::Udp) {
        // Responses sent to a server are never answered: that would make it a reflector.
        Ok(request) if request.metadata.message_type == MessageType::Response => {}
        Ok(request) => {
            handler.handle_request::<_, TokioTime>(&request, reply).await;
        }
        // Shorter than a header: nothing to answer. Otherwise FORMERR, with no question.
        Err(err) => {
            let mut decoder = BinDecoder::new(&query);
            let Ok(header) = Header::read(&mut decoder) else { return };
            if header.metadata.message_type == MessageType::Response {
                return;
            }
            tracing::debug!(%source, "an unreadable query: {err}");
            let Ok(queries) = Queries::read(&mut BinDecoder::new(&[]), 0) else { return };
            let response = MessageResponseBuilder::new(&queries, None).error_msg(&header.metadata, ResponseCode::FormErr);
            let mut reply = reply;
            let _ = reply.send_response(response).await;
        }
    }
}

/// Encodes an answer as hickory's UDP handle does (up to the size the query's EDNS allows, 512
/// bytes without it; a message that does not fit is truncated) and sends it.
#[derive(Clone)]
pub struct Reply {
    socket: Arc<UdpSocket>,
    destination: SocketAddr,
}

#[async_trait::async_trait]
impl ResponseHandler for Reply {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, hickory_server::net::NetError> {
        let (info, bytes) = replay::encode(response)?;
        self.socket.send_to(&bytes, self.destination).await?;
        Ok(info)
    }
}

