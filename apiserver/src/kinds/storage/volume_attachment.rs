//! `VolumeAttachment` (`storage.k8s.io/v1`, cluster-scoped): a request to attach a volume to a
//! node, and the attacher's answer in its status. Its declaration, its strategy (the status
//! reset on create), its validation (`ValidateVolumeAttachment`, the spec immutable) and its
//! printer (`printVolumeAttachment`).

use k8s_openapi::api::storage::v1::VolumeAttachment;
use serde_json::{Value, json};

use crate::admission::field::{Causes, Path, json_of};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer, text};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", "volumeattachment").subresources(&["status"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<VolumeAttachment> = Typed::new();

impl TypedKind for VolumeAttachment {
    /// The status is the attacher's.
    fn prepare_for_create(&mut self) {
        self.status = None;
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let path = Path::new("spec");
        if self.spec.attacher.is_empty() {
            causes.required(&path.child("attacher"), "");
        }
        if self.spec.node_name.is_empty() {
            causes.required(&path.child("nodeName"), "");
        }
        let source = &self.spec.source;
        match (source.persistent_volume_name.as_deref(), source.inline_volume_spec.is_some()) {
            (None, false) => causes.required(&path.child("source"), "must specify exactly one of inlineVolumeSpec and persistentVolumeName"),
            (Some(_), true) => causes.forbidden(&path.child("source"), "must specify exactly one of inlineVolumeSpec and persistentVolumeName"),
            (Some(""), false) => causes.required(&path.child("source").child("persistentVolumeName"), "must specify non empty persistentVolumeName"),
            _ => {}
        }
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        self.validate(context, causes);
        if json_of(&self.spec) != json_of(&old.spec) {
            causes.invalid(&Path::new("spec"), json_of(&self.spec), "field is immutable");
        }
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Attacher", "string", 0, "attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName()."),
        Column::new("PV", "string", 0, "persistentVolumeName represents the name of the persistent volume to attach."),
        Column::new("Node", "string", 0, "nodeName represents the node that the volume should be attached to."),
        Column::new("Attached", "boolean", 0, "attached indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher."),
        AGE,
    ],
    cells,
};

fn cells(attachment: &Value) -> Vec<Value> {
    vec![
        printers::name(attachment),
        json!(text(attachment, "/spec/attacher")),
        json!(text(attachment, "/spec/source/persistentVolumeName")),
        json!(text(attachment, "/spec/nodeName")),
        json!(attachment.pointer("/status/attached").and_then(Value::as_bool).unwrap_or(false)),
        printers::age_of(attachment),
    ]
}
