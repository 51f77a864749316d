//! The pod spec as Pods, and the templates of Deployments, ReplicaSets and ReplicationControllers,
//! carry it: its defaults (`pkg/apis/core/v1/defaults.go`) and its validation (`ValidatePodSpec`
//! and the container, volume, probe and resource checks under it, in `pkg/apis/core/validation`).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Container, EnvFromSource, EnvVar, HTTPGetAction, Lifecycle, LifecycleHandler, PodSecurityContext, PodSpec, Probe,
    ResourceRequirements, SecurityContext, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::field::{Causes, Path, json_of};
use super::metadata;
use super::names;
use super::quantity::{self, QuantityError};

/// `v1.DefaultTerminationGracePeriodSeconds`.
const DEFAULT_TERMINATION_GRACE_PERIOD: i64 = 30;
/// The mode of files projected from a ConfigMap, Secret or the downward API: 0644.
const DEFAULT_FILE_MODE: i32 = 0o644;
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const MAX_INT32: i64 = i32::MAX as i64;

// ---------------------------------------------------------------------------------------------
// Defaults

/// `SetDefaults_PodSpec` and the defaults of everything inside a pod spec (containers, probes,
/// ports, volumes, env): what every PodSpec gets, in a Pod or in a template.
pub(crate) fn apply_defaults(spec: &mut PodSpec) {
    if spec.dns_policy.as_deref().unwrap_or_default().is_empty() {
        spec.dns_policy = Some("ClusterFirst".into());
    }
    if spec.restart_policy.as_deref().unwrap_or_default().is_empty() {
        spec.restart_policy = Some("Always".into());
    }
    if spec.security_context.is_none() {
        spec.security_context = Some(PodSecurityContext::default());
    }
    if spec.termination_grace_period_seconds.is_none() {
        spec.termination_grace_period_seconds = Some(DEFAULT_TERMINATION_GRACE_PERIOD);
    }
    if spec.scheduler_name.as_deref().unwrap_or_default().is_empty() {
        spec.scheduler_name = Some("default-scheduler".into());
    }
    for container in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        container_defaults(container);
    }
    for volume in spec.volumes.iter_mut().flatten() {
        volume_defaults(volume);
    }
}

/// The part of `SetDefaults_Pod` that only Pods get, not templates: requests default to limits,
/// `enableServiceLinks`, and host ports on the host network.
pub(crate) fn apply_pod_only_defaults(spec: &mut PodSpec) {
    for container in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        if let Some(resources) = container.resources.as_mut()
            && let Some(limits) = resources.limits.clone()
        {
            let requests = resources.requests.get_or_insert_with(BTreeMap::new);
            for (name, limit) in limits {
                requests.entry(name).or_insert(limit);
            }
        }
    }
    if spec.enable_service_links.is_none() {
        spec.enable_service_links = Some(true);
    }
    if spec.host_network == Some(true) {
        for container in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
            for port in container.ports.iter_mut().flatten() {
                if port.host_port.unwrap_or(0) == 0 {
                    port.host_port = Some(port.container_port);
                }
            }
        }
    }
}

/// `SetDefaults_Container`: `Always` pulls for `:latest` or an untagged image, as `docker pull`
/// would get a moving target there.
fn default_pull_policy(image: &str) -> &'static str {
    if image.is_empty() {
        return "IfNotPresent";
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_component = name.rsplit('/').next().unwrap_or(name);
    let tag = last_component.split_once(':').map(|(_, tag)| tag);
    let tag = if tag.is_none() && digest.is_none() { Some("latest") } else { tag };
    if tag == Some("latest") { "Always" } else { "IfNotPresent" }
}

fn set_if_empty(field: &mut Option<String>, value: &str) {
    if field.as_deref().unwrap_or_default().is_empty() {
        *field = Some(value.to_string());
    }
}

fn container_defaults(container: &mut Container) {
    if container.image_pull_policy.as_deref().unwrap_or_default().is_empty() {
        container.image_pull_policy = Some(default_pull_policy(container.image.as_deref().unwrap_or_default()).into());
    }
    set_if_empty(&mut container.termination_message_path, "/dev/termination-log");
    set_if_empty(&mut container.termination_message_policy, "File");
    for port in container.ports.iter_mut().flatten() {
        set_if_empty(&mut port.protocol, "TCP");
    }
    for variable in container.env.iter_mut().flatten() {
        if let Some(field_ref) = variable.value_from.as_mut().and_then(|source| source.field_ref.as_mut()) {
            set_if_empty(&mut field_ref.api_version, "v1");
        }
    }
    for probe in [&mut container.liveness_probe, &mut container.readiness_probe, &mut container.startup_probe] {
        if let Some(probe) = probe.as_mut() {
            probe_defaults(probe);
        }
    }
    if let Some(lifecycle) = container.lifecycle.as_mut() {
        for handler in [&mut lifecycle.post_start, &mut lifecycle.pre_stop].into_iter().flatten() {
            if let Some(http_get) = handler.http_get.as_mut() {
                http_get_defaults(http_get);
            }
        }
    }
}

/// `SetDefaults_Probe`: a zero is as good as unset, since the Go fields are plain integers.
fn probe_defaults(probe: &mut Probe) {
    for (field, default) in [
        (&mut probe.timeout_seconds, 1),
        (&mut probe.period_seconds, 10),
        (&mut probe.success_threshold, 1),
        (&mut probe.failure_threshold, 3),
    ] {
        if field.unwrap_or(0) == 0 {
            *field = Some(default);
        }
    }
    if let Some(http_get) = probe.http_get.as_mut() {
        http_get_defaults(http_get);
    }
}

fn http_get_defaults(action: &mut HTTPGetAction) {
    set_if_empty(&mut action.path, "/");
    set_if_empty(&mut action.scheme, "HTTP");
}

fn volume_defaults(volume: &mut Volume) {
    // `SetDefaults_Volume`: a volume with no source is an emptyDir.
    if volume_sources(volume).iter().all(|(_, set)| !set) {
        volume.empty_dir = Some(Default::default());
    }
    if let Some(secret) = volume.secret.as_mut() {
        secret.default_mode.get_or_insert(DEFAULT_FILE_MODE);
    }
    if let Some(config_map) = volume.config_map.as_mut() {
        config_map.default_mode.get_or_insert(DEFAULT_FILE_MODE);
    }
    if let Some(downward_api) = volume.downward_api.as_mut() {
        downward_api.default_mode.get_or_insert(DEFAULT_FILE_MODE);
        for item in downward_api.items.iter_mut().flatten() {
            if let Some(field_ref) = item.field_ref.as_mut() {
                set_if_empty(&mut field_ref.api_version, "v1");
            }
        }
    }
    if let Some(projected) = volume.projected.as_mut() {
        projected.default_mode.get_or_insert(DEFAULT_FILE_MODE);
        for source in projected.sources.iter_mut().flatten() {
            if let Some(token) = source.service_account_token.as_mut() {
                token.expiration_seconds.get_or_insert(3600);
            }
            for item in source.downward_api.iter_mut().flat_map(|api| api.items.iter_mut().flatten()) {
                if let Some(field_ref) = item.field_ref.as_mut() {
                    set_if_empty(&mut field_ref.api_version, "v1");
                }
            }
        }
    }
    if let Some(host_path) = volume.host_path.as_mut() {
        host_path.type_.get_or_insert_with(String::new);
    }
}

/// Every volume source, in the order `validateVolumeSource` checks them (the second one set is
/// the one reported), with the field name it reports.
fn volume_sources(volume: &Volume) -> [(&'static str, bool); 30] {
    [
        ("emptyDir", volume.empty_dir.is_some()),
        ("hostPath", volume.host_path.is_some()),
        ("gitRepo", volume.git_repo.is_some()),
        ("gcePersistentDisk", volume.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", volume.aws_elastic_block_store.is_some()),
        ("secret", volume.secret.is_some()),
        ("nfs", volume.nfs.is_some()),
        ("iscsi", volume.iscsi.is_some()),
        ("glusterfs", volume.glusterfs.is_some()),
        ("flocker", volume.flocker.is_some()),
        ("persistentVolumeClaim", volume.persistent_volume_claim.is_some()),
        ("rbd", volume.rbd.is_some()),
        ("cinder", volume.cinder.is_some()),
        ("cephFS", volume.cephfs.is_some()),
        ("quobyte", volume.quobyte.is_some()),
        // Kubernetes misspells this one in its message; kept, so that the field matches.
        ("downwarAPI", volume.downward_api.is_some()),
        ("fc", volume.fc.is_some()),
        ("flexVolume", volume.flex_volume.is_some()),
        ("configMap", volume.config_map.is_some()),
        ("azureFile", volume.azure_file.is_some()),
        ("vsphereVolume", volume.vsphere_volume.is_some()),
        ("photonPersistentDisk", volume.photon_persistent_disk.is_some()),
        ("portworxVolume", volume.portworx_volume.is_some()),
        ("azureDisk", volume.azure_disk.is_some()),
        ("storageos", volume.storageos.is_some()),
        ("projected", volume.projected.is_some()),
        ("scaleIO", volume.scale_io.is_some()),
        ("csi", volume.csi.is_some()),
        ("ephemeral", volume.ephemeral.is_some()),
        ("image", volume.image.is_some()),
    ]
}

// ---------------------------------------------------------------------------------------------
// Quantities

/// Every quantity in the spec must parse; Kubernetes' decoder rejects the object (400) otherwise.
pub(crate) fn check_quantities(spec: &PodSpec) -> Result<(), QuantityError> {
    let resource_lists = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter_map(|container| container.resources.as_ref())
        .chain(spec.resources.as_ref())
        .flat_map(|resources| [resources.limits.as_ref(), resources.requests.as_ref()])
        .chain([spec.overhead.as_ref()])
        .flatten();
    for list in resource_lists {
        for value in list.values() {
            quantity::parse(&value.0)?;
        }
    }
    for volume in spec.volumes.iter().flatten() {
        if let Some(limit) = volume.empty_dir.as_ref().and_then(|empty_dir| empty_dir.size_limit.as_ref()) {
            quantity::parse(&limit.0)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Validation

/// `ValidatePodSpec`. `is_pod` is Kubernetes' `ResourceIsPod`: a Pod, not a template.
pub(crate) fn validate(spec: &PodSpec, path: &Path, is_pod: bool, causes: &mut Causes) {
    let grace = spec.termination_grace_period_seconds;
    if grace.is_none() {
        causes.required(&path.child("terminationGracePeriodSeconds"), "");
    }
    let volumes = validate_volumes(spec.volumes.as_deref().unwrap_or_default(), &path.child("volumes"), causes);
    validate_containers(&spec.containers, &volumes, grace, &path.child("containers"), causes);
    validate_init_containers(spec, &volumes, grace, &path.child("initContainers"), causes);
    validate_host_network(spec, path, is_pod, causes);
    validate_restart_policy(spec.restart_policy.as_deref().unwrap_or_default(), &path.child("restartPolicy"), causes);
    validate_dns_policy(spec, path, causes);
    metadata::validate_labels(spec.node_selector.as_ref(), &path.child("nodeSelector"), causes);
    validate_pod_security_context(spec.security_context.as_ref(), &path.child("securityContext"), causes);
    for (index, gate) in spec.readiness_gates.iter().flatten().enumerate() {
        let field = path.child("readinessGates").index(index).child("conditionType");
        causes.invalid_each(&field, &gate.condition_type, names::qualified_name(&gate.condition_type));
    }
    let mut gates = BTreeSet::new();
    for (index, gate) in spec.scheduling_gates.iter().flatten().enumerate() {
        let field = path.child("schedulingGates").index(index);
        causes.invalid_each(&field, &gate.name, names::qualified_name(&gate.name));
        if !gates.insert(gate.name.as_str()) {
            causes.duplicate(&field, gate.name.as_str());
        }
    }
    let subdomain_fields = [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("priorityClassName", &spec.priority_class_name),
    ];
    for (field, value) in subdomain_fields {
        if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
            causes.invalid_each(&path.child(field), value, names::dns1123_subdomain(value));
        }
    }
    if let Some(runtime_class) = spec.runtime_class_name.as_deref() {
        causes.invalid_each(&path.child("runtimeClassName"), runtime_class, names::dns1123_subdomain(runtime_class));
    }
    if let Some(deadline) = spec.active_deadline_seconds
        && !(1..=MAX_INT32).contains(&deadline)
    {
        causes.invalid(&path.child("activeDeadlineSeconds"), deadline, &names::inclusive_range_error(1, MAX_INT32));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
            causes.invalid_each(&path.child(field), value, names::dns1123_label(value));
        }
    }
    validate_tolerations(spec.tolerations.as_deref().unwrap_or_default(), &path.child("tolerations"), causes);
    for (index, alias) in spec.host_aliases.iter().flatten().enumerate() {
        let alias_path = path.child("hostAliases").index(index);
        if !names::is_ip(&alias.ip) {
            causes.invalid(&alias_path.child("ip"), alias.ip.as_str(), names::IP_MESSAGE);
        }
        for (host_index, hostname) in alias.hostnames.iter().flatten().enumerate() {
            let field = alias_path.child("hostnames").index(host_index);
            causes.invalid_each(&field, hostname, names::dns1123_subdomain(hostname));
        }
    }
    if let Some(policy) = spec.preemption_policy.as_deref() {
        match policy {
            "PreemptLowerPriority" | "Never" => {}
            "" => causes.required(&path.child("preemptionPolicy"), ""),
            other => causes.not_supported(&path.child("preemptionPolicy"), other, &["PreemptLowerPriority", "Never"]),
        }
    }
    if let Some(os) = spec.os.as_ref()
        && !matches!(os.name.as_str(), "linux" | "windows")
    {
        causes.not_supported(&path.child("os").child("name"), os.name.as_str(), &["linux", "windows"]);
    }
}

fn validate_restart_policy(policy: &str, path: &Path, causes: &mut Causes) {
    match policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => causes.required(path, ""),
        other => causes.not_supported(path, other, &["Always", "OnFailure", "Never"]),
    }
}

fn validate_dns_policy(spec: &PodSpec, path: &Path, causes: &mut Causes) {
    let policy = spec.dns_policy.as_deref().unwrap_or_default();
    let field = path.child("dnsPolicy");
    match policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => causes.required(&field, ""),
        other => causes.not_supported(&field, other, &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]),
    }
    let config_path = path.child("dnsConfig");
    if policy == "None" {
        match spec.dns_config.as_ref() {
            None => return causes.required(&config_path, "must provide `dnsConfig` when `dnsPolicy` is None"),
            Some(config) if config.nameservers.as_ref().is_none_or(Vec::is_empty) => {
                return causes.required(
                    &config_path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                );
            }
            Some(_) => {}
        }
    }
    let Some(config) = spec.dns_config.as_ref() else { return };
    let nameservers = config.nameservers.as_deref().unwrap_or_default();
    if nameservers.len() > 3 {
        causes.invalid(&config_path.child("nameservers"), json_of(&nameservers), "must not have more than 3 nameservers");
    }
    for (index, nameserver) in nameservers.iter().enumerate() {
        if !names::is_ip(nameserver) {
            causes.invalid(&config_path.child("nameservers").index(index), nameserver.as_str(), names::IP_MESSAGE);
        }
    }
    let searches = config.searches.as_deref().unwrap_or_default();
    if searches.len() > 32 {
        causes.invalid(&config_path.child("searches"), json_of(&searches), "must not have more than 32 search paths");
    }
    for (index, search) in searches.iter().enumerate() {
        let search = search.strip_suffix('.').unwrap_or(search);
        causes.invalid_each(&config_path.child("searches").index(index), search, names::dns1123_subdomain(search));
    }
    for (index, option) in config.options.iter().flatten().enumerate() {
        if option.name.as_deref().unwrap_or_default().is_empty() {
            causes.required(&config_path.child("options").index(index), "must not be empty");
        }
    }
}

fn validate_host_network(spec: &PodSpec, path: &Path, is_pod: bool, causes: &mut Causes) {
    if spec.host_network != Some(true) {
        return;
    }
    for (index, container) in spec.containers.iter().enumerate() {
        for (port_index, port) in container.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            // A template may leave hostPort 0: the Pod made from it gets the default.
            if (is_pod || host_port != 0) && host_port != port.container_port {
                let field = path.child("containers").index(index).child("ports").index(port_index).child("hostPort");
                causes.invalid(&field, host_port, "must match `containerPort` when `hostNetwork` is true");
            }
        }
    }
}

fn validate_user_id(value: Option<i64>, path: &Path, causes: &mut Causes) {
    if let Some(id) = value.filter(|id| !(0..=MAX_INT32).contains(id)) {
        causes.invalid(path, id, &names::inclusive_range_error(0, MAX_INT32));
    }
}

fn validate_pod_security_context(context: Option<&PodSecurityContext>, path: &Path, causes: &mut Causes) {
    let Some(context) = context else { return };
    validate_user_id(context.fs_group, &path.child("fsGroup"), causes);
    validate_user_id(context.run_as_user, &path.child("runAsUser"), causes);
    validate_user_id(context.run_as_group, &path.child("runAsGroup"), causes);
    for (index, group) in context.supplemental_groups.iter().flatten().enumerate() {
        validate_user_id(Some(*group), &path.child("supplementalGroups").index(index), causes);
    }
}

fn validate_container_security_context(context: Option<&SecurityContext>, path: &Path, causes: &mut Causes) {
    let Some(context) = context else { return };
    validate_user_id(context.run_as_user, &path.child("runAsUser"), causes);
    validate_user_id(context.run_as_group, &path.child("runAsGroup"), causes);
    if context.allow_privilege_escalation == Some(false) && context.privileged == Some(true) {
        causes.invalid(path, json_of(context), "cannot set `allowPrivilegeEscalation` to false and `privileged` to true");
    }
}

/// `ValidateVolumes`: returns the names of the volumes that are valid, which mounts may use.
fn validate_volumes<'a>(volumes: &'a [Volume], path: &Path, causes: &mut Causes) -> BTreeSet<&'a str> {
    let mut names = BTreeSet::new();
    for (index, volume) in volumes.iter().enumerate() {
        let volume_path = path.index(index);
        let mut own = Causes::new();
        validate_volume_source(volume, &volume_path, &mut own);
        let name_path = volume_path.child("name");
        if volume.name.is_empty() {
            own.required(&name_path, "");
        } else {
            own.invalid_each(&name_path, &volume.name, names::dns1123_label(&volume.name));
        }
        if names.contains(volume.name.as_str()) {
            own.duplicate(&name_path, volume.name.as_str());
        }
        if own.is_empty() {
            names.insert(volume.name.as_str());
        }
        for cause in own.into_vec() {
            causes.push(cause);
        }
    }
    names
}

fn validate_file_mode(mode: Option<i32>, path: &Path, causes: &mut Causes) {
    if let Some(mode) = mode.filter(|mode| !(0..=0o777).contains(mode)) {
        causes.invalid(path, mode, "must be a number between 0 and 0777 (octal), both inclusive");
    }
}

fn validate_volume_source(volume: &Volume, path: &Path, causes: &mut Causes) {
    let mut count = 0;
    for (field, set) in volume_sources(volume) {
        if !set {
            continue;
        }
        if count > 0 {
            causes.forbidden(&path.child(field), "may not specify more than 1 volume type");
        } else {
            count += 1;
        }
    }
    if count == 0 {
        causes.required(path, "must specify a volume type");
    }
    if let Some(config_map) = volume.config_map.as_ref() {
        let source_path = path.child("configMap");
        if config_map.name.is_empty() {
            causes.required(&source_path.child("name"), "");
        }
        validate_file_mode(config_map.default_mode, &source_path.child("defaultMode"), causes);
        for (index, item) in config_map.items.iter().flatten().enumerate() {
            validate_key_to_path(&item.key, &item.path, item.mode, &source_path.child("items").index(index), causes);
        }
    }
    if let Some(secret) = volume.secret.as_ref() {
        let source_path = path.child("secret");
        if secret.secret_name.as_deref().unwrap_or_default().is_empty() {
            causes.required(&source_path.child("secretName"), "");
        }
        validate_file_mode(secret.default_mode, &source_path.child("defaultMode"), causes);
        for (index, item) in secret.items.iter().flatten().enumerate() {
            validate_key_to_path(&item.key, &item.path, item.mode, &source_path.child("items").index(index), causes);
        }
    }
    if let Some(host_path) = volume.host_path.as_ref()
        && host_path.path.is_empty()
    {
        causes.required(&path.child("hostPath").child("path"), "");
    }
    if let Some(claim) = volume.persistent_volume_claim.as_ref()
        && claim.claim_name.is_empty()
    {
        causes.required(&path.child("persistentVolumeClaim").child("claimName"), "");
    }
    if let Some(limit) = volume.empty_dir.as_ref().and_then(|empty_dir| empty_dir.size_limit.as_ref())
        && quantity::parse(&limit.0).is_ok_and(|limit| limit.is_negative())
    {
        causes.forbidden(&path.child("emptyDir").child("sizeLimit"), "SizeLimit field must be a valid resource quantity");
    }
}

fn validate_key_to_path(key: &str, file: &str, mode: Option<i32>, path: &Path, causes: &mut Causes) {
    if key.is_empty() {
        causes.required(&path.child("key"), "");
    }
    if file.is_empty() {
        causes.required(&path.child("path"), "");
    } else {
        validate_local_path(file, &path.child("path"), causes);
    }
    validate_file_mode(mode, &path.child("mode"), causes);
}

/// `validateLocalDescendingPath`: relative, without `..`.
fn validate_local_path(value: &str, path: &Path, causes: &mut Causes) {
    if value.starts_with('/') {
        causes.invalid(path, value, "must be a relative path");
    }
    if value.split('/').any(|part| part == "..") {
        causes.invalid(path, value, "must not contain '..'");
    }
}

fn validate_containers(
    containers: &[Container],
    volumes: &BTreeSet<&str>,
    grace: Option<i64>,
    path: &Path,
    causes: &mut Causes,
) {
    if containers.is_empty() {
        return causes.required(path, "");
    }
    let mut names = BTreeSet::new();
    for (index, container) in containers.iter().enumerate() {
        let container_path = path.index(index);
        validate_container_common(container, volumes, &container_path, causes);
        if !names.insert(container.name.as_str()) {
            causes.duplicate(&container_path.child("name"), container.name.as_str());
        }
        if let Some(lifecycle) = container.lifecycle.as_ref() {
            validate_lifecycle(lifecycle, grace, &container_path.child("lifecycle"), causes);
        }
        validate_probes(container, &container_path, causes);
        if container.restart_policy.is_some() {
            causes.forbidden(&container_path.child("restartPolicy"), "may not be set for non-init containers");
        }
    }
    check_host_port_conflicts(containers.iter().enumerate(), path, causes);
}

fn validate_init_containers(
    spec: &PodSpec,
    volumes: &BTreeSet<&str>,
    grace: Option<i64>,
    path: &Path,
    causes: &mut Causes,
) {
    // Names are unique across app and init containers.
    let mut names: BTreeSet<&str> = spec.containers.iter().map(|container| container.name.as_str()).collect();
    for (index, container) in spec.init_containers.iter().flatten().enumerate() {
        let container_path = path.index(index);
        validate_container_common(container, volumes, &container_path, causes);
        let mut restartable = false;
        if let Some(policy) = container.restart_policy.as_deref() {
            if policy == "Always" {
                restartable = true;
            } else {
                causes.not_supported(&container_path.child("restartPolicy"), policy, &["Always"]);
            }
        }
        if names.contains(container.name.as_str()) {
            causes.duplicate(&container_path.child("name"), container.name.as_str());
        } else if !container.name.is_empty() {
            names.insert(container.name.as_str());
        }
        check_host_port_conflicts(std::iter::once((index, container)), path, causes);
        if restartable {
            if let Some(lifecycle) = container.lifecycle.as_ref() {
                validate_lifecycle(lifecycle, grace, &container_path.child("lifecycle"), causes);
            }
            validate_probes(container, &container_path, causes);
        } else {
            let forbidden = [
                ("lifecycle", container.lifecycle.is_some()),
                ("livenessProbe", container.liveness_probe.is_some()),
                ("readinessProbe", container.readiness_probe.is_some()),
                ("startupProbe", container.startup_probe.is_some()),
            ];
            for (field, set) in forbidden {
                if set {
                    causes.forbidden(
                        &container_path.child(field),
                        "may not be set for init containers without restartPolicy=Always",
                    );
                }
            }
        }
    }
}

/// `checkHostPortConflicts`: one host port per protocol and host IP.
fn check_host_port_conflicts<'a>(
    containers: impl Iterator<Item = (usize, &'a Container)>,
    path: &Path,
    causes: &mut Causes,
) {
    let mut seen = BTreeSet::new();
    for (index, container) in containers {
        for (port_index, port) in container.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{host_port}",
                port.protocol.as_deref().unwrap_or_default(),
                port.host_ip.as_deref().unwrap_or_default()
            );
            if !seen.insert(key.clone()) {
                causes.duplicate(&path.index(index).child("ports").index(port_index).child("hostPort"), key);
            }
        }
    }
}

/// `validateContainerCommon`: what app, init and ephemeral containers share.
fn validate_container_common(container: &Container, volumes: &BTreeSet<&str>, path: &Path, causes: &mut Causes) {
    let name_path = path.child("name");
    if container.name.is_empty() {
        causes.required(&name_path, "");
    } else {
        causes.invalid_each(&name_path, &container.name, names::dns1123_label(&container.name));
    }
    if container.image.as_deref().unwrap_or_default().is_empty() {
        causes.required(&path.child("image"), "");
    }
    match container.termination_message_policy.as_deref().unwrap_or_default() {
        "File" | "FallbackToLogsOnError" => {}
        "" => causes.required(&path.child("terminationMessagePolicy"), ""),
        other => {
            causes.not_supported(&path.child("terminationMessagePolicy"), other, &["File", "FallbackToLogsOnError"]);
        }
    }
    validate_container_ports(container, &path.child("ports"), causes);
    validate_env(container.env.as_deref().unwrap_or_default(), &path.child("env"), causes);
    validate_env_from(container.env_from.as_deref().unwrap_or_default(), &path.child("envFrom"), causes);
    validate_volume_mounts(container, volumes, &path.child("volumeMounts"), causes);
    match container.image_pull_policy.as_deref().unwrap_or_default() {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => causes.required(&path.child("imagePullPolicy"), ""),
        other => causes.not_supported(&path.child("imagePullPolicy"), other, &["Always", "IfNotPresent", "Never"]),
    }
    if let Some(resources) = container.resources.as_ref() {
        validate_resources(resources, &path.child("resources"), causes);
    }
    validate_container_security_context(container.security_context.as_ref(), &path.child("securityContext"), causes);
}

fn validate_container_ports(container: &Container, path: &Path, causes: &mut Causes) {
    let mut names = BTreeSet::new();
    for (index, port) in container.ports.iter().flatten().enumerate() {
        let port_path = path.index(index);
        if let Some(name) = port.name.as_deref().filter(|name| !name.is_empty()) {
            let messages = names::port_name(name);
            if !messages.is_empty() {
                causes.invalid_each(&port_path.child("name"), name, messages);
            } else if !names.insert(name) {
                causes.duplicate(&port_path.child("name"), name);
            }
        }
        if port.container_port == 0 {
            causes.required(&port_path.child("containerPort"), "");
        } else {
            for message in names::port_number(port.container_port.into()) {
                causes.invalid(&port_path.child("containerPort"), port.container_port, &message);
            }
        }
        if let Some(host_port) = port.host_port.filter(|port| *port != 0) {
            for message in names::port_number(host_port.into()) {
                causes.invalid(&port_path.child("hostPort"), host_port, &message);
            }
        }
        match port.protocol.as_deref().unwrap_or_default() {
            "" => causes.required(&port_path.child("protocol"), ""),
            protocol if PROTOCOLS.contains(&protocol) => {}
            other => causes.not_supported(&port_path.child("protocol"), other, PROTOCOLS),
        }
    }
}

const FIELD_REF_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const RESOURCE_FIELD_REFS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// `ValidateEnv` and `validateEnvVarValueFrom`.
fn validate_env(variables: &[EnvVar], path: &Path, causes: &mut Causes) {
    for (index, variable) in variables.iter().enumerate() {
        let variable_path = path.index(index);
        if variable.name.is_empty() {
            causes.required(&variable_path.child("name"), "");
        } else {
            causes.invalid_each(&variable_path.child("name"), &variable.name, names::env_var_name(&variable.name));
        }
        let Some(source) = variable.value_from.as_ref() else { continue };
        let source_path = variable_path.child("valueFrom");
        let mut sources = 0;
        if let Some(field_ref) = source.field_ref.as_ref() {
            sources += 1;
            let field_path = source_path.child("fieldRef");
            let api_version = field_ref.api_version.as_deref().unwrap_or_default();
            if api_version.is_empty() {
                causes.required(&field_path.child("apiVersion"), "");
            } else if field_ref.field_path.is_empty() {
                causes.required(&field_path.child("fieldPath"), "");
            } else if api_version != "v1" {
                let detail = format!("error converting fieldPath: unsupported pod version: {api_version}");
                causes.invalid(&field_path.child("fieldPath"), field_ref.field_path.as_str(), &detail);
            } else {
                validate_field_ref_path(&field_ref.field_path, &field_path, causes);
            }
        }
        if let Some(resource_ref) = source.resource_field_ref.as_ref() {
            sources += 1;
            let field_path = source_path.child("resourceFieldRef");
            let resource = resource_ref.resource.as_str();
            if resource.is_empty() {
                causes.required(&field_path.child("resource"), "");
            } else if !RESOURCE_FIELD_REFS.contains(&resource)
                && !resource.starts_with("requests.hugepages-")
                && !resource.starts_with("limits.hugepages-")
            {
                causes.not_supported(&field_path.child("resource"), resource, RESOURCE_FIELD_REFS);
            }
        }
        let key_refs = [
            ("configMapKeyRef", source.config_map_key_ref.as_ref().map(|r| (r.name.as_str(), r.key.as_str()))),
            (
                "secretKeyRef",
                source.secret_key_ref.as_ref().map(|r| (r.name.as_str(), r.key.as_str())),
            ),
        ];
        for (field, reference) in key_refs {
            let Some((name, key)) = reference else { continue };
            sources += 1;
            let field_path = source_path.child(field);
            causes.invalid_each(&field_path.child("name"), name, names::dns1123_subdomain(name));
            if key.is_empty() {
                causes.required(&field_path.child("key"), "");
            } else {
                causes.invalid_each(&field_path.child("key"), key, names::config_map_key(key));
            }
        }
        if sources == 0 {
            causes.invalid(
                &source_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            );
        } else if !variable.value.as_deref().unwrap_or_default().is_empty() {
            causes.invalid(&source_path, "", "may not be specified when `value` is not empty");
        } else if sources > 1 {
            causes.invalid(&source_path, "", "may not have more than one field specified at a time");
        }
    }
}

/// A downward API field path: one of the plain ones, or `metadata.labels['key']` /
/// `metadata.annotations['key']`.
fn validate_field_ref_path(field_path: &str, path: &Path, causes: &mut Causes) {
    if let Some((base, rest)) = field_path.split_once("['") {
        let Some(key) = rest.strip_suffix("']") else {
            return causes.not_supported(&path.child("fieldPath"), field_path, FIELD_REF_PATHS);
        };
        match base {
            "metadata.annotations" => causes.invalid_each(path, key, names::qualified_name(&key.to_lowercase())),
            "metadata.labels" => causes.invalid_each(path, key, names::qualified_name(key)),
            _ => causes.invalid(path, base, "does not support subscript"),
        }
    } else if !FIELD_REF_PATHS.contains(&field_path) && !matches!(field_path, "metadata.labels" | "metadata.annotations") {
        causes.not_supported(&path.child("fieldPath"), field_path, FIELD_REF_PATHS);
    }
}

fn validate_env_from(sources: &[EnvFromSource], path: &Path, causes: &mut Causes) {
    for (index, source) in sources.iter().enumerate() {
        let source_path = path.index(index);
        if let Some(prefix) = source.prefix.as_deref().filter(|prefix| !prefix.is_empty()) {
            causes.invalid_each(&source_path.child("prefix"), prefix, names::env_var_name(prefix));
        }
        let references = [
            ("configMapRef", source.config_map_ref.as_ref().map(|r| r.name.as_str())),
            ("secretRef", source.secret_ref.as_ref().map(|r| r.name.as_str())),
        ];
        let mut count = 0;
        for (field, name) in references {
            let Some(name) = name else { continue };
            count += 1;
            let name_path = source_path.child(field).child("name");
            if name.is_empty() {
                causes.required(&name_path, "");
            } else {
                // Checked as a name prefix, as `ValidateConfigMapName(name, true)` does.
                causes.invalid_each(&name_path, name, names::NameFormat::Dns1123Subdomain.check(name, true));
            }
        }
        // Kubernetes reports these two at the list's path, without the index.
        if count == 0 {
            causes.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`");
        } else if count > 1 {
            causes.invalid(path, "", "may not have more than one field specified at a time");
        }
    }
}

fn validate_volume_mounts(container: &Container, volumes: &BTreeSet<&str>, path: &Path, causes: &mut Causes) {
    let mut mount_paths = BTreeSet::new();
    for (index, mount) in container.volume_mounts.iter().flatten().enumerate() {
        let mount_path = path.index(index);
        if mount.name.is_empty() {
            causes.required(&mount_path.child("name"), "");
        }
        if !volumes.contains(mount.name.as_str()) {
            causes.not_found(&mount_path.child("name"), mount.name.as_str());
        }
        if mount.mount_path.is_empty() {
            causes.required(&mount_path.child("mountPath"), "");
        }
        if !mount_paths.insert(mount.mount_path.as_str()) {
            causes.invalid(&mount_path.child("mountPath"), mount.mount_path.as_str(), "must be unique");
        }
        let sub_path = mount.sub_path.as_deref().unwrap_or_default();
        if !sub_path.is_empty() {
            validate_local_path(sub_path, &path.child("subPath"), causes);
        }
        let sub_path_expr = mount.sub_path_expr.as_deref().unwrap_or_default();
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                causes.invalid(
                    &mount_path.child("subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                );
            }
            validate_local_path(sub_path_expr, &path.child("subPathExpr"), causes);
        }
    }
}

fn validate_probes(container: &Container, path: &Path, causes: &mut Causes) {
    let probes = [
        ("livenessProbe", container.liveness_probe.as_ref()),
        ("readinessProbe", container.readiness_probe.as_ref()),
        ("startupProbe", container.startup_probe.as_ref()),
    ];
    for (field, probe) in probes {
        let Some(probe) = probe else { continue };
        let probe_path = path.child(field);
        validate_probe(probe, &probe_path, causes);
        if field == "readinessProbe" {
            if let Some(grace) = probe.termination_grace_period_seconds {
                causes.invalid(
                    &probe_path.child("terminationGracePeriodSeconds"),
                    grace,
                    "must not be set for readinessProbes",
                );
            }
        } else if let Some(threshold) = probe.success_threshold.filter(|threshold| *threshold != 1) {
            causes.invalid(&probe_path.child("successThreshold"), threshold, "must be 1");
        }
    }
}

fn validate_probe(probe: &Probe, path: &Path, causes: &mut Causes) {
    let handler = Handler {
        exec: probe.exec.as_ref().map(|exec| exec.command.as_ref().is_none_or(Vec::is_empty)),
        http_get: probe.http_get.as_ref(),
        tcp_socket: probe.tcp_socket.as_ref().map(|tcp| &tcp.port),
        grpc: probe.grpc.as_ref().map(|grpc| grpc.port),
        sleep: None,
    };
    validate_handler(&handler, None, path, causes);
    let non_negative = [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ];
    for (field, value) in non_negative {
        if let Some(value) = value.filter(|value| *value < 0) {
            causes.invalid(&path.child(field), value, "must be greater than or equal to 0");
        }
    }
    if let Some(grace) = probe.termination_grace_period_seconds.filter(|grace| *grace <= 0) {
        causes.invalid(&path.child("terminationGracePeriodSeconds"), grace, "must be greater than 0");
    }
}

fn validate_lifecycle(lifecycle: &Lifecycle, grace: Option<i64>, path: &Path, causes: &mut Causes) {
    let handlers: [(&str, Option<&LifecycleHandler>); 2] =
        [("postStart", lifecycle.post_start.as_ref()), ("preStop", lifecycle.pre_stop.as_ref())];
    for (field, handler) in handlers {
        let Some(handler) = handler else { continue };
        let common = Handler {
            exec: handler.exec.as_ref().map(|exec| exec.command.as_ref().is_none_or(Vec::is_empty)),
            http_get: handler.http_get.as_ref(),
            tcp_socket: handler.tcp_socket.as_ref().map(|tcp| &tcp.port),
            grpc: None,
            sleep: handler.sleep.as_ref().map(|sleep| sleep.seconds),
        };
        validate_handler(&common, grace, &path.child(field), causes);
    }
}

/// What probes and lifecycle hooks share (`commonHandler`); `exec` holds whether the command is
/// missing.
struct Handler<'a> {
    exec: Option<bool>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a IntOrString>,
    grpc: Option<i32>,
    sleep: Option<i64>,
}

fn validate_handler(handler: &Handler<'_>, grace: Option<i64>, path: &Path, causes: &mut Causes) {
    let mut count = 0;
    let mut take = |field: &str, set: bool, causes: &mut Causes| -> bool {
        if !set {
            return false;
        }
        if count > 0 {
            causes.forbidden(&path.child(field), "may not specify more than 1 handler type");
            return false;
        }
        count += 1;
        true
    };
    if take("exec", handler.exec.is_some(), causes) && handler.exec == Some(true) {
        causes.required(&path.child("exec").child("command"), "");
    }
    if let Some(action) = handler.http_get.filter(|_| take("httpGet", true, causes)) {
        let action_path = path.child("httpGet");
        if action.path.as_deref().unwrap_or_default().is_empty() {
            causes.required(&action_path.child("path"), "");
        }
        validate_port_number_or_name(&action.port, &action_path.child("port"), causes);
        let scheme = action.scheme.as_deref().unwrap_or_default();
        if !matches!(scheme, "HTTP" | "HTTPS") {
            causes.not_supported(&action_path.child("scheme"), scheme, &["HTTP", "HTTPS"]);
        }
        for header in action.http_headers.iter().flatten() {
            causes.invalid_each(&action_path.child("httpHeaders"), &header.name, names::http_header_name(&header.name));
        }
    }
    if let Some(port) = handler.tcp_socket.filter(|_| take("tcpSocket", true, causes)) {
        validate_port_number_or_name(port, &path.child("tcpSocket").child("port"), causes);
    }
    if let Some(port) = handler.grpc.filter(|_| take("grpc", true, causes)) {
        for message in names::port_number(port.into()) {
            causes.invalid(&path.child("grpc").child("port"), port, &message);
        }
    }
    if let Some(seconds) = handler.sleep.filter(|_| take("sleep", true, causes)) {
        // Zero seconds are allowed since the PodLifecycleSleepActionAllowZero gate (beta, on in 1.33).
        if let Some(grace) = grace.filter(|grace| seconds < 0 || seconds > *grace) {
            let detail = format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})");
            causes.invalid(&path.child("sleep"), seconds, &detail);
        }
    }
    if count == 0 {
        causes.required(path, "must specify a handler type");
    }
}

pub(crate) fn validate_port_number_or_name(port: &IntOrString, path: &Path, causes: &mut Causes) {
    match port {
        IntOrString::Int(number) => {
            for message in names::port_number((*number).into()) {
                causes.invalid(path, *number, &message);
            }
        }
        IntOrString::String(name) => causes.invalid_each(path, name, names::port_name(name)),
    }
}

/// Resource names a container may ask for without a `domain/` prefix.
fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// `helper.IsStandardResourceName`, as far as it matters for containers.
fn is_standard_resource(name: &str) -> bool {
    is_standard_container_resource(name)
        || matches!(
            name,
            "pods"
                | "services"
                | "replicationcontrollers"
                | "resourcequotas"
                | "secrets"
                | "configmaps"
                | "persistentvolumeclaims"
                | "storage"
                | "requests.cpu"
                | "requests.memory"
                | "requests.ephemeral-storage"
                | "requests.storage"
                | "limits.cpu"
                | "limits.memory"
                | "limits.ephemeral-storage"
                | "services.nodeports"
                | "services.loadbalancers"
        )
}

/// `IsNativeResource`: unprefixed or in `kubernetes.io/`.
fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Extended resources (`example.com/gpu`) and huge pages cannot be overcommitted: requests must
/// equal limits.
fn overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !name.starts_with("hugepages-")
}

fn validate_container_resource_name(name: &str, path: &Path, causes: &mut Causes) {
    let messages = names::qualified_name(name);
    if !messages.is_empty() {
        return causes.invalid_each(path, name, messages);
    }
    if !name.contains('/') {
        if !is_standard_resource(name) {
            causes.invalid(path, name, "must be a standard resource type or fully qualified");
        }
        if !is_standard_container_resource(name) {
            causes.invalid(path, name, "must be a standard resource for containers");
        }
    } else if !is_native_resource(name) && name.starts_with("requests.") {
        causes.invalid(path, name, "doesn't follow extended resource name standard");
    }
}

/// `ValidateContainerResourceRequirements`.
pub(crate) fn validate_resources(resources: &ResourceRequirements, path: &Path, causes: &mut Causes) {
    let limits_path = path.child("limits");
    let requests_path = path.child("requests");
    let empty = BTreeMap::new();
    let limits = resources.limits.as_ref().unwrap_or(&empty);
    let requests = resources.requests.as_ref().unwrap_or(&empty);
    let mut cpu_or_memory = false;
    let mut huge_pages = false;
    for (list, list_path) in [(limits, &limits_path), (requests, &requests_path)] {
        for (name, value) in list {
            let field = list_path.key(name);
            validate_container_resource_name(name, &field, causes);
            validate_quantity_value(name, value, &field, causes);
            cpu_or_memory |= matches!(name.as_str(), "cpu" | "memory");
            huge_pages |= name.starts_with("hugepages-");
        }
    }
    for (name, request) in requests {
        let Ok(requested) = quantity::parse(&request.0) else { continue };
        match limits.get(name) {
            Some(limit) => {
                let Ok(limited) = quantity::parse(&limit.0) else { continue };
                let order = requested.compare(&limited);
                if !overcommit_allowed(name) && order.is_ne() {
                    let detail = format!("must be equal to {name} limit of {}", limit.0);
                    causes.invalid(&requests_path, request.0.as_str(), &detail);
                } else if order.is_gt() {
                    let detail = format!("must be less than or equal to {name} limit of {}", limit.0);
                    causes.invalid(&requests_path, request.0.as_str(), &detail);
                }
            }
            None if !overcommit_allowed(name) => {
                causes.required(&limits_path, "Limit must be set for non overcommitable resources");
            }
            None => {}
        }
    }
    if huge_pages && !cpu_or_memory {
        causes.forbidden(path, "HugePages require cpu or memory");
    }
}

/// `ValidateResourceQuantityValue`: not negative; whole numbers for extended resources.
fn validate_quantity_value(name: &str, value: &Quantity, path: &Path, causes: &mut Causes) {
    let Ok(parsed) = quantity::parse(&value.0) else { return };
    if parsed.is_negative() {
        causes.invalid(path, value.0.as_str(), "must be greater than or equal to 0");
    }
    let extended = !is_native_resource(name) && !name.starts_with("requests.");
    if extended && !parsed.is_integer() {
        causes.invalid(path, value.0.as_str(), "must be an integer");
    }
}

/// `ValidateTolerations`.
pub(crate) fn validate_tolerations(tolerations: &[Toleration], path: &Path, causes: &mut Causes) {
    for (index, toleration) in tolerations.iter().enumerate() {
        let toleration_path = path.index(index);
        let key = toleration.key.as_deref().unwrap_or_default();
        let operator = toleration.operator.as_deref().unwrap_or_default();
        let value = toleration.value.as_deref().unwrap_or_default();
        let effect = toleration.effect.as_deref().unwrap_or_default();
        if !key.is_empty() {
            causes.invalid_each(&toleration_path.child("key"), key, names::qualified_name(key));
        }
        if key.is_empty() && operator != "Exists" {
            causes.invalid(
                &toleration_path.child("operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            );
        }
        if toleration.toleration_seconds.is_some() && effect != "NoExecute" {
            causes.invalid(&toleration_path.child("effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set");
        }
        match operator {
            "Equal" | "" => {
                let messages = names::label_value(value);
                if !messages.is_empty() {
                    causes.invalid(&toleration_path.child("operator"), value, &messages.join(";"));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    causes.invalid(&toleration_path.child("operator"), value, "value must be empty when `operator` is 'Exists'");
                }
            }
            other => causes.not_supported(&toleration_path.child("operator"), other, &["Equal", "Exists"]),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
            causes.not_supported(&toleration_path.child("effect"), effect, &["NoSchedule", "PreferNoSchedule", "NoExecute"]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("localhost:5000/demo/app", "Always"),
            ("localhost:5000/demo/app:v1", "IfNotPresent"),
            ("busybox@sha256:abcd", "IfNotPresent"),
            ("busybox:latest@sha256:abcd", "Always"),
            ("", "IfNotPresent"),
        ];
        for (image, expected) in cases {
            assert_eq!(default_pull_policy(image), expected, "{image}");
        }
    }
}
