//! `ServiceAccount`: its declaration; its strategy is the typed one (`admission::service_account`).

use serde_json::json;
use k8s_openapi::api::core::v1::ServiceAccount;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::printers::{self, NAME, AGE, Column, Printer, list};

static STRATEGY: Typed<ServiceAccount> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ServiceAccount"),
        plural: Name::Borrowed("serviceaccounts"),
        singular: Name::Borrowed("serviceaccount"),
        namespaced: true,
        short_names: Names::Static(&["sa"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&["token"]),
        tracks_generation: false,
        returns_deleted_object: true,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&[]),
        custom: None,
        deletion_finalizer: None,
    },
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
