//! `Service`: its declaration; its strategy (the typed one, `admission::service`, and the
//! ClusterIP and NodePorts it takes from the cluster's pools, as kube's Service REST storage
//! allocates them) and its printer.

use async_trait::async_trait;
use serde_json::{Value, json};
use k8s_openapi::api::core::v1::Service;

use crate::admission::Typed;
use crate::allocators::{self, AllocationError, Held};
use crate::errors::{ApiError, Cause};
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::kinds::ALL;
use crate::printers::{self, NAME, AGE, Column, Printer, list, or_none, text, label_map_text};
use crate::storage::Store;
use crate::strategy::{Admitted, FieldValidation, Operation, Strategy};

static STRATEGY: ServiceStrategy = ServiceStrategy(Typed::new());

struct ServiceStrategy(Typed<Service>);

#[async_trait]
impl Strategy for ServiceStrategy {
    fn admit(&self, resource: &ResourceType, object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError> {
        self.0.admit(resource, object, old, operation, validation)
    }

    /// Services count, and their node ports and load balancers (kube's service evaluator).
    fn usage(&self) -> Option<&'static dyn common::quota::Evaluator> {
        Some(&common::quota::ServiceEvaluator)
    }

    fn held(&self, service: &Value) -> Held {
        let ip = service
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .filter(|ip| !ip.is_empty() && *ip != "None")
            .map(str::to_string);
        let ports = list(service, "/spec/ports")
            .iter()
            .filter_map(|port| port.get("nodePort").and_then(Value::as_u64))
            .filter_map(|port| u16::try_from(port).ok())
            .collect();
        Held { ip, ports }
    }

    /// The ClusterIP (unless headless or ExternalName) and NodePorts (for NodePort and
    /// LoadBalancer types) the Service needs: the ones it names, or free ones.
    async fn allocate(&self, store: &dyn Store, resource: &ResourceType, namespace: Option<&str>, previous: &Value, service: &mut Value) -> Result<Held, ApiError> {
        let mut taken = Held::default();
        let held = self.held(previous);
        let result = allocate_into(store, resource, namespace, &held, service, &mut taken).await;
        if result.is_err() {
            taken.release(store).await;
        }
        result.map(|()| taken)
    }
}

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "Service", "services", "service")
        .namespaced()
        .short_names(&["svc"])
        .categories(ALL)
        .subresources(&["status"])
        .returns_deleted_object(),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Type", "string", 0, "The type of service."),
        Column::new("Cluster-IP", "string", 0, "The cluster IP of the service."),
        Column::new("External-IP", "string", 0, "The external IP of the service."),
        Column::new("Port(s)", "string", 0, "The ports of the service."),
        AGE,
        Column::new("Selector", "string", 1, "Label selector of the service."),
    ],
    cells,
};

/// `printService`'s row: `port/protocol`, or `port:nodePort/protocol`, per port.
fn cells(service: &Value) -> Vec<Value> {
    let ports: Vec<String> = list(service, "/spec/ports")
        .iter()
        .map(|port| {
            let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            let protocol = port.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match port.get("nodePort").and_then(Value::as_i64) {
                Some(node_port) => format!("{number}:{node_port}/{protocol}"),
                None => format!("{number}/{protocol}"),
            }
        })
        .collect();
    let service_type = text(service, "/spec/type");
    let external = match service_type {
        "ExternalName" => text(service, "/spec/externalName").to_string(),
        "LoadBalancer" => "<pending>".to_string(),
        _ => "<none>".to_string(),
    };
    vec![
        printers::name(service),
        json!(service_type),
        json!(or_none(text(service, "/spec/clusterIP").to_string())),
        json!(external),
        json!(or_none(ports.join(","))),
        printers::age_of(service),
        json!(or_none(label_map_text(service.pointer("/spec/selector")))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_port_service_prints_its_ports_with_the_node_ports() {
        let service = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.96.1.2", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}], "selector": {"app": "web"}}});
        let row = printers::row_of("Service", &service);
        assert_eq!(row[1..5], [json!("NodePort"), json!("10.96.1.2"), json!("<none>"), json!("80:30080/TCP")]);
        assert_eq!(row[6], json!("app=web"));
    }
}

async fn allocate_into(store: &dyn Store, resource: &ResourceType, namespace: Option<&str>, held: &Held, service: &mut Value, taken: &mut Held) -> Result<(), ApiError> {
    let name = crate::meta::name(service).unwrap_or_default().to_string();
    let owner = format!("{}/{name}", namespace.unwrap_or_default());
    let invalid = |field: String, value: Value, err: AllocationError| {
        let detail = format!("failed to allocate: {err}");
        ApiError::invalid(resource, &name, vec![Cause::invalid(field, &value, &detail)])
    };
    let kind = service.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) else {
        return Err(ApiError::invalid(resource, &name, vec![Cause::required("spec", "")]));
    };
    if kind != "ExternalName" {
        let requested = spec.get("clusterIP").and_then(Value::as_str).unwrap_or_default().to_string();
        let ip = match requested.as_str() {
            "None" => "None".to_string(),
            ip if held.ip.as_deref() == Some(ip) => ip.to_string(),
            "" => {
                let ip = allocators::allocate_ip(store, &owner).await.map_err(|err| invalid("spec.clusterIP".into(), json!(requested), err))?;
                taken.ip = Some(ip.to_string());
                ip.to_string()
            }
            text => {
                let ip: std::net::Ipv4Addr = text.parse().map_err(|_| {
                    let detail = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
                    ApiError::invalid(resource, &name, vec![Cause::invalid("spec.clusterIP", &json!(text), detail)])
                })?;
                allocators::reserve_ip(store, ip, &owner).await.map_err(|err| invalid("spec.clusterIP".into(), json!(text), err))?;
                taken.ip = Some(ip.to_string());
                ip.to_string()
            }
        };
        spec.insert("clusterIP".into(), json!(ip));
        spec.insert("clusterIPs".into(), json!([ip]));
        if ip != "None" || spec.contains_key("selector") {
            spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
            spec.entry("ipFamilyPolicy").or_insert_with(|| json!("SingleStack"));
        }
    }
    if kind == "NodePort" || kind == "LoadBalancer" {
        let ports = spec.get_mut("ports").and_then(Value::as_array_mut).map(std::mem::take).unwrap_or_default();
        let mut assigned = Vec::with_capacity(ports.len());
        for (index, mut port) in ports.into_iter().enumerate() {
            let field = format!("spec.ports[{index}].nodePort");
            match port.get("nodePort").and_then(Value::as_u64) {
                Some(requested) if u16::try_from(requested).is_ok_and(|number| held.ports.contains(&number)) => {}
                Some(requested) if requested > 0 => {
                    let number = u16::try_from(requested).map_err(|_| invalid(field.clone(), json!(requested), AllocationError::PortOutOfRange))?;
                    allocators::reserve_port(store, number, &owner).await.map_err(|err| invalid(field.clone(), json!(requested), err))?;
                    taken.ports.push(number);
                }
                _ => {
                    let number = allocators::allocate_port(store, &owner).await.map_err(|err| invalid(field.clone(), json!(0), err))?;
                    taken.ports.push(number);
                    if let Some(port) = port.as_object_mut() {
                        port.insert("nodePort".into(), json!(number));
                    }
                }
            }
            assigned.push(port);
        }
        spec.insert("ports".into(), json!(assigned));
    }
    Ok(())
}
