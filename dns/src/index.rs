//! The records the server answers from: an immutable index built from Services and Endpoints,
//! as the Kubernetes DNS specification lays them out
//! (<https://github.com/kubernetes/dns/blob/master/docs/specification.md>), plus the computed
//! `<a-b-c-d>.<ns>.pod.<domain>` names and the NXDOMAIN / NODATA distinction a resolver relies on.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, PTR, SOA, SRV};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Endpoints, Service};

/// Reverse zones whose names we answer when we hold a PTR for them; other names in them go
/// upstream, as CoreDNS's `kubernetes` plugin does with `fallthrough in-addr.arpa ip6.arpa`.
const REVERSE_ZONES: [&str; 2] = ["in-addr.arpa.", "ip6.arpa."];

/// How SOA timers are announced (seconds); what matters to resolvers is `minimum`, the TTL of
/// negative answers, which is the configured TTL.
const SOA_REFRESH: i32 = 7200;
const SOA_RETRY: i32 = 1800;
const SOA_EXPIRE: i32 = 86400;

/// How many CNAMEs in a row the index follows before it stops (an ExternalName may name itself).
const MAX_ALIASES: usize = 8;

/// What a query turns into.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    /// The index answers it (NOERROR with records, NODATA, or NXDOMAIN).
    Answer(Answer),
    /// A name outside the cluster domain (or a reverse name we hold nothing for): the upstream
    /// resolvers answer it.
    Forward,
}

/// An authoritative answer.
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    /// The zone's SOA on negative answers (NXDOMAIN and NODATA), which resolvers cache for its
    /// `minimum` (RFC 2308).
    pub authorities: Vec<Record>,
    /// The addresses of SRV targets.
    pub additionals: Vec<Record>,
    /// An ExternalName's target outside the cluster domain, asked for A or AAAA: a recursive
    /// server appends the target's addresses, as CoreDNS does.
    pub follow: Option<Name>,
}

/// Records by lowercase, fully-qualified name (`Name::to_ascii`, with the trailing dot). A name
/// that is present with no records is an empty non-terminal: it exists (NODATA), because a name
/// below it does.
pub struct Index {
    domain: String,
    /// `.<domain>`, to tell names in the domain apart cheaply.
    dot_domain: String,
    /// `.pod.<domain>`.
    pod_suffix: String,
    soa: Record,
    names: HashMap<String, Vec<Record>>,
    ttl: u32,
    services: usize,
}

impl Index {
    /// An index with no Services, answering only for the domain apex and pod names.
    pub fn empty(domain: &Name, ttl: u32) -> Self {
        Self::build(std::iter::empty(), std::iter::empty(), domain, ttl, 0)
    }

    /// Builds the records of `services` (with their `endpoints`) under `domain`, every record with
    /// `ttl`; `serial` is the SOA's serial, which should grow with each rebuild.
    pub fn build<'a>(
        services: impl IntoIterator<Item = &'a Service>,
        endpoints: impl IntoIterator<Item = &'a Endpoints>,
        domain: &Name,
        ttl: u32,
        serial: u32,
    ) -> Self {
        let mut domain = domain.to_lowercase();
        domain.set_fqdn(true);
        let domain_key = domain.to_ascii();
        let soa = soa_record(&domain, ttl, serial);
        let mut builder = Builder { domain: &domain_key, ttl, names: HashMap::new() };
        let endpoints: HashMap<(&str, &str), &Endpoints> = endpoints
            .into_iter()
            .filter_map(|e| Some(((e.metadata.namespace.as_deref()?, e.metadata.name.as_deref()?), e)))
            .collect();
        let mut count = 0;
        for service in services {
            let (Some(namespace), Some(name)) = (service.metadata.namespace.as_deref(), service.metadata.name.as_deref()) else { continue };
            if builder.service(namespace, name, service, endpoints.get(&(namespace, name)).copied()) {
                count += 1;
            }
        }
        let mut names = builder.names;
        spread_srv_weights(&mut names);
        add_empty_non_terminals(&mut names, &domain_key);
        for always in ["svc", "pod"] {
            names.entry(format!("{always}.{domain_key}")).or_default();
        }
        Self {
            dot_domain: format!(".{domain_key}"),
            pod_suffix: format!(".pod.{domain_key}"),
            domain: domain_key,
            soa,
            names,
            ttl,
            services: count,
        }
    }

    /// How many Services the index was built from.
    pub fn services(&self) -> usize {
        self.services
    }

    /// How many names it holds (with records or not).
    pub fn names(&self) -> usize {
        self.names.len()
    }

    pub fn lookup(&self, name: &Name, query_type: RecordType) -> Lookup {
        self.resolve(name, query_type, 0)
    }

    /// `depth` counts the CNAMEs followed so far, so that an alias loop ends.
    fn resolve(&self, name: &Name, query_type: RecordType, depth: usize) -> Lookup {
        let mut name = name.to_lowercase();
        name.set_fqdn(true);
        let key = name.to_ascii();
        if key != self.domain && !key.ends_with(&self.dot_domain) {
            if REVERSE_ZONES.iter().any(|zone| key.ends_with(zone))
                && let Some(records) = self.names.get(&key)
            {
                // Negative answers here carry no SOA: we are not the reverse zone's authority,
                // and a resolver then does not cache them (RFC 2308, section 5).
                let mut answer = self.answer(records, query_type, depth);
                answer.authorities.clear();
                return Lookup::Answer(answer);
            }
            return Lookup::Forward;
        }
        if key == self.domain {
            let answers = if matches!(query_type, RecordType::SOA | RecordType::ANY) { vec![self.soa.clone()] } else { Vec::new() };
            let authorities = if answers.is_empty() { vec![self.soa.clone()] } else { Vec::new() };
            return Lookup::Answer(Answer { answers, authorities, ..Answer::default() });
        }
        if let Some(records) = self.names.get(&key) {
            return Lookup::Answer(self.answer(records, query_type, depth));
        }
        if let Some(rest) = key.strip_suffix(&self.pod_suffix) {
            return Lookup::Answer(self.pod(&name, rest, query_type));
        }
        Lookup::Answer(self.nxdomain())
    }

    fn answer(&self, records: &[Record], query_type: RecordType, depth: usize) -> Answer {
        let answers: Vec<Record> = records.iter().filter(|r| query_type == RecordType::ANY || r.record_type() == query_type).cloned().collect();
        if !answers.is_empty() {
            let additionals = if query_type == RecordType::SRV { self.srv_additionals(&answers) } else { Vec::new() };
            return Answer { answers, additionals, ..Answer::default() };
        }
        // An alias answers every type with the CNAME (RFC 1034, section 3.6.2), followed by the
        // target's records when we hold them.
        if let Some(cname) = records.iter().find(|r| r.record_type() == RecordType::CNAME) {
            let mut answer = Answer { answers: vec![cname.clone()], ..Answer::default() };
            if let RData::CNAME(CNAME(target)) = &cname.data
                && depth < MAX_ALIASES
            {
                match self.resolve(target, query_type, depth + 1) {
                    Lookup::Answer(found) if found.rcode == ResponseCode::NoError => {
                        for record in found.answers {
                            if !answer.answers.contains(&record) {
                                answer.answers.push(record);
                            }
                        }
                        answer.additionals = found.additionals;
                        answer.follow = found.follow;
                    }
                    Lookup::Answer(_) => {}
                    Lookup::Forward => {
                        if matches!(query_type, RecordType::A | RecordType::AAAA) {
                            answer.follow = Some(target.clone());
                        }
                    }
                }
            }
            return answer;
        }
        self.nodata()
    }

    fn srv_additionals(&self, answers: &[Record]) -> Vec<Record> {
        let mut additionals: Vec<Record> = Vec::new();
        for answer in answers {
            let RData::SRV(srv) = &answer.data else { continue };
            let Some(records) = self.names.get(&srv.target.to_ascii()) else { continue };
            for record in records.iter().filter(|r| matches!(r.record_type(), RecordType::A | RecordType::AAAA)) {
                if !additionals.contains(record) {
                    additionals.push(record.clone());
                }
            }
        }
        additionals
    }

    /// `<a-b-c-d>.<ns>.pod.<domain>` answers a.b.c.d for any well-formed address, as kube-dns
    /// does in "pods insecure" mode; `<ns>.pod.<domain>` exists with no records.
    fn pod(&self, name: &Name, rest: &str, query_type: RecordType) -> Answer {
        let labels: Vec<&str> = rest.split('.').collect();
        match labels.as_slice() {
            [_namespace] => self.nodata(),
            [address, _namespace] => match dashed_ip(address) {
                Some(ip) => {
                    let record = address_record(name.clone(), ip, self.ttl);
                    if query_type == RecordType::ANY || record.record_type() == query_type {
                        Answer { answers: vec![record], ..Answer::default() }
                    } else {
                        self.nodata()
                    }
                }
                None => self.nxdomain(),
            },
            _ => self.nxdomain(),
        }
    }

    fn nodata(&self) -> Answer {
        Answer { authorities: vec![self.soa.clone()], ..Answer::default() }
    }

    fn nxdomain(&self) -> Answer {
        Answer { rcode: ResponseCode::NXDomain, authorities: vec![self.soa.clone()], ..Answer::default() }
    }
}

struct Builder<'a> {
    /// The domain's key, with its trailing dot.
    domain: &'a str,
    ttl: u32,
    names: HashMap<String, Vec<Record>>,
}

impl Builder<'_> {
    /// Adds one Service's records; false when it has none to give (a bad name).
    fn service(&mut self, namespace: &str, name: &str, service: &Service, endpoints: Option<&Endpoints>) -> bool {
        let Some(spec) = &service.spec else { return false };
        let Some(service_name) = self.name(&format!("{name}.{namespace}.svc.{}", self.domain)) else { return false };
        // The name exists even while it has no address (a headless Service without ready
        // endpoints answers NODATA, not NXDOMAIN).
        self.names.entry(service_name.to_ascii()).or_default();
        if spec.type_.as_deref() == Some("ExternalName") {
            match spec.external_name.as_deref().and_then(|target| Name::from_ascii(target).ok()) {
                Some(mut target) => {
                    target.set_fqdn(true);
                    self.add(&service_name, RData::CNAME(CNAME(target.to_lowercase())));
                }
                None => tracing::debug!(namespace, name, "ExternalName Service without a usable externalName"),
            }
            return true;
        }
        if spec.cluster_ip.as_deref() == Some("None") {
            self.headless(&service_name, endpoints);
            return true;
        }
        let mut addresses: Vec<&String> = spec.cluster_ips.iter().flatten().collect();
        if addresses.is_empty() {
            addresses.extend(spec.cluster_ip.iter());
        }
        for ip in addresses.into_iter().filter_map(|ip| ip.parse::<IpAddr>().ok()) {
            self.add(&service_name, address_rdata(ip));
            self.add(&Name::from(ip), RData::PTR(PTR(service_name.clone())));
        }
        for port in spec.ports.iter().flatten() {
            let (Some(port_name), Ok(number)) = (port.name.as_deref(), u16::try_from(port.port)) else { continue };
            if let Some(srv_name) = self.srv_name(port_name, port.protocol.as_deref(), &service_name) {
                self.add(&srv_name, RData::SRV(SRV::new(0, 100, number, service_name.clone())));
            }
        }
        true
    }

    /// A headless Service: its name answers the ready endpoints' addresses, each endpoint has a
    /// name of its own (its hostname, else its address with dashes), named ports give one SRV per
    /// ready endpoint, and endpoint addresses point back to their names. `notReadyAddresses`
    /// publish nothing: a Service with `publishNotReadyAddresses` has the endpoints controller
    /// list them among the ready ones already.
    fn headless(&mut self, service_name: &Name, endpoints: Option<&Endpoints>) {
        let Some(endpoints) = endpoints else { return };
        for subset in endpoints.subsets.iter().flatten() {
            for address in subset.addresses.iter().flatten() {
                let Ok(ip) = address.ip.parse::<IpAddr>() else { continue };
                let label = address.hostname.clone().filter(|hostname| !hostname.is_empty()).unwrap_or_else(|| dashed(ip));
                let Some(endpoint_name) = self.name(&format!("{label}.{}", service_name.to_ascii())) else { continue };
                self.add(service_name, address_rdata(ip));
                self.add(&endpoint_name, address_rdata(ip));
                self.add(&Name::from(ip), RData::PTR(PTR(endpoint_name.clone())));
                for port in subset.ports.iter().flatten() {
                    let (Some(port_name), Ok(number)) = (port.name.as_deref(), u16::try_from(port.port)) else { continue };
                    if let Some(srv_name) = self.srv_name(port_name, port.protocol.as_deref(), service_name) {
                        self.add(&srv_name, RData::SRV(SRV::new(0, 100, number, endpoint_name.clone())));
                    }
                }
            }
        }
    }

    /// `_<port>._<proto>.<service name>`, the protocol in lowercase.
    fn srv_name(&self, port: &str, protocol: Option<&str>, service_name: &Name) -> Option<Name> {
        let protocol = protocol.unwrap_or("TCP").to_ascii_lowercase();
        self.name(&format!("_{port}._{protocol}.{}", service_name.to_ascii()))
    }

    fn name(&self, text: &str) -> Option<Name> {
        match Name::from_ascii(text) {
            Ok(name) => Some(name.to_lowercase()),
            Err(err) => {
                tracing::debug!(name = text, "not a usable DNS name: {err}");
                None
            }
        }
    }

    fn add(&mut self, name: &Name, data: RData) {
        let record = Record::from_rdata(name.clone(), self.ttl, data);
        let records = self.names.entry(name.to_ascii()).or_default();
        if !records.contains(&record) {
            records.push(record);
        }
    }
}

/// Each name with several SRV records shares a weight of 100 among them, as CoreDNS does.
fn spread_srv_weights(names: &mut HashMap<String, Vec<Record>>) {
    for records in names.values_mut() {
        let count = records.iter().filter(|r| r.record_type() == RecordType::SRV).count();
        if count < 2 {
            continue;
        }
        let weight = u16::try_from(100 / count).unwrap_or(1).max(1);
        for record in records.iter_mut() {
            if let RData::SRV(srv) = &mut record.data {
                srv.weight = weight;
            }
        }
    }
}

/// Every ancestor of a name in the domain exists (`<ns>.svc.<domain>`, `_tcp.<svc>...`), so that
/// asking for it answers NODATA rather than NXDOMAIN (RFC 8020).
fn add_empty_non_terminals(names: &mut HashMap<String, Vec<Record>>, domain: &str) {
    let dot_domain = format!(".{domain}");
    let mut ancestors = Vec::new();
    for key in names.keys().filter(|key| key.ends_with(&dot_domain)) {
        let mut rest = key.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if parent == domain || !parent.ends_with(&dot_domain) {
                break;
            }
            ancestors.push(parent.to_string());
            rest = parent;
        }
    }
    for ancestor in ancestors {
        names.entry(ancestor).or_default();
    }
}

fn soa_record(domain: &Name, ttl: u32, serial: u32) -> Record {
    // Both names are labels prepended to a valid domain; were the domain too long to take them,
    // the domain itself stands in.
    let mname = domain.prepend_label("dns").and_then(|name| name.prepend_label("ns")).unwrap_or_else(|_| domain.clone());
    let rname = domain.prepend_label("hostmaster").unwrap_or_else(|_| domain.clone());
    Record::from_rdata(domain.clone(), ttl, RData::SOA(SOA::new(mname, rname, serial, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, ttl)))
}

fn address_rdata(ip: IpAddr) -> RData {
    match ip {
        IpAddr::V4(ip) => RData::A(A(ip)),
        IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
    }
}

fn address_record(name: Name, ip: IpAddr, ttl: u32) -> Record {
    Record::from_rdata(name, ttl, address_rdata(ip))
}

/// An address as one DNS label: `10-1-2-3`, or `fd00--1` for IPv6 (colons become dashes).
pub fn dashed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => ip.to_string().replace('.', "-"),
        IpAddr::V6(ip) => ip.to_string().replace(':', "-"),
    }
}

/// The reverse of [`dashed`]: `10-1-2-3` or `fd00--1`; anything else is None.
fn dashed_ip(label: &str) -> Option<IpAddr> {
    if label.split('-').count() == 4
        && let Ok(ip) = label.replace('-', ".").parse::<Ipv4Addr>()
    {
        return Some(IpAddr::V4(ip));
    }
    label.replace('-', ":").parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(value: serde_json::Value) -> Service {
        serde_json::from_value(value).unwrap()
    }

    fn endpoints(value: serde_json::Value) -> Endpoints {
        serde_json::from_value(value).unwrap()
    }

    fn cluster_ip(namespace: &str, name: &str, ips: &[&str], ports: serde_json::Value) -> Service {
        service(json!({"metadata": {"namespace": namespace, "name": name},
            "spec": {"clusterIP": ips[0], "clusterIPs": ips, "ports": ports}}))
    }

    fn headless(namespace: &str, name: &str) -> Service {
        service(json!({"metadata": {"namespace": namespace, "name": name},
            "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"name": "http", "port": 80}]}}))
    }

    fn index(services: &[Service], endpoints: &[Endpoints]) -> Index {
        Index::build(services, endpoints, &Name::from_ascii("cluster.local").unwrap(), 5, 42)
    }

    fn answer(index: &Index, name: &str, query_type: RecordType) -> Answer {
        match index.lookup(&Name::from_ascii(name).unwrap(), query_type) {
            Lookup::Answer(answer) => answer,
            Lookup::Forward => panic!("{name} {query_type} was forwarded"),
        }
    }

    /// The answer section as text: `A 10.96.0.1`, `SRV 0 100 80 web.default.svc.cluster.local.`.
    fn rdata(index: &Index, name: &str, query_type: RecordType) -> Vec<String> {
        let found = answer(index, name, query_type);
        assert_eq!(found.rcode, ResponseCode::NoError, "{name} {query_type}");
        let mut texts: Vec<String> = found.answers.iter().map(|r| format!("{} {}", r.record_type(), r.data)).collect();
        texts.sort();
        texts
    }

    fn is_nodata(index: &Index, name: &str, query_type: RecordType) -> bool {
        let found = answer(index, name, query_type);
        found.rcode == ResponseCode::NoError && found.answers.is_empty() && found.authorities.iter().any(|r| r.record_type() == RecordType::SOA)
    }

    fn is_nxdomain(index: &Index, name: &str, query_type: RecordType) -> bool {
        let found = answer(index, name, query_type);
        found.rcode == ResponseCode::NXDomain && found.answers.is_empty() && found.authorities.iter().any(|r| r.record_type() == RecordType::SOA)
    }

    #[test]
    fn cluster_ip_services_answer_their_addresses_by_family() {
        let services = [
            cluster_ip("default", "web", &["10.96.0.20"], json!([{"name": "http", "port": 80}])),
            cluster_ip("prod", "dual", &["10.96.0.21", "fd00::21"], json!([])),
        ];
        let index = index(&services, &[]);
        assert_eq!(rdata(&index, "web.default.svc.cluster.local.", RecordType::A), ["A 10.96.0.20"]);
        assert_eq!(rdata(&index, "WEB.Default.svc.cluster.local", RecordType::A), ["A 10.96.0.20"], "names are case-insensitive");
        assert_eq!(rdata(&index, "dual.prod.svc.cluster.local.", RecordType::A), ["A 10.96.0.21"]);
        assert_eq!(rdata(&index, "dual.prod.svc.cluster.local.", RecordType::AAAA), ["AAAA fd00::21"]);
        assert!(is_nodata(&index, "web.default.svc.cluster.local.", RecordType::AAAA));
        assert_eq!(index.services(), 2);
        let found = answer(&index, "web.default.svc.cluster.local.", RecordType::A);
        assert_eq!(found.answers[0].ttl, 5);
    }

    #[test]
    fn missing_names_are_nxdomain_and_existing_ones_nodata() {
        let index = index(&[cluster_ip("default", "web", &["10.96.0.20"], json!([{"name": "http", "port": 80}]))], &[]);
        assert!(is_nxdomain(&index, "nope.default.svc.cluster.local.", RecordType::A));
        assert!(is_nxdomain(&index, "web.other.svc.cluster.local.", RecordType::A));
        assert!(is_nxdomain(&index, "x.web.default.svc.cluster.local.", RecordType::A));
        assert!(is_nxdomain(&index, "cluster.cluster.local.", RecordType::A));
        // Ancestors of names that exist are empty non-terminals.
        assert!(is_nodata(&index, "default.svc.cluster.local.", RecordType::A));
        assert!(is_nodata(&index, "svc.cluster.local.", RecordType::A));
        assert!(is_nodata(&index, "_tcp.web.default.svc.cluster.local.", RecordType::SRV));
        assert!(is_nodata(&index, "web.default.svc.cluster.local.", RecordType::TXT));
        assert!(is_nodata(&index, "cluster.local.", RecordType::A));
        let soa = answer(&index, "cluster.local.", RecordType::SOA);
        assert_eq!(soa.answers.len(), 1);
        let RData::SOA(soa) = &soa.answers[0].data else { panic!("not an SOA") };
        assert_eq!((soa.serial, soa.minimum), (42, 5));
        assert_eq!(soa.mname.to_ascii(), "ns.dns.cluster.local.");
    }

    #[test]
    fn names_outside_the_domain_are_forwarded() {
        let index = index(&[cluster_ip("default", "web", &["10.96.0.20"], json!([]))], &[]);
        for name in ["example.com.", "local.", "xcluster.local.", "4.3.2.1.in-addr.arpa."] {
            assert_eq!(index.lookup(&Name::from_ascii(name).unwrap(), RecordType::A), Lookup::Forward, "{name}");
        }
    }

    #[test]
    fn named_ports_give_srv_records_pointing_at_the_service() {
        let ports = json!([{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}, {"port": 9000}]);
        let index = index(&[cluster_ip("default", "web", &["10.96.0.20"], ports)], &[]);
        assert_eq!(rdata(&index, "_http._tcp.web.default.svc.cluster.local.", RecordType::SRV), ["SRV 0 100 80 web.default.svc.cluster.local."]);
        assert_eq!(rdata(&index, "_dns._udp.web.default.svc.cluster.local.", RecordType::SRV), ["SRV 0 100 53 web.default.svc.cluster.local."]);
        assert!(is_nxdomain(&index, "_dns._tcp.web.default.svc.cluster.local.", RecordType::SRV));
        let found = answer(&index, "_http._tcp.web.default.svc.cluster.local.", RecordType::SRV);
        assert_eq!(found.additionals.len(), 1);
        assert_eq!(found.additionals[0].data, RData::A(A(Ipv4Addr::new(10, 96, 0, 20))));
    }

    #[test]
    fn headless_services_publish_ready_endpoints_only() {
        let endpoints = endpoints(json!({"metadata": {"namespace": "default", "name": "db"}, "subsets": [{
            "addresses": [{"ip": "10.244.1.5", "hostname": "db-0"}, {"ip": "10.244.2.6"}],
            "notReadyAddresses": [{"ip": "10.244.3.7", "hostname": "db-2"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}));
        let index = index(&[headless("default", "db")], &[endpoints]);
        assert_eq!(rdata(&index, "db.default.svc.cluster.local.", RecordType::A), ["A 10.244.1.5", "A 10.244.2.6"]);
        assert_eq!(rdata(&index, "db-0.db.default.svc.cluster.local.", RecordType::A), ["A 10.244.1.5"]);
        assert_eq!(rdata(&index, "10-244-2-6.db.default.svc.cluster.local.", RecordType::A), ["A 10.244.2.6"]);
        assert!(is_nxdomain(&index, "db-2.db.default.svc.cluster.local.", RecordType::A));
        assert_eq!(
            rdata(&index, "_http._tcp.db.default.svc.cluster.local.", RecordType::SRV),
            ["SRV 0 50 8080 10-244-2-6.db.default.svc.cluster.local.", "SRV 0 50 8080 db-0.db.default.svc.cluster.local."]
        );
        let srv = answer(&index, "_http._tcp.db.default.svc.cluster.local.", RecordType::SRV);
        let mut additional: Vec<String> = srv.additionals.iter().map(|r| format!("{} {}", r.name, r.data)).collect();
        additional.sort();
        assert_eq!(additional, ["10-244-2-6.db.default.svc.cluster.local. 10.244.2.6", "db-0.db.default.svc.cluster.local. 10.244.1.5"]);
    }

    #[test]
    fn headless_service_without_ready_endpoints_exists_with_no_address() {
        let endpoints = endpoints(json!({"metadata": {"namespace": "default", "name": "db"},
            "subsets": [{"notReadyAddresses": [{"ip": "10.244.3.7"}], "ports": [{"name": "http", "port": 8080}]}]}));
        let index = index(&[headless("default", "db"), headless("default", "lonely")], &[endpoints]);
        assert!(is_nodata(&index, "db.default.svc.cluster.local.", RecordType::A));
        assert!(is_nodata(&index, "lonely.default.svc.cluster.local.", RecordType::A));
        assert_eq!(index.lookup(&Name::from_ascii("7.3.244.10.in-addr.arpa.").unwrap(), RecordType::PTR), Lookup::Forward);
    }

    #[test]
    fn reverse_names_point_at_services_and_endpoint_names() {
        let endpoints = endpoints(json!({"metadata": {"namespace": "default", "name": "db"},
            "subsets": [{"addresses": [{"ip": "10.244.1.5", "hostname": "db-0"}, {"ip": "fd00::5"}]}]}));
        let services = [cluster_ip("default", "web", &["10.96.0.20", "fd00:96::20"], json!([])), headless("default", "db")];
        let index = index(&services, &[endpoints]);
        assert_eq!(rdata(&index, "20.0.96.10.in-addr.arpa.", RecordType::PTR), ["PTR web.default.svc.cluster.local."]);
        assert_eq!(rdata(&index, "5.1.244.10.in-addr.arpa.", RecordType::PTR), ["PTR db-0.db.default.svc.cluster.local."]);
        let ipv6 = Name::from("fd00:96::20".parse::<IpAddr>().unwrap()).to_ascii();
        assert_eq!(rdata(&index, &ipv6, RecordType::PTR), ["PTR web.default.svc.cluster.local."]);
        let endpoint_v6 = Name::from("fd00::5".parse::<IpAddr>().unwrap()).to_ascii();
        assert_eq!(rdata(&index, &endpoint_v6, RecordType::PTR), ["PTR fd00--5.db.default.svc.cluster.local."]);
        assert_eq!(rdata(&index, "fd00--5.db.default.svc.cluster.local.", RecordType::AAAA), ["AAAA fd00::5"]);
        // A reverse name we hold, asked for another type: NODATA without claiming the zone's SOA.
        let other = answer(&index, "20.0.96.10.in-addr.arpa.", RecordType::A);
        assert_eq!((other.rcode, other.answers.len(), other.authorities.len()), (ResponseCode::NoError, 0, 0));
    }

    #[test]
    fn external_names_are_aliases() {
        let services = [
            service(json!({"metadata": {"namespace": "default", "name": "search"}, "spec": {"type": "ExternalName", "externalName": "Search.Example.com"}})),
            service(json!({"metadata": {"namespace": "default", "name": "inside"}, "spec": {"type": "ExternalName", "externalName": "web.default.svc.cluster.local"}})),
            cluster_ip("default", "web", &["10.96.0.20"], json!([])),
        ];
        let index = index(&services, &[]);
        assert_eq!(rdata(&index, "search.default.svc.cluster.local.", RecordType::CNAME), ["CNAME search.example.com."]);
        let aliased = answer(&index, "search.default.svc.cluster.local.", RecordType::A);
        assert_eq!(aliased.answers.len(), 1);
        assert_eq!(aliased.follow, Some(Name::from_ascii("search.example.com.").unwrap()));
        // A target inside the domain is answered from the index, after the CNAME.
        assert_eq!(rdata(&index, "inside.default.svc.cluster.local.", RecordType::A), ["A 10.96.0.20", "CNAME web.default.svc.cluster.local."]);
        assert_eq!(answer(&index, "inside.default.svc.cluster.local.", RecordType::A).follow, None);
        // An alias loop ends.
        let looped = [service(json!({"metadata": {"namespace": "default", "name": "me"}, "spec": {"type": "ExternalName", "externalName": "me.default.svc.cluster.local"}}))];
        let found = answer(&super::tests::index(&looped, &[]), "me.default.svc.cluster.local.", RecordType::A);
        assert_eq!(found.answers.len(), 1);
    }

    #[test]
    fn pod_names_answer_the_address_they_spell() {
        let index = index(&[], &[]);
        assert_eq!(rdata(&index, "10-244-1-5.default.pod.cluster.local.", RecordType::A), ["A 10.244.1.5"]);
        assert_eq!(rdata(&index, "fd00--5.default.pod.cluster.local.", RecordType::AAAA), ["AAAA fd00::5"]);
        assert!(is_nodata(&index, "10-244-1-5.default.pod.cluster.local.", RecordType::AAAA));
        assert!(is_nodata(&index, "default.pod.cluster.local.", RecordType::A));
        assert!(is_nodata(&index, "pod.cluster.local.", RecordType::A));
        for bad in ["10-244-1.default.pod.cluster.local.", "10-244-1-256.default.pod.cluster.local.", "a.10-244-1-5.default.pod.cluster.local.", "web.default.pod.cluster.local."] {
            assert!(is_nxdomain(&index, bad, RecordType::A), "{bad}");
        }
    }

    #[test]
    fn objects_that_cannot_be_named_are_skipped() {
        let services = [
            service(json!({"metadata": {"namespace": "default", "name": "no-spec"}})),
            service(json!({"metadata": {"name": "no-namespace"}, "spec": {"clusterIP": "10.96.0.9"}})),
            service(json!({"metadata": {"namespace": "default", "name": "pending"}, "spec": {"clusterIP": ""}})),
            service(json!({"metadata": {"namespace": "default", "name": "bad-ip"}, "spec": {"clusterIP": "not-an-ip"}})),
            service(json!({"metadata": {"namespace": "default", "name": "x".repeat(70)}, "spec": {"clusterIP": "10.96.0.10"}})),
        ];
        let index = index(&services, &[]);
        assert!(is_nodata(&index, "pending.default.svc.cluster.local.", RecordType::A));
        assert!(is_nodata(&index, "bad-ip.default.svc.cluster.local.", RecordType::A));
        assert_eq!(index.services(), 2);
    }

    #[test]
    fn dashed_addresses_round_trip() {
        for ip in ["10.1.2.3", "fd00::1", "2001:db8::8a2e:370:7334"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(dashed_ip(&dashed(ip)), Some(ip));
        }
        assert_eq!(dashed_ip("1-2-3"), None);
        assert_eq!(dashed_ip("web"), None);
    }
}
