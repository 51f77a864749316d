//! CustomResourceDefinitions (`apiextensions.k8s.io/v1`): the defaults of
//! `SetDefaults_CustomResourceDefinitionSpec`, the strategy's status handling (a create starts
//! with the storage version stored; the establishing controller owns the rest of the status),
//! and `ValidateCustomResourceDefinition`/`ValidateCustomResourceDefinitionUpdate` for what
//! this server serves: names, group, scope, versions, printer columns, subresources and
//! stored versions. Schemas are checked by [`crate::schema`].

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionStatus,
    CustomResourceDefinitionVersion,
};

use super::field::{Causes, Path};
use super::{Context, TypedKind};
use common::names::NameFormat;

/// Groups whose CRDs need kube's API review (`api-approved.kubernetes.io`).
const PROTECTED_GROUP_SUFFIXES: [&str; 2] = ["k8s.io", "kubernetes.io"];
const APPROVAL_ANNOTATION: &str = "api-approved.kubernetes.io";
const PRINTER_COLUMN_TYPES: [&str; 5] = ["boolean", "date", "integer", "number", "string"];
const PRINTER_COLUMN_FORMATS: [&str; 9] = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password", ""];

/// The version objects are stored as: the one marked `storage`.
pub(crate) fn storage_version(crd: &CustomResourceDefinition) -> Option<&str> {
    crd.spec.versions.iter().find(|version| version.storage).map(|version| version.name.as_str())
}

fn is_protected(group: &str) -> bool {
    PROTECTED_GROUP_SUFFIXES.iter().any(|suffix| group == *suffix || group.ends_with(&format!(".{suffix}")))
}

impl TypedKind for CustomResourceDefinition {
    fn apply_defaults(&mut self) {
        let names = &mut self.spec.names;
        if names.singular.as_deref().unwrap_or_default().is_empty() {
            names.singular = Some(names.kind.to_lowercase());
        }
        if names.list_kind.as_deref().unwrap_or_default().is_empty() && !names.kind.is_empty() {
            names.list_kind = Some(format!("{}List", names.kind));
        }
        if self.spec.conversion.is_none() {
            self.spec.conversion = Some(CustomResourceConversion { strategy: "None".into(), webhook: None });
        }
    }

    fn prepare_for_create(&mut self) {
        // The establishing controller sets the conditions and accepted names.
        let stored = storage_version(self).map(str::to_string).into_iter().collect();
        self.status = Some(CustomResourceDefinitionStatus {
            accepted_names: Some(CustomResourceDefinitionNames { kind: String::new(), plural: String::new(), ..Default::default() }),
            stored_versions: Some(stored),
            conditions: None,
        });
    }

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
        // A new storage version is remembered, so that its objects are never orphaned.
        let storage = storage_version(self).map(str::to_string);
        if let (Some(status), Some(storage)) = (self.status.as_mut(), storage) {
            let stored = status.stored_versions.get_or_insert_with(Vec::new);
            if !stored.contains(&storage) {
                stored.push(storage);
            }
        }
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let spec = &self.spec;
        let name = self.metadata.name.as_deref().unwrap_or_default();
        let wanted = format!("{}.{}", spec.names.plural, spec.group);
        if !name.is_empty() && name != wanted {
            causes.invalid(&Path::new("metadata").child("name"), name, r#"must be spec.names.plural+"."+spec.group"#);
        }
        let path = Path::new("spec");
        if spec.group.is_empty() {
            causes.required(&path.child("group"), "");
        } else if let errors @ [_, ..] = NameFormat::Dns1123Subdomain.check(&spec.group, false).as_slice() {
            causes.invalid(&path.child("group"), spec.group.as_str(), &errors.join(","));
        } else if !spec.group.contains('.') {
            causes.invalid(&path.child("group"), spec.group.as_str(), "should be a domain with at least one dot");
        }
        if !matches!(spec.scope.as_str(), "Cluster" | "Namespaced") {
            if spec.scope.is_empty() {
                causes.required(&path.child("scope"), "");
            } else {
                causes.not_supported(&path.child("scope"), spec.scope.as_str(), &["Cluster", "Namespaced"]);
            }
        }
        validate_versions(&spec.versions, &path.child("versions"), causes);
        validate_names(&spec.names, &path.child("names"), true, causes);
        if let Some(conversion) = &spec.conversion
            && conversion.strategy != "None"
        {
            // Conversion webhooks are not served: objects are converted by apiVersion alone.
            causes.not_supported(&path.child("conversion").child("strategy"), conversion.strategy.as_str(), &["None"]);
        }
        if is_protected(&spec.group) && !self.metadata.annotations.as_ref().is_some_and(|annotations| annotations.contains_key(APPROVAL_ANNOTATION)) {
            causes.required(
                &Path::new("metadata").child("annotations").key(APPROVAL_ANNOTATION),
                &format!("protected groups must have approval annotation {APPROVAL_ANNOTATION:?}, see https://github.com/kubernetes/enhancements/pull/1111"),
            );
        }
        if let Some(status) = &self.status {
            if let Some(accepted) = &status.accepted_names {
                validate_names(accepted, &Path::new("status").child("acceptedNames"), false, causes);
            }
            validate_stored_versions(status.stored_versions.as_deref().unwrap_or_default(), &spec.versions, causes);
        }
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        self.validate(context, causes);
        let path = Path::new("spec");
        if self.spec.scope != old.spec.scope {
            causes.immutable(&path.child("scope"), self.spec.scope.as_str());
        }
        if self.spec.names.plural != old.spec.names.plural {
            causes.immutable(&path.child("names").child("plural"), self.spec.names.plural.as_str());
        }
        if self.spec.group != old.spec.group {
            causes.immutable(&path.child("group"), self.spec.group.as_str());
        }
    }

    fn validate_status_update(&self, _old: &Self, _context: &Context, causes: &mut Causes) {
        if let Some(status) = &self.status {
            if let Some(accepted) = &status.accepted_names {
                validate_names(accepted, &Path::new("status").child("acceptedNames"), false, causes);
            }
            validate_stored_versions(status.stored_versions.as_deref().unwrap_or_default(), &self.spec.versions, causes);
        }
    }
}

/// `ValidateCustomResourceDefinitionNames` (and the spec's required names).
fn validate_names(names: &CustomResourceDefinitionNames, path: &Path, required: bool, causes: &mut Causes) {
    let singular = names.singular.as_deref().unwrap_or_default();
    let list_kind = names.list_kind.as_deref().unwrap_or_default();
    if required {
        for (field, value) in [("plural", names.plural.as_str()), ("singular", singular), ("kind", names.kind.as_str()), ("listKind", list_kind)] {
            if value.is_empty() {
                causes.required(&path.child(field), "");
            }
        }
    }
    let label = |value: &str| NameFormat::Dns1035Label.check(value, false);
    for (field, value, mixed_case) in [("plural", names.plural.as_str(), false), ("singular", singular, false), ("kind", names.kind.as_str(), true), ("listKind", list_kind, true)] {
        if value.is_empty() {
            continue;
        }
        let errors = label(&if mixed_case { value.to_lowercase() } else { value.to_string() });
        if !errors.is_empty() {
            let detail = if mixed_case { format!("may have mixed case, but should otherwise match: {}", errors.join(",")) } else { errors.join(",") };
            causes.invalid(&path.child(field), value, &detail);
        }
    }
    for (index, short_name) in names.short_names.iter().flatten().enumerate() {
        let errors = label(short_name);
        if !errors.is_empty() {
            causes.invalid(&path.child("shortNames").index(index), short_name.as_str(), &errors.join(","));
        }
    }
    if !names.kind.is_empty() && names.kind == list_kind {
        causes.invalid(&path.child("listKind"), list_kind, "kind and listKind may not be the same");
    }
    for (index, category) in names.categories.iter().flatten().enumerate() {
        let errors = label(category);
        if !errors.is_empty() {
            causes.invalid(&path.child("categories").index(index), category.as_str(), &errors.join(","));
        }
    }
}

fn validate_versions(versions: &[CustomResourceDefinitionVersion], path: &Path, causes: &mut Causes) {
    if versions.is_empty() {
        causes.required(path, "must have exactly one version marked as storage version");
        return;
    }
    let mut seen = std::collections::BTreeSet::new();
    for (index, version) in versions.iter().enumerate() {
        let version_path = path.index(index);
        let errors = NameFormat::Dns1035Label.check(&version.name, false);
        if !errors.is_empty() {
            causes.invalid(&version_path.child("name"), version.name.as_str(), &errors.join(","));
        }
        seen.insert(version.name.as_str());
        let schema = version.schema.as_ref().and_then(|schema| schema.open_api_v3_schema.as_ref());
        match schema {
            None => causes.required(&version_path.child("schema").child("openAPIV3Schema"), "schemas are required"),
            Some(schema) => {
                if let Err(found) = crate::schema::check(schema, &format!("spec.versions[{index}].schema.openAPIV3Schema")) {
                    for cause in found {
                        causes.push(cause);
                    }
                }
            }
        }
        for (column_index, column) in version.additional_printer_columns.iter().flatten().enumerate() {
            let column_path = version_path.child("additionalPrinterColumns").index(column_index);
            if column.name.is_empty() {
                causes.required(&column_path.child("name"), "");
            }
            if column.type_.is_empty() {
                causes.required(&column_path.child("type"), &format!("must be one of {}", PRINTER_COLUMN_TYPES.join(",")));
            } else if !PRINTER_COLUMN_TYPES.contains(&column.type_.as_str()) {
                causes.invalid(&column_path.child("type"), column.type_.as_str(), &format!("must be one of {}", PRINTER_COLUMN_TYPES.join(",")));
            }
            if let Some(format) = column.format.as_deref().filter(|format| !PRINTER_COLUMN_FORMATS.contains(format)) {
                causes.invalid(&column_path.child("format"), format, &format!("must be one of {}", PRINTER_COLUMN_FORMATS[..8].join(",")));
            }
            if column.json_path.is_empty() {
                causes.required(&column_path.child("JSONPath"), "");
            }
        }
        if let Some(scale) = version.subresources.as_ref().and_then(|subresources| subresources.scale.as_ref()) {
            let scale_path = version_path.child("subresources").child("scale");
            for (field, value) in [("specReplicasPath", Some(scale.spec_replicas_path.as_str())), ("statusReplicasPath", Some(scale.status_replicas_path.as_str())), ("labelSelectorPath", scale.label_selector_path.as_deref())] {
                match value {
                    Some("") if field != "labelSelectorPath" => causes.required(&scale_path.child(field), ""),
                    Some(value) if !value.is_empty() && !value.starts_with('.') => causes.invalid(&scale_path.child(field), value, "should be a json path under either .spec or .status"),
                    _ => {}
                }
            }
        }
    }
    if seen.len() != versions.len() {
        causes.invalid_shown(path, "", "must contain unique version names");
    }
    if versions.iter().filter(|version| version.storage).count() != 1 {
        causes.invalid_shown(path, "", "must have exactly one version marked as storage version");
    }
}

/// `ValidateCustomResourceDefinitionStoredVersions`: every version objects may be stored in
/// stays in spec.versions, so that they can still be read.
fn validate_stored_versions(stored: &[String], versions: &[CustomResourceDefinitionVersion], causes: &mut Causes) {
    let path = Path::new("status").child("storedVersions");
    if stored.is_empty() {
        return;
    }
    if let Some(storage) = versions.iter().find(|version| version.storage)
        && !stored.contains(&storage.name)
    {
        causes.invalid_shown(&path, &format!("{stored:?}"), &format!("must have the storage version {}", storage.name));
    }
    for (index, version) in stored.iter().enumerate() {
        if !versions.iter().any(|declared| &declared.name == version) {
            causes.invalid(
                &path.index(index),
                version.as_str(),
                &format!("missing from spec.versions; {version} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {version} and removes {version} from status.storedVersions"),
            );
        }
    }
}
