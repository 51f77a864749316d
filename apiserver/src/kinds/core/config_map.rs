//! `ConfigMap`: its declaration; its strategy is the typed one (`admission::config_map`).

use serde_json::json;
use k8s_openapi::api::core::v1::ConfigMap;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::printers::{self, NAME, AGE, Column, Printer, map_len};

static STRATEGY: Typed<ConfigMap> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ConfigMap"),
        plural: Name::Borrowed("configmaps"),
        singular: Name::Borrowed("configmap"),
        namespaced: true,
        short_names: Names::Static(&["cm"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&[]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Data", "integer", 0, "Number of data keys."), AGE],
    cells: |config_map| vec![printers::name(config_map), json!(map_len(config_map, "/data") + map_len(config_map, "/binaryData")), printers::age_of(config_map)],
};
