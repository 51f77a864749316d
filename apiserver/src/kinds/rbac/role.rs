//! `Role`: its declaration; its objects are stored as given until its validation comes.

use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::strategy::AsGiven;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", "role")
        .namespaced(),
    strategy: &AsGiven,
    printer: None,
};
