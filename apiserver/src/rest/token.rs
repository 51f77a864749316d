//! `serviceaccounts/{name}/token`: the TokenRequest API. The apiserver signs a token for the
//! ServiceAccount, optionally bound to a Pod or Secret, which dies with it.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use serde_json::{Value, json};

use crate::state::current;
use super::{Api, Params, Target, json_body, json_response, subresource};
use crate::admission::FieldValidation;
use crate::errors::ApiError;
use crate::service_account_token::{self as tokens, Binding, Claims, Reference};

fn uid(object: &Value) -> String {
    object["metadata"]["uid"].as_str().unwrap_or_default().to_string()
}

/// A served kind of the core group.
fn core(api: &Api, plural: &str) -> Result<std::sync::Arc<crate::registry::Kind>, ApiError> {
    api.registry.find("", "v1", plural).ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
}

pub async fn request(api: &Api, target: &Target, params: &Params, headers: &HeaderMap, body: &Bytes) -> Result<Response, ApiError> {
    let Some(signer) = &api.tokens else { return Err(ApiError::path_not_found()) };
    let namespace = target.namespace.clone().unwrap_or_default();
    let name = target.name.clone().unwrap_or_default();
    let validation = FieldValidation::parse(params.get("fieldValidation"))?;
    let (request, warnings) = decode(json_body(headers, body)?, validation)?;
    let spec = checked(&request, &namespace, &name)?;
    let expiration = spec.expiration_seconds.unwrap_or(tokens::DEFAULT_EXPIRATION_SECONDS);
    let audiences = if spec.audiences.is_empty() { signer.audiences.clone() } else { spec.audiences.clone() };
    let bound = spec.bound_object_ref.as_ref();

    // NodeRestriction: a node asks only for tokens bound to pods on it.
    let node = crate::authz::with_requester(|requester| crate::authz::node::node_identity(&requester.user).map(str::to_string)).flatten();
    if node.is_some() {
        let forbidden = |why: String| crate::authz::object_forbidden(&target.resource, &name, &why);
        match bound.map(|reference| reference.kind.as_deref().unwrap_or_default()) {
            None => return Err(forbidden("node requested token not bound to a pod".into())),
            Some("Pod") => {}
            Some(other) => return Err(forbidden(format!("node requested token bound to a {other}"))),
        }
    }
    let account = current(api, &target.resource, Some(&namespace), &name).await?.ok_or_else(|| ApiError::not_found(&target.resource, &name))?;
    let mut binding = Binding { namespace: namespace.clone(), serviceaccount: Reference { name: name.clone(), uid: uid(&account) }, pod: None, node: None, secret: None };
    if let Some(bound) = bound {
        let kind = bound.kind.as_deref().unwrap_or_default();
        let plural = match kind {
            "Pod" => "pods",
            "Secret" => "secrets",
            other => return Err(invalid(&name, "spec.boundObjectRef.kind", &json!(other), "supported values: \"Pod\", \"Secret\"")),
        };
        let bound_name = bound.name.as_deref().unwrap_or_default();
        let resource = core(api, plural)?;
        let object = current(api, &resource, Some(&namespace), bound_name).await?.ok_or_else(|| ApiError::not_found(&resource, bound_name))?;
        let wanted = bound.uid.as_deref().unwrap_or_default();
        if !wanted.is_empty() && wanted != uid(&object) {
            return Err(ApiError::conflict(&resource, bound_name, &format!("the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated")));
        }
        let reference = Reference { name: bound_name.to_string(), uid: uid(&object) };
        if let Some(node) = &node
            && object["spec"]["nodeName"].as_str() != Some(node.as_str())
        {
            return Err(crate::authz::object_forbidden(&target.resource, &name, "node requested token bound to a pod scheduled on a different node"));
        }
        if kind == "Pod" {
            // The pod's node goes in too, as Kubernetes 1.30 adds it: the node authoriser reads it.
            if let Some(node) = object["spec"]["nodeName"].as_str().filter(|node| !node.is_empty()) {
                let nodes = core(api, "nodes")?;
                let node_uid = current(api, &nodes, None, node).await?.map(|node| uid(&node)).unwrap_or_default();
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
        "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": bound},
        "status": {"token": token, "expirationTimestamp": expires},
    });
    let mut response = json_response(StatusCode::CREATED, &answer);
    super::write::warning_headers(&mut response, &warnings);
    Ok(response)
}

/// The body as a TokenRequest. Its status is the server's to fill, but it is decoded all the
/// same, and client-go sends a zero one, `{"token": "", "expirationTimestamp": null}`: a zero
/// time, which k8s-openapi has no value for when left out, is Go's zero time.
fn decode(mut body: Value, validation: FieldValidation) -> Result<(TokenRequest, Vec<String>), ApiError> {
    if let Some(status) = body.get_mut("status").and_then(Value::as_object_mut)
        && status.get("expirationTimestamp").is_none_or(Value::is_null)
    {
        status.insert("expirationTimestamp".into(), json!("0001-01-01T00:00:00Z"));
    }
    subresource::decode(&subresource::TOKEN_REQUEST, body, validation)
}

/// 422 Invalid of a TokenRequest, as kube-apiserver words it (`name` is the one it reports,
/// which is empty for `ValidateTokenRequest`'s errors).
fn invalid(name: &str, field: &str, value: &Value, why: &str) -> ApiError {
    ApiError::new(422, "Invalid", format!("TokenRequest.authentication.k8s.io {name:?} is invalid: {field}: Invalid value: {value}: {why}"))
}

/// What kube-apiserver checks of a TokenRequest before it looks anything up, in its order: the
/// create handler its namespace, `TokenREST.Create` its name (each must be the URL's if given),
/// `ValidateTokenRequest` its lifetime. Returns its spec.
fn checked<'a>(request: &'a TokenRequest, namespace: &str, name: &str) -> Result<&'a TokenRequestSpec, ApiError> {
    if request.metadata.namespace.as_deref().is_some_and(|other| !other.is_empty() && other != namespace) {
        return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
    }
    if let Some(other) = request.metadata.name.as_deref().filter(|other| !other.is_empty() && *other != name) {
        return Err(invalid(name, "metadata.name", &json!(other), "must match the service account name if specified"));
    }
    let spec = &request.spec;
    let expiration = spec.expiration_seconds.unwrap_or(tokens::DEFAULT_EXPIRATION_SECONDS);
    if expiration < tokens::MIN_EXPIRATION_SECONDS {
        return Err(invalid("", "spec.expirationSeconds", &json!(expiration), "may not specify a duration less than 10 minutes"));
    }
    if expiration > 1 << 32 {
        return Err(invalid("", "spec.expirationSeconds", &json!(expiration), "may not specify a duration larger than 2^32 seconds"));
    }
    Ok(spec)
}


#[cfg(test)]
mod tests {
    use super::*;

    /// The lifetime a TokenRequest body for `serviceaccounts/build` in `demo` asks for, or the
    /// status code and message it is refused with.
    fn lifetime(body: Value) -> Result<i64, (u16, String)> {
        let refused = |err: ApiError| (err.code, err.message);
        let (request, _) = decode(body, FieldValidation::Strict).map_err(refused)?;
        let spec = checked(&request, "demo", "build").map_err(refused)?;
        Ok(spec.expiration_seconds.unwrap_or(tokens::DEFAULT_EXPIRATION_SECONDS))
    }

    /// A body, and the lifetime it asks for or the status code and message it is refused with.
    type Row = (&'static str, Value, Result<i64, (u16, String)>);

    fn token_request(spec: Value) -> Value {
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
    }

    #[test]
    fn token_requests_are_typed_and_checked_as_kube_apiserver_checks_them() {
        let cannot = "TokenRequest in version \"v1\" cannot be handled as a TokenRequest";
        let rows: Vec<Row> = vec![
            ("defaults", token_request(json!({})), Ok(3600)),
            ("a lifetime", token_request(json!({"expirationSeconds": 7200})), Ok(7200)),
            (
                "as client-go sends it",
                json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {"name": "build", "namespace": "demo", "creationTimestamp": null},
                       "spec": {"audiences": null, "expirationSeconds": 3600, "boundObjectRef": null}, "status": {"token": "", "expirationTimestamp": null}}),
                Ok(3600),
            ),
            ("a status, ignored", json!({"spec": {}, "status": {"token": "x", "expirationTimestamp": "2030-01-01T00:00:00Z"}}), Ok(3600)),
            (
                "a status of the wrong type",
                json!({"spec": {}, "status": {"token": 5}}),
                Err((400, format!("{cannot}: status.token: invalid type: integer `5`, expected a string"))),
            ),
            (
                "a lifetime as a string",
                token_request(json!({"expirationSeconds": "3600"})),
                Err((400, format!("{cannot}: spec.expirationSeconds: invalid type: string \"3600\", expected i64"))),
            ),
            (
                "a fractional lifetime",
                token_request(json!({"expirationSeconds": 3600.5})),
                Err((400, format!("{cannot}: spec.expirationSeconds: invalid type: floating point `3600.5`, expected i64"))),
            ),
            (
                "an audience that is not a string",
                token_request(json!({"audiences": [1]})),
                Err((400, format!("{cannot}: spec.audiences[0]: invalid type: integer `1`, expected a string"))),
            ),
            (
                "a bound object as a string",
                token_request(json!({"boundObjectRef": "pod/web"})),
                Err((400, format!("{cannot}: spec.boundObjectRef: invalid type: string \"pod/web\", expected BoundObjectReference"))),
            ),
            (
                "too short",
                token_request(json!({"expirationSeconds": 599})),
                Err((422, "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes".into())),
            ),
            (
                "too long",
                token_request(json!({"expirationSeconds": (1_i64 << 32) + 1})),
                Err((422, "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds".into())),
            ),
            (
                "another account's name",
                json!({"metadata": {"name": "other"}, "spec": {}}),
                Err((422, "TokenRequest.authentication.k8s.io \"build\" is invalid: metadata.name: Invalid value: \"other\": must match the service account name if specified".into())),
            ),
            (
                "another namespace",
                json!({"metadata": {"name": "build", "namespace": "other"}, "spec": {}}),
                Err((400, "the namespace of the provided object does not match the namespace sent on the request".into())),
            ),
            (
                "another kind",
                json!({"apiVersion": "v1", "kind": "Secret"}),
                Err((400, "Secret in version \"v1\" cannot be handled as a TokenRequest: no kind \"Secret\" is registered for version \"v1\"".into())),
            ),
        ];
        for (row, body, expected) in rows {
            assert_eq!(lifetime(body), expected, "{row}");
        }
    }
}
