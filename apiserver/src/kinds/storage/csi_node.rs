//! `CSINode` (`storage.k8s.io/v1`, cluster-scoped, named after its node): the CSI drivers a
//! node's kubelet registered. Its declaration, its validation (unique driver names) and its
//! printer (`printCSINode`: the number of drivers).

use k8s_openapi::api::storage::v1::CSINode;
use serde_json::json;

use crate::admission::field::{Causes, Path};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer, list};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("storage.k8s.io", "v1", "CSINode", "csinodes", "csinode"),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<CSINode> = Typed::new();

impl TypedKind for CSINode {
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let path = Path::new("spec").child("drivers");
        let mut seen = std::collections::BTreeSet::new();
        for (index, driver) in self.spec.drivers.iter().enumerate() {
            if driver.name.is_empty() {
                causes.required(&path.index(index).child("name"), "");
            } else if !seen.insert(driver.name.as_str()) {
                causes.duplicate(&path.index(index).child("name"), driver.name.as_str());
            }
            if driver.node_id.is_empty() {
                causes.required(&path.index(index).child("nodeID"), "");
            }
        }
    }
}

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Drivers", "integer", 0, "Drivers indicates the number of CSI drivers registered on the node"), AGE],
    cells: |node| vec![printers::name(node), json!(list(node, "/spec/drivers").len()), printers::age_of(node)],
};
