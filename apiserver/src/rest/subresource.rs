//! Subresource bodies (a Scale, a Binding, a TokenRequest) decoded into their Kubernetes types
//! as kube-apiserver decodes them: a body of another type or with a field of the wrong type is
//! a 400 naming it (`Scale in version "v1" cannot be handled as a Scale: ...`), and a patch
//! whose result does not decode is a 422 on the field `patch`, as the patch handler answers.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::admission::{self, FieldValidation};
use crate::errors::{ApiError, Cause};
use crate::resources::ResourceType;

pub(super) static SCALE: ResourceType = ResourceType::body_type("autoscaling", "v1", "Scale");
pub(super) static BINDING: ResourceType = ResourceType::body_type("", "v1", "Binding");
pub(super) static TOKEN_REQUEST: ResourceType = ResourceType::body_type("authentication.k8s.io", "v1", "TokenRequest");

/// kube-apiserver's patch handler reports an undecodable result against no kind and no name
/// (`errors.NewInvalid(schema.GroupKind{}, "", ...)`), so its message starts ` "" is invalid`.
static NO_KIND: ResourceType = ResourceType::body_type("", "", "");

/// Decodes a request body as `kind`, after checking the apiVersion and kind it names (each
/// defaults to the endpoint's when missing, as the decoder defaults them from the path).
/// Returns the struct and the unknown-field warnings.
pub(super) fn decode<T: DeserializeOwned + Serialize>(kind: &ResourceType, body: Value, validation: FieldValidation) -> Result<(T, Vec<String>), ApiError> {
    check_type(kind, &body)?;
    admission::decode_body(kind, body, validation)
}

/// Decodes the result of a patch as `kind`: what `decode` refuses with 400 is the patch's fault
/// here, answered 422 Invalid on the field `patch` with the patched document, as kube-apiserver's
/// `applyPatchToCurrentObject` answers.
pub(super) fn decode_patched<T: DeserializeOwned + Serialize>(kind: &ResourceType, patched: Value, validation: FieldValidation) -> Result<(T, Vec<String>), ApiError> {
    let shown = patched.to_string();
    decode(kind, patched, validation).map_err(|err| {
        if err.code != 400 {
            return err;
        }
        let prefix = format!("{}: ", admission::cannot_handle(kind));
        let why = err.message.strip_prefix(&prefix).unwrap_or(&err.message);
        ApiError::invalid(&NO_KIND, "", vec![Cause::invalid("patch", &json!(shown), why)])
    })
}

/// The body's `apiVersion` and `kind` must be the type's. kube-apiserver's decoder looks the
/// pair up in its scheme, where no other version of these types is registered any more, so any
/// other pair is `Deployment in version "v1" cannot be handled as a Scale: no kind ...`.
fn check_type(kind: &ResourceType, body: &Value) -> Result<(), ApiError> {
    let expected_version = kind.api_version();
    let field = |name: &str, default: &str| match body.get(name) {
        None | Some(Value::Null) => Ok(default.to_string()),
        Some(Value::String(text)) if text.is_empty() => Ok(default.to_string()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(ApiError::bad_request(format!(
            "couldn't get version/kind; json parse error: {name}: invalid type: {other}, expected a string"
        ))),
    };
    let api_version = field("apiVersion", &expected_version)?;
    let body_kind = field("kind", &kind.kind)?;
    if api_version == expected_version && body_kind == kind.kind {
        return Ok(());
    }
    let version = api_version.rsplit('/').next().unwrap_or_default();
    Err(ApiError::bad_request(format!(
        "{body_kind} in version {version:?} cannot be handled as a {}: no kind {body_kind:?} is registered for version {api_version:?}",
        kind.kind
    )))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::autoscaling::v1::Scale;
    use k8s_openapi::api::core::v1::Binding;

    use super::*;

    fn scale(replicas: Value) -> Value {
        json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "demo"}, "spec": {"replicas": replicas}})
    }

    /// Each row: a body, and the status code and message its decoding answers (200 for none).
    #[test]
    fn scale_bodies_decode_as_kube_apiserver_decodes_them() {
        let cannot = "Scale in version \"v1\" cannot be handled as a Scale";
        let rows: Vec<(&str, Value, u16, String)> = vec![
            ("an integer", scale(json!(3)), 200, String::new()),
            ("no apiVersion or kind", json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}}), 200, String::new()),
            ("null replicas", scale(Value::Null), 200, String::new()),
            ("negative (validation's, not decoding's)", scale(json!(-1)), 200, String::new()),
            ("a string", scale(json!("3")), 400, format!("{cannot}: spec.replicas: invalid type: string \"3\", expected i32")),
            ("an exponent", scale(json!(1e3)), 400, format!("{cannot}: spec.replicas: invalid type: floating point `1000.0`, expected i32")),
            ("a fraction", scale(json!(2.5)), 400, format!("{cannot}: spec.replicas: invalid type: floating point `2.5`, expected i32")),
            ("a boolean", scale(json!(true)), 400, format!("{cannot}: spec.replicas: invalid type: boolean `true`, expected i32")),
            ("an object", scale(json!({"n": 3})), 400, format!("{cannot}: spec.replicas: invalid type: map, expected i32")),
            ("beyond int32", scale(json!(3_000_000_000_i64)), 400, format!("{cannot}: spec.replicas: invalid value: integer `3000000000`, expected i32")),
            ("a string name", json!({"metadata": {"name": 7}}), 400, format!("{cannot}: metadata.name: invalid type: integer `7`, expected a string")),
            (
                "another kind",
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 3}}),
                400,
                "Deployment in version \"v1\" cannot be handled as a Scale: no kind \"Deployment\" is registered for version \"apps/v1\"".into(),
            ),
            (
                "another version",
                json!({"apiVersion": "autoscaling/v2", "kind": "Scale"}),
                400,
                "Scale in version \"v2\" cannot be handled as a Scale: no kind \"Scale\" is registered for version \"autoscaling/v2\"".into(),
            ),
            ("a number for a kind", json!({"kind": 5}), 400, "couldn't get version/kind; json parse error: kind: invalid type: 5, expected a string".into()),
        ];
        for (row, body, code, message) in rows {
            let got = decode::<Scale>(&SCALE, body, FieldValidation::Strict).map(|_| ()).map_err(|err| (err.code, err.message));
            let want = if code == 200 { Ok(()) } else { Err((code, message)) };
            assert_eq!(got, want, "{row}");
        }
    }

    #[test]
    fn unknown_fields_of_a_body_follow_field_validation() {
        let body = json!({"metadata": {"name": "web"}, "spec": {"replicas": 1, "extra": true}});
        let strict = decode::<Scale>(&SCALE, body.clone(), FieldValidation::Strict).err().map(|err| (err.code, err.message));
        assert_eq!(
            strict,
            Some((400, "Scale in version \"v1\" cannot be handled as a Scale: strict decoding error: unknown field \"spec.extra\"".to_string()))
        );
        let (scale, warnings) = decode::<Scale>(&SCALE, body, FieldValidation::Warn).expect("decodes");
        assert_eq!((scale.spec.and_then(|spec| spec.replicas), warnings), (Some(1), vec!["unknown field \"spec.extra\"".to_string()]));
    }

    #[test]
    fn a_patch_that_does_not_decode_is_invalid() {
        let patched = scale(json!("3"));
        let Err(err) = decode_patched::<Scale>(&SCALE, patched.clone(), FieldValidation::Strict) else { panic!("a string for replicas was accepted") };
        let why = "spec.replicas: invalid type: string \"3\", expected i32";
        assert_eq!((err.code, err.reason), (422, "Invalid"));
        assert_eq!(err.message, format!(" \"\" is invalid: patch: Invalid value: {:?}: {why}", patched.to_string()));
        assert_eq!(err.details["causes"][0]["field"], "patch");
        assert_eq!(err.details["kind"], "");

        let Err(kind) = decode_patched::<Scale>(&SCALE, json!({"kind": "Deployment"}), FieldValidation::Strict) else { panic!("a Deployment was taken for a Scale") };
        assert_eq!(kind.code, 422, "{}", kind.message);
        assert!(kind.message.ends_with("Deployment in version \"v1\" cannot be handled as a Scale: no kind \"Deployment\" is registered for version \"autoscaling/v1\""), "{}", kind.message);
    }

    #[test]
    fn bindings_decode_as_their_type() {
        let body = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"}, "target": {"kind": "Node", "name": 5}});
        let Err(err) = decode::<Binding>(&BINDING, body, FieldValidation::Strict) else { panic!("a number for a node name was accepted") };
        assert_eq!(
            (err.code, err.message.as_str()),
            (400, "Binding in version \"v1\" cannot be handled as a Binding: target.name: invalid type: integer `5`, expected a string")
        );
    }
}
