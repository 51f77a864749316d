//! The controllers behind CustomResourceDefinitions, as kube-apiserver's apiextensions server
//! runs them in every apiserver: naming (which names a definition may have, `NamesAccepted`),
//! establishing (`Established`), serving (the registry and the watch cache follow the
//! established definitions, so a definition created through any apiserver is served by all of
//! them) and finalizing (deleting a definition deletes its objects first, then lets it go).
//!
//! Every apiserver runs the same loop on the same objects; the status it writes is a function of
//! the stored definitions alone, so concurrent writers agree, and a write that loses a race is
//! redone when its event arrives.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionCondition, CustomResourceDefinitionNames, JSONSchemaProps,
};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::meta;
use crate::resources::{CUSTOM_RESOURCE_CLEANUP, CustomKind, Name, Names, PodSelector, PrinterColumn, ResourceType, ScalePaths};
use crate::registry::Kind;
use crate::rest::{self, Params, Target};
use crate::schema::Structural;
use crate::state::Api;

const GROUP: &str = "apiextensions.k8s.io";

/// Follows the stored definitions until `stopped` turns true.
pub async fn run(api: Arc<Api>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let Some(definitions) = api.registry.find(GROUP, "v1", "customresourcedefinitions") else { return };
    let Some(cache) = api.cache.of(&definitions) else { return };
    cache.wait_ready().await;
    loop {
        let (objects, _, mut events) = cache.snapshot();
        let stored: Vec<Value> = objects.iter().map(|object| object.value()).collect();
        let settled = reconcile(&api, &stored).await;
        // Wait for the next change; a definition still finalizing is looked at again soon, as
        // its objects' deletions do not come through this cache.
        let next = async {
            match events.recv().await {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = next => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(1)), if !settled => {}
            _ = stopped.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// One pass over every definition; whether nothing is left to do until the next change.
async fn reconcile(api: &Api, stored: &[Value]) -> bool {
    let mut definitions: Vec<CustomResourceDefinition> = stored
        .iter()
        .filter_map(|object| match serde_json::from_value::<CustomResourceDefinition>(object.clone()) {
            Ok(definition) => Some(definition),
            Err(err) => {
                tracing::error!(name = ?meta::name(object), error = %err, "a stored CustomResourceDefinition cannot be decoded");
                None
            }
        })
        .collect();
    // The older definition keeps a contested name, whichever apiserver decides.
    definitions.sort_by(|a, b| (&a.metadata.creation_timestamp, &a.metadata.name).cmp(&(&b.metadata.creation_timestamp, &b.metadata.name)));
    // Names and conditions first, then serving, then the status writes: a client that sees
    // Established finds the kind served here (kube's establishing controller likewise sets it
    // once the handler serves the kind).
    let mut changed = Vec::new();
    let mut served = Vec::new();
    for index in 0..definitions.len() {
        let (names, conditions) = naming(&definitions, index);
        let definition = &mut definitions[index];
        let status = definition.status.get_or_insert_with(Default::default);
        changed.push(status.accepted_names.as_ref() != Some(&names) || !same_conditions(status.conditions.as_deref().unwrap_or_default(), &conditions));
        status.accepted_names = Some(names);
        status.conditions = Some(conditions);
        if established(definition) {
            served.extend(kinds(definition, definition.metadata.deletion_timestamp.is_some()));
        }
    }
    let snapshot = api.registry.set_custom(served);
    for kind in snapshot.kinds() {
        api.cache.ensure(kind);
    }
    let prefixes: BTreeSet<String> = snapshot.kinds().iter().map(|kind| kind.prefix()).collect();
    api.cache.retain(|prefix| prefixes.contains(prefix));
    let mut settled = true;
    for (definition, changed) in definitions.iter().zip(changed) {
        if changed {
            write_status(api, definition).await;
        }
        if definition.metadata.deletion_timestamp.is_some() && !finalize(api, definition, snapshot.kinds()).await {
            settled = false;
        }
    }
    settled
}

/// kube's naming controller: the requested names a definition may have given the names every
/// other definition of its group was accepted with, and its conditions.
fn naming(definitions: &[CustomResourceDefinition], index: usize) -> (CustomResourceDefinitionNames, Vec<CustomResourceDefinitionCondition>) {
    let definition = &definitions[index];
    let mut resources_used = BTreeSet::new();
    let mut kinds_used = BTreeSet::new();
    for (other_index, other) in definitions.iter().enumerate() {
        if other_index == index || other.spec.group != definition.spec.group {
            continue;
        }
        let Some(accepted) = other.status.as_ref().and_then(|status| status.accepted_names.as_ref()) else { continue };
        resources_used.insert(accepted.plural.clone());
        resources_used.extend(accepted.singular.clone());
        resources_used.extend(accepted.short_names.iter().flatten().cloned());
        kinds_used.insert(accepted.kind.clone());
        kinds_used.extend(accepted.list_kind.clone());
    }
    let requested = &definition.spec.names;
    let accepted = definition.status.as_ref().and_then(|status| status.accepted_names.clone()).unwrap_or_default();
    let mut names = accepted.clone();
    let mut conflict: Option<(&str, String)> = None;
    let fresh = |wanted: &str, had: &str, used: &BTreeSet<String>| wanted == had || !used.contains(wanted);
    let in_use = |name: &str| format!("{name:?} is already in use");
    if fresh(&requested.plural, &accepted.plural, &resources_used) {
        names.plural = requested.plural.clone();
    } else {
        conflict = Some(("PluralConflict", in_use(&requested.plural)));
    }
    let singular = requested.singular.clone().unwrap_or_default();
    if fresh(&singular, accepted.singular.as_deref().unwrap_or_default(), &resources_used) {
        names.singular = requested.singular.clone();
    } else {
        conflict = Some(("SingularConflict", in_use(&singular)));
    }
    if requested.short_names != accepted.short_names {
        let had: BTreeSet<&String> = accepted.short_names.iter().flatten().collect();
        let taken: Vec<String> = requested.short_names.iter().flatten().filter(|short| !had.contains(short) && resources_used.contains(*short)).map(|short| in_use(short)).collect();
        if taken.is_empty() {
            names.short_names = requested.short_names.clone();
        } else {
            let message = if taken.len() == 1 { taken.concat() } else { format!("[{}]", taken.join(", ")) };
            conflict = Some(("ShortNamesConflict", message));
        }
    }
    if fresh(&requested.kind, &accepted.kind, &kinds_used) {
        names.kind = requested.kind.clone();
    } else {
        conflict = Some(("KindConflict", in_use(&requested.kind)));
    }
    let list_kind = requested.list_kind.clone().unwrap_or_default();
    if fresh(&list_kind, accepted.list_kind.as_deref().unwrap_or_default(), &kinds_used) {
        names.list_kind = requested.list_kind.clone();
    } else {
        conflict = Some(("ListKindConflict", in_use(&list_kind)));
    }
    names.categories = requested.categories.clone();
    let previous = definition.status.as_ref().and_then(|status| status.conditions.clone()).unwrap_or_default();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        // The transition time moves only when the status does, as kube's SetCRDCondition keeps it.
        let last = previous.iter().find(|old| old.type_ == type_ && old.status == status).and_then(|old| old.last_transition_time.clone());
        CustomResourceDefinitionCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_transition_time: last.or_else(|| Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()))),
        }
    };
    let mut conditions = Vec::new();
    match &conflict {
        None => {
            conditions.push(condition("NamesAccepted", "True", "NoConflicts", "no conflicts found"));
            conditions.push(condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted"));
        }
        Some((reason, message)) => {
            conditions.push(condition("NamesAccepted", "False", reason, message));
            let was_established = previous.iter().any(|old| old.type_ == "Established" && old.status == "True");
            conditions.push(match was_established {
                true => condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted"),
                false => condition("Established", "False", "NotAccepted", "not all names are accepted"),
            });
        }
    }
    if definition.metadata.deletion_timestamp.is_some() {
        conditions.push(condition("Terminating", "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress"));
    }
    (names, conditions)
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now())
}

fn same_conditions(old: &[CustomResourceDefinitionCondition], new: &[CustomResourceDefinitionCondition]) -> bool {
    old.len() == new.len()
        && new.iter().all(|condition| old.iter().any(|had| had.type_ == condition.type_ && had.status == condition.status && had.reason == condition.reason && had.message == condition.message))
}

fn established(definition: &CustomResourceDefinition) -> bool {
    let conditions = definition.status.as_ref().and_then(|status| status.conditions.as_deref()).unwrap_or_default();
    conditions.iter().any(|condition| condition.type_ == "Established" && condition.status == "True")
}

/// The served versions of an established definition as kinds of the registry, named by the
/// names it was accepted with.
fn kinds(definition: &CustomResourceDefinition, terminating: bool) -> Vec<Kind> {
    let spec = &definition.spec;
    let Some(names) = definition.status.as_ref().and_then(|status| status.accepted_names.clone()) else { return Vec::new() };
    let storage_version = spec.versions.iter().find(|version| version.storage).map(|version| version.name.clone()).unwrap_or_default();
    let owned = |list: &Option<Vec<String>>| Names::Owned(list.clone().unwrap_or_default());
    let several_versions = spec.versions.iter().filter(|version| version.served).count() > 1;
    spec.versions
        .iter()
        .filter(|version| version.served)
        .map(|version| {
            let subresources = version.subresources.as_ref();
            let mut declared = Vec::new();
            if subresources.is_some_and(|subresources| subresources.status.is_some()) {
                declared.push("status".to_string());
            }
            let scale = subresources.and_then(|subresources| subresources.scale.as_ref()).map(|scale| ScalePaths {
                spec_replicas: scale.spec_replicas_path.clone(),
                status_replicas: scale.status_replicas_path.clone(),
                label_selector: scale.label_selector_path.clone(),
            });
            if scale.is_some() {
                declared.push("scale".to_string());
            }
            let printer_columns = version
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|column| PrinterColumn {
                    name: column.name.clone(),
                    type_: column.type_.clone(),
                    format: column.format.clone().unwrap_or_default(),
                    description: column.description.clone().unwrap_or_default(),
                    priority: column.priority.unwrap_or(0),
                    json_path: column.json_path.clone(),
                })
                .collect();
            let resource = ResourceType {
                group: Name::Owned(spec.group.clone()),
                version: Name::Owned(version.name.clone()),
                kind: Name::Owned(names.kind.clone()),
                plural: Name::Owned(names.plural.clone()),
                singular: Name::Owned(names.singular.clone().unwrap_or_default()),
                namespaced: spec.scope == "Namespaced",
                short_names: owned(&names.short_names),
                categories: owned(&names.categories),
                subresources: Names::Owned(declared),
                status_subresources: &[],
                tracks_generation: true,
                returns_deleted_object: false,
                pod_selector: PodSelector::None,
                selectable_fields: Names::Owned(version.selectable_fields.iter().flatten().map(|field| field.json_path.trim_start_matches('.').to_string()).collect()),
                custom: Some(Arc::new(CustomKind {
                    definition: definition.metadata.name.clone().unwrap_or_default(),
                    storage_version: storage_version.clone(),
                    several_versions,
                    schema: version.schema.as_ref().and_then(|schema| schema.open_api_v3_schema.clone()),
                    structural: version.schema.as_ref().and_then(|schema| schema.open_api_v3_schema.as_ref()).and_then(|schema| structural(definition, schema)),
                    printer_columns,
                    scale,
                    terminating,
                })),
                deletion_finalizer: None,
                default_propagation: crate::resources::DefaultPropagation::Background,
                conversion: None,
            };
            Kind { resource, strategy: &crate::admission::CUSTOM, printer: None }
        })
        .collect()
}

/// A stored definition's schema as a structural one; validation admitted it, so a failure here
/// means it was stored by something else, and its objects are then served unchecked.
fn structural(definition: &CustomResourceDefinition, schema: &JSONSchemaProps) -> Option<Arc<Structural>> {
    match crate::schema::structural(schema, "openAPIV3Schema") {
        Ok(mut structural) => {
            crate::schema::prune_defaults(&mut structural);
            Some(Arc::new(structural))
        }
        Err(causes) => {
            tracing::error!(name = ?definition.metadata.name, causes = ?causes, "a stored definition's schema is not structural");
            None
        }
    }
}

async fn write_status(api: &Api, definition: &CustomResourceDefinition) {
    let name = definition.metadata.name.clone().unwrap_or_default();
    let Some(resource) = api.registry.find(GROUP, "v1", "customresourcedefinitions") else { return };
    let target = Target { resource, namespace: None, name: Some(name.clone()), subresource: Some("status".into()) };
    let body = json!({"status": definition.status});
    match rest::merge_patch(api, &target, &body).await {
        Ok(()) => tracing::info!(name, "definition status written"),
        Err(err) if err.code == 404 || err.code == 409 => {}
        Err(err) => tracing::warn!(name, error = %err.message, "cannot write a definition's status"),
    }
}

/// Deletes the objects of a definition being deleted, then its finalizer; whether it is done.
async fn finalize(api: &Api, definition: &CustomResourceDefinition, served: &[Arc<Kind>]) -> bool {
    let name = definition.metadata.name.clone().unwrap_or_default();
    if !definition.metadata.finalizers.iter().flatten().any(|finalizer| finalizer == CUSTOM_RESOURCE_CLEANUP) {
        return true;
    }
    let mut left = 0;
    // Every version stores under one prefix: one kind suffices to find and delete them all.
    if let Some(kind) = served.iter().find(|kind| kind.custom.as_ref().is_some_and(|custom| custom.definition == name)) {
        let resource = kind.clone();
        let all = Target { resource: resource.clone(), namespace: None, name: None, subresource: None };
        match rest::all_selected(api, &all, &Params::default()).await {
            Ok(objects) => {
                for object in objects {
                    left += 1;
                    if meta::is_being_deleted(&object) {
                        continue;
                    }
                    let target = Target { resource: resource.clone(), namespace: meta::namespace(&object).map(str::to_string), name: meta::name(&object).map(str::to_string), subresource: None };
                    if let Err(err) = rest::delete_object(api, &target).await
                        && err.code != 404
                    {
                        tracing::warn!(name, error = %err.message, "cannot delete a custom object");
                    }
                }
            }
            Err(err) => {
                tracing::warn!(name, error = %err.message, "cannot list a definition's objects");
                return false;
            }
        }
    }
    if left > 0 {
        return false;
    }
    let Some(resource) = api.registry.find(GROUP, "v1", "customresourcedefinitions") else { return false };
    let target = Target { resource, namespace: None, name: Some(name.clone()), subresource: None };
    let finalizers: Vec<&String> = definition.metadata.finalizers.iter().flatten().filter(|finalizer| *finalizer != CUSTOM_RESOURCE_CLEANUP).collect();
    let body = json!({"metadata": {"finalizers": finalizers, "resourceVersion": definition.metadata.resource_version}});
    match rest::merge_patch(api, &target, &body).await {
        Ok(()) => {
            tracing::info!(name, "definition's objects deleted, definition released");
            true
        }
        Err(err) => {
            if err.code != 404 && err.code != 409 {
                tracing::warn!(name, error = %err.message, "cannot release a definition");
            }
            err.code == 404
        }
    }
}
