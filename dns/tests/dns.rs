//! The real `dns` binary against the real apiserver: Services and Endpoints written over HTTP,
//! answers read over UDP and TCP with hickory's message API. Upstreams are loopback sockets that
//! never answer, as no resolver is reachable from these machines.

// Helpers outside the test functions fail loudly too: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_server::proto::op::{Message, ResponseCode};
use hickory_server::proto::rr::{Name, RData, RecordType};
use support::{Cluster, Dns, answers, is_nodata, is_nxdomain, summary};
use tokio::io::AsyncWriteExt;

const HTTP: (&str, u16, &str) = ("http", 80, "TCP");

fn reverse(ip: &str) -> String {
    Name::from(ip.parse::<IpAddr>().unwrap()).to_ascii()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_services_endpoints_and_pods_as_the_specification_says() {
    let cluster = Cluster::start();
    cluster.namespace("shop").await;
    let web_ip = cluster.service("default", "web", &[HTTP, ("dns", 53, "UDP")]).await;
    cluster.headless_service("shop", "db", &[("pg", 5432, "TCP")]).await;
    cluster
        .endpoints("shop", "db", &[("10.244.1.5", Some("db-0")), ("10.244.2.6", None)], &[("10.244.3.7", Some("db-2"))], &[("pg", 5432, "TCP")])
        .await;
    cluster.external_name_service("default", "search", "search.example.com").await;
    let dns = Dns::start(&cluster.server.kubeconfig(), &["--ttl=7"]).await;

    // A ClusterIP Service, over UDP and TCP, with the configured TTL.
    let web = dns.udp("web.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(answers(&web), [format!("A {web_ip}")], "{}", summary(&web));
    assert!(web.metadata.authoritative);
    assert_eq!(web.answers[0].ttl, 7);
    let web_tcp = dns.tcp("Web.Default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(answers(&web_tcp), [format!("A {web_ip}")], "{}", summary(&web_tcp));
    // Asked again over UDP in other letters: the answer kept from the first query is given
    // again, with this query's ID and its question as it was spelt; and counted as the first was.
    let counted = || async { a_noerror_count(&dns.http_get("/metrics").await.1) };
    let before = counted().await;
    let shouted = dns.udp("WEB.default.SVC.cluster.local.", RecordType::A).await;
    assert_eq!(answers(&shouted), [format!("A {web_ip}")], "{}", summary(&shouted));
    assert_eq!(shouted.queries[0].name().to_ascii(), "WEB.default.SVC.cluster.local.", "{}", summary(&shouted));
    assert_eq!((shouted.metadata.authoritative, shouted.answers[0].ttl), (true, 7));
    assert_eq!(counted().await, before + 1);

    // Named ports only, protocol in lowercase.
    let srv = dns.udp("_http._tcp.web.default.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(answers(&srv), ["SRV 0 100 80 web.default.svc.cluster.local."], "{}", summary(&srv));
    assert!(srv.additionals.iter().any(|r| r.data.to_string() == web_ip), "SRV target's address in the additional section: {}", summary(&srv));
    let srv_udp = dns.udp("_dns._udp.web.default.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(answers(&srv_udp), ["SRV 0 100 53 web.default.svc.cluster.local."]);

    // Reverse lookups of the ClusterIP and of a headless endpoint.
    let ptr = dns.udp(&reverse(&web_ip), RecordType::PTR).await;
    assert_eq!(answers(&ptr), ["PTR web.default.svc.cluster.local."], "{}", summary(&ptr));
    let endpoint_ptr = dns.udp(&reverse("10.244.1.5"), RecordType::PTR).await;
    assert_eq!(answers(&endpoint_ptr), ["PTR db-0.db.shop.svc.cluster.local."]);

    // A headless Service: ready addresses only, per-endpoint names, SRV per endpoint.
    let db = dns.udp("db.shop.svc.cluster.local.", RecordType::A).await;
    assert_eq!(answers(&db), ["A 10.244.1.5", "A 10.244.2.6"], "{}", summary(&db));
    assert_eq!(answers(&dns.udp("db-0.db.shop.svc.cluster.local.", RecordType::A).await), ["A 10.244.1.5"]);
    assert!(is_nxdomain(&dns.udp("db-2.db.shop.svc.cluster.local.", RecordType::A).await), "a not-ready endpoint has no name");
    let db_srv = dns.udp("_pg._tcp.db.shop.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(
        answers(&db_srv),
        ["SRV 0 50 5432 10-244-2-6.db.shop.svc.cluster.local.", "SRV 0 50 5432 db-0.db.shop.svc.cluster.local."],
        "{}",
        summary(&db_srv)
    );
    assert_eq!(db_srv.additionals.len(), 2, "{}", summary(&db_srv));

    // ExternalName: a CNAME.
    let search = dns.udp("search.default.svc.cluster.local.", RecordType::CNAME).await;
    assert_eq!(answers(&search), ["CNAME search.example.com."], "{}", summary(&search));

    // Pods by address.
    assert_eq!(answers(&dns.udp("10-244-9-9.shop.pod.cluster.local.", RecordType::A).await), ["A 10.244.9.9"]);
    assert!(is_nxdomain(&dns.udp("10-244-9.shop.pod.cluster.local.", RecordType::A).await));

    // NXDOMAIN for names that do not exist, NODATA for names that do with another type.
    let missing = dns.udp("nope.default.svc.cluster.local.", RecordType::A).await;
    assert!(is_nxdomain(&missing), "{}", summary(&missing));
    let missing_tcp = dns.tcp("nope.default.svc.cluster.local.", RecordType::A).await;
    assert!(is_nxdomain(&missing_tcp), "{}", summary(&missing_tcp));
    for (name, query_type) in [
        ("web.default.svc.cluster.local.", RecordType::AAAA),
        ("web.default.svc.cluster.local.", RecordType::TXT),
        ("shop.svc.cluster.local.", RecordType::A),
        ("cluster.local.", RecordType::A),
    ] {
        let answer = dns.udp(name, query_type).await;
        assert!(is_nodata(&answer), "{name} {query_type}: {}", summary(&answer));
    }
    let soa = dns.udp("cluster.local.", RecordType::SOA).await;
    assert!(matches!(soa.answers.first().map(|r| &r.data), Some(RData::SOA(_))), "{}", summary(&soa));

    // A Service created now is answered within a second.
    let created = Instant::now();
    let late_ip = cluster.service("shop", "late", &[HTTP]).await;
    let (_, took) = dns
        .wait_for("late.shop.svc.cluster.local.", RecordType::A, Duration::from_secs(1), |answer| answers(answer) == [format!("A {late_ip}")])
        .await;
    eprintln!("a new Service was answered {:?} after it was created ({took:?} of polling)", created.elapsed());

    // Readiness followed: db-0 leaves the ready addresses, and the answers, within a second.
    cluster
        .update_endpoints("shop", "db", &[("10.244.2.6", None)], &[("10.244.1.5", Some("db-0")), ("10.244.3.7", Some("db-2"))], &[("pg", 5432, "TCP")])
        .await;
    dns.wait_for("db.shop.svc.cluster.local.", RecordType::A, Duration::from_secs(1), |answer| answers(answer) == ["A 10.244.2.6"]).await;
    assert!(is_nxdomain(&dns.udp("db-0.db.shop.svc.cluster.local.", RecordType::A).await));
    let one_srv = dns.udp("_pg._tcp.db.shop.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(answers(&one_srv), ["SRV 0 100 5432 10-244-2-6.db.shop.svc.cluster.local."]);
    // And a deleted Service goes away.
    let (code, answer) = cluster.delete("/api/v1/namespaces/shop/services/late", &serde_json::json!({})).await;
    assert_eq!(code, 200, "{answer}");
    dns.wait_for("late.shop.svc.cluster.local.", RecordType::A, Duration::from_secs(1), is_nxdomain).await;

    // Metrics count what was asked.
    let (code, metrics) = dns.http_get("/metrics").await;
    assert_eq!(code, 200);
    for expected in ["dns_queries_total{type=\"A\",rcode=\"NOERROR\"}", "dns_queries_total{type=\"A\",rcode=\"NXDOMAIN\"}", "dns_queries_total{type=\"SRV\",rcode=\"NOERROR\"}", "dns_query_duration_seconds_bucket{le=\"+Inf\"}", "dns_services "] {
        assert!(metrics.contains(expected), "{expected} missing from /metrics:\n{metrics}");
    }
    assert_eq!(dns.http_get("/healthz").await.0, 200);
}

/// The count of A queries answered NOERROR, from the server's /metrics.
fn a_noerror_count(metrics: &str) -> u64 {
    let line = metrics.lines().find_map(|line| line.strip_prefix("dns_queries_total{type=\"A\",rcode=\"NOERROR\"} "));
    line.and_then(|count| count.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_names_fail_fast_when_no_upstream_answers() {
    let cluster = Cluster::start();
    cluster.external_name_service("default", "search", "search.example.com").await;
    let dns = Dns::start(&cluster.server.kubeconfig(), &[]).await;

    // Several at once, over UDP and TCP, each sent once: each SERVFAIL, within the forwarding
    // budget (2 s), far inside a resolver's own timeout (glibc: 5 s).
    let started = Instant::now();
    let mut queries = tokio::task::JoinSet::new();
    for index in 0..5 {
        let address = dns.address;
        queries.spawn(async move {
            let name = format!("host{index}.example.com.");
            let began = Instant::now();
            let answer = if index % 2 == 0 { support::query_udp_once(address, &name, RecordType::A).await } else { support::query_tcp(address, &name, RecordType::A).await };
            (name, answer, began.elapsed())
        });
    }
    while let Some(joined) = queries.join_next().await {
        let (name, answer, took) = joined.unwrap();
        let answer = answer.unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(answer.metadata.response_code, ResponseCode::ServFail, "{name}: {}", summary(&answer));
        assert!(took < Duration::from_secs(3), "{name} took {took:?}");
    }
    eprintln!("5 forwarded queries failed in {:?}", started.elapsed());

    // A reverse name we hold nothing for is forwarded too.
    let unknown_ptr = support::query_udp_once(dns.address, "4.3.2.1.in-addr.arpa.", RecordType::PTR).await.unwrap();
    assert_eq!(unknown_ptr.metadata.response_code, ResponseCode::ServFail);

    // An ExternalName asked for A: the CNAME, even though its target cannot be resolved.
    let began = Instant::now();
    let aliased = support::query_udp_once(dns.address, "search.default.svc.cluster.local.", RecordType::A).await.unwrap();
    assert_eq!(aliased.metadata.response_code, ResponseCode::NoError, "{}", summary(&aliased));
    assert_eq!(answers(&aliased), ["CNAME search.example.com."]);
    assert!(began.elapsed() < Duration::from_secs(3));

    // The silent upstream did receive the queries (they were forwarded, not dropped).
    dns.upstream.socket.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 512];
    let received = dns.upstream.socket.recv(&mut buffer).unwrap_or(0);
    assert!(received > 12, "the upstream saw no query");
    let (_, metrics) = dns.http_get("/metrics").await;
    assert!(metrics.contains("dns_queries_total{type=\"A\",rcode=\"SERVFAIL\"} 5"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_names_are_relayed_from_the_first_upstream_that_answers() {
    let cluster = Cluster::start();
    cluster.external_name_service("default", "search", "search.example.com").await;
    let answering = support::AnsweringUpstream::start([192, 0, 2, 7].into()).await;
    // Upstreams in order: the harness's silent one, then this one.
    let dns = Dns::start(&cluster.server.kubeconfig(), &[&format!("--upstream={}", answering.address)]).await;

    let began = Instant::now();
    let outside = support::query_udp_once(dns.address, "www.example.com.", RecordType::A).await.unwrap();
    assert_eq!(outside.metadata.response_code, ResponseCode::NoError, "{}", summary(&outside));
    assert_eq!(answers(&outside), ["A 192.0.2.7"]);
    assert!(!outside.metadata.authoritative, "a relayed answer is not ours");
    assert!(began.elapsed() < Duration::from_secs(2), "the silent upstream kept it {:?}", began.elapsed());
    let over_tcp = dns.tcp("www.example.com.", RecordType::A).await;
    assert_eq!(answers(&over_tcp), ["A 192.0.2.7"]);

    // An ExternalName asked for A: the CNAME, then the target's address from upstream.
    let aliased = support::query_udp_once(dns.address, "search.default.svc.cluster.local.", RecordType::A).await.unwrap();
    assert_eq!(answers(&aliased), ["A 192.0.2.7", "CNAME search.example.com."], "{}", summary(&aliased));
    assert_eq!(aliased.answers[0].record_type(), RecordType::CNAME, "the CNAME comes first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_the_apiserver_has_been_listed() {
    // A kubeconfig naming a port nobody listens on: the server answers /healthz but not /ready,
    // and still answers pod names (which need no list) while it waits.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let port = common::testing::free_port().unwrap();
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"),
    )
    .unwrap();
    let dns = Dns::start_unready(&kubeconfig, &[]);
    let started = Instant::now();
    while dns.http_get("/healthz").await.0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(10), "no /healthz; log:\n{}", dns.process.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, body) = dns.http_get("/ready").await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(answers(&dns.udp("10-0-0-1.default.pod.cluster.local.", RecordType::A).await), ["A 10.0.0.1"]);
}

/// Sends raw bytes over UDP from a fresh socket; returns the answer if one comes within 300 ms.
async fn send_raw(server: std::net::SocketAddr, bytes: &[u8]) -> Option<Message> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(bytes, server).await.unwrap();
    let mut buffer = vec![0; 65535];
    let (size, _) = tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buffer)).await.ok()?.ok()?;
    Message::from_vec(&buffer[..size]).ok()
}

/// A deterministic stream of pseudo-random bytes (xorshift), so a failure can be replayed.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next() as u8).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_neither_stops_nor_stalls_the_server() {
    let cluster = Cluster::start();
    let web_ip = cluster.service("default", "web", &[HTTP]).await;
    let mut dns = Dns::start(&cluster.server.kubeconfig(), &[]).await;
    let healthy = |answer: &Message| answers(answer) == [format!("A {web_ip}")];
    let name = "web.default.svc.cluster.local.";

    // Table of malformed datagrams and what each must get back.
    let good = support::query_message(name, RecordType::A).to_vec().unwrap();
    let mut two_questions = good.clone();
    two_questions[5] = 2; // QDCOUNT 2 with one question present: unreadable
    let mut status_opcode = good.clone();
    status_opcode[2] = (status_opcode[2] & 0x87) | (2 << 3); // opcode STATUS
    let mut cut_question = good.clone();
    cut_question.truncate(20);
    let mut response_bit = good.clone();
    response_bit[2] |= 0x80; // a response sent to us: ignored, never reflected
    let cases: Vec<(&str, Vec<u8>, Option<ResponseCode>)> = vec![
        ("one byte", vec![0x42], None),
        ("a truncated header", good[..6].to_vec(), None),
        ("an empty datagram", Vec::new(), None),
        ("a question cut short", cut_question, Some(ResponseCode::FormErr)),
        ("a count of questions that lies", two_questions, Some(ResponseCode::FormErr)),
        ("an opcode we do not serve", status_opcode, Some(ResponseCode::NotImp)),
        ("a response", response_bit, None),
    ];
    for (what, bytes, expected) in cases {
        let answer = send_raw(dns.address, &bytes).await;
        assert_eq!(answer.as_ref().map(|a| a.metadata.response_code), expected, "{what}: {:?}", answer.as_ref().map(summary));
    }

    // Random datagrams of every size: whatever comes back, the server keeps going.
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for _ in 0..500 {
        let length = (noise.next() % 1500) as usize;
        socket.send_to(&noise.bytes(length), dns.address).await.unwrap();
    }
    assert!(healthy(&dns.udp(name, RecordType::A).await));

    // TCP: a frame that claims 65535 bytes and closes; garbage frames; a connection that says
    // nothing; a half-sent length.
    let mut claims = tokio::net::TcpStream::connect(dns.address).await.unwrap();
    claims.write_all(&[0xff, 0xff, 1, 2, 3]).await.unwrap();
    drop(claims);
    for _ in 0..20 {
        let mut garbage = tokio::net::TcpStream::connect(dns.address).await.unwrap();
        let length = (noise.next() % 600) as u16;
        let mut frame = length.to_be_bytes().to_vec();
        frame.extend(noise.bytes(usize::from(length)));
        let _ = garbage.write_all(&frame).await;
    }
    let _idle = tokio::net::TcpStream::connect(dns.address).await.unwrap();
    let mut half = tokio::net::TcpStream::connect(dns.address).await.unwrap();
    half.write_all(&[0x00]).await.unwrap();
    assert!(healthy(&dns.tcp(name, RecordType::A).await), "TCP still answers beside idle and half-sent connections");

    // 2,000 queries as fast as one socket sends them, then every answer that comes.
    let flood = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let started = Instant::now();
    for index in 0..2000u16 {
        let mut message = support::query_message(if index % 2 == 0 { name } else { "nope.default.svc.cluster.local." }, RecordType::A);
        message.metadata.id = index;
        flood.send_to(&message.to_vec().unwrap(), dns.address).await.unwrap();
    }
    let mut answered = 0;
    let mut buffer = vec![0; 65535];
    while let Ok(Ok((size, _))) = tokio::time::timeout(Duration::from_millis(500), flood.recv_from(&mut buffer)).await {
        if Message::from_vec(&buffer[..size]).is_ok() {
            answered += 1;
        }
    }
    eprintln!("2000 queries sent at once: {answered} answered in {:?} (the rest dropped by the kernel's socket buffers)", started.elapsed());
    assert!(answered >= 100, "only {answered} of 2000 answered");

    // Still here, still answering over both transports.
    assert!(dns.process.is_running(), "the server exited; log:\n{}", dns.process.log());
    assert!(healthy(&dns.udp(name, RecordType::A).await));
    assert!(healthy(&dns.tcp(name, RecordType::A).await));
    assert!(!dns.process.log().contains("panicked"), "a panic in the log:\n{}", dns.process.log());
}
