//! `ControllerRevision` (`apps/v1`): the snapshots of a DaemonSet's or StatefulSet's template
//! their controllers keep for rollbacks. Its declaration, its validation
//! (`ValidateControllerRevisionCreate`, and `ValidateControllerRevisionUpdate`: the data never
//! changes) and its printer (`printControllerRevision`).

use k8s_openapi::api::apps::v1::ControllerRevision;
use serde_json::{Value, json};

use crate::admission::deployment::non_negative;
use crate::admission::field::{Causes, Path, json_of};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision").namespaced(),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<ControllerRevision> = Typed::new();

impl TypedKind for ControllerRevision {
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        if self.data.is_none() {
            causes.required(&Path::new("data"), "data is mandatory");
        }
        non_negative(&Path::new("revision"), self.revision, causes);
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        self.validate(context, causes);
        let (data, old_data) = (json_of(&self.data), json_of(&old.data));
        if data != old_data {
            causes.immutable(&Path::new("data"), data);
        }
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Controller", "string", 0, "Controller of the object"),
        Column::new("Revision", "string", 0, "Revision indicates the revision of the state represented by Data."),
        AGE,
    ],
    cells,
};

/// `printControllerRevision`'s row: the controller as `kind.group/name` (`statefulset.apps/web`),
/// `<none>` without one.
fn cells(revision: &Value) -> Vec<Value> {
    let owner = printers::list(revision, "/metadata/ownerReferences").iter().find(|owner| owner.get("controller").and_then(Value::as_bool) == Some(true));
    let controller = match owner {
        None => "<none>".to_string(),
        Some(owner) => {
            let field = |name: &str| owner.get(name).and_then(Value::as_str).unwrap_or_default();
            let group = field("apiVersion").rsplit_once('/').map_or("", |(group, _)| group);
            let kind = if group.is_empty() { field("kind").to_string() } else { format!("{}.{group}", field("kind")) };
            if kind.is_empty() { field("name").to_string() } else { format!("{}/{}", kind.to_lowercase(), field("name")) }
        }
    };
    vec![printers::name(revision), json!(controller), json!(printers::number(revision, "/revision")), printers::age_of(revision)]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::admission::test_support::*;

    fn controller_revision(name: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": name, "namespace": "demo"},
            "data": {"spec": {"template": {"metadata": {"labels": {"app": "db"}}}}}, "revision": 1})
    }

    #[test]
    fn controller_revision_validation() {
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("valid", controller_revision("db-7b9f"), Outcome::Admitted),
            ("no data", without(controller_revision("db-7b9f"), "/data"), invalid(&["data"], "data: Required value: data is mandatory")),
            ("negative revision", with(controller_revision("db-7b9f"), "/revision", json!(-1)), invalid(&["revision"], "revision: Invalid value: -1: must be greater than or equal to 0")),
        ];
        run_create("controllerrevisions", rows);
        let old = admitted(resource("controllerrevisions"), controller_revision("db-7b9f"));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("labelled", with(old.clone(), "/metadata/labels", json!({"a": "b"})), Outcome::Admitted),
            ("new revision number", with(old.clone(), "/revision", json!(2)), Outcome::Admitted),
            ("new data", with(old.clone(), "/data", json!({"spec": {}})), invalid(&["data"], "field is immutable")),
        ];
        run_update("controllerrevisions", &old, rows);
    }

    #[test]
    fn a_controller_revision_prints_its_controller() {
        let owned = json!({"metadata": {"name": "db-7b9f", "ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": "other", "uid": "1"},
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "2", "controller": true}]}, "revision": 3});
        assert_eq!(printers::row_of("ControllerRevision", &owned)[..3], [json!("db-7b9f"), json!("statefulset.apps/db"), json!(3)]);
        assert_eq!(printers::row_of("ControllerRevision", &json!({"metadata": {"name": "x"}}))[1], json!("<none>"));
    }
}
