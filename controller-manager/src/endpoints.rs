//! The Endpoints controller, as kube-controller-manager's: every Service with a selector (and not
//! of type ExternalName) gets an Endpoints object of its own name listing the pods it selects,
//! ready ones under `addresses` and the others under `notReadyAddresses`, with the Service's
//! ports resolved against each pod. Services without a selector are left to their users. When a
//! Service goes, its Endpoints go with it (they carry no ownerReference, as in Kubernetes, so the
//! garbage collector would not see to it).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::framework::{self, ReconcileError, Triggers};

const CONTROLLER: &str = "endpoints";
/// What events from this controller are signed as, as in Kubernetes.
const COMPONENT: &str = "endpoint-controller";
/// Set on the Endpoints of headless Services (no cluster IP) so that kube-proxy skips them.
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Set when a Service selects more pods than one Endpoints object may list.
const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";
/// Endpoints used as leader-election locks by old components: never anyone's leftovers.
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";
/// Kubernetes lists at most this many addresses in one Endpoints (EndpointSlices have the rest).
const MAX_CAPACITY: usize = 1000;

pub async fn run(context: Arc<Context>) {
    let recorder = Arc::new(context.recorder(COMPONENT));
    let triggers: Triggers<Service> = vec![
        context.services.changes().map(|service| ObjectRef::from_obj(&*service)).boxed(),
        pod_triggers(&context),
        // Someone else's edit (or deletion) of managed Endpoints is put back at once.
        context.endpoints.changes().map(|endpoints| service_named(&endpoints.metadata)).boxed(),
    ];
    let controller = framework::run(
        CONTROLLER,
        context.metrics.clone(),
        context.clone(),
        context.services.store(),
        triggers,
        context.settings.concurrent_syncs,
        move |service, context| {
            let recorder = recorder.clone();
            async move { reconcile(&service, &context, &recorder).await }
        },
    );
    // The framework only reconciles Services that exist, so the Endpoints of deleted ones are
    // removed beside it.
    tokio::join!(controller, delete_leftovers(context.clone()));
}

/// The request for the Service that the object with `metadata` (an Endpoints) belongs to.
fn service_named(metadata: &ObjectMeta) -> ObjectRef<Service> {
    let reference = ObjectRef::new(metadata.name.as_deref().unwrap_or_default());
    match &metadata.namespace {
        Some(namespace) => reference.within(namespace),
        None => reference,
    }
}

/// Requests for the Services a changed pod is selected by now, and for those it was selected by
/// when last seen: the informer gives only the new pod, so a pod whose labels stopped matching
/// would otherwise stay listed until the next resync.
fn pod_triggers(context: &Context) -> futures::stream::BoxStream<'static, ObjectRef<Service>> {
    let (services, pods) = (context.services.store(), context.pods.store());
    let mut selected_before: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
    context
        .pods
        .changes()
        .flat_map(move |pod| {
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let selecting: BTreeSet<String> = services
                .state()
                .iter()
                .filter(|service| service.metadata.namespace.as_deref() == Some(namespace.as_str()))
                .filter(|service| selector_of(service).is_some_and(|selector| selects(selector, &labels)))
                .filter_map(|service| service.metadata.name.clone())
                .collect();
            // Deleted pods arrive as they were last seen; the store already lacks them (or holds
            // a new pod of the same name).
            let still_there = pods.get(&ObjectRef::new(&name).within(&namespace)).is_some_and(|current| current.metadata.uid == pod.metadata.uid);
            let key = (namespace.clone(), name);
            let before = if still_there && !selecting.is_empty() { selected_before.insert(key, selecting.clone()) } else { selected_before.remove(&key) };
            let all: BTreeSet<String> = selecting.into_iter().chain(before.into_iter().flatten()).collect();
            futures::stream::iter(all.into_iter().map(move |service| ObjectRef::new(&service).within(&namespace)))
        })
        .boxed()
}

/// Deletes the Endpoints of Services that are gone: those left from before this controller
/// started (as Kubernetes' `checkLeftoverEndpoints`), then those of each Service deleted.
async fn delete_leftovers(context: Arc<Context>) {
    let services = context.services.store();
    let changes = context.services.changes();
    for endpoints in context.endpoints.store().state() {
        let annotations = endpoints.metadata.annotations.as_ref();
        if annotations.is_some_and(|annotations| annotations.contains_key(LEADER_ANNOTATION)) {
            continue;
        }
        let service = service_named(&endpoints.metadata);
        if services.get(&service).is_none() {
            delete_endpoints(&context, &service).await;
        }
    }
    futures::pin_mut!(changes);
    while let Some(service) = changes.next().await {
        let reference = ObjectRef::from_obj(&*service);
        // Still there (changed, not deleted), or already created again under the same name:
        // then the Endpoints are that Service's.
        if services.get(&reference).is_none() {
            delete_endpoints(&context, &reference).await;
        }
    }
}

/// Deletes the Endpoints named as `service`, if any. Failures are logged only: the Endpoints
/// of a Service that is gone are harmless, and the next start looks for them again.
async fn delete_endpoints(context: &Context, service: &ObjectRef<Service>) {
    let namespace = service.namespace.as_deref().unwrap_or_default();
    let api: Api<Endpoints> = Api::namespaced(context.client.clone(), namespace);
    match api.delete(&service.name, &DeleteParams::default()).await {
        Ok(_) => tracing::info!(namespace, name = %service.name, "deleted the endpoints of a deleted service"),
        Err(kube::Error::Api(status)) if status.is_not_found() => {}
        Err(err) => tracing::warn!(namespace, name = %service.name, error = %err, "cannot delete the endpoints of a deleted service"),
    }
}

async fn reconcile(service: &Service, context: &Context, recorder: &common::events::Recorder) -> Result<Action, ReconcileError> {
    let requeue = Action::requeue(framework::RESYNC);
    let Some(selector) = selector_of(service) else {
        // Endpoints of services without a selector are written by their users.
        return Ok(requeue);
    };
    let namespace = service.metadata.namespace.clone().unwrap_or_default();
    let name = service.metadata.name.clone().unwrap_or_default();
    let selected = context
        .pods
        .store()
        .state_filter(|pod| pod.metadata.namespace.as_deref() == Some(namespace.as_str()) && selects(selector, pod.metadata.labels.as_ref().unwrap_or(&BTreeMap::new())));
    let subsets = subsets_for(service, &selected);
    let reference = ObjectRef::<Endpoints>::new(&name).within(&namespace);
    let current = context.endpoints.store().get(&reference);
    let Some(desired) = desired_endpoints(service, current.as_deref(), subsets) else {
        tracing::debug!(namespace, name, "endpoints up to date");
        return Ok(requeue);
    };
    let (ready, not_ready) = count_addresses(desired.subsets.as_deref().unwrap_or_default());
    let api: Api<Endpoints> = Api::namespaced(context.client.clone(), &namespace);
    let written = match &current {
        None => api.create(&PostParams::default(), &desired).await,
        Some(_) => api.replace(&name, &PostParams::default(), &desired).await,
    };
    if let Err(err) = written {
        if current.is_none() && namespace_terminating(&err) {
            // Nothing may be created there any more, and the Service is about to go too.
            tracing::debug!(namespace, name, "namespace terminating, endpoints not created");
            return Ok(requeue);
        }
        // Conflicts and the like only mean the cache was behind: the retry sorts them out, and
        // Kubernetes records them all the same.
        let (reason, message) = match current {
            None => ("FailedToCreateEndpoint", format!("Failed to create endpoint for service {namespace}/{name}: {err}")),
            Some(_) => ("FailedToUpdateEndpoint", format!("Failed to update endpoint {namespace}/{name}: {err}")),
        };
        if let Err(event_err) = recorder.record(&common::events::reference(&desired), "Warning", reason, "Sync", &message).await {
            tracing::debug!(namespace, name, error = %event_err, "cannot record event");
        }
        return Err(err.into());
    }
    tracing::info!(namespace, name, ready, not_ready, created = current.is_none(), "endpoints written");
    // A Service deleted while this reconcile ran may have had its Endpoints deleted before they
    // were written above; the deletion is then this reconcile's to finish.
    if context.services.store().get(&ObjectRef::from_obj(service)).is_none() {
        delete_endpoints(context, &ObjectRef::from_obj(service)).await;
    }
    Ok(requeue)
}

/// Whether an error of a create says the namespace is being deleted (Kubernetes gives the
/// cause `NamespaceTerminating`; the message is matched too for servers that give only that).
fn namespace_terminating(err: &kube::Error) -> bool {
    let kube::Error::Api(status) = err else { return false };
    let caused = status.details.as_ref().is_some_and(|details| details.causes.iter().any(|cause| cause.reason == "NamespaceTerminating"));
    status.is_forbidden() && (caused || status.message.contains("because it is being terminated"))
}

/// The selector of a Service whose Endpoints this controller writes: not ExternalName, and a
/// selector with at least one label (the API drops an empty one, so it reads as none).
fn selector_of(service: &Service) -> Option<&BTreeMap<String, String>> {
    let spec = service.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref().filter(|selector| !selector.is_empty())
}

/// Whether every label of a Service's `selector` is on the pod with `labels`.
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(key, value)| labels.get(key) == Some(value))
}

/// One address offering one port (or no port, for a headless Service without ports), before
/// they are packed into subsets.
struct Offer {
    address: EndpointAddress,
    ready: bool,
    port: Option<EndpointPort>,
}

/// The subsets listing `pods` (those `service` selects) for `service`, packed and sorted.
fn subsets_for(service: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let spec = service.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let service_ports = spec.ports.clone().unwrap_or_default();
    let mut offers = Vec::new();
    for pod in pods {
        if !should_be_listed(pod, publish_not_ready) {
            continue;
        }
        let Some(address) = address_for(service, pod) else {
            tracing::debug!(namespace = ?pod.metadata.namespace, name = ?pod.metadata.name, "pod has no IP of the service's family");
            continue;
        };
        let ready = publish_not_ready || is_ready(pod);
        if service_ports.is_empty() {
            // Only a headless Service may have no ports; its pods are listed by address alone.
            if spec.cluster_ip.as_deref() == Some("None") {
                offers.push(Offer { address, ready, port: None });
            }
            continue;
        }
        for service_port in &service_ports {
            // A pod lacking a named port is left out of that port's subset only.
            if let Some(number) = target_port(pod, service_port) {
                let port = EndpointPort {
                    name: service_port.name.clone().filter(|name| !name.is_empty()),
                    port: number,
                    protocol: Some(service_port.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: service_port.app_protocol.clone(),
                };
                offers.push(Offer { address: address.clone(), ready, port: Some(port) });
            }
        }
    }
    repack(offers)
}

/// Kubernetes' `ShouldPodBeInEndpoints`: finished pods and pods without an IP are never listed;
/// terminating ones only when the Service publishes addresses that are not ready.
fn should_be_listed(pod: &Pod, publish_not_ready: bool) -> bool {
    let status = pod.status.as_ref();
    if matches!(status.and_then(|status| status.phase.as_deref()), Some("Succeeded" | "Failed")) {
        return false;
    }
    let has_ip = status.is_some_and(|status| status.pod_ip.as_deref().is_some_and(|ip| !ip.is_empty()) || status.pod_ips.as_ref().is_some_and(|ips| !ips.is_empty()));
    has_ip && (publish_not_ready || pod.metadata.deletion_timestamp.is_none())
}

fn is_ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|status| status.conditions.as_ref());
    conditions.is_some_and(|conditions| conditions.iter().any(|condition| condition.type_ == "Ready" && condition.status == "True"))
}

/// The address of `pod` for `service`: the pod's IP of the Service's (first) IP family, as
/// Kubernetes' `podToEndpointAddressForService`.
fn address_for(service: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let spec = service.spec.as_ref();
    let status = pod.status.as_ref()?;
    let is_v6 = |ip: &str| ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv6());
    let want_v6 = match spec.and_then(|spec| spec.ip_families.as_ref()).and_then(|families| families.first()) {
        Some(family) => family == "IPv6",
        // Servers that do not fill ipFamilies: the cluster IP tells, or for headless Services
        // the pod's own IP.
        None => match spec.and_then(|spec| spec.cluster_ip.as_deref()).filter(|ip| !ip.is_empty() && *ip != "None") {
            Some(cluster_ip) => is_v6(cluster_ip),
            None => is_v6(status.pod_ip.as_deref().unwrap_or_default()),
        },
    };
    let mut ips: Vec<&str> = status.pod_ips.iter().flatten().map(|ip| ip.ip.as_str()).collect();
    if ips.is_empty() {
        ips.extend(status.pod_ip.as_deref());
    }
    let ip = ips.into_iter().find(|ip| !ip.is_empty() && is_v6(ip) == want_v6)?;
    let pod_spec = pod.spec.as_ref();
    let service_name = service.metadata.name.as_deref();
    let hostname = pod_spec
        .filter(|pod_spec| pod_spec.subdomain.is_some() && pod_spec.subdomain.as_deref() == service_name && pod.metadata.namespace == service.metadata.namespace)
        .and_then(|pod_spec| pod_spec.hostname.clone())
        .filter(|hostname| !hostname.is_empty());
    Some(EndpointAddress {
        ip: ip.to_string(),
        hostname,
        // An empty node name would not validate; pods with an IP are always on a node anyway.
        node_name: pod_spec.and_then(|pod_spec| pod_spec.node_name.clone()).filter(|node| !node.is_empty()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..ObjectReference::default()
        }),
    })
}

/// The port number `service_port` reaches on `pod`, as Kubernetes' `FindPort`: a number as is, a
/// name looked up among the ports (of the same protocol) of the pod's containers and sidecars.
fn target_port(pod: &Pod, service_port: &ServicePort) -> Option<i32> {
    let name = match &service_port.target_port {
        // The apiserver defaults an unset target port to the port; this only covers servers that
        // do not.
        None | Some(IntOrString::Int(0)) => return Some(service_port.port),
        Some(IntOrString::String(name)) if name.is_empty() => return Some(service_port.port),
        Some(IntOrString::Int(number)) => return Some(*number),
        Some(IntOrString::String(name)) => name,
    };
    let protocol = service_port.protocol.as_deref().unwrap_or("TCP");
    let spec = pod.spec.as_ref()?;
    let sidecars = spec.init_containers.iter().flatten().filter(|container| container.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|container| container.ports.iter().flatten())
        .find(|port| port.name.as_deref() == Some(name.as_str()) && port.protocol.as_deref().unwrap_or("TCP") == protocol)
        .map(|port| port.container_port)
}

/// An address, told apart by IP and the pod it belongs to.
type AddressKey = (String, String);
/// name, number, protocol, appProtocol.
type PortKey = (Option<String>, i32, Option<String>, Option<String>);

fn address_key(address: &EndpointAddress) -> AddressKey {
    let uid = address.target_ref.as_ref().and_then(|target| target.uid.clone()).unwrap_or_default();
    (address.ip.clone(), uid)
}

/// Kubernetes' `RepackSubsets`: one subset per distinct set of addresses (with their readiness),
/// holding every port that set offers; an address not ready on any port is not ready on it.
/// Addresses come sorted by IP, ports by name, subsets by their addresses, so that the same
/// world always gives the same Endpoints.
fn repack(offers: Vec<Offer>) -> Vec<EndpointSubset> {
    let mut addresses: BTreeMap<AddressKey, EndpointAddress> = BTreeMap::new();
    // None stands for "no port" (headless Services without ports).
    let mut by_port: BTreeMap<Option<PortKey>, BTreeMap<AddressKey, bool>> = BTreeMap::new();
    for offer in offers {
        let key = address_key(&offer.address);
        let port = offer.port.map(|port| (port.name, port.port, port.protocol, port.app_protocol));
        let readiness = by_port.entry(port).or_default().entry(key.clone()).or_insert(offer.ready);
        *readiness &= offer.ready;
        addresses.entry(key).or_insert(offer.address);
    }
    let mut groups: BTreeMap<Vec<(AddressKey, bool)>, Vec<PortKey>> = BTreeMap::new();
    for (port, members) in by_port {
        let ports = groups.entry(members.into_iter().collect()).or_default();
        ports.extend(port);
    }
    let non_empty = |list: Vec<EndpointAddress>| (!list.is_empty()).then_some(list);
    groups
        .into_iter()
        .map(|(members, ports)| {
            let pick = |ready: bool| members.iter().filter(|(_, is_ready)| *is_ready == ready).filter_map(|(key, _)| addresses.get(key).cloned()).collect::<Vec<_>>();
            let ports: Vec<EndpointPort> = ports.into_iter().map(|(name, port, protocol, app_protocol)| EndpointPort { name, port, protocol, app_protocol }).collect();
            EndpointSubset { addresses: non_empty(pick(true)), not_ready_addresses: non_empty(pick(false)), ports: (!ports.is_empty()).then_some(ports) }
        })
        .collect()
}

fn count_addresses(subsets: &[EndpointSubset]) -> (usize, usize) {
    let ready = subsets.iter().map(|subset| subset.addresses.as_ref().map_or(0, Vec::len)).sum();
    let not_ready = subsets.iter().map(|subset| subset.not_ready_addresses.as_ref().map_or(0, Vec::len)).sum();
    (ready, not_ready)
}

/// Kubernetes' `truncateEndpoints`: past `MAX_CAPACITY` addresses, keep ready ones first, each
/// subset keeping its share (rounded up while room lasts). Returns whether anything was cut.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let (total_ready, total_not_ready) = count_addresses(subsets);
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return false;
    }
    let cut_ready = total_ready > MAX_CAPACITY;
    let (room, total) = if cut_ready { (MAX_CAPACITY, total_ready) } else { (MAX_CAPACITY - total_ready, total_not_ready) };
    let mut left = room;
    for subset in subsets.iter_mut() {
        let list = if cut_ready { &mut subset.addresses } else { &mut subset.not_ready_addresses };
        let here = list.as_ref().map_or(0, Vec::len);
        // total > 0 here: it exceeds MAX_CAPACITY, or total_ready does not and so the not-ready
        // ones are what exceeds it.
        let share = (here * room).div_ceil(total).min(left);
        if let Some(list) = list.as_mut() {
            list.truncate(share);
        }
        left -= list.as_ref().map_or(0, Vec::len);
        if cut_ready {
            subset.not_ready_addresses = None;
        }
    }
    true
}

/// The Endpoints `service` should have, made from `current` when there is one (keeping what
/// others added to it but the labels, which are the Service's, as Kubernetes), or None when
/// `current` already is that.
fn desired_endpoints(service: &Service, current: Option<&Endpoints>, mut subsets: Vec<EndpointSubset>) -> Option<Endpoints> {
    let truncated = truncate(&mut subsets);
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    let cluster_ip = service.spec.as_ref().and_then(|spec| spec.cluster_ip.as_deref()).unwrap_or_default();
    if cluster_ip.is_empty() || cluster_ip == "None" {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    let mut desired = current.cloned().unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta { name: service.metadata.name.clone(), namespace: service.metadata.namespace.clone(), ..ObjectMeta::default() },
        ..Endpoints::default()
    });
    let mut annotations = desired.metadata.annotations.take().unwrap_or_default();
    if truncated {
        annotations.insert(OVER_CAPACITY_ANNOTATION.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY_ANNOTATION);
    }
    desired.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    desired.metadata.labels = (!labels.is_empty()).then_some(labels);
    desired.subsets = (!subsets.is_empty()).then_some(subsets);
    match current {
        Some(current) if same_content(current, &desired) => None,
        _ => Some(desired),
    }
}

/// Whether two Endpoints list the same addresses and carry the same labels and annotations,
/// however the server spelled the empty lists and defaults, and whatever pod resourceVersions
/// the references name (Kubernetes ignores those too).
fn same_content(left: &Endpoints, right: &Endpoints) -> bool {
    let map = |map: &Option<BTreeMap<String, String>>| map.clone().unwrap_or_default();
    map(&left.metadata.labels) == map(&right.metadata.labels)
        && map(&left.metadata.annotations) == map(&right.metadata.annotations)
        && canonical(left.subsets.as_deref()) == canonical(right.subsets.as_deref())
}

fn canonical(subsets: Option<&[EndpointSubset]>) -> Vec<EndpointSubset> {
    let addresses = |list: &Option<Vec<EndpointAddress>>| {
        let list: Vec<EndpointAddress> = list
            .iter()
            .flatten()
            .cloned()
            .map(|mut address| {
                if let Some(target) = address.target_ref.as_mut() {
                    target.resource_version = None;
                }
                address.hostname = address.hostname.filter(|hostname| !hostname.is_empty());
                address.node_name = address.node_name.filter(|node| !node.is_empty());
                address
            })
            .collect();
        (!list.is_empty()).then_some(list)
    };
    subsets
        .unwrap_or_default()
        .iter()
        .map(|subset| {
            let ports: Vec<EndpointPort> = subset
                .ports
                .iter()
                .flatten()
                .cloned()
                .map(|mut port| {
                    port.protocol = Some(port.protocol.unwrap_or_else(|| "TCP".into()));
                    port.name = port.name.filter(|name| !name.is_empty());
                    port
                })
                .collect();
            EndpointSubset {
                addresses: addresses(&subset.addresses),
                not_ready_addresses: addresses(&subset.not_ready_addresses),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodCondition, PodIP, PodSpec, PodStatus, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn service(selector: &[(&str, &str)], ports: Vec<ServicePort>) -> Service {
        Service {
            metadata: ObjectMeta { name: Some("web".into()), namespace: Some("demo".into()), labels: Some([("app".to_string(), "web".to_string())].into()), ..ObjectMeta::default() },
            spec: Some(ServiceSpec {
                selector: Some(selector.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()),
                ports: Some(ports),
                cluster_ip: Some("10.96.0.20".into()),
                ip_families: Some(vec!["IPv4".into()]),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }
    }

    fn service_port(name: &str, port: i32, target: IntOrString) -> ServicePort {
        ServicePort { name: Some(name.into()), port, target_port: Some(target), protocol: Some("TCP".into()), ..ServicePort::default() }
    }

    fn pod(name: &str, ip: &str, ready: bool, ports: &[(&str, i32)]) -> Arc<Pod> {
        let ports = ports.iter().map(|(name, number)| ContainerPort { name: Some(name.to_string()), container_port: *number, protocol: Some("TCP".into()), ..ContainerPort::default() }).collect();
        Arc::new(Pod {
            metadata: ObjectMeta { name: Some(name.into()), namespace: Some("demo".into()), uid: Some(format!("uid-{name}")), ..ObjectMeta::default() },
            spec: Some(PodSpec { node_name: Some("node-1".into()), containers: vec![Container { name: "app".into(), ports: Some(ports), ..Container::default() }], ..PodSpec::default() }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: (!ip.is_empty()).then(|| ip.to_string()),
                pod_ips: (!ip.is_empty()).then(|| vec![PodIP { ip: ip.into() }]),
                conditions: Some(vec![PodCondition { type_: "Ready".into(), status: if ready { "True" } else { "False" }.into(), ..PodCondition::default() }]),
                ..PodStatus::default()
            }),
        })
    }

    fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        list.iter().flatten().map(|address| address.ip.as_str()).collect()
    }

    #[test]
    fn ready_and_not_ready_pods_share_one_subset_sorted_by_ip() {
        let service = service(&[("app", "web")], vec![service_port("http", 80, IntOrString::Int(8080))]);
        let pods = [pod("b", "10.244.0.9", true, &[]), pod("a", "10.244.0.10", true, &[]), pod("c", "10.244.0.11", false, &[])];
        let subsets = subsets_for(&service, &pods);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["10.244.0.10", "10.244.0.9"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.244.0.11"]);
        let port = &subsets[0].ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port, port.protocol.as_deref()), (Some("http"), 8080, Some("TCP")));
        let address = &subsets[0].addresses.as_ref().unwrap()[0];
        assert_eq!(address.node_name.as_deref(), Some("node-1"));
        let target = address.target_ref.as_ref().unwrap();
        assert_eq!((target.kind.as_deref(), target.name.as_deref(), target.uid.as_deref()), (Some("Pod"), Some("a"), Some("uid-a")));
    }

    #[test]
    fn named_target_ports_resolve_per_pod() {
        let service = service(&[("app", "web")], vec![service_port("http", 80, IntOrString::String("web".into())), service_port("metrics", 9100, IntOrString::Int(9100))]);
        let pods = [pod("a", "10.244.0.2", true, &[("web", 8080)]), pod("b", "10.244.0.3", true, &[("web", 9090)]), pod("c", "10.244.0.4", true, &[])];
        let subsets = subsets_for(&service, &pods);
        let described: Vec<String> = subsets
            .iter()
            .map(|subset| {
                let ports: Vec<String> = subset.ports.iter().flatten().map(|port| format!("{}:{}", port.name.as_deref().unwrap_or_default(), port.port)).collect();
                format!("{} on {}", ips(&subset.addresses).join(","), ports.join(","))
            })
            .collect();
        assert_eq!(described, ["10.244.0.2 on http:8080", "10.244.0.2,10.244.0.3,10.244.0.4 on metrics:9100", "10.244.0.3 on http:9090"]);
    }

    #[test]
    fn pods_without_ip_finished_or_terminating_are_left_out() {
        let service_value = service(&[("app", "web")], vec![service_port("", 80, IntOrString::Int(80))]);
        let no_ip = pod("a", "", true, &[]);
        let mut finished = (*pod("b", "10.244.0.3", false, &[])).clone();
        finished.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let mut terminating = (*pod("c", "10.244.0.4", true, &[])).clone();
        terminating.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        let pods = [no_ip, Arc::new(finished), Arc::new(terminating.clone())];
        assert!(subsets_for(&service_value, &pods).is_empty());
        let mut publishing = service_value.clone();
        publishing.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let subsets = subsets_for(&publishing, &[Arc::new(terminating), pod("d", "10.244.0.5", false, &[])]);
        assert_eq!(ips(&subsets[0].addresses), ["10.244.0.4", "10.244.0.5"]);
        assert_eq!(subsets[0].ports.as_ref().unwrap()[0].name, None);
    }

    #[test]
    fn headless_service_without_ports_lists_addresses_alone() {
        let mut headless = service(&[("app", "web")], vec![]);
        headless.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        let subsets = subsets_for(&headless, &[pod("a", "10.244.0.2", true, &[])]);
        assert_eq!(subsets.len(), 1);
        assert_eq!(subsets[0].ports, None);
        let endpoints = desired_endpoints(&headless, None, subsets).unwrap();
        assert_eq!(endpoints.metadata.labels.unwrap().get(HEADLESS_LABEL).map(String::as_str), Some(""));
        // Not headless and no ports: nothing to list.
        assert!(subsets_for(&service(&[("app", "web")], vec![]), &[pod("a", "10.244.0.2", true, &[])]).is_empty());
    }

    #[test]
    fn unchanged_endpoints_are_not_written_again() {
        let service = service(&[("app", "web")], vec![service_port("http", 80, IntOrString::Int(8080))]);
        let pods = [pod("a", "10.244.0.2", true, &[])];
        let created = desired_endpoints(&service, None, subsets_for(&service, &pods)).unwrap();
        assert_eq!(created.metadata.labels, service.metadata.labels);
        // As the server returns it: with a resourceVersion, and empty lists spelled out.
        let mut stored = created.clone();
        stored.metadata.resource_version = Some("7".into());
        stored.subsets.as_mut().unwrap()[0].not_ready_addresses = Some(vec![]);
        assert!(desired_endpoints(&service, Some(&stored), subsets_for(&service, &pods)).is_none());
        let mut edited = stored.clone();
        edited.subsets.as_mut().unwrap()[0].addresses.as_mut().unwrap()[0].ip = "10.244.9.9".into();
        let fixed = desired_endpoints(&service, Some(&edited), subsets_for(&service, &pods)).unwrap();
        assert_eq!(fixed.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(ips(&fixed.subsets.unwrap()[0].addresses), ["10.244.0.2"]);
    }

    #[test]
    fn truncation_keeps_ready_addresses_first() {
        let address = |index: usize| EndpointAddress { ip: format!("10.0.{}.{}", index / 256, index % 256), ..EndpointAddress::default() };
        let mut subsets = vec![
            EndpointSubset { addresses: Some((0..900).map(address).collect()), not_ready_addresses: Some((900..1000).map(address).collect()), ports: None },
            EndpointSubset { addresses: Some((1000..1050).map(address).collect()), not_ready_addresses: Some((1050..1150).map(address).collect()), ports: None },
        ];
        assert!(truncate(&mut subsets));
        assert_eq!(count_addresses(&subsets), (950, 50));
        let mut small = vec![EndpointSubset { addresses: Some((0..10).map(address).collect()), ..EndpointSubset::default() }];
        assert!(!truncate(&mut small));
    }

    #[test]
    fn selectors_match_every_label() {
        let selector: BTreeMap<String, String> = [("app".into(), "web".into()), ("tier".into(), "front".into())].into();
        let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect::<BTreeMap<_, _>>();
        assert!(selects(&selector, &labels(&[("app", "web"), ("tier", "front"), ("extra", "x")])));
        assert!(!selects(&selector, &labels(&[("app", "web")])));
        let mut external = service(&[("app", "web")], vec![]);
        external.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
        assert!(selector_of(&external).is_none());
        assert!(selector_of(&service(&[], vec![])).is_none());
    }
}
