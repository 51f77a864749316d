//! The harness the DNS tests and the benchmark share: a real apiserver, objects written to it over
//! HTTP (no controller runs, so the tests write Endpoints themselves), the real `dns` binary on
//! free loopback ports with a silent upstream, and a small DNS client on hickory's message API.

#![allow(dead_code)]
// The benchmark includes this file too, outside `cfg(test)`; a harness may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Component, Rest, Storage, free_port};
use hickory_server::proto::op::{Edns, Message, Query, ResponseCode};
use hickory_server::proto::rr::rdata::A;
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Cluster {
    pub server: ApiServer,
    pub rest: Rest,
}

/// The cluster's REST helpers (create, merge_patch, ...) as its own.
impl std::ops::Deref for Cluster {
    type Target = Rest;

    fn deref(&self) -> &Rest {
        &self.rest
    }
}

impl Cluster {
    pub fn start() -> Self {
        let server = ApiServer::start(Storage::Embedded).unwrap();
        let rest = Rest::new(&server.url());
        Self { server, rest }
    }

    /// A ClusterIP Service with these ports (`[name, port, protocol]`); returns its ClusterIP.
    pub async fn service(&self, namespace: &str, name: &str, ports: &[(&str, u16, &str)]) -> String {
        let body = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": ports_json(ports), "selector": {"app": name}}});
        let created = self.create(&format!("/api/v1/namespaces/{namespace}/services"), &body).await;
        created["spec"]["clusterIP"].as_str().unwrap_or_default().to_string()
    }

    pub async fn headless_service(&self, namespace: &str, name: &str, ports: &[(&str, u16, &str)]) {
        let body = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"clusterIP": "None", "ports": ports_json(ports), "selector": {"app": name}}});
        self.create(&format!("/api/v1/namespaces/{namespace}/services"), &body).await;
    }

    pub async fn external_name_service(&self, namespace: &str, name: &str, target: &str) {
        let body = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"type": "ExternalName", "externalName": target}});
        self.create(&format!("/api/v1/namespaces/{namespace}/services"), &body).await;
    }

    /// Endpoints as the endpoints controller would write them: `ready` and `not_ready` addresses
    /// as `(ip, hostname)`, one subset with these ports.
    pub async fn endpoints(&self, namespace: &str, name: &str, ready: &[(&str, Option<&str>)], not_ready: &[(&str, Option<&str>)], ports: &[(&str, u16, &str)]) {
        let body = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name}, "subsets": subsets(ready, not_ready, ports)});
        self.create(&format!("/api/v1/namespaces/{namespace}/endpoints"), &body).await;
    }

    pub async fn update_endpoints(&self, namespace: &str, name: &str, ready: &[(&str, Option<&str>)], not_ready: &[(&str, Option<&str>)], ports: &[(&str, u16, &str)]) {
        self.merge_patch(&format!("/api/v1/namespaces/{namespace}/endpoints/{name}"), &json!({"subsets": subsets(ready, not_ready, ports)})).await;
    }
}

fn ports_json(ports: &[(&str, u16, &str)]) -> Value {
    ports
        .iter()
        .map(|(name, port, protocol)| {
            let mut port = json!({"port": port, "protocol": protocol});
            if !name.is_empty() {
                port["name"] = json!(name);
            }
            port
        })
        .collect()
}

fn addresses(list: &[(&str, Option<&str>)]) -> Value {
    list.iter()
        .map(|(ip, hostname)| match hostname {
            Some(hostname) => json!({"ip": ip, "hostname": hostname}),
            None => json!({"ip": ip}),
        })
        .collect()
}

fn subsets(ready: &[(&str, Option<&str>)], not_ready: &[(&str, Option<&str>)], ports: &[(&str, u16, &str)]) -> Value {
    let mut subset = json!({"ports": ports_json(ports)});
    if !ready.is_empty() {
        subset["addresses"] = addresses(ready);
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] = addresses(not_ready);
    }
    json!([subset])
}

/// A UDP socket on loopback that takes queries and never answers: the upstream these machines
/// have (none reachable), without sending anything off the machine.
pub struct SilentUpstream {
    pub socket: std::net::UdpSocket,
}

impl SilentUpstream {
    pub fn bind() -> Self {
        Self { socket: std::net::UdpSocket::bind("127.0.0.1:0").unwrap() }
    }

    pub fn address(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }
}

/// A loopback upstream that answers every A question with `address`, as a recursive resolver
/// would; it stops with the guard.
pub struct AnsweringUpstream {
    pub address: SocketAddr,
    _task: tokio::task::JoinHandle<()>,
}

impl AnsweringUpstream {
    pub async fn start(address: std::net::Ipv4Addr) -> Self {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buffer = vec![0; 65535];
            while let Ok((size, from)) = socket.recv_from(&mut buffer).await {
                let Ok(query) = Message::from_vec(&buffer[..size]) else { continue };
                let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
                answer.metadata.recursion_desired = query.metadata.recursion_desired;
                answer.metadata.recursion_available = true;
                for question in &query.queries {
                    answer.add_query(question.clone());
                    if question.query_type() == RecordType::A {
                        answer.add_answer(Record::from_rdata(question.name().clone(), 60, RData::A(A(address))));
                    }
                }
                let _ = socket.send_to(&answer.to_vec().unwrap(), from).await;
            }
        });
        Self { address: local, _task: task }
    }
}

impl Drop for AnsweringUpstream {
    fn drop(&mut self) {
        self._task.abort();
    }
}

/// The real `dns` binary against a kubeconfig, on free loopback ports.
pub struct Dns {
    pub process: Component,
    pub address: SocketAddr,
    pub health: SocketAddr,
    pub upstream: SilentUpstream,
}

impl Dns {
    /// Started with a silent upstream (more may follow in `extra`), waiting until `/ready` says the first list is in.
    pub async fn start(kubeconfig: &std::path::Path, extra: &[&str]) -> Self {
        let dns = Self::start_unready(kubeconfig, extra);
        dns.wait_ready().await;
        dns
    }

    pub fn start_unready(kubeconfig: &std::path::Path, extra: &[&str]) -> Self {
        let upstream = SilentUpstream::bind();
        let address: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap()).parse().unwrap();
        let health: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap()).parse().unwrap();
        let mut args = vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--listen={address}"),
            format!("--health-address={health}"),
            format!("--upstream={}", upstream.address()),
        ];
        args.extend(extra.iter().map(|arg| arg.to_string()));
        let process = Component::start("dns", &args).unwrap();
        Self { process, address, health, upstream }
    }

    pub async fn http_get(&self, path: &str) -> (u16, String) {
        match reqwest::get(format!("http://{}{path}", self.health)).await {
            Ok(response) => (response.status().as_u16(), response.text().await.unwrap_or_default()),
            Err(err) => (0, err.to_string()),
        }
    }

    pub async fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            if self.http_get("/ready").await.0 == 200 {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "dns not ready after 30 s; its log:\n{}", self.process.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn udp(&self, name: &str, query_type: RecordType) -> Message {
        query_udp(self.address, name, query_type).await.unwrap_or_else(|err| panic!("{name} {query_type} over UDP: {err}; log:\n{}", self.process.log()))
    }

    pub async fn tcp(&self, name: &str, query_type: RecordType) -> Message {
        query_tcp(self.address, name, query_type).await.unwrap_or_else(|err| panic!("{name} {query_type} over TCP: {err}; log:\n{}", self.process.log()))
    }

    /// Polls over UDP every 20 ms until `accept` takes the answer; returns it and how long it
    /// took, or panics with the last answer after `within`.
    pub async fn wait_for(&self, name: &str, query_type: RecordType, within: Duration, accept: impl Fn(&Message) -> bool) -> (Message, Duration) {
        let started = Instant::now();
        loop {
            let answer = self.udp(name, query_type).await;
            if accept(&answer) {
                return (answer, started.elapsed());
            }
            assert!(started.elapsed() < within, "{name} {query_type}: not as expected within {within:?}; last answer: {}", summary(&answer));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn query_message(name: &str, query_type: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), query_type));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.set_edns(edns);
    message
}

/// One query over UDP, sent once, waiting up to 5 s: for answers whose timing is the point.
pub async fn query_udp_once(server: SocketAddr, name: &str, query_type: RecordType) -> Result<Message, String> {
    let message = query_message(name, query_type);
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    socket.send_to(&message.to_vec().map_err(|e| e.to_string())?, server).await.map_err(|e| e.to_string())?;
    let mut buffer = vec![0; 65535];
    loop {
        let (size, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer)).await.map_err(|_| "no answer in 5 s".to_string())?.map_err(|e| e.to_string())?;
        let answer = Message::from_vec(&buffer[..size]).map_err(|e| e.to_string())?;
        if answer.metadata.id == message.metadata.id {
            return Ok(answer);
        }
    }
}

/// One query over UDP, sent again each second as a stub resolver does (a datagram that finds
/// the server's receive buffer full is dropped by the kernel), given up after 5 s.
pub async fn query_udp(server: SocketAddr, name: &str, query_type: RecordType) -> Result<Message, String> {
    let message = query_message(name, query_type);
    let bytes = message.to_vec().map_err(|e| e.to_string())?;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let mut buffer = vec![0; 65535];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        socket.send_to(&bytes, server).await.map_err(|e| e.to_string())?;
        let sent = Instant::now();
        while let Ok(received) = tokio::time::timeout(Duration::from_secs(1).saturating_sub(sent.elapsed()), socket.recv_from(&mut buffer)).await {
            let (size, _) = received.map_err(|e| e.to_string())?;
            let answer = Message::from_vec(&buffer[..size]).map_err(|e| e.to_string())?;
            if answer.metadata.id == message.metadata.id {
                return Ok(answer);
            }
        }
    }
    Err("no answer in 5 s".to_string())
}

pub async fn query_tcp(server: SocketAddr, name: &str, query_type: RecordType) -> Result<Message, String> {
    let message = query_message(name, query_type);
    let bytes = message.to_vec().map_err(|e| e.to_string())?;
    let mut stream = tokio::net::TcpStream::connect(server).await.map_err(|e| e.to_string())?;
    let mut frame = (bytes.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&bytes);
    stream.write_all(&frame).await.map_err(|e| e.to_string())?;
    let read = async {
        let size = stream.read_u16().await?;
        let mut buffer = vec![0; usize::from(size)];
        stream.read_exact(&mut buffer).await?;
        Ok::<_, std::io::Error>(buffer)
    };
    let buffer = tokio::time::timeout(Duration::from_secs(5), read).await.map_err(|_| "no answer in 5 s".to_string())?.map_err(|e| e.to_string())?;
    Message::from_vec(&buffer).map_err(|e| e.to_string())
}

/// The answer section as sorted text: `A 10.96.0.1`, `SRV 0 100 80 web.default.svc.cluster.local.`.
pub fn answers(message: &Message) -> Vec<String> {
    let mut texts: Vec<String> = message.answers.iter().map(|r| format!("{} {}", r.record_type(), r.data)).collect();
    texts.sort();
    texts
}

pub fn summary(message: &Message) -> String {
    format!(
        "{:?} answers={:?} authorities={:?} additionals={:?}",
        message.metadata.response_code,
        answers(message),
        message.authorities.iter().map(|r| format!("{} {}", r.record_type(), r.name)).collect::<Vec<_>>(),
        message.additionals.iter().map(|r| format!("{} {} {}", r.name, r.record_type(), r.data)).collect::<Vec<_>>()
    )
}

pub fn is_nxdomain(message: &Message) -> bool {
    message.metadata.response_code == ResponseCode::NXDomain && message.answers.is_empty() && message.authorities.iter().any(|r| r.record_type() == RecordType::SOA)
}

pub fn is_nodata(message: &Message) -> bool {
    message.metadata.response_code == ResponseCode::NoError && message.answers.is_empty() && message.authorities.iter().any(|r| r.record_type() == RecordType::SOA)
}
