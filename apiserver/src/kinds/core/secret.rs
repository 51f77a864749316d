//! `Secret`: its declaration; its strategy is the typed one (`admission::secret`).

use serde_json::json;
use k8s_openapi::api::core::v1::Secret;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::printers::{self, NAME, AGE, Column, Printer, text, map_len};

static STRATEGY: Typed<Secret> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Secret"),
        plural: Name::Borrowed("secrets"),
        singular: Name::Borrowed("secret"),
        namespaced: true,
        short_names: Names::Static(&[]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&["type"]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Type", "string", 0, "The type of the secret."), Column::new("Data", "integer", 0, "Number of data keys."), AGE],
    cells: |secret| vec![printers::name(secret), json!(text(secret, "/type")), json!(map_len(secret, "/data")), printers::age_of(secret)],
};
