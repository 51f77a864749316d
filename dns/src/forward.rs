//! Names outside the cluster domain go to the upstream resolvers: the client's query as it came,
//! over UDP from a fresh socket (a random source port per query), again over TCP when the answer
//! was truncated, each upstream in turn within one short budget. When none answers in time the
//! client gets SERVFAIL well before its own timeout (glibc waits 5 s), never silence.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_server::proto::op::{Message, MessageType, Query};
use hickory_server::proto::rr::{Name, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::metrics::Metrics;

/// All upstreams together get this long to answer one query.
pub const BUDGET: Duration = Duration::from_secs(2);
/// Queries waiting on upstreams at once; past that, new ones fail at once rather than pile up
/// sockets (each holds one).
const MAX_IN_FLIGHT: usize = 1000;
/// The largest DNS message (a TCP frame's length is 16 bits).
const MAX_MESSAGE: usize = 65535;

#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("no answer in time")]
    Timeout,
    #[error("query too large for TCP")]
    TooLarge,
}

impl From<tokio::time::error::Elapsed> for ExchangeError {
    fn from(_: tokio::time::error::Elapsed) -> Self {
        Self::Timeout
    }
}

pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    budget: Duration,
    in_flight: Semaphore,
    metrics: Arc<Metrics>,
}

impl Forwarder {
    pub fn new(upstreams: Vec<SocketAddr>, budget: Duration, metrics: Arc<Metrics>) -> Self {
        Self { upstreams, budget, in_flight: Semaphore::new(MAX_IN_FLIGHT), metrics }
    }

    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// Sends the client's query (its bytes as received) upstream and returns the first answer
    /// that matches it; None when no upstream answered within the budget.
    pub async fn forward(&self, query: &[u8], id: u16) -> Option<Message> {
        let Ok(_permit) = self.in_flight.try_acquire() else {
            tracing::debug!("too many queries waiting on upstreams; failing this one");
            self.metrics.forwarded(false);
            return None;
        };
        let answer = self.exchange(query, id).await;
        self.metrics.forwarded(answer.is_some());
        answer
    }

    /// Asks the upstreams for `name`'s records of `query_type` (for an ExternalName's target);
    /// None when none answered.
    pub async fn resolve(&self, name: &Name, query_type: RecordType) -> Option<Vec<Record>> {
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(name.clone(), query_type));
        let bytes = message.to_vec().ok()?;
        let answer = self.forward(&bytes, message.metadata.id).await?;
        Some(answer.answers)
    }

    async fn exchange(&self, query: &[u8], id: u16) -> Option<Message> {
        let deadline = Instant::now() + self.budget;
        for (tried, upstream) in self.upstreams.iter().enumerate() {
            // Each upstream left gets an equal share of what remains, so that a silent first one
            // cannot use up the time of the others.
            let left = u32::try_from(self.upstreams.len() - tried).unwrap_or(1);
            let until = Instant::now() + deadline.saturating_duration_since(Instant::now()) / left;
            match exchange_udp(*upstream, query, id, until).await {
                Ok(answer) if answer.metadata.truncation => match exchange_tcp(*upstream, query, id, deadline).await {
                    Ok(full) => return Some(full),
                    Err(err) => {
                        tracing::debug!(%upstream, "upstream truncated its answer and TCP failed: {err}");
                        return Some(answer);
                    }
                },
                Ok(answer) => return Some(answer),
                Err(err) => tracing::debug!(%upstream, "upstream did not answer: {err}"),
            }
        }
        None
    }
}

async fn exchange_udp(upstream: SocketAddr, query: &[u8], id: u16, until: Instant) -> Result<Message, ExchangeError> {
    let local: SocketAddr = if upstream.is_ipv4() { (std::net::Ipv4Addr::UNSPECIFIED, 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(local).await?;
    // Connected, so that only the upstream's datagrams arrive, and a closed port fails at once
    // (ICMP port unreachable) instead of waiting out the budget.
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buffer = vec![0; MAX_MESSAGE];
    loop {
        let size = tokio::time::timeout_at(until, socket.recv(&mut buffer)).await??;
        if let Some(answer) = matching_answer(&buffer[..size], id) {
            return Ok(answer);
        }
    }
}

async fn exchange_tcp(upstream: SocketAddr, query: &[u8], id: u16, until: Instant) -> Result<Message, ExchangeError> {
    let length = u16::try_from(query.len()).map_err(|_| ExchangeError::TooLarge)?;
    let mut stream = tokio::time::timeout_at(until, TcpStream::connect(upstream)).await??;
    let mut frame = Vec::with_capacity(query.len() + 2);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(query);
    tokio::time::timeout_at(until, stream.write_all(&frame)).await??;
    loop {
        let size = tokio::time::timeout_at(until, stream.read_u16()).await??;
        let mut buffer = vec![0; usize::from(size)];
        tokio::time::timeout_at(until, stream.read_exact(&mut buffer)).await??;
        if let Some(answer) = matching_answer(&buffer, id) {
            return Ok(answer);
        }
    }
}

/// The message if it is a response to our query (anything else on the socket is ignored).
fn matching_answer(bytes: &[u8], id: u16) -> Option<Message> {
    let message = Message::from_vec(bytes).ok()?;
    (message.metadata.id == id && message.metadata.message_type == MessageType::Response).then_some(message)
}

/// `ip` or `ip:port` (`[v6]:port` for IPv6), port 53 when not given.
pub fn parse_upstream(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let bare = text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(text);
    bare.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)).map_err(|_| format!("{text:?} is not an address (ip or ip:port)"))
}

/// The `nameserver` lines of a resolv.conf, less any that would be this server itself (a
/// loopback address on the port we listen on, when we listen on loopback or every address).
pub fn upstreams_from_resolv_conf(text: &str, listen: SocketAddr) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next()).flatten()
        })
        .filter_map(|address| parse_upstream(address).ok())
        .filter(|upstream| !is_ourselves(*upstream, listen))
        .collect()
}

fn is_ourselves(upstream: SocketAddr, listen: SocketAddr) -> bool {
    upstream == listen || (upstream.port() == listen.port() && upstream.ip().is_loopback() && (listen.ip().is_unspecified() || listen.ip().is_loopback()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_server::proto::op::ResponseCode;
    use hickory_server::proto::rr::RData;
    use hickory_server::proto::rr::rdata::A;

    /// The answer a fake upstream gives: the question back with one A record, truncated (and
    /// without the record) when `truncated`.
    fn answer_to(query: &[u8], truncated: bool) -> Vec<u8> {
        let query = Message::from_vec(query).unwrap();
        let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
        answer.metadata.recursion_available = true;
        answer.metadata.truncation = truncated;
        if let Some(question) = query.queries.first() {
            answer.add_query(question.clone());
            if !truncated {
                answer.add_answer(Record::from_rdata(question.name().clone(), 30, RData::A(A::new(192, 0, 2, 7))));
            }
        }
        answer.to_vec().unwrap()
    }

    /// A loopback upstream on one port: UDP answers (truncated when `truncate_udp`), TCP answers
    /// in full. First it sends a stray datagram with the wrong id, which must be ignored.
    async fn fake_upstream(truncate_udp: bool) -> (SocketAddr, tokio::task::JoinSet<()>) {
        // The port the system picks for UDP may be taken for TCP (by any connection on the
        // machine); then another is tried.
        let mut attempts = 0;
        let (udp, tcp, address) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let address = udp.local_addr().unwrap();
            match tokio::net::TcpListener::bind(address).await {
                Ok(tcp) => break (udp, tcp, address),
                Err(_) if attempts < 50 => attempts += 1,
                Err(err) => panic!("no port free for both UDP and TCP: {err}"),
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(async move {
            let mut buffer = vec![0; MAX_MESSAGE];
            while let Ok((size, from)) = udp.recv_from(&mut buffer).await {
                let mut stray = answer_to(&buffer[..size], false);
                stray[0] ^= 0xff;
                let _ = udp.send_to(&stray, from).await;
                let _ = udp.send_to(&answer_to(&buffer[..size], truncate_udp), from).await;
            }
        });
        tasks.spawn(async move {
            while let Ok((mut stream, _)) = tcp.accept().await {
                let Ok(length) = stream.read_u16().await else { continue };
                let mut query = vec![0; usize::from(length)];
                if stream.read_exact(&mut query).await.is_err() {
                    continue;
                }
                let answer = answer_to(&query, false);
                let mut frame = u16::try_from(answer.len()).unwrap().to_be_bytes().to_vec();
                frame.extend(answer);
                let _ = stream.write_all(&frame).await;
            }
        });
        (address, tasks)
    }

    async fn ask(forwarder: &Forwarder) -> (Option<Message>, Duration) {
        let mut query = Message::query();
        query.add_query(Query::query(Name::from_ascii("example.com.").unwrap(), RecordType::A));
        let started = std::time::Instant::now();
        let answer = forwarder.forward(&query.to_vec().unwrap(), query.metadata.id).await;
        (answer, started.elapsed())
    }

    fn address_of(answer: &Message) -> Vec<String> {
        answer.answers.iter().map(|r| r.data.to_string()).collect()
    }

    #[tokio::test]
    async fn an_answering_upstream_is_relayed() {
        let (upstream, _tasks) = fake_upstream(false).await;
        let forwarder = Forwarder::new(vec![upstream], BUDGET, Arc::default());
        let (answer, _) = ask(&forwarder).await;
        let answer = answer.unwrap();
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
        assert_eq!(address_of(&answer), ["192.0.2.7"]);
    }

    #[tokio::test]
    async fn a_truncated_answer_is_asked_again_over_tcp() {
        let (upstream, _tasks) = fake_upstream(true).await;
        let forwarder = Forwarder::new(vec![upstream], BUDGET, Arc::default());
        let answer = ask(&forwarder).await.0.unwrap();
        assert!(!answer.metadata.truncation);
        assert_eq!(address_of(&answer), ["192.0.2.7"]);
    }

    #[tokio::test]
    async fn a_silent_upstream_leaves_time_for_the_next_and_all_silent_fail_within_the_budget() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (upstream, _tasks) = fake_upstream(false).await;
        let budget = Duration::from_millis(600);
        let forwarder = Forwarder::new(vec![silent.local_addr().unwrap(), upstream], budget, Arc::default());
        let (answer, took) = ask(&forwarder).await;
        assert_eq!(address_of(&answer.unwrap()), ["192.0.2.7"]);
        assert!(took < budget, "{took:?}");

        let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let forwarder = Forwarder::new(vec![silent.local_addr().unwrap(), other.local_addr().unwrap()], budget, Arc::default());
        let (answer, took) = ask(&forwarder).await;
        assert!(answer.is_none());
        assert!(took >= budget && took < budget * 2, "{took:?}");
    }

    #[tokio::test]
    async fn a_closed_port_fails_at_once_and_no_upstream_fails_at_once() {
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let forwarder = Forwarder::new(vec![closed], Duration::from_secs(10), Arc::default());
        let (answer, took) = ask(&forwarder).await;
        assert!(answer.is_none());
        assert!(took < Duration::from_secs(5), "{took:?}");
        let none = Forwarder::new(Vec::new(), BUDGET, Arc::default());
        assert!(ask(&none).await.0.is_none());
    }

    #[test]
    fn upstreams_parse_with_and_without_port() {
        assert_eq!(parse_upstream("10.0.0.2"), Ok("10.0.0.2:53".parse().unwrap()));
        assert_eq!(parse_upstream("10.0.0.2:5353"), Ok("10.0.0.2:5353".parse().unwrap()));
        assert_eq!(parse_upstream("fd00::1"), Ok("[fd00::1]:53".parse().unwrap()));
        assert_eq!(parse_upstream("[fd00::1]"), Ok("[fd00::1]:53".parse().unwrap()));
        assert_eq!(parse_upstream("[fd00::1]:54"), Ok("[fd00::1]:54".parse().unwrap()));
        assert!(parse_upstream("dns.example").is_err());
        assert!(parse_upstream("").is_err());
    }

    #[test]
    fn resolv_conf_nameservers_less_ourselves() {
        let text = "# generated\nsearch default.svc.cluster.local\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nnameserver fd00::2\nnameserver bogus\noptions ndots:5\n";
        let listen_all: SocketAddr = "0.0.0.0:53".parse().unwrap();
        assert_eq!(upstreams_from_resolv_conf(text, listen_all), ["10.0.0.2:53".parse().unwrap(), "[fd00::2]:53".parse().unwrap()] as [SocketAddr; 2]);
        // On another port, a local resolver on port 53 is not us.
        let listen_other: SocketAddr = "0.0.0.0:1053".parse().unwrap();
        assert_eq!(upstreams_from_resolv_conf(text, listen_other).len(), 4);
        // Listening on one outside address, loopback resolvers are someone else.
        let listen_one: SocketAddr = "10.0.0.9:53".parse().unwrap();
        assert_eq!(upstreams_from_resolv_conf(text, listen_one).len(), 4);
    }
}
