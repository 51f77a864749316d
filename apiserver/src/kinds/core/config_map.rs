//! `ConfigMap`: its declaration; its strategy is the typed one (`admission::config_map`).

use serde_json::json;
use k8s_openapi::api::core::v1::ConfigMap;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::printers::{self, NAME, AGE, Column, Printer, map_len};

static STRATEGY: Typed<ConfigMap> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "ConfigMap", "configmaps", "configmap")
        .namespaced()
        .short_names(&["cm"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Data", "integer", 0, "Number of data keys."), AGE],
    cells: |config_map| vec![printers::name(config_map), json!(map_len(config_map, "/data") + map_len(config_map, "/binaryData")), printers::age_of(config_map)],
};
