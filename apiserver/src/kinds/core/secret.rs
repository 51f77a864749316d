//! `Secret`: its declaration; its strategy is the typed one (`admission::secret`).

use serde_json::json;
use k8s_openapi::api::core::v1::Secret;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::printers::{self, NAME, AGE, Column, Printer, text, map_len};

static STRATEGY: Typed<Secret> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "Secret", "secrets", "secret")
        .namespaced()
        .selectable_fields(&["type"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Type", "string", 0, "The type of the secret."), Column::new("Data", "integer", 0, "Number of data keys."), AGE],
    cells: |secret| vec![printers::name(secret), json!(text(secret, "/type")), json!(map_len(secret, "/data")), printers::age_of(secret)],
};
