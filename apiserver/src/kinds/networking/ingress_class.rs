//! `IngressClass` (`networking.k8s.io/v1`, cluster-scoped): which controller serves the
//! ingresses of a class. Its declaration, its defaults (`SetDefaults_IngressClass`), its
//! validation (`ValidateIngressClass`, `ValidateIngressClassUpdate`: the controller is
//! immutable) and its printer (`printIngressClass`).

use k8s_openapi::api::networking::v1::{IngressClass, IngressClassParametersReference};
use serde_json::{Value, json};

use super::ingress::path_segment_errors;
use crate::admission::field::{Causes, Path};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer, text};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass"),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<IngressClass> = Typed::new();

/// `maxLenIngressClassController`.
const MAX_CONTROLLER_LENGTH: usize = 250;

/// `supportedIngressClassParametersReferenceScopes`, sorted.
const SCOPES: &[&str] = &["Cluster", "Namespace"];

/// `httpPathFmt`, what the path of a domain-prefixed path may hold.
const HTTP_PATH_FORMAT: &str = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";

impl TypedKind for IngressClass {
    /// Parameters without a scope are the cluster's.
    fn apply_defaults(&mut self) {
        if let Some(parameters) = self.spec.as_mut().and_then(|spec| spec.parameters.as_mut())
            && parameters.scope.is_none()
        {
            parameters.scope = Some("Cluster".into());
        }
    }

    /// `validateIngressClassSpec`.
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let spec = self.spec.clone().unwrap_or_default();
        let path = Path::new("spec");
        let controller = spec.controller.unwrap_or_default();
        if controller.is_empty() {
            causes.required(&path.child("controller"), "");
        } else {
            if controller.len() > MAX_CONTROLLER_LENGTH {
                causes.too_long(&path.child("controller"), MAX_CONTROLLER_LENGTH);
            }
            validate_domain_prefixed_path(&controller, &path.child("controller"), causes);
        }
        if let Some(parameters) = &spec.parameters {
            validate_parameters(parameters, &path.child("parameters"), causes);
        }
    }

    /// `ValidateIngressClassUpdate`: the controller stays, and the class must still be valid.
    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        let controller = |class: &Self| class.spec.as_ref().and_then(|spec| spec.controller.clone()).unwrap_or_default();
        if controller(self) != controller(old) {
            causes.immutable(&Path::new("spec").child("controller"), controller(self));
        }
        self.validate(context, causes);
    }
}

/// `IsDomainPrefixedPath`: `example.com/name`.
fn validate_domain_prefixed_path(value: &str, path: &Path, causes: &mut Causes) {
    let Some((host, rest)) = value.split_once('/').filter(|(host, rest)| !host.is_empty() && !rest.is_empty()) else {
        return causes.invalid(path, value, "must be a domain-prefixed path (such as \"acme.io/foo\")");
    };
    causes.invalid_each(path, host, common::names::dns1123_subdomain(host));
    let http_path_char = |c: char| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c);
    if !rest.chars().all(http_path_char) {
        causes.invalid(path, rest, &format!("Invalid path (regex used for validation is '{HTTP_PATH_FORMAT}')"));
    }
}

/// `validateIngressClassParametersReference`.
fn validate_parameters(parameters: &IngressClassParametersReference, path: &Path, causes: &mut Causes) {
    if let Some(group) = &parameters.api_group {
        causes.invalid_each(&path.child("apiGroup"), group, common::names::dns1123_subdomain(group));
    }
    for (field, value) in [("kind", &parameters.kind), ("name", &parameters.name)] {
        if value.is_empty() {
            causes.required(&path.child(field), "");
        } else {
            causes.invalid_each(&path.child(field), value, path_segment_errors(value));
        }
    }
    let Some(scope) = parameters.scope.as_deref() else {
        return causes.required(&path.child("scope"), "");
    };
    match scope {
        "Namespace" => match &parameters.namespace {
            None => causes.required(&path.child("namespace"), "`parameters.scope` is set to 'Namespace'"),
            Some(namespace) => causes.invalid_each(&path.child("namespace"), namespace, common::names::dns1123_label(namespace)),
        },
        "Cluster" => {
            if parameters.namespace.is_some() {
                causes.forbidden(&path.child("namespace"), "`parameters.scope` is set to 'Cluster'");
            }
        }
        other => causes.not_supported(&path.child("scope"), other, SCOPES),
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Controller", "string", 0, "Controller that is responsible for handling this class"),
        Column::new("Parameters", "string", 0, "A reference to a resource with additional parameters"),
        AGE,
    ],
    cells,
};

/// `printIngressClass`'s row: the parameters as `Kind[.group]/name`.
fn cells(class: &Value) -> Vec<Value> {
    let parameters = match class.pointer("/spec/parameters") {
        Some(parameters @ Value::Object(_)) => {
            let group = parameters.get("apiGroup").and_then(Value::as_str).map(|group| format!(".{group}")).unwrap_or_default();
            format!("{}{group}/{}", text(parameters, "/kind"), text(parameters, "/name"))
        }
        _ => "<none>".to_string(),
    };
    vec![printers::name(class), json!(text(class, "/spec/controller")), json!(parameters), printers::age_of(class)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;

    fn class(name: &str) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": name},
            "spec": {"controller": "example.com/ingress-controller"}})
    }

    #[test]
    fn bad_classes_get_kube_apiservers_causes() {
        let parameters = json!({"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"});
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("parameters", with(class("web"), "/spec/parameters", parameters.clone()), Outcome::Admitted),
            ("no controller", without(class("web"), "/spec/controller"), invalid(&["spec.controller"], "Required value")),
            ("an unprefixed controller", with(class("web"), "/spec/controller", json!("nginx")),
             invalid(&["spec.controller"], "Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")")),
            ("a namespace for the cluster", with(with(class("web"), "/spec/parameters", parameters.clone()), "/spec/parameters/namespace", json!("demo")),
             invalid(&["spec.parameters.namespace"], "Forbidden: `parameters.scope` is set to 'Cluster'")),
            ("a namespaced scope without one", with(with(class("web"), "/spec/parameters", parameters), "/spec/parameters/scope", json!("Namespace")),
             invalid(&["spec.parameters.namespace"], "Required value: `parameters.scope` is set to 'Namespace'")),
        ];
        run_create("ingressclasses", rows);
    }

    #[test]
    fn the_controller_is_immutable() {
        let stored = admitted(resource("ingressclasses"), class("web"));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("a label", with(stored.clone(), "/metadata/labels", json!({"tier": "edge"})), Outcome::Admitted),
            ("another controller", with(stored.clone(), "/spec/controller", json!("example.com/other")),
             invalid(&["spec.controller"], "Invalid value: \"example.com/other\": field is immutable")),
        ];
        run_update("ingressclasses", &stored, rows);
    }

    #[test]
    fn a_class_prints_as_kubectl_shows_it() {
        let printed = printers::row_of("IngressClass", &class("web"));
        assert_eq!(printed[..3], [json!("web"), json!("example.com/ingress-controller"), json!("<none>")]);
        let with_parameters = with(class("web"), "/spec/parameters", json!({"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "lb"}));
        assert_eq!(printers::row_of("IngressClass", &with_parameters)[2], json!("IngressParameters.k8s.example.com/lb"));
    }
}
