//! `serviceaccounts/{name}/token`: the TokenRequest API. The apiserver signs a token for the
//! ServiceAccount, optionally bound to a Pod or Secret, which dies with it.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::read::current;
use super::{Api, Target, json_body, json_response};
use crate::errors::ApiError;
use crate::resources;
use crate::service_account_token::{self as tokens, Binding, Claims, Reference};

fn uid(object: &Value) -> String {
    object["metadata"]["uid"].as_str().unwrap_or_default().to_string()
}

fn core(plural: &str) -> &'static resources::ResourceType {
    // Served kinds of the core group: `find` knows them.
    resources::find("", "v1", plural).unwrap_or_else(resources::namespaces)
}

pub async fn request(api: &Api, target: &Target, headers: &HeaderMap, body: &Bytes) -> Result<Response, ApiError> {
    let Some(signer) = &api.tokens else { return Err(ApiError::path_not_found()) };
    let namespace = target.namespace.clone().unwrap_or_default();
    let name = target.name.clone().unwrap_or_default();
    let request = json_body(headers, body)?;
    let invalid = |field: &str, value: &Value, why: &str| {
        ApiError::new(422, "Invalid", format!("TokenRequest.authentication.k8s.io {name:?} is invalid: {field}: Invalid value: {value}: {why}"))
    };
    let spec = &request["spec"];
    let expiration = match &spec["expirationSeconds"] {
        Value::Null => tokens::DEFAULT_EXPIRATION_SECONDS,
        value => value.as_i64().ok_or_else(|| invalid("spec.expirationSeconds", value, "must be an integer"))?,
    };
    if expiration < tokens::MIN_EXPIRATION_SECONDS {
        return Err(invalid("spec.expirationSeconds", &json!(expiration), "may not specify a duration less than 10 minutes"));
    }
    if expiration > 1 << 32 {
        return Err(invalid("spec.expirationSeconds", &json!(expiration), "may not specify a duration larger than 2^32 seconds"));
    }
    let audiences: Vec<String> = match spec["audiences"].as_array() {
        Some(list) if !list.is_empty() => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => signer.audiences.clone(),
    };

    // NodeRestriction: a node asks only for tokens bound to pods on it.
    let node = crate::rbac::with_requester(|requester| crate::node_authorizer::node_identity(&requester.user).map(str::to_string)).flatten();
    if node.is_some() {
        let forbidden = |why: String| crate::rbac::object_forbidden(target.resource, &name, &why);
        match request["spec"]["boundObjectRef"]["kind"].as_str() {
            None => return Err(forbidden("node requested token not bound to a pod".into())),
            Some("Pod") => {}
            Some(other) => return Err(forbidden(format!("node requested token bound to a {other}"))),
        }
    }
    let account = current(api, target.resource, Some(&namespace), &name).await?.ok_or_else(|| ApiError::not_found(target.resource, &name))?;
    let mut binding = Binding { namespace: namespace.clone(), serviceaccount: Reference { name: name.clone(), uid: uid(&account) }, pod: None, node: None, secret: None };
    let bound = &spec["boundObjectRef"];
    if !bound.is_null() {
        let kind = bound["kind"].as_str().unwrap_or_default();
        let plural = match kind {
            "Pod" => "pods",
            "Secret" => "secrets",
            other => return Err(invalid("spec.boundObjectRef.kind", &json!(other), "supported values: \"Pod\", \"Secret\"")),
        };
        let bound_name = bound["name"].as_str().unwrap_or_default();
        let resource = core(plural);
        let object = current(api, resource, Some(&namespace), bound_name).await?.ok_or_else(|| ApiError::not_found(resource, bound_name))?;
        let wanted = bound["uid"].as_str().unwrap_or_default();
        if !wanted.is_empty() && wanted != uid(&object) {
            return Err(ApiError::conflict(resource, bound_name, &format!("the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated")));
        }
        let reference = Reference { name: bound_name.to_string(), uid: uid(&object) };
        if let Some(node) = &node
            && object["spec"]["nodeName"].as_str() != Some(node.as_str())
        {
            return Err(crate::rbac::object_forbidden(target.resource, &name, "node requested token bound to a pod scheduled on a different node"));
        }
        if kind == "Pod" {
            // The pod's node goes in too, as Kubernetes 1.30 adds it: the node authoriser reads it.
            if let Some(node) = object["spec"]["nodeName"].as_str().filter(|node| !node.is_empty()) {
                let node_uid = current(api, core("nodes"), None, node).await?.map(|node| uid(&node)).unwrap_or_default();
                binding.node = Some(Reference { name: node.to_string(), uid: node_uid });
            }
            binding.pod = Some(reference);
        } else {
            binding.secret = Some(reference);
        }
    }
    let now = tokens::unix_now();
    let claims = Claims {
        iss: signer.issuer.clone(),
        sub: format!("system:serviceaccount:{namespace}:{name}"),
        aud: audiences.clone(),
        exp: now + expiration,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().to_string(),
        kubernetes: binding,
    };
    let token = signer.sign(&claims).map_err(|err| ApiError::internal(format!("cannot sign the token: {err}")))?;
    let expires = jiff::Timestamp::from_second(claims.exp).map(|at| at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default();
    let answer = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": null},
        "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": if bound.is_null() { Value::Null } else { bound.clone() }},
        "status": {"token": token, "expirationTimestamp": expires},
    });
    Ok(json_response(StatusCode::CREATED, &answer))
}

/// Whether the objects a verified token names still exist with the UIDs they had when it was
/// made: a token dies with its ServiceAccount and with the Pod or Secret it is bound to.
pub async fn still_bound(api: &Api, claims: &Claims) -> bool {
    let binding = &claims.kubernetes;
    let namespace = Some(binding.namespace.as_str());
    let mut references = vec![(core("serviceaccounts"), &binding.serviceaccount)];
    references.extend(binding.pod.as_ref().map(|pod| (core("pods"), pod)));
    references.extend(binding.secret.as_ref().map(|secret| (core("secrets"), secret)));
    for (resource, reference) in references {
        match current(api, resource, namespace, &reference.name).await {
            Ok(Some(object)) if uid(&object) == reference.uid => {}
            _ => return false,
        }
    }
    true
}
