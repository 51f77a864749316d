//! `Lease`: its declaration; its strategy is the typed one (`admission::lease`).

use serde_json::json;
use k8s_openapi::api::coordination::v1::Lease;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::printers::{self, NAME, AGE, Column, Printer, text};

static STRATEGY: Typed<Lease> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed("coordination.k8s.io"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Lease"),
        plural: Name::Borrowed("leases"),
        singular: Name::Borrowed("lease"),
        namespaced: true,
        short_names: Names::Static(&[]),
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
    columns: &[NAME, Column::new("Holder", "string", 0, "The holder of the lease."), AGE],
    cells: |lease| vec![printers::name(lease), json!(text(lease, "/spec/holderIdentity")), printers::age_of(lease)],
};
