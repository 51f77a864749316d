//! `ServiceAccount`: its declaration; its strategy is the typed one (`admission::service_account`).

use serde_json::json;
use k8s_openapi::api::core::v1::ServiceAccount;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::printers::{self, NAME, AGE, Column, Printer, list};

static STRATEGY: Typed<ServiceAccount> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount")
        .namespaced()
        .short_names(&["sa"])
        .subresources(&["token"])
        .returns_deleted_object(),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Secrets", "integer", 0, "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
        AGE,
    ],
    cells: |account| vec![printers::name(account), json!(list(account, "/secrets").len()), printers::age_of(account)],
};
