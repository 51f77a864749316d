//! `Ingress` (`networking.k8s.io/v1`, namespaced, `/status`): HTTP routes from hosts and paths to
//! Services, for an ingress controller to serve. Its declaration, its strategy (the status reset
//! on create and kept on update, the spec kept on a status update, the generation), its
//! validation (`ValidateIngressCreate`, `ValidateIngressUpdate`, `ValidateIngressStatusUpdate`
//! in `pkg/apis/networking/validation`) and its printer (`printIngress`). Not in the `all`
//! category, as in kube.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressBackend, IngressRule, IngressSpec, IngressStatus};
use serde_json::{Value, json};

use crate::admission::field::{Causes, Path};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer, list, text};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress")
        .namespaced()
        .short_names(&["ing"])
        .subresources(&["status"])
        .tracks_generation(),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<Ingress> = Typed::new();

/// The annotation that named an ingress's class before `spec.ingressClassName`.
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// `supportedPathTypes`, sorted as Go's `sets.String.List` gives them.
const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];

/// What an `Exact` or `Prefix` path may not contain (`invalidPathSequences`) or end with
/// (`invalidPathSuffixes`).
const INVALID_PATH_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES: &[&str] = &["/..", "/."];

impl TypedKind for Ingress {
    /// Go's status and load balancer are structs, not pointers: kube writes them even empty.
    fn apply_defaults(&mut self) {
        self.status.get_or_insert_with(IngressStatus::default).load_balancer.get_or_insert_with(Default::default);
    }

    /// The status is the ingress controller's.
    fn prepare_for_create(&mut self) {
        self.status = Some(IngressStatus { load_balancer: Some(Default::default()) });
    }

    /// The status is written through its subresource only.
    fn prepare_for_update(&mut self, old: &Self) {
        self.status.clone_from(&old.status);
    }

    /// The status subresource changes nothing else.
    fn prepare_for_status_update(&mut self, old: &Self) {
        self.spec.clone_from(&old.spec);
    }

    /// `ValidateIngressCreate`: the spec, and the class annotation agreeing with the class name.
    fn validate(&self, context: &Context, causes: &mut Causes) {
        let spec = self.spec.clone().unwrap_or_default();
        validate_spec(&spec, context, &Path::new("spec"), causes);
        let annotation = self.metadata.annotations.as_ref().and_then(|annotations| annotations.get(CLASS_ANNOTATION));
        if let (Some(annotation), Some(class)) = (annotation, &spec.ingress_class_name)
            && annotation != class
        {
            causes.invalid(&Path::new("annotations").child(CLASS_ANNOTATION), annotation.as_str(), "must match `ingressClassName` when both are specified");
        }
    }

    /// `ValidateIngressUpdate`: the spec only (the annotation may disagree with a class set
    /// before the check existed).
    fn validate_update(&self, _old: &Self, context: &Context, causes: &mut Causes) {
        validate_spec(&self.spec.clone().unwrap_or_default(), context, &Path::new("spec"), causes);
    }

    /// `ValidateIngressLoadBalancerStatus`.
    fn validate_status_update(&self, _old: &Self, _context: &Context, causes: &mut Causes) {
        let balancer = self.status.as_ref().and_then(|status| status.load_balancer.as_ref());
        let ingress = balancer.and_then(|balancer| balancer.ingress.as_deref()).unwrap_or_default();
        let path = Path::new("status").child("loadBalancer").child("ingress");
        for (index, point) in ingress.iter().enumerate() {
            let point_path = path.index(index);
            if let Some(ip) = point.ip.as_deref().filter(|ip| !ip.is_empty())
                && !common::names::is_ip(ip)
            {
                causes.invalid(&point_path.child("ip"), ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
            }
            if let Some(hostname) = point.hostname.as_deref().filter(|hostname| !hostname.is_empty()) {
                causes.invalid_each(&point_path.child("hostname"), hostname, common::names::dns1123_subdomain(hostname));
                if common::names::is_ip(hostname) {
                    causes.invalid(&point_path.child("hostname"), hostname, "must be a DNS name, not an IP address");
                }
            }
        }
    }
}

/// `ValidateIngressSpec`.
fn validate_spec(spec: &IngressSpec, context: &Context, path: &Path, causes: &mut Causes) {
    let rules = spec.rules.as_deref().unwrap_or_default();
    if rules.is_empty() && spec.default_backend.is_none() {
        // Go shows the (empty) rules slice as the value.
        let shown = if spec.rules.is_some() { "[]networking.IngressRule{}" } else { "[]networking.IngressRule(nil)" };
        causes.invalid_shown(path, shown, "either `defaultBackend` or `rules` must be specified");
    }
    if let Some(backend) = &spec.default_backend {
        validate_backend(backend, &path.child("defaultBackend"), causes);
    }
    for (index, rule) in rules.iter().enumerate() {
        validate_rule(rule, index, context, &path.child("rules").index(index), causes);
    }
    for (index, tls) in spec.tls.iter().flatten().enumerate() {
        let tls_path = path.child("tls").index(index);
        for (host_index, host) in tls.hosts.iter().flatten().enumerate() {
            causes.invalid_each(&tls_path.child("hosts").index(host_index), host, host_errors(host));
        }
        if let Some(secret) = tls.secret_name.as_deref().filter(|secret| !secret.is_empty()) {
            causes.invalid_each(&tls_path.child("secretName"), secret, common::names::dns1123_subdomain(secret));
        }
    }
    if let Some(class) = &spec.ingress_class_name {
        causes.invalid_each(&path.child("ingressClassName"), class, common::names::dns1123_subdomain(class));
    }
}

/// A host's format: a DNS subdomain, or one with a leading `*.` label.
fn host_errors(host: &str) -> Vec<String> {
    if !host.contains('*') {
        return common::names::dns1123_subdomain(host);
    }
    let valid = host.len() <= 253 && host.strip_prefix("*.").is_some_and(|rest| !rest.contains('*') && common::names::dns1123_subdomain(rest).is_empty());
    if valid { Vec::new() } else { vec![WILDCARD_MESSAGE.to_string()] }
}

const WILDCARD_MESSAGE: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// `validateIngressRules` for one rule: its host, then its paths.
fn validate_rule(rule: &IngressRule, index: usize, context: &Context, path: &Path, causes: &mut Causes) {
    if let Some(host) = rule.host.as_deref().filter(|host| !host.is_empty()) {
        if common::names::is_ip(host) {
            causes.invalid(&path.child("host"), host, "must be a DNS name, not an IP address");
        }
        causes.invalid_each(&path.child("host"), host, host_errors(host));
    }
    let Some(http) = &rule.http else { return };
    let paths_path = path.child("http").child("paths");
    if http.paths.is_empty() {
        causes.required(&paths_path, "");
    }
    for (path_index, http_path) in http.paths.iter().enumerate() {
        let pointer = format!("/spec/rules/{index}/http/paths/{path_index}/pathType");
        validate_path(http_path, context.was_missing(&pointer), &paths_path.index(path_index), causes);
    }
}

/// `validateHTTPIngressPath`.
fn validate_path(http_path: &HTTPIngressPath, path_type_missing: bool, path: &Path, causes: &mut Causes) {
    if path_type_missing {
        return causes.required(&path.child("pathType"), "pathType must be specified");
    }
    let value = http_path.path.as_deref().unwrap_or_default();
    match http_path.path_type.as_str() {
        "Exact" | "Prefix" => {
            if !value.starts_with('/') {
                causes.invalid(&path.child("path"), value, "must be an absolute path");
            }
            for sequence in INVALID_PATH_SEQUENCES.iter().filter(|sequence| !value.is_empty() && value.contains(**sequence)) {
                causes.invalid(&path.child("path"), value, &format!("must not contain '{sequence}'"));
            }
            for suffix in INVALID_PATH_SUFFIXES.iter().filter(|suffix| value.ends_with(**suffix)) {
                causes.invalid(&path.child("path"), value, &format!("cannot end with '{suffix}'"));
            }
        }
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                causes.invalid(&path.child("path"), value, "must be an absolute path");
            }
        }
        other => causes.not_supported(&path.child("pathType"), other, PATH_TYPES),
    }
    validate_backend(&http_path.backend, &path.child("backend"), causes);
}

/// `validateIngressBackend`: a Service (named, with a port name or number) or a resource.
fn validate_backend(backend: &IngressBackend, path: &Path, causes: &mut Causes) {
    match (&backend.resource, &backend.service) {
        (Some(_), Some(_)) => causes.invalid(path, "", "cannot set both resource and service backends"),
        (Some(resource), None) => {
            let resource_path = path.child("resource");
            if let Some(group) = &resource.api_group {
                causes.invalid_each(&resource_path.child("apiGroup"), group, common::names::dns1123_subdomain(group));
            }
            for (field, value) in [("kind", &resource.kind), ("name", &resource.name)] {
                if value.is_empty() {
                    causes.required(&resource_path.child(field), "");
                } else {
                    causes.invalid_each(&resource_path.child(field), value, path_segment_errors(value));
                }
            }
        }
        (None, Some(service)) => {
            let service_path = path.child("service");
            if service.name.is_empty() {
                causes.required(&service_path.child("name"), "");
            } else {
                causes.invalid_each(&service_path.child("name"), &service.name, common::names::dns1035_label(&service.name));
            }
            let port = service.port.clone().unwrap_or_default();
            let name = port.name.unwrap_or_default();
            let number = port.number.unwrap_or_default();
            match (!name.is_empty(), number != 0) {
                (true, true) => causes.invalid(path, "", "cannot set both port name & port number"),
                (true, false) => causes.invalid_each(&service_path.child("port").child("name"), &name, common::names::port_name(&name)),
                (false, true) => {
                    for message in common::names::port_number(number.into()) {
                        causes.invalid(&service_path.child("port").child("number"), number, &message);
                    }
                }
                (false, false) => causes.required(path, "port name or number is required"),
            }
        }
        (None, None) => causes.invalid(path, "", "resource or service backend is required"),
    }
}

/// `content.IsPathSegmentName`: a name that can be one segment of a URL path.
pub(crate) fn path_segment_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value == "." || value == ".." {
        errors.push(format!("may not be '{value}'"));
    }
    for illegal in ["/", "%"] {
        if value.contains(illegal) {
            errors.push(format!("may not contain '{illegal}'"));
        }
    }
    errors
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Class", "string", 0, "The name of the IngressClass resource that should be used for additional configuration"),
        Column::new("Hosts", "string", 0, "Hosts that incoming requests are matched against before the ingress rule"),
        Column::new("Address", "string", 0, "Address is a list containing ingress points for the load-balancer"),
        Column::new("Ports", "string", 0, "Ports of TLS configurations that open"),
        AGE,
    ],
    cells,
};

/// `printIngress`'s row.
fn cells(ingress: &Value) -> Vec<Value> {
    let class = ingress.pointer("/spec/ingressClassName").and_then(Value::as_str).unwrap_or("<none>");
    let ports = if list(ingress, "/spec/tls").is_empty() { "80" } else { "80, 443" };
    vec![printers::name(ingress), json!(class), json!(hosts(ingress)), json!(address(ingress)), json!(ports), printers::age_of(ingress)]
}

/// `formatHosts`: the first three hosts set, `*` when none is, and (when a rule follows the
/// third host) how many rules there are beyond three, as kube counts them.
fn hosts(ingress: &Value) -> String {
    let rules = list(ingress, "/spec/rules");
    let mut shown: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if shown.len() == 3 {
            more = true;
        } else if !text(rule, "/host").is_empty() {
            shown.push(text(rule, "/host"));
        }
    }
    if shown.is_empty() {
        return "*".to_string();
    }
    if more { format!("{} + {} more...", shown.join(","), rules.len() - 3) } else { shown.join(",") }
}

/// `ingressLoadBalancerStatusStringer`: the sorted distinct IPs or hostnames. kube-apiserver
/// prints tables as wide, so the cell is never clipped to 16 bytes as kubectl's own printer
/// would clip it.
fn address(ingress: &Value) -> String {
    let points = list(ingress, "/status/loadBalancer/ingress");
    let addresses: BTreeSet<&str> = points
        .iter()
        .filter_map(|point| [text(point, "/ip"), text(point, "/hostname")].into_iter().find(|value| !value.is_empty()))
        .collect();
    addresses.into_iter().collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;

    fn ingress(name: &str) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": "demo"},
            "spec": {"rules": [{"host": "web.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    }

    const PATH: &str = "/spec/rules/0/http/paths/0";

    #[test]
    fn bad_ingresses_get_kube_apiservers_causes() {
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("a default backend alone", with(without(ingress("web"), "/spec/rules"), "/spec/defaultBackend", json!({"service": {"name": "web", "port": {"name": "http"}}})), Outcome::Admitted),
            ("a wildcard host", with(ingress("web"), "/spec/rules/0/host", json!("*.example.com")), Outcome::Admitted),
            ("no rules and no default", without(ingress("web"), "/spec/rules"), invalid(&["spec"], "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified")),
            ("no pathType", without(ingress("web"), &format!("{PATH}/pathType")), invalid(&["spec.rules[0].http.paths[0].pathType"], "Required value: pathType must be specified")),
            ("an unknown pathType", with(ingress("web"), &format!("{PATH}/pathType"), json!("Regex")),
             invalid(&["spec.rules[0].http.paths[0].pathType"], "Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"")),
            ("a relative path", with(ingress("web"), &format!("{PATH}/path"), json!("api")), invalid(&["spec.rules[0].http.paths[0].path"], "Invalid value: \"api\": must be an absolute path")),
            ("no paths", with(ingress("web"), "/spec/rules/0/http/paths", json!([])), invalid(&["spec.rules[0].http.paths"], "Required value")),
            ("no backend", with(ingress("web"), &format!("{PATH}/backend"), json!({})), invalid(&["spec.rules[0].http.paths[0].backend"], "resource or service backend is required")),
            ("no port", without(ingress("web"), &format!("{PATH}/backend/service/port")), invalid(&["spec.rules[0].http.paths[0].backend"], "Required value: port name or number is required")),
            ("an IP host", with(ingress("web"), "/spec/rules/0/host", json!("10.0.0.1")), invalid(&["spec.rules[0].host"], "must be a DNS name, not an IP address")),
            ("a bad service name", with(ingress("web"), &format!("{PATH}/backend/service/name"), json!("1web")), invalid(&["spec.rules[0].http.paths[0].backend.service.name"], "a DNS-1035 label")),
        ];
        run_create("ingresses", rows);
    }

    #[test]
    fn the_class_annotation_must_agree_with_the_class_name() {
        let both = with(with(ingress("web"), "/spec/ingressClassName", json!("nginx")), "/metadata/annotations", json!({CLASS_ANNOTATION: "traefik"}));
        run_create("ingresses", vec![("disagreeing", both, invalid(&["annotations.kubernetes.io/ingress.class"], "must match `ingressClassName` when both are specified"))]);
    }

    #[test]
    fn the_status_is_the_controllers() {
        let created = admitted(resource("ingresses"), with(ingress("web"), "/status/loadBalancer/ingress", json!([{"ip": "10.0.0.1"}])));
        assert_eq!(created["status"], json!({"loadBalancer": {}}));
        let stored = with(created, "/status/loadBalancer/ingress", json!([{"ip": "10.0.0.1"}]));
        let status = |status: Value| crate::admission::admit_status_update(resource("ingresses"), with(stored.clone(), "/status", status), &stored, crate::strategy::FieldValidation::Strict);
        let written = status(json!({"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}})).expect("a hostname");
        assert_eq!(written.object["status"]["loadBalancer"]["ingress"][0]["hostname"], "lb.example.com");
        let refused = status(json!({"loadBalancer": {"ingress": [{"ip": "not-an-ip"}, {"hostname": "10.0.0.2"}]}})).expect_err("bad addresses");
        assert_eq!(cause_fields(&refused), ["status.loadBalancer.ingress[0].ip", "status.loadBalancer.ingress[1].hostname"]);
    }

    #[test]
    fn an_ingress_prints_as_kubectl_shows_it() {
        let printed = printers::row_of("Ingress", &ingress("web"));
        assert_eq!(printed[..5], [json!("web"), json!("<none>"), json!("web.example.com"), json!(""), json!("80")]);
        let busy = json!({"metadata": {"name": "busy"}, "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
            "rules": [{"host": "a.example.com"}, {}, {"host": "c.example.com"}, {"host": "d.example.com"}, {"host": "e.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.168.100.200"}, {"hostname": "lb.example.com"}, {"ip": "192.168.100.200"}]}}});
        let printed = printers::row_of("Ingress", &busy);
        assert_eq!(printed[..5], [json!("busy"), json!("nginx"), json!("a.example.com,c.example.com,d.example.com + 2 more..."), json!("192.168.100.200,lb.example.com"), json!("80, 443")]);
    }
}
