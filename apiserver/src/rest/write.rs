//! create, update, patch, delete, deletecollection, pods/binding and the scale subresource.

use axum::body::Bytes;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::Binding;
use serde_json::{Value, json};

use super::body;
use super::read::{self, fetch};
use super::subresource;
use super::{Api, Params, Target, content_type, json_body, json_response, parse_json};
use crate::admission::quota::Charged;
use crate::admission::{self, FieldValidation};
use crate::allocators::Held;
use crate::errors::{ApiError, Cause};
use crate::json;
use crate::managed_fields::{self, PathElement, Scope, Writer};
use crate::meta;
use crate::patch::{self, PatchType};
use crate::resources::{DefaultPropagation, PodSelector, ResourceType};
use crate::storage::{Revision, StoreError};

/// How often an unconditional write retries after losing a compare-and-swap race.
const UPDATE_ATTEMPTS: usize = 16;

/// Metadata only the server sets: kept from the stored object on every update.
const SERVER_METADATA: &[&str] =
    &["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"];

fn field_validation(params: &Params) -> Result<FieldValidation, ApiError> {
    FieldValidation::parse(params.get("fieldValidation"))
}

/// Who a write is by and what part of the object it writes: what its managedFields record.
struct Authorship {
    schema: Arc<managed_fields::Schema>,
    manager: String,
    api_version: String,
    subresource: String,
    scope: Scope,
}

impl Authorship {
    /// The author of a write to `target`: `fieldManager`, or else the product of the client's
    /// user agent, as kube-apiserver names it. `options` is the kind of options kube validates
    /// `fieldManager` as part of (`CreateOptions`, `UpdateOptions`, `PatchOptions`).
    fn of(target: &Target, params: &Params, headers: &HeaderMap, options: &str) -> Result<Self, ApiError> {
        let given = params.get("fieldManager").unwrap_or_default();
        check_field_manager(given, options)?;
        let manager = match given {
            "" => managed_fields::manager_from_user_agent(headers.get(header::USER_AGENT).and_then(|agent| agent.to_str().ok()).unwrap_or_default()),
            given => given.to_string(),
        };
        let subresource = target.subresource.clone().unwrap_or_default();
        let scope = match subresource.as_str() {
            name if target.resource.status_writer(name).is_some() => Scope::Within(vec![PathElement::Field("status".into())]),
            "scale" => Scope::Within(ScaleAt::of(&target.resource).spec_path()),
            _ if target.resource.has_subresource("status") => Scope::WithoutStatus,
            _ => Scope::Whole,
        };
        let schema = managed_fields::schema::of(&target.resource);
        Ok(Self { schema, manager, api_version: target.resource.api_version(), subresource, scope })
    }

    fn writer(&self) -> Writer<'_> {
        Writer { schema: &self.schema, manager: &self.manager, api_version: &self.api_version, subresource: &self.subresource, scope: self.scope.clone() }
    }
}

/// kube's `ValidateFieldManager`: at most 128 bytes, printable characters only.
fn check_field_manager(manager: &str, options: &str) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    if manager.len() > managed_fields::MAX_MANAGER_LENGTH {
        causes.push(Cause::too_long("fieldManager", managed_fields::MAX_MANAGER_LENGTH as i64));
    }
    for (position, character) in manager.char_indices() {
        if character.is_control() || (character.is_whitespace() && character != ' ') {
            let detail = format!("invalid character U+{:04X} (at position {position})", u32::from(character));
            causes.push(Cause::invalid("fieldManager", &json!(manager), &detail));
        }
    }
    if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid_options("meta.k8s.io", options, causes)) }
}

/// The body's apiVersion and kind must be the endpoint's; missing ones default to it, as
/// kube-apiserver's decoder defaults them from the request path.
fn check_type_meta(resource: &ResourceType, object: &mut Value) -> Result<(), ApiError> {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    if !api_version.is_empty() && api_version != resource.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            resource.api_version()
        )));
    }
    if !kind.is_empty() && kind != resource.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({}) of {}",
            resource.kind,
            resource.qualified_plural()
        )));
    }
    if let Some(fields) = object.as_object_mut() {
        fields.insert("apiVersion".into(), json!(resource.api_version()));
        fields.insert("kind".into(), json!(resource.kind));
    }
    Ok(())
}

/// The body's namespace must be empty or the one in the path; an empty one takes the path's.
fn reconcile_namespace(target: &Target, object: &mut Value) -> Result<(), ApiError> {
    if !target.resource.namespaced {
        meta::remove(object, "namespace");
        return Ok(());
    }
    let path = target.namespace.as_deref().unwrap_or_default();
    match meta::namespace(object) {
        Some(body) if body != path => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta::set(object, "namespace", json!(path));
            Ok(())
        }
    }
}

/// Objects may only be created in a namespace that exists and is not terminating.
async fn check_namespace_open(api: &Api, target: &Target) -> Result<(), ApiError> {
    let Some(namespace) = target.namespace.as_deref().filter(|_| target.resource.namespaced) else {
        return Ok(());
    };
    let namespaces = api.registry.find("", "v1", "namespaces").ok_or_else(|| ApiError::internal("namespaces are not served"))?;
    let key = namespaces.key(None, namespace);
    // NamespaceLifecycle reads its informer, not storage, and so does this: the watch cache, once
    // it has seen every write to namespaces made through this apiserver (a namespace deleted
    // through it is seen terminating at once). Storage when the cache has not, or does not hold
    // the namespace (one created a moment ago, or through another apiserver). As there, what
    // counts is the phase, which a namespace's deletion sets to Terminating.
    const TERMINATING: &str = "Terminating";
    let cached = api.cache.of(&namespaces).filter(|cache| cache.has_own_writes()).and_then(|cache| cache.get(&key));
    let terminating = match cached {
        Some(cached) => cached.field("status.phase") == Some(TERMINATING),
        None => {
            let stored = api
                .store
                .get(&key)
                .await
                .map_err(|err| ApiError::from_store(err, &namespaces, namespace))?
                .ok_or_else(|| ApiError::not_found(&namespaces, namespace))?;
            let object = stored.decode_object().map_err(|err| ApiError::from_store(err, &namespaces, namespace))?;
            object.pointer("/status/phase").and_then(Value::as_str) == Some(TERMINATING)
        }
    };
    if terminating {
        return Err(ApiError::forbidden(format!(
            "unable to create new content in namespace {namespace} because it is being terminated"
        )));
    }
    Ok(())
}

/// Serializes an object for storage: everything but its resourceVersion, which is the store's.
///
/// Every write of an object goes through here (create, update, patch, status, scale, binding,
/// finalize, a delete that marks the object), dry runs included, so this is where the one depth
/// limit is enforced that the read path ([`crate::storage::KeyValue::decode_object`]) reads
/// with: whatever the body's format, and whatever a patch built, nothing is stored that cannot
/// be read back.
fn to_stored(object: &Value) -> Result<Vec<u8>, ApiError> {
    json::check_depth(object).map_err(|err| ApiError::bad_request(format!("the object cannot be stored: {err}")))?;
    let mut stored = object.clone();
    meta::remove(&mut stored, "resourceVersion");
    serde_json::to_vec(&stored).map_err(|err| ApiError::internal(format!("serializing: {err}")))
}

fn with_revision(mut object: Value, revision: Revision) -> Value {
    meta::set(&mut object, "resourceVersion", json!(revision.to_string()));
    object
}

pub(super) fn warning_headers(response: &mut Response, warnings: &[String]) {
    for warning in warnings {
        let text = format!("299 - {:?}", warning);
        if let Ok(value) = axum::http::HeaderValue::from_str(&text) {
            response.headers_mut().append("warning", value);
        }
    }
}

pub async fn create(
    api: &Api,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let resource = &target.resource;
    let validation = field_validation(params)?;
    let authorship = Authorship::of(target, params, headers, "CreateOptions")?;
    let body::Body { object, duplicates } = body::decode(headers, body)?;
    let warnings = admission::duplicate_fields(resource, &duplicates, validation)?;
    create_object(api, target, params, object, warnings, Some(&authorship)).await
}

/// Creates `object`, the body of a create or what an apply to an absent object made: with
/// its managed fields recorded as `authorship`'s update, or as they are (an apply's).
async fn create_object(api: &Api, target: &Target, params: &Params, mut object: Value, mut warnings: Vec<String>, authorship: Option<&Authorship>) -> Result<Response, ApiError> {
    let resource = &target.resource;
    if resource.custom.as_ref().is_some_and(|custom| custom.terminating) {
        return Err(ApiError::method_not_allowed("create not allowed while custom resource definition is terminating"));
    }
    let validation = field_validation(params)?;
    check_type_meta(resource, &mut object)?;
    admission::check_metadata(resource, &object)?;
    reconcile_namespace(target, &mut object)?;
    if meta::string(&object, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
        return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
    }
    // A name given wins over generateName, as in Kubernetes: only a generated name is drawn
    // again when it is taken, a given one that is taken is AlreadyExists.
    let generate = match meta::name(&object) {
        Some(_) => None,
        None => meta::string(&object, "generateName").filter(|prefix| !prefix.is_empty()).map(str::to_string),
    };
    if meta::name(&object).is_none() {
        match &generate {
            Some(prefix) => meta::set(&mut object, "name", json!(meta::generate_name(prefix))),
            None => {
                let causes = vec![Cause::required("metadata.name", "name or generateName is required")];
                return Err(ApiError::invalid(resource, "", causes));
            }
        }
    }
    check_namespace_open(api, target).await?;

    for field in SERVER_METADATA {
        meta::remove(&mut object, field);
    }
    meta::set(&mut object, "uid", json!(uuid::Uuid::new_v4().to_string()));
    meta::set(&mut object, "creationTimestamp", json!(meta::now()));
    if resource.tracks_generation {
        meta::set(&mut object, "generation", json!(1));
    }
    let admitted = admission::admit_create(resource, object, validation)?;
    warnings.extend(admitted.warnings);
    let mut object = admitted.object;
    if let Some(authorship) = authorship {
        authorship.writer().update(&authorship.schema.zero, &mut object);
    }
    resource.strategy.mutate_create(api, target.namespace.as_deref(), &mut object).await?;
    resource.strategy.check_create(api, target.namespace.as_deref(), &object).await?;
    super::store_as(resource, &mut object, None);
    let dry_run = params.dry_run()?;
    let charged = charge_quota(api, target, &object, None, dry_run).await?;
    let written = async {
        let allocated = if dry_run {
            Held::default()
        } else {
            resource.strategy.allocate(api.store.as_ref(), resource, target.namespace.as_deref(), &Value::Null, &mut object).await?
        };
        let mut attempts = 0;
        loop {
            let name = meta::name(&object).unwrap_or_default().to_string();
            let stored = match to_stored(&object) {
                Ok(stored) => stored,
                Err(err) => {
                    allocated.release(api.store.as_ref()).await;
                    return Err(err);
                }
            };
            if dry_run {
                return Ok(0);
            }
            match api.store.create(&target.key(&name), stored).await {
                Ok(revision) => {
                    api.cache.wrote(resource, revision);
                    return Ok(revision);
                }
                // A generated name that happens to be taken: draw another, as Kubernetes' client
                // would have to otherwise.
                Err(StoreError::AlreadyExists { .. }) if generate.is_some() && attempts < 8 => {
                    attempts += 1;
                    let prefix = generate.as_deref().unwrap_or_default();
                    meta::set(&mut object, "name", json!(meta::generate_name(prefix)));
                }
                Err(err) => {
                    allocated.release(api.store.as_ref()).await;
                    return Err(ApiError::from_store(err, resource, &name));
                }
            }
        }
    };
    // An object not stored (its name taken, an allocation refused, a storage error) uses
    // nothing: what quota admission charged for it is given back at once.
    let revision: Revision = match written.await {
        Ok(revision) => revision,
        Err(err) => {
            charged.give_back(api.store.as_ref()).await;
            return Err(err);
        }
    };
    let name = meta::name(&object).unwrap_or_default().to_string();
    if !dry_run {
        // At debug, as kube-apiserver logs requests only when asked: a line per create cost
        // every create its formatting and a write, and the audit log is the record of writes.
        tracing::debug!(kind = %resource.kind, namespace = ?target.namespace, name, revision, "created");
    }
    let mut object = if dry_run { object } else { with_revision(object, revision) };
    super::serve_as(&target.resource, &mut object);
    let mut response = json_response(StatusCode::CREATED, &object);
    warning_headers(&mut response, &warnings);
    Ok(response)
}

/// ResourceQuota admission (the last plugin): `object`'s usage, less `old`'s for an update,
/// checked against the namespace's quotas and charged to them unless this is a dry run.
/// Returns the charge, for the caller to give back if its write then fails.
async fn charge_quota(api: &Api, target: &Target, object: &Value, old: Option<&Value>, dry_run: bool) -> Result<Charged, ApiError> {
    let resource = &target.resource;
    let evaluator = resource.strategy.usage();
    // Most writes are nothing quota judges (cluster-scoped kinds, updates of all but claims and
    // services): they are let through before the cache or storage is looked at.
    if !admission::quota::judges(resource, evaluator, target.namespace.as_deref(), old.is_some()) {
        return Ok(Charged::default());
    }
    let Some(quotas) = api.registry.find("", "v1", "resourcequotas") else { return Ok(Charged::default()) };
    // Most namespaces have no quota: the watch cache says so without a read of storage. A
    // quota limits nothing until the controller has written its status, by which time the
    // cache has long had it; where there are quotas, admission reads them from storage, fresh
    // for its compare-and-swap.
    if let (Some(namespace), Some(cache)) = (target.namespace.as_deref(), api.cache.of(&quotas))
        && cache.revision() > 0
        && !cache.has_under(&quotas.namespace_prefix(Some(namespace)))
    {
        return Ok(Charged::default());
    }
    let write = admission::quota::Write { resource, evaluator, namespace: target.namespace.as_deref(), object, old, dry_run };
    admission::quota::admit(api.store.as_ref(), &quotas, write).await
}

/// What an update does to the stored object.
enum Change {
    /// Write this object.
    Write(Value),
    /// The object needs no write (the result is the current object).
    Unchanged,
    /// Its finalizers are gone while it is being deleted: remove it.
    Remove,
}

/// Reads, changes and writes one object with compare-and-swap, retrying races when the
/// caller gave no resourceVersion precondition. Returns the object as stored afterwards (or as
/// it was when removed) and whether it was removed.
async fn guaranteed_update<F>(
    api: &Api,
    target: &Target,
    name: &str,
    dry_run: bool,
    mut change: F,
) -> Result<(Value, bool), ApiError>
where
    F: FnMut(&Value, Revision) -> Result<Change, ApiError>,
{
    let resource = &target.resource;
    let key = target.key(name);
    for _ in 0..UPDATE_ATTEMPTS {
        let mut current = fetch(api, target, name).await?;
        // A kind served in another version than it is stored in changes its served version;
        // the stored object keeps what that version cannot express.
        let stored = resource.conversion.map(|_| {
            let stored = current.clone();
            super::serve_as(resource, &mut current);
            stored
        });
        let revision = meta::string(&current, "resourceVersion")
            .and_then(|rv| rv.parse::<Revision>().ok())
            .unwrap_or_default();
        let mut outcome = change(&current, revision)?;
        if matches!(outcome, Change::Unchanged) && !dry_run && api.store.stale(&key).await {
            // Stored under an old encryption key (or unencrypted): written again, as
            // kube-apiserver does, so that rewriting every object moves them to the current key.
            outcome = Change::Write(current.clone());
        }
        if let Change::Write(object) = &outcome
            && target.subresource.is_none()
        {
            resource.strategy.check_update(api, target.namespace.as_deref(), object, &current).await?;
        }
        // ResourceQuota last, as kube orders its plugins: an update that changes what the object
        // uses (a claim's size, a service's type) is charged the difference; marking an object
        // deleted or finishing it changes nothing.
        let charged = match &outcome {
            Change::Write(object) if target.subresource.is_none() && !meta::is_being_deleted(object) => {
                charge_quota(api, target, object, Some(&current), dry_run).await?
            }
            _ => Charged::default(),
        };
        let result = match outcome {
            Change::Unchanged => return Ok((current, false)),
            Change::Write(mut object) if dry_run => {
                super::store_as(resource, &mut object, stored.as_ref());
                to_stored(&object)?;
                return Ok((with_revision(object, revision), false));
            }
            Change::Remove if dry_run => return Ok((current, true)),
            Change::Write(mut object) => {
                super::store_as(resource, &mut object, stored.as_ref());
                let strategy = resource.strategy;
                let fresh = match strategy.allocate(api.store.as_ref(), resource, target.namespace.as_deref(), &current, &mut object).await {
                    Ok(fresh) => fresh,
                    Err(err) => {
                        charged.give_back(api.store.as_ref()).await;
                        return Err(err);
                    }
                };
                let bytes = match to_stored(&object) {
                    Ok(bytes) => bytes,
                    Err(err) => {
                        fresh.release(api.store.as_ref()).await;
                        charged.give_back(api.store.as_ref()).await;
                        return Err(err);
                    }
                };
                match api.store.update(&key, bytes, revision).await {
                    Ok(new) => {
                        api.cache.wrote(resource, new);
                        strategy.held(&current).without(&strategy.held(&object)).release(api.store.as_ref()).await;
                        Ok((with_revision(object, new), false))
                    }
                    // A lost race gives the charge back before the retry charges again (kube
                    // re-runs admission on a conflict too, but so charges a lost race twice).
                    Err(err) => {
                        fresh.release(api.store.as_ref()).await;
                        charged.give_back(api.store.as_ref()).await;
                        Err(err)
                    }
                }
            }
            Change::Remove => {
                let removed = api.store.delete(&key, Some(revision)).await;
                if let Ok(deleted) = &removed {
                    api.cache.wrote(resource, deleted.revision);
                    resource.strategy.held(&current).release(api.store.as_ref()).await;
                }
                removed.map(|_| (current, true))
            }
        };
        match result {
            Ok(done) => return Ok(done),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(ApiError::from_store(err, resource, name)),
        }
    }
    Err(ApiError::modified(resource, name))
}

/// The precondition a body's resourceVersion sets: it must be the stored one.
fn check_precondition(target: &Target, name: &str, body: &Value, current: &Value, revision: Revision) -> Result<(), ApiError> {
    // A uid in the body is a precondition too: the object must be that one, not a namesake.
    if let (Some(wanted), Some(actual)) = (meta::string(body, "uid").filter(|uid| !uid.is_empty()), meta::string(current, "uid")) {
        if wanted != actual {
            return Err(ApiError::conflict(&target.resource, name, &format!("Precondition failed: UID in precondition: {wanted}, UID in object meta: {actual}")));
        }
    }
    match meta::string(body, "resourceVersion").filter(|rv| !rv.is_empty()) {
        None => Ok(()),
        Some(rv) => {
            let expected = meta::parse_resource_version(rv).map_err(ApiError::bad_request)?;
            if expected == Some(revision) { Ok(()) } else { Err(ApiError::modified(&target.resource, name)) }
        }
    }
}

/// The new object an update of `target` (the object, its status, or a namespace's finalize)
/// makes from `body`, admitted, or `Unchanged`/`Remove`.
/// `authorship` records the write in the managed fields; `None` for an apply, whose merge
/// recorded it already.
fn updated(target: &Target, name: &str, current: &Value, body: Value, validation: FieldValidation, authorship: Option<&Authorship>) -> Result<(Change, Vec<String>), ApiError> {
    let resource = &target.resource;
    let subresource = target.subresource.as_deref();
    let mut candidate = match subresource {
        None => {
            let mut candidate = body;
            if resource.has_subresource("status") {
                set_field(&mut candidate, "status", current.get("status").cloned());
            }
            candidate
        }
        Some(writer) if resource.status_writer(writer).is_some() => {
            let mut candidate = current.clone();
            set_field(&mut candidate, "status", body.get("status").cloned());
            if authorship.is_none() {
                // An apply's merge recorded its entry in the body's managed fields.
                match meta::metadata(&body).and_then(|metadata| metadata.get("managedFields")) {
                    Some(fields) => meta::set(&mut candidate, "managedFields", fields.clone()),
                    None => {
                        meta::remove(&mut candidate, "managedFields");
                    }
                }
            }
            candidate
        }
        Some("finalize") => {
            let mut candidate = current.clone();
            let finalizers = body.pointer("/spec/finalizers").cloned().unwrap_or(json!([]));
            if let Some(spec) = candidate.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("finalizers".into(), finalizers);
            } else {
                set_field(&mut candidate, "spec", Some(json!({"finalizers": finalizers})));
            }
            candidate
        }
        Some(other) => return Err(ApiError::method_not_allowed(format!("cannot update the {other} subresource"))),
    };
    for field in SERVER_METADATA {
        match meta::metadata(current).and_then(|metadata| metadata.get(*field)) {
            Some(value) => meta::set(&mut candidate, field, value.clone()),
            None => {
                meta::remove(&mut candidate, field);
            }
        }
    }
    meta::set(&mut candidate, "name", json!(name));
    if let Some(namespace) = &target.namespace {
        meta::set(&mut candidate, "namespace", json!(namespace));
    }
    let admitted = match subresource.and_then(|name| resource.status_writer(name)) {
        Some(writer) => admission::admit_subresource_update(resource, writer, candidate, current, validation)?,
        None => admission::admit_update(resource, candidate, current, validation)?,
    };
    let mut object = admitted.object;
    if resource.tracks_generation && object.get("spec") != current.get("spec") {
        let generation = meta::metadata(current).and_then(|m| m.get("generation")).and_then(Value::as_i64).unwrap_or(0);
        meta::set(&mut object, "generation", json!(generation + 1));
    }
    if let Some(authorship) = authorship {
        authorship.writer().update(current, &mut object);
    }
    if finalized(&object) {
        return Ok((Change::Remove, admitted.warnings));
    }
    let change = if meta::equal_except(&object, current, &["resourceVersion"]) { Change::Unchanged } else { Change::Write(object) };
    Ok((change, admitted.warnings))
}

/// Whether an object being deleted has no finalizers left (for namespaces, in spec too).
/// Deleted, with nothing left to wait for: no finalizers and no grace period still running (a
/// kubelet updating the status of a pod it is stopping must not remove it; `shouldDeleteDuringUpdate`).
fn finalized(object: &Value) -> bool {
    let grace = meta::metadata(object).and_then(|metadata| metadata.get("deletionGracePeriodSeconds")).and_then(Value::as_i64).unwrap_or(0);
    meta::is_being_deleted(object)
        && grace == 0
        && meta::finalizers(object).is_empty()
        && object.pointer("/spec/finalizers").and_then(Value::as_array).is_none_or(Vec::is_empty)
}

fn set_field(object: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = object.as_object_mut() {
        match value {
            Some(value) => map.insert(field.to_string(), value),
            None => map.remove(field),
        };
    }
}

/// The body must be for the object the URL names. A whole object without a name takes the
/// URL's.
fn check_body_identity(target: &Target, name: &str, body: &Value) -> Result<(), ApiError> {
    check_identity(target, name, meta::namespace(body), meta::name(body).unwrap_or(name))
}

/// kube-apiserver's update and patch handlers' checks, in their order: the body's namespace
/// (`EnsureObjectNamespaceMatchesRequestNamespace`), then its name as given (`checkName`: an
/// empty one does not match either).
fn check_identity(target: &Target, name: &str, body_namespace: Option<&str>, body_name: &str) -> Result<(), ApiError> {
    check_body_namespace(target, body_namespace)?;
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    Ok(())
}

/// A namespace in the body, when it gives one, must be the URL's.
fn check_body_namespace(target: &Target, body_namespace: Option<&str>) -> Result<(), ApiError> {
    let path = target.namespace.as_deref().filter(|_| target.resource.namespaced);
    match (body_namespace.filter(|namespace| !namespace.is_empty()), path) {
        (Some(body), Some(path)) if body != path => {
            Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"))
        }
        _ => Ok(()),
    }
}

pub async fn update(
    api: &Api,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let body::Body { object: mut body, duplicates } = body::decode(headers, body)?;
    check_type_meta(&target.resource, &mut body)?;
    admission::check_metadata(&target.resource, &body)?;
    check_body_identity(target, target.name.as_deref().unwrap_or_default(), &body)?;
    let warnings = admission::duplicate_fields(&target.resource, &duplicates, field_validation(params)?)?;
    let authorship = Authorship::of(target, params, headers, "UpdateOptions")?;
    write_new_version(api, target, params, warnings, Some(&authorship), |_| Ok(body.clone())).await
}

/// Writes the object `new_version` makes of the stored one (the body of a PUT, or the stored
/// object patched), with the body's resourceVersion as precondition, and answers with it and
/// the body's `warnings` (its duplicate keys) with admission's.
async fn write_new_version<F>(api: &Api, target: &Target, params: &Params, body_warnings: Vec<String>, authorship: Option<&Authorship>, new_version: F) -> Result<Response, ApiError>
where
    F: Fn(&Value) -> Result<Value, ApiError>,
{
    let name = target.name.clone().unwrap_or_default();
    let validation = field_validation(params)?;
    let mut warnings = Vec::new();
    let (mut object, _) = guaranteed_update(api, target, &name, params.dry_run()?, |current, revision| {
        let body = new_version(current)?;
        admission::check_metadata(&target.resource, &body)?;
        check_body_identity(target, &name, &body)?;
        check_precondition(target, &name, &body, current, revision)?;
        let (change, found) = updated(target, &name, current, body, validation, authorship)?;
        warnings = found;
        Ok(change)
    })
    .await?;
    super::serve_as(&target.resource, &mut object);
    let mut response = json_response(StatusCode::OK, &object);
    warning_headers(&mut response, &[body_warnings, warnings].concat());
    Ok(response)
}

const APPLY_PATCH: &str = "application/apply-patch+yaml";

fn patch_type(headers: &HeaderMap, resource: &ResourceType) -> Result<PatchType, ApiError> {
    let content_type = content_type(headers);
    match PatchType::from_content_type(&content_type) {
        Some(PatchType::StrategicMerge) if resource.custom.is_some() => Err(ApiError::unsupported_media_type(crate::patch::CUSTOM_MEDIA_TYPES)),
        Some(kind) => Ok(kind),
        None if resource.custom.is_some() => Err(ApiError::unsupported_media_type(crate::patch::CUSTOM_MEDIA_TYPES)),
        None => Err(ApiError::unsupported_media_type(crate::patch::MEDIA_TYPES)),
    }
}

/// kube's `ValidatePatchOptions`: `force` is for applies, which must name their manager.
fn check_patch_options(params: &Params, apply: bool) -> Result<(), ApiError> {
    let cause = match (apply, params.get("force").is_some(), params.get("fieldManager").unwrap_or_default().is_empty()) {
        (false, true, _) => Cause::forbidden("force", "may not be specified for non-apply patch"),
        (true, _, true) => Cause::required("fieldManager", "is required for apply patch"),
        _ => return Ok(()),
    };
    Err(ApiError::invalid_options("meta.k8s.io", "PatchOptions", vec![cause]))
}

fn apply_patch(kind: PatchType, resource: &ResourceType, current: &Value, patch_body: &Value) -> Result<Value, ApiError> {
    let result = match kind {
        PatchType::Json => patch::json_patch(current, patch_body),
        PatchType::Merge => patch::json_merge_patch(current, patch_body),
        PatchType::StrategicMerge => patch::strategic_merge_patch(&resource.kind, current, patch_body),
    };
    result.map_err(|err| patch_error(resource, current, &err))
}

/// A patch failure as kube-apiserver reports it: 400 for a malformed patch, 413 for too many
/// operations, 422 for a patch that does not apply to the stored object.
fn patch_error(resource: &ResourceType, current: &Value, err: &patch::PatchError) -> ApiError {
    match err.status_code() {
        400 => ApiError::bad_request(err.to_string()),
        413 => ApiError::too_large_patch(err.to_string()),
        _ => {
            let name = meta::name(current).unwrap_or_default();
            let cause = Cause { reason: "FieldValueInvalid", field: String::new(), message: err.to_string() };
            ApiError::invalid(resource, name, vec![cause])
        }
    }
}

fn parse_patch_body(body: &Bytes) -> Result<Value, ApiError> {
    body::parse_patch(body).map(|patch| patch.value)
}

pub async fn patch(
    api: &Api,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    if content_type(headers) == APPLY_PATCH {
        return apply(api, target, params, headers, body).await;
    }
    let kind = patch_type(headers, &target.resource)?;
    check_patch_options(params, false)?;
    let authorship = Authorship::of(target, params, headers, "PatchOptions")?;
    let json::Document { value: patch_body, duplicates } = body::parse_patch(body)?;
    // A key repeated in a merge patch is one kube-apiserver's strict decoding of the patch
    // reports too.
    let warnings = admission::duplicate_fields(&target.resource, &duplicates, field_validation(params)?)?;
    write_new_version(api, target, params, warnings, Some(&authorship), |current| apply_patch(kind, &target.resource, current, &patch_body)).await
}

/// The configuration of a server-side apply: YAML (or JSON, which is YAML), one object of this
/// kind and version, without managed fields, for the object the URL names; each refused with
/// kube-apiserver's error.
fn apply_configuration(target: &Target, api_version: &str, kind: &str, body: &Bytes, validation: FieldValidation) -> Result<(Value, Vec<String>), ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty: a patch is required"));
    }
    let json::Document { value: config, duplicates } = json::from_yaml(body).map_err(|error| ApiError::bad_request(format!("error decoding YAML: {error}")))?;
    if !config.is_object() {
        return Err(ApiError::bad_request(format!("error decoding YAML: the apply configuration must be an object, got {config}")));
    }
    let warnings = admission::duplicate_fields(&target.resource, &duplicates, validation)?;
    // kube's `versionCheckManager`, with Go's `GroupVersionKind.String()`.
    let given_version = config.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let given_kind = config.get("kind").and_then(Value::as_str).unwrap_or_default();
    if given_version != api_version || given_kind != kind {
        let (group, version) = given_version.split_once('/').unwrap_or(("", given_version));
        return Err(ApiError::bad_request(format!("invalid object type: {group}/{version}, Kind={given_kind}")));
    }
    if meta::metadata(&config).and_then(|metadata| metadata.get("managedFields")).is_some_and(|fields| !fields.is_null()) {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    // A configuration without a name takes the stored object's in the merge (kube checks the
    // name of the merged object); a create needs one (see `apply`).
    let name = target.name.as_deref().unwrap_or_default();
    check_identity(target, name, meta::namespace(&config), meta::name(&config).unwrap_or(name))?;
    Ok((config, warnings))
}

/// Server-side apply (`application/apply-patch+yaml`): the configuration merged into the
/// object by the field manager, or the object created from it when there is none yet.
async fn apply(api: &Api, target: &Target, params: &Params, headers: &HeaderMap, body: &Bytes) -> Result<Response, ApiError> {
    check_patch_options(params, true)?;
    let authorship = Authorship::of(target, params, headers, "PatchOptions")?;
    let validation = field_validation(params)?;
    let force = params.flag("force");
    let resource = &target.resource;
    if target.subresource.as_deref() == Some("scale") {
        return apply_scale(api, target, params, &authorship, body, force).await;
    }
    let (config, warnings) = apply_configuration(target, &resource.api_version(), &resource.kind, body, validation)?;
    let name = target.name.clone().unwrap_or_default();
    // A create that loses a race with another becomes an update of what that one created.
    for _ in 0..UPDATE_ATTEMPTS {
        let mut admission_warnings = Vec::new();
        let outcome = guaranteed_update(api, target, &name, params.dry_run()?, |current, revision| {
            check_precondition(target, &name, &config, current, revision)?;
            let Some(merged) = authorship.writer().apply(current, &config, force)? else { return Ok(Change::Unchanged) };
            let (change, found) = updated(target, &name, current, merged, validation, None)?;
            admission_warnings = found;
            Ok(change)
        })
        .await;
        match outcome {
            Ok((mut object, _)) => {
                super::serve_as(resource, &mut object);
                let mut response = json_response(StatusCode::OK, &object);
                warning_headers(&mut response, &[warnings, admission_warnings].concat());
                return Ok(response);
            }
            Err(error) if error.code == 404 && target.subresource.is_none() && error.reason == "NotFound" => {
                if meta::name(&config).is_none() {
                    return Err(ApiError::bad_request(format!("the name of the object ({name} based on URL) was undeterminable: name must be provided")));
                }
                if let Some(uid) = meta::string(&config, "uid").filter(|uid| !uid.is_empty()) {
                    let why = format!("uid mismatch: the provided object specified uid {uid}, and no existing object was found");
                    return Err(ApiError::conflict(resource, &name, &why));
                }
                let Some(object) = authorship.writer().apply(&json!({}), &config, force)? else {
                    return Err(error);
                };
                match create_object(api, target, params, object, warnings.clone(), None).await {
                    Err(error) if error.reason == "AlreadyExists" => continue,
                    created => return created,
                }
            }
            Err(error) => return Err(error),
        }
    }
    Err(ApiError::modified(resource, &name))
}

/// An apply to the scale subresource: a Scale configuration that sets the replicas of the
/// object, owned by the manager with subresource `scale`, as kube's scale handler records it.
async fn apply_scale(api: &Api, target: &Target, params: &Params, authorship: &Authorship, body: &Bytes, force: bool) -> Result<Response, ApiError> {
    let validation = field_validation(params)?;
    let (scale_config, warnings) = apply_configuration(target, "autoscaling/v1", "Scale", body, validation)?;
    let name = target.name.clone().unwrap_or_default();
    let object_target = Target { subresource: None, ..clone_target(target) };
    let resource = &target.resource;
    let mut config = json!({"apiVersion": resource.api_version(), "kind": resource.kind, "metadata": {"name": name}});
    if let Some(replicas) = scale_config.pointer("/spec/replicas") {
        if replicas.as_i64().is_none_or(|replicas| replicas < 0) {
            let causes = vec![Cause::invalid("spec.replicas", replicas, "must be greater than or equal to 0")];
            return Err(ApiError::invalid(&subresource::SCALE, &name, causes));
        }
        set_at(&mut config, &ScaleAt::of(resource).spec, replicas.clone());
    }
    let (object, _) = guaranteed_update(api, &object_target, &name, params.dry_run()?, |current, revision| {
        check_precondition(target, &name, &scale_config, current, revision)?;
        let Some(merged) = authorship.writer().apply(current, &config, force)? else { return Ok(Change::Unchanged) };
        updated(&object_target, &name, current, merged, validation, None).map(|(change, _)| change)
    })
    .await?;
    let mut response = json_response(StatusCode::OK, &scale_of(resource, &object));
    warning_headers(&mut response, &warnings);
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Delete

struct DeleteOptions {
    grace_period: Option<i64>,
    propagation: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    /// `ignoreStoreReadErrorWithClusterBreakingPotential`: remove an object that cannot be read
    /// (KEP-3926), bypassing finalizers and preconditions.
    ignore_read_error: bool,
}

fn delete_options(params: &Params, headers: &HeaderMap, body: &Bytes) -> Result<DeleteOptions, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { json!({}) } else { json_body(headers, body)? };
    let grace_period = match params.number("gracePeriodSeconds")? {
        Some(seconds) => Some(seconds),
        None => body.get("gracePeriodSeconds").and_then(Value::as_i64),
    };
    let mut propagation = params
        .get("propagationPolicy")
        .map(str::to_string)
        .or_else(|| body.get("propagationPolicy").and_then(Value::as_str).map(str::to_string));
    let orphan = params.get("orphanDependents").map(|_| params.flag("orphanDependents")).or_else(|| body.get("orphanDependents").and_then(Value::as_bool));
    // `orphanDependents` is the older spelling of the same choice: either value is explicit, and
    // overrides the kind's default as a policy would (kube's `shouldOrphanDependents`).
    if propagation.is_none() {
        propagation = orphan.map(|orphan| if orphan { "Orphan" } else { "Background" }.to_string());
    }
    if let Some(policy) = &propagation {
        if !matches!(policy.as_str(), "Orphan" | "Background" | "Foreground") {
            return Err(ApiError::bad_request(format!(
                "DeleteOptions.propagationPolicy: Unsupported value: {policy:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    }
    if grace_period.is_some_and(|seconds| seconds < 0) {
        return Err(ApiError::bad_request("DeleteOptions.gracePeriodSeconds: must be greater than or equal to 0"));
    }
    let precondition = |field: &str| body.pointer(&format!("/preconditions/{field}")).and_then(Value::as_str).map(str::to_string);
    const IGNORE_READ_ERROR: &str = "ignoreStoreReadErrorWithClusterBreakingPotential";
    let ignore_read_error = match params.get(IGNORE_READ_ERROR) {
        Some(text) => text == "true",
        None => body.get(IGNORE_READ_ERROR).and_then(Value::as_bool).unwrap_or(false),
    };
    Ok(DeleteOptions {
        grace_period,
        propagation,
        uid: precondition("uid"),
        resource_version: precondition("resourceVersion"),
        ignore_read_error,
    })
}

/// What deleting `current` does: remove it now, or mark it (deletionTimestamp, finalizers)
/// for the component that finishes the job.
fn deletion(target: &Target, name: &str, current: &Value, revision: Revision, options: &DeleteOptions) -> Result<Change, ApiError> {
    let resource = &target.resource;
    admission::admit_delete(resource, current)?;
    resource.strategy.check_delete(name)?;
    if let Some(uid) = &options.uid {
        let actual = meta::string(current, "uid").unwrap_or_default();
        if uid != actual {
            return Err(ApiError::conflict(resource, name, &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
            )));
        }
    }
    if let Some(rv) = &options.resource_version {
        if rv != &revision.to_string() {
            return Err(ApiError::conflict(resource, name, &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {revision}"
            )));
        }
    }
    let mut object = current.clone();
    let mut finalizers = meta::finalizers(&object);
    // A policy given replaces the one an earlier delete asked for, as Kubernetes swaps the
    // garbage collector's finalizers; none given leaves them, or, when there are none, the kind's
    // default applies (an orphaning one adds the `orphan` finalizer).
    let asked_before = finalizers.iter().any(|finalizer| finalizer == "orphan" || finalizer == "foregroundDeletion");
    let default_policy = match resource.default_propagation {
        DefaultPropagation::Orphan { .. } if !asked_before => Some("Orphan"),
        _ => None,
    };
    if let Some(policy) = options.propagation.as_deref().or(default_policy) {
        let before = finalizers.clone();
        finalizers.retain(|finalizer| finalizer != "orphan" && finalizer != "foregroundDeletion");
        match policy {
            "Foreground" => finalizers.push("foregroundDeletion".to_string()),
            "Orphan" => finalizers.push("orphan".to_string()),
            _ => {}
        }
        if finalizers != before {
            meta::set(&mut object, "finalizers", json!(finalizers));
        }
    }
    let grace_period = resource.strategy.grace_period(&object, options.grace_period);
    // Added once, when the deletion starts: the kind's controller removes it when done.
    if let Some(finalizer) = resource.deletion_finalizer.filter(|finalizer| !meta::is_being_deleted(current) && !finalizers.iter().any(|present| present == finalizer)) {
        finalizers.push(finalizer.to_string());
        meta::set(&mut object, "finalizers", json!(finalizers));
    }
    let kept = resource.strategy.deleting(&mut object);
    let graceful = grace_period.is_some_and(|grace| grace > 0);
    if finalizers.is_empty() && !graceful && !kept {
        return Ok(Change::Remove);
    }
    let already = meta::is_being_deleted(&object);
    if !already || graceful {
        let grace = grace_period.unwrap_or(0);
        let shorter = meta::metadata(&object)
            .and_then(|metadata| metadata.get("deletionGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .is_none_or(|existing| grace < existing);
        if !already || shorter {
            meta::set(&mut object, "deletionTimestamp", json!(meta::seconds_from_now(grace)));
            meta::set(&mut object, "deletionGracePeriodSeconds", json!(grace));
        }
    }
    if resource.tracks_generation && !already {
        let generation = meta::metadata(&object).and_then(|m| m.get("generation")).and_then(Value::as_i64).unwrap_or(0);
        meta::set(&mut object, "generation", json!(generation + 1));
    }
    let mut stored = current.clone();
    meta::remove(&mut stored, "resourceVersion");
    let mut changed = object.clone();
    meta::remove(&mut changed, "resourceVersion");
    if changed == stored { Ok(Change::Unchanged) } else { Ok(Change::Write(object)) }
}

/// The Status a DELETE that removed the object answers, for kinds whose storage does not
/// return the object, in kube-apiserver's field order (no uid when the object could not be read).
fn success_status(resource: &ResourceType, name: &str, uid: &str) -> Response {
    let details = json!({"name": name, "group": resource.group, "kind": resource.plural, "uid": uid});
    let text = crate::errors::status_text("Success", "", "", &details, 0);
    axum::response::IntoResponse::into_response((StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json")], text))
}

pub async fn delete(
    api: &Api,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let name = target.name.clone().unwrap_or_default();
    let options = delete_options(params, headers, body)?;
    if options.ignore_read_error
        && let Some(response) = delete_unreadable(api, target, &name, params.dry_run()?).await?
    {
        return Ok(response);
    }
    let (object, removed) = guaranteed_update(api, target, &name, params.dry_run()?, |current, revision| {
        deletion(target, &name, current, revision, &options)
    })
    .await?;
    let mut response = if !removed {
        json_response(StatusCode::OK, &object)
    } else {
        tracing::debug!(kind = %target.resource.kind, namespace = ?target.namespace, name, "deleted");
        if target.resource.returns_deleted_object {
            json_response(StatusCode::OK, &object)
        } else {
            success_status(&target.resource, &name, meta::string(&object, "uid").unwrap_or_default())
        }
    };
    warning_headers(&mut response, &default_propagation_warning(&target.resource, &options));
    Ok(response)
}

/// The warning a delete relying on a kind's orphaning default answers (kube's Job storage
/// adds it to delete and deletecollection when the options name no policy).
fn default_propagation_warning(resource: &ResourceType, options: &DeleteOptions) -> Vec<String> {
    match resource.default_propagation {
        DefaultPropagation::Orphan { warning } if options.propagation.is_none() => vec![warning.to_string()],
        _ => Vec::new(),
    }
}

/// The unsafe delete of KEP-3926: when the stored object cannot be read (its bytes do not
/// decode, or do not decrypt), it is removed as it is, without finalizers, preconditions or
/// admission, which need the object; `None` when it reads fine, for the normal delete to go on,
/// as kube-apiserver tries the normal deletion first.
///
/// kube-apiserver asks the authorizer for the verb `unsafe-delete-ignore-read-errors` on the
/// object besides `delete`, and so does this.
async fn delete_unreadable(api: &Api, target: &Target, name: &str, dry_run: bool) -> Result<Option<Response>, ApiError> {
    let resource = &target.resource;
    let key = target.key(name);
    for _ in 0..UPDATE_ATTEMPTS {
        let revision = match api.store.get(&key).await {
            Ok(None) => return Err(ApiError::not_found(resource, name)),
            Ok(Some(kv)) => match kv.decode_object() {
                Ok(_) => return Ok(None),
                Err(err) => {
                    tracing::warn!(key, error = %err, "deleting an object that cannot be decoded, as asked");
                    kv.mod_revision
                }
            },
            Err(StoreError::Untransformable { revision, message, .. }) => {
                tracing::warn!(key, error = %message, "deleting an object that cannot be decrypted, as asked");
                revision
            }
            Err(err) => return Err(ApiError::from_store(err, resource, name)),
        };
        check_unsafe_delete_allowed(target, name)?;
        if !dry_run {
            // Only the unreadable version that was looked at: one written since is left alone.
            match api.store.delete(&key, Some(revision)).await {
                Ok(_) => {}
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound { .. }) => return Err(ApiError::not_found(resource, name)),
                Err(err) => return Err(ApiError::from_store(err, resource, name)),
            }
            tracing::info!(kind = %resource.kind, namespace = ?target.namespace, name, "deleted an unreadable object");
        }
        // There is no object to answer with: a Status, as kube-apiserver answers.
        return Ok(Some(success_status(resource, name, "")));
    }
    Err(ApiError::modified(resource, name))
}

/// 403 unless the requester may also `unsafe-delete-ignore-read-errors` what it deletes.
fn check_unsafe_delete_allowed(target: &Target, name: &str) -> Result<(), ApiError> {
    let resource = &target.resource;
    let attributes = crate::request::Attributes {
        verb: "unsafe-delete-ignore-read-errors".into(),
        resource: Some(resource.plural.to_string()),
        group: resource.group.to_string(),
        version: resource.version.to_string(),
        namespace: target.namespace.clone().unwrap_or_default(),
        name: name.into(),
        ..crate::request::Attributes::default()
    };
    crate::authz::with_requester(|requester| requester.check_also(&attributes)).unwrap_or(Ok(()))
}

pub async fn delete_collection(
    api: &Api,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let options = delete_options(params, headers, body)?;
    let dry_run = params.dry_run()?;
    let mut deleted = Vec::new();
    for object in read::all_selected(api, target, params).await? {
        let name = meta::name(&object).unwrap_or_default().to_string();
        let item_target = Target {
            resource: target.resource.clone(),
            namespace: meta::namespace(&object).map(str::to_string).or_else(|| target.namespace.clone()),
            name: Some(name.clone()),
            subresource: None,
        };
        let outcome = guaranteed_update(api, &item_target, &name, dry_run, |current, revision| {
            deletion(&item_target, &name, current, revision, &options)
        })
        .await;
        match outcome {
            Ok((object, _)) => deleted.push(object),
            // Gone in the meantime: what was asked for is done.
            Err(err) if err.code == 404 => {}
            Err(err) => return Err(err),
        }
    }
    let list = json!({
        "kind": format!("{}List", target.resource.kind),
        "apiVersion": target.resource.api_version(),
        "metadata": {},
        "items": deleted,
    });
    let mut response = json_response(StatusCode::OK, &list);
    warning_headers(&mut response, &default_propagation_warning(&target.resource, &options));
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// pods/binding

pub async fn bind(
    api: &Api,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let name = target.name.clone().unwrap_or_default();
    let (binding, warnings) = subresource::decode::<Binding>(&subresource::BINDING, json_body(headers, body)?, field_validation(params)?)?;
    check_binding(target, &name, &binding)?;
    // The binding's uid and resourceVersion are preconditions on the pod (kube-apiserver keeps
    // them for this: `PreserveRequestObjectMetaSystemFieldsOnSubresourceCreate`), so that a
    // scheduler never binds a namesake made after it decided.
    let preconditions = json!({"metadata": {"uid": binding.metadata.uid, "resourceVersion": binding.metadata.resource_version}});
    let pod_target = Target { subresource: None, ..clone_target(target) };
    guaranteed_update(api, &pod_target, &name, params.dry_run()?, |current, revision| {
        check_precondition(&pod_target, &name, &preconditions, current, revision)?;
        bound(target, &name, current, &binding).map(Change::Write)
    })
    .await?;
    let status = crate::errors::status_text("Success", "", "", &json!({}), 201);
    let mut response = axum::response::IntoResponse::into_response((StatusCode::CREATED, [(axum::http::header::CONTENT_TYPE, "application/json")], status));
    warning_headers(&mut response, &warnings);
    Ok(response)
}

/// What kube-apiserver checks of a Binding before it reads the pod: the create handler its
/// namespace, `BindingREST.Create` its name (which must be given), `ValidatePodBinding` its
/// target. kube-apiserver returns the last as a plain error, hence a 500; they are the
/// client's, so here they are the 422 Invalid its messages describe.
fn check_binding(target: &Target, name: &str, binding: &Binding) -> Result<(), ApiError> {
    check_body_namespace(target, binding.metadata.namespace.as_deref())?;
    if binding.metadata.name.as_deref().unwrap_or_default() != name {
        return Err(ApiError::bad_request("name in URL does not match name in Binding object"));
    }
    let mut causes = Vec::new();
    let kind = binding.target.kind.as_deref().unwrap_or_default();
    if !kind.is_empty() && kind != "Node" {
        causes.push(Cause::not_supported("target.kind", &json!(kind), &["Node", "<empty>"]));
    }
    if binding.target.name.as_deref().unwrap_or_default().is_empty() {
        causes.push(Cause::required("target.name", ""));
    }
    if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid(&subresource::BINDING, name, causes)) }
}

/// The pod `current` bound as `setPodHostAndAnnotations` binds it: only a pod that is not being
/// deleted, not bound yet and not gated; the binding's annotations are added to the pod's.
fn bound(target: &Target, name: &str, current: &Value, binding: &Binding) -> Result<Value, ApiError> {
    if meta::is_being_deleted(current) {
        return Err(ApiError::conflict(&target.resource, name, "pod is being deleted, cannot be assigned to a host"));
    }
    if let Some(existing) = current.pointer("/spec/nodeName").and_then(Value::as_str).filter(|node| !node.is_empty()) {
        return Err(ApiError::conflict(&target.resource, name, &format!("pod {name} is already assigned to node {existing:?}")));
    }
    if current.pointer("/spec/schedulingGates").and_then(Value::as_array).is_some_and(|gates| !gates.is_empty()) {
        return Err(ApiError::conflict(&target.resource, name, &format!("pod {name} has non-empty .spec.schedulingGates")));
    }
    let mut pod = current.clone();
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("nodeName".into(), json!(binding.target.name.as_deref().unwrap_or_default()));
    }
    if let Some(added) = binding.metadata.annotations.as_ref().filter(|added| !added.is_empty()) {
        let annotations = meta::metadata_mut(&mut pod).entry("annotations").or_insert_with(|| json!({}));
        if !annotations.is_object() {
            *annotations = json!({});
        }
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.extend(added.iter().map(|(key, value)| (key.clone(), json!(value))));
        }
    }
    set_condition(&mut pod, json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": meta::now()}));
    Ok(pod)
}

fn clone_target(target: &Target) -> Target {
    Target {
        resource: target.resource.clone(),
        namespace: target.namespace.clone(),
        name: target.name.clone(),
        subresource: target.subresource.clone(),
    }
}

/// Replaces the status condition of the same type, or appends it.
fn set_condition(object: &mut Value, condition: Value) {
    let Some(map) = object.as_object_mut() else { return };
    let status = map.entry("status").or_insert_with(|| json!({}));
    let Some(status) = status.as_object_mut() else { return };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(list) = conditions.as_array_mut() else { return };
    let kind = condition.get("type").cloned();
    match list.iter_mut().find(|existing| existing.get("type") == kind.as_ref()) {
        Some(existing) => *existing = condition,
        None => list.push(condition),
    }
}

// ---------------------------------------------------------------------------------------------
// scale

/// The Scale of `object`, an object of `resource`. Its `status.selector` is the object's selector
/// as a label selector string; a ReplicationController's selector is the label map itself
/// (`labels.SelectorFromSet(rc.Spec.Selector).String()`, keys sorted), the apps kinds' the
/// `matchLabels` of a LabelSelector.
fn scale_of(resource: &ResourceType, object: &Value) -> Value {
    let paths = ScaleAt::of(resource);
    let selector = match resource.custom.as_ref().and_then(|custom| custom.scale.as_ref()) {
        // A custom kind's selector is a string its controller writes (`labelSelectorPath`).
        Some(declared) => declared.label_selector.as_deref().and_then(|path| object.pointer(&json_pointer(path))).and_then(Value::as_str).unwrap_or_default().to_string(),
        None => {
            let labels_at = match resource.pod_selector {
                PodSelector::LabelMap => "/spec/selector",
                PodSelector::LabelSelector | PodSelector::None => "/spec/selector/matchLabels",
            };
            crate::printers::label_map_text(object.pointer(labels_at))
        }
    };
    let metadata = meta::metadata(object).cloned().unwrap_or_default();
    let pick = |field: &str| metadata.get(field).cloned().unwrap_or(Value::Null);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": pick("name"),
            "namespace": pick("namespace"),
            "uid": pick("uid"),
            "resourceVersion": pick("resourceVersion"),
            "creationTimestamp": pick("creationTimestamp"),
        },
        "spec": {"replicas": object.pointer(&paths.spec).cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": object.pointer(&paths.status).cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// Where a kind keeps the replicas its Scale reads and writes, as JSON pointers.
struct ScaleAt {
    spec: String,
    status: String,
}

impl ScaleAt {
    /// The replicas field the Scale sets, as a field path.
    fn spec_path(&self) -> Vec<PathElement> {
        self.spec.split('/').skip(1).map(|part| PathElement::Field(part.replace("~1", "/").replace("~0", "~"))).collect()
    }

    fn of(resource: &ResourceType) -> Self {
        match resource.custom.as_ref().and_then(|custom| custom.scale.as_ref()) {
            Some(declared) => Self { spec: json_pointer(&declared.spec_replicas), status: json_pointer(&declared.status_replicas) },
            None => Self { spec: "/spec/replicas".into(), status: "/status/replicas".into() },
        }
    }
}

/// `.spec.replicas` as the JSON pointer `/spec/replicas` (CRDs' scale paths are dotted paths).
fn json_pointer(path: &str) -> String {
    path.split('.').filter(|part| !part.is_empty()).fold(String::new(), |pointer, part| format!("{pointer}/{}", part.replace('~', "~0").replace('/', "~1")))
}

/// Sets the value at `pointer`, creating the objects on the way (a custom kind's
/// `spec.replicas` may not be there yet).
fn set_at(object: &mut Value, pointer: &str, value: Value) {
    let mut current = object;
    let parts: Vec<String> = pointer.split('/').skip(1).map(|part| part.replace("~1", "/").replace("~0", "~")).collect();
    let Some((last, parents)) = parts.split_last() else { return };
    for part in parents {
        let Some(fields) = current.as_object_mut() else { return };
        current = fields.entry(part.clone()).or_insert_with(|| json!({}));
    }
    if let Some(fields) = current.as_object_mut() {
        fields.insert(last.clone(), value);
    }
}

pub async fn get_scale(api: &Api, target: &Target) -> Result<Response, ApiError> {
    let name = target.name.clone().unwrap_or_default();
    let object = fetch(api, target, &name).await?;
    Ok(json_response(StatusCode::OK, &scale_of(&target.resource, &object)))
}

/// Where a new Scale comes from: the body of a PUT (decoded, with its warnings), or a patch of
/// the current Scale.
enum ScaleChange {
    Replace(Box<Scale>, Vec<String>),
    Patch(PatchType, Value),
}

impl ScaleChange {
    /// The Scale this change makes of `current` (the stored object's), with the unknown-field
    /// warnings its decoding found.
    fn apply(&self, resource: &ResourceType, current: &Value, validation: FieldValidation) -> Result<(Scale, Vec<String>), ApiError> {
        match self {
            Self::Replace(scale, warnings) => Ok((Scale::clone(scale), warnings.clone())),
            Self::Patch(kind, patch_body) => {
                // A Scale has no lists, so a strategic merge patch merges as a JSON merge patch.
                let merge = if *kind == PatchType::StrategicMerge { PatchType::Merge } else { *kind };
                let mut patched = apply_patch(merge, resource, current, patch_body)?;
                if *kind == PatchType::StrategicMerge {
                    whole_floats_as_integers(&mut patched);
                }
                subresource::decode_patched(&subresource::SCALE, patched, validation)
            }
        }
    }
}

/// A strategic merge patch's result reaches kube-apiserver's typed Scale through the
/// unstructured converter, which takes a float without a fraction for an integer field
/// (`fromUnstructured`): there `1e3` sets 1000, where a JSON or merge patch's `1e3` does not
/// decode. A Scale has no float fields, so every such number is an integer's.
fn whole_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(number) if number.is_f64() => {
            let whole = number.as_f64().filter(|float| float.fract() == 0.0 && (i64::MIN as f64..i64::MAX as f64).contains(float));
            if let Some(float) = whole {
                // In range and without a fraction, as just checked: the cast is exact.
                *value = json!(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_floats_as_integers),
        _ => {}
    }
}

/// A Scale must be the one of the object the URL names, as kube-apiserver's update and patch
/// handlers check any body: its namespace if it gives one, its name always.
fn check_scale_identity(target: &Target, name: &str, scale: &Scale) -> Result<(), ApiError> {
    check_identity(target, name, scale.metadata.namespace.as_deref(), scale.metadata.name.as_deref().unwrap_or_default())
}

/// The stored object with the replicas `scale` asks for, as `scaleUpdatedObjectInfo` makes it:
/// the Scale's uid and resourceVersion are preconditions on the object, and `ValidateScale`
/// refuses negative replicas.
fn scaled(target: &Target, name: &str, current: &Value, revision: Revision, scale: &Scale) -> Result<Value, ApiError> {
    check_scale_identity(target, name, scale)?;
    let preconditions = json!({"metadata": {"uid": scale.metadata.uid, "resourceVersion": scale.metadata.resource_version}});
    check_precondition(target, name, &preconditions, current, revision)?;
    // `replicas` is a plain int32 in kube-apiserver's Scale: left out, it is 0.
    let replicas = scale.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(0);
    if replicas < 0 {
        let causes = vec![Cause::invalid("spec.replicas", &json!(replicas), "must be greater than or equal to 0")];
        return Err(ApiError::invalid(&subresource::SCALE, name, causes));
    }
    let mut object = current.clone();
    let paths = ScaleAt::of(&target.resource);
    if target.resource.custom.is_some() || object.get("spec").is_some_and(Value::is_object) {
        set_at(&mut object, &paths.spec, json!(replicas));
    }
    Ok(object)
}

async fn rescale(api: &Api, target: &Target, params: &Params, authorship: &Authorship, change: ScaleChange) -> Result<Response, ApiError> {
    let name = target.name.clone().unwrap_or_default();
    let object_target = Target { subresource: None, ..clone_target(target) };
    let validation = field_validation(params)?;
    let mut warnings = Vec::new();
    let (object, _) = guaranteed_update(api, &object_target, &name, params.dry_run()?, |current, revision| {
        let (scale, found) = change.apply(&target.resource, &scale_of(&target.resource, current), validation)?;
        warnings = found;
        let object = scaled(target, &name, current, revision, &scale)?;
        updated(&object_target, &name, current, object, validation, Some(authorship)).map(|(change, _)| change)
    })
    .await?;
    let mut response = json_response(StatusCode::OK, &scale_of(&target.resource, &object));
    warning_headers(&mut response, &warnings);
    Ok(response)
}

pub async fn update_scale(
    api: &Api,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let (scale, warnings) = subresource::decode::<Scale>(&subresource::SCALE, json_body(headers, body)?, field_validation(params)?)?;
    // Checked before the object is read, as kube-apiserver's update handler checks it.
    check_scale_identity(target, target.name.as_deref().unwrap_or_default(), &scale)?;
    let authorship = Authorship::of(target, params, headers, "UpdateOptions")?;
    rescale(api, target, params, &authorship, ScaleChange::Replace(Box::new(scale), warnings)).await
}

pub async fn patch_scale(
    api: &Api,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let content_type = content_type(headers);
    if content_type == APPLY_PATCH {
        return apply(api, target, params, headers, body).await;
    }
    let Some(kind) = PatchType::from_content_type(&content_type) else {
        return Err(ApiError::unsupported_media_type(crate::patch::MEDIA_TYPES));
    };
    check_patch_options(params, false)?;
    let authorship = Authorship::of(target, params, headers, "PatchOptions")?;
    let patch_body = parse_json(body).or_else(|_| parse_patch_body(body))?;
    rescale(api, target, params, &authorship, ScaleChange::Patch(kind, patch_body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(plural: &str, subresource: &str) -> Target {
        let group = if matches!(plural, "pods" | "replicationcontrollers") { "" } else { "apps" };
        let resource = crate::kinds::find(group, "v1", plural).unwrap_or_else(|| panic!("{plural} is served"));
        Target { resource: std::sync::Arc::new(resource.clone()), namespace: Some("demo".into()), name: Some("web".into()), subresource: Some(subresource.into()) }
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "demo", "uid": "u-1", "resourceVersion": "7", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
        })
    }

    /// What a Scale sets a deployment's replicas to (the stored one has 2, at revision 7), or
    /// the status code, reason and message it is refused with.
    enum Input {
        Put(Value),
        Patch(PatchType, Value),
    }

    fn rescaled(input: Input) -> Result<i64, (u16, &'static str, String)> {
        let refused = |err: ApiError| (err.code, err.reason, err.message);
        let target = target("deployments", "scale");
        let change = match input {
            // As `update_scale` takes a body: decoded, and checked before the object is read.
            Input::Put(body) => {
                let (scale, warnings) = subresource::decode::<Scale>(&subresource::SCALE, body, FieldValidation::Strict).map_err(refused)?;
                check_scale_identity(&target, "web", &scale).map_err(refused)?;
                ScaleChange::Replace(Box::new(scale), warnings)
            }
            Input::Patch(kind, patch) => ScaleChange::Patch(kind, patch),
        };
        let current = deployment();
        let (scale, _) = change.apply(&target.resource, &scale_of(&target.resource, &current), FieldValidation::Strict).map_err(refused)?;
        let object = scaled(&target, "web", &current, 7, &scale).map_err(refused)?;
        Ok(object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(-1))
    }

    /// What a row expects: the replicas set, a refusal, or a patch refused with 422 on the
    /// field `patch` (its message quotes the patched Scale, then says why).
    enum Outcome {
        Replicas(i64),
        Refused(u16, &'static str, String),
        BadPatch(&'static str),
    }

    fn put(replicas: Value) -> Input {
        Input::Put(json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "demo"}, "spec": {"replicas": replicas}}))
    }

    fn merge(patch: Value) -> Input {
        Input::Patch(PatchType::Merge, patch)
    }

    #[test]
    fn a_scale_sets_replicas_only_when_it_is_a_well_formed_scale_of_this_object() {
        let cannot = "Scale in version \"v1\" cannot be handled as a Scale: ";
        let other_name = "the name of the object (other) does not match the name on the URL (web)";
        let no_name = "the name of the object () does not match the name on the URL (web)";
        let other_namespace = "the namespace of the provided object does not match the namespace sent on the request";
        let bad_request = |message: String| Outcome::Refused(400, "BadRequest", message);
        let bad_patch = Outcome::BadPatch;
        let rows: Vec<(&str, Input, Outcome)> = vec![
            ("PUT 3", put(json!(3)), Outcome::Replicas(3)),
            ("PUT 0", put(json!(0)), Outcome::Replicas(0)),
            ("PUT without replicas", Input::Put(json!({"metadata": {"name": "web"}, "spec": {}})), Outcome::Replicas(0)),
            ("PUT \"3\"", put(json!("3")), bad_request(format!("{cannot}spec.replicas: invalid type: string \"3\", expected i32"))),
            ("PUT 1e3", put(json!(1e3)), bad_request(format!("{cannot}spec.replicas: invalid type: floating point `1000.0`, expected i32"))),
            ("PUT 2.5", put(json!(2.5)), bad_request(format!("{cannot}spec.replicas: invalid type: floating point `2.5`, expected i32"))),
            ("PUT true", put(json!(true)), bad_request(format!("{cannot}spec.replicas: invalid type: boolean `true`, expected i32"))),
            ("PUT an object", put(json!({"value": 3})), bad_request(format!("{cannot}spec.replicas: invalid type: map, expected i32"))),
            (
                "PUT -1",
                put(json!(-1)),
                Outcome::Refused(422, "Invalid", "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0".into()),
            ),
            ("PUT naming another object", Input::Put(json!({"metadata": {"name": "other"}, "spec": {"replicas": 3}})), bad_request(other_name.into())),
            ("PUT naming no object", Input::Put(json!({"spec": {"replicas": 3}})), bad_request(no_name.into())),
            (
                "PUT in another namespace",
                Input::Put(json!({"metadata": {"name": "other", "namespace": "other"}, "spec": {"replicas": 3}})),
                bad_request(other_namespace.into()),
            ),
            (
                "PUT of another uid",
                Input::Put(json!({"metadata": {"name": "web", "uid": "u-2"}, "spec": {"replicas": 3}})),
                Outcome::Refused(409, "Conflict", "Operation cannot be fulfilled on deployments.apps \"web\": Precondition failed: UID in precondition: u-2, UID in object meta: u-1".into()),
            ),
            (
                "PUT at an old resourceVersion",
                Input::Put(json!({"metadata": {"name": "web", "resourceVersion": "6"}, "spec": {"replicas": 3}})),
                Outcome::Refused(409, "Conflict", "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again".into()),
            ),
            ("PUT at the current resourceVersion", Input::Put(json!({"metadata": {"name": "web", "resourceVersion": "7"}, "spec": {"replicas": 4}})), Outcome::Replicas(4)),
            ("merge 5", merge(json!({"spec": {"replicas": 5}})), Outcome::Replicas(5)),
            ("merge \"3\"", merge(json!({"spec": {"replicas": "3"}})), bad_patch("spec.replicas: invalid type: string \"3\", expected i32")),
            ("merge 1e3", merge(json!({"spec": {"replicas": 1e3}})), bad_patch("spec.replicas: invalid type: floating point `1000.0`, expected i32")),
            ("merge true", merge(json!({"spec": {"replicas": true}})), bad_patch("spec.replicas: invalid type: boolean `true`, expected i32")),
            ("merge an object", merge(json!({"spec": {"replicas": {"value": 3}}})), bad_patch("spec.replicas: invalid type: map, expected i32")),
            ("merge naming another object", merge(json!({"metadata": {"name": "other"}})), bad_request(other_name.into())),
            ("merge removing the name", merge(json!({"metadata": {"name": null}})), bad_request(no_name.into())),
            ("merge into another namespace", merge(json!({"metadata": {"namespace": "other"}})), bad_request(other_namespace.into())),
            (
                "JSON patch 2.5",
                Input::Patch(PatchType::Json, json!([{"op": "replace", "path": "/spec/replicas", "value": 2.5}])),
                bad_patch("spec.replicas: invalid type: floating point `2.5`, expected i32"),
            ),
            (
                "JSON patch \"3\"",
                Input::Patch(PatchType::Json, json!([{"op": "replace", "path": "/spec/replicas", "value": "3"}])),
                bad_patch("spec.replicas: invalid type: string \"3\", expected i32"),
            ),
            ("JSON patch 6", Input::Patch(PatchType::Json, json!([{"op": "replace", "path": "/spec/replicas", "value": 6}])), Outcome::Replicas(6)),
            // Through kube-apiserver's unstructured converter a whole float is an integer.
            ("strategic merge 1e3", Input::Patch(PatchType::StrategicMerge, json!({"spec": {"replicas": 1e3}})), Outcome::Replicas(1000)),
            (
                "strategic merge 2.5",
                Input::Patch(PatchType::StrategicMerge, json!({"spec": {"replicas": 2.5}})),
                bad_patch("spec.replicas: invalid type: floating point `2.5`, expected i32"),
            ),
            (
                "strategic merge \"3\"",
                Input::Patch(PatchType::StrategicMerge, json!({"spec": {"replicas": "3"}})),
                bad_patch("spec.replicas: invalid type: string \"3\", expected i32"),
            ),
        ];
        for (row, input, expected) in rows {
            match (rescaled(input), expected) {
                (Err((code, reason, message)), Outcome::BadPatch(why)) => {
                    assert_eq!((code, reason), (422, "Invalid"), "{row}: {message}");
                    assert!(message.starts_with(" \"\" is invalid: patch: Invalid value: \"{"), "{row}: {message}");
                    assert!(message.ends_with(&format!("}}\": {why}")), "{row}: {message}");
                }
                (got, Outcome::Replicas(replicas)) => assert_eq!(got, Ok(replicas), "{row}"),
                (got, Outcome::Refused(code, reason, message)) => assert_eq!(got, Err((code, reason, message)), "{row}"),
                (got, Outcome::BadPatch(why)) => panic!("{row}: {got:?}, not a patch refused for {why}"),
            }
        }
    }

    #[test]
    fn the_scale_of_a_replication_controller_selects_with_its_label_map() {
        let target = target("replicationcontrollers", "scale");
        let controller = json!({
            "apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "web", "namespace": "demo", "uid": "u-1", "resourceVersion": "7", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "spec": {"replicas": 2, "selector": {"tier": "front", "app": "web"}},
            "status": {"replicas": 1},
        });
        let scale = scale_of(&target.resource, &controller);
        assert_eq!(scale["spec"], json!({"replicas": 2}));
        assert_eq!(scale["status"], json!({"replicas": 1, "selector": "app=web,tier=front"}));
        assert_eq!(scale["metadata"]["uid"], "u-1");
        let put: Scale = serde_json::from_value(json!({"metadata": {"name": "web", "resourceVersion": "7"}, "spec": {"replicas": 5}})).unwrap_or_default();
        let scaled = scaled(&target, "web", &controller, 7, &put).map_err(|err| err.message);
        assert_eq!(scaled.map(|object| object["spec"].clone()), Ok(json!({"replicas": 5, "selector": {"tier": "front", "app": "web"}})));
    }

    fn binding(metadata: Value, target: Value) -> Binding {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Binding", "metadata": metadata, "target": target})).unwrap_or_else(|err| panic!("a Binding: {err}"))
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "demo", "uid": "p-1", "annotations": {"kept": "yes"}}, "spec": spec})
    }

    /// A Binding and the pod it binds, and the node the pod is then on or the status code and
    /// message it is refused with.
    type BindingRow = (&'static str, Binding, Value, Result<&'static str, (u16, &'static str)>);

    #[test]
    fn a_binding_binds_only_its_own_unbound_pod() {
        let target = target("pods", "binding");
        let node = json!({"kind": "Node", "name": "node-1"});
        let web = json!({"name": "web"});
        let containers = json!({"containers": [{"name": "c", "image": "busybox"}]});
        let rows: Vec<BindingRow> = vec![
            ("a binding", binding(web.clone(), node.clone()), pod(containers.clone()), Ok("node-1")),
            ("no target kind", binding(web.clone(), json!({"name": "node-1"})), pod(containers.clone()), Ok("node-1")),
            ("another pod's", binding(json!({"name": "other"}), node.clone()), pod(containers.clone()), Err((400, "name in URL does not match name in Binding object"))),
            ("nameless", binding(json!({}), node.clone()), pod(containers.clone()), Err((400, "name in URL does not match name in Binding object"))),
            (
                "another namespace's",
                binding(json!({"name": "web", "namespace": "other"}), node.clone()),
                pod(containers.clone()),
                Err((400, "the namespace of the provided object does not match the namespace sent on the request")),
            ),
            (
                "to a pod",
                binding(web.clone(), json!({"kind": "Pod", "name": "x"})),
                pod(containers.clone()),
                Err((422, "Binding \"web\" is invalid: target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\"")),
            ),
            ("to no node", binding(web.clone(), json!({"kind": "Node"})), pod(containers.clone()), Err((422, "Binding \"web\" is invalid: target.name: Required value"))),
            (
                "of a bound pod",
                binding(web.clone(), node.clone()),
                pod(json!({"nodeName": "node-2"})),
                Err((409, "Operation cannot be fulfilled on pods \"web\": pod web is already assigned to node \"node-2\"")),
            ),
            (
                "of a gated pod",
                binding(web.clone(), node.clone()),
                pod(json!({"schedulingGates": [{"name": "example.com/wait"}]})),
                Err((409, "Operation cannot be fulfilled on pods \"web\": pod web has non-empty .spec.schedulingGates")),
            ),
        ];
        for (row, binding, current, expected) in rows {
            let result = check_binding(&target, "web", &binding).and_then(|()| bound(&target, "web", &current, &binding));
            let got = result.as_ref().map(|pod| pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default()).map_err(|err| (err.code, err.message.as_str()));
            assert_eq!(got, expected, "{row}");
        }
    }

    #[test]
    fn a_binding_adds_its_annotations_and_the_scheduled_condition() {
        let target = target("pods", "binding");
        let binding = binding(json!({"name": "web", "annotations": {"added": "by-scheduler"}}), json!({"name": "node-1"}));
        let pod = bound(&target, "web", &pod(json!({})), &binding).unwrap_or_else(|err| panic!("bound: {}", err.message));
        assert_eq!(pod["metadata"]["annotations"], json!({"kept": "yes", "added": "by-scheduler"}));
        assert_eq!((pod["status"]["conditions"][0]["type"].clone(), pod["status"]["conditions"][0]["status"].clone()), (json!("PodScheduled"), json!("True")));
    }

    #[test]
    fn a_whole_object_names_its_url_or_nothing() {
        let target = target("deployments", "scale");
        let rows = [
            (json!({"metadata": {"name": "web", "namespace": "demo"}}), Ok(())),
            (json!({"metadata": {}}), Ok(())),
            (json!({"metadata": {"name": "other"}}), Err("the name of the object (other) does not match the name on the URL (web)")),
            // The namespace is checked first, as kube-apiserver checks it.
            (json!({"metadata": {"name": "other", "namespace": "other"}}), Err("the namespace of the provided object does not match the namespace sent on the request")),
        ];
        for (body, expected) in rows {
            let got = check_body_identity(&target, "web", &body).map_err(|err| err.message);
            assert_eq!(got, expected.map_err(str::to_string), "{body}");
        }
    }
}
