//! `Lease`: its declaration; its strategy is the typed one (`admission::lease`).

use serde_json::json;
use k8s_openapi::api::coordination::v1::Lease;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::printers::{self, NAME, AGE, Column, Printer, text};

static STRATEGY: Typed<Lease> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("coordination.k8s.io", "v1", "Lease", "leases", "lease")
        .namespaced(),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Holder", "string", 0, "The holder of the lease."), AGE],
    cells: |lease| vec![printers::name(lease), json!(text(lease, "/spec/holderIdentity")), printers::age_of(lease)],
};
