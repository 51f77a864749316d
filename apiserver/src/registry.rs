//! The registry of served kinds: the built-in declarations, and the kinds that
//! CustomResourceDefinitions declare at run time. Handlers read one consistent snapshot per
//! request; a change swaps the snapshot and bumps its generation, which discovery and OpenAPI
//! documents carry so that clients refresh their cached copies.

use std::sync::{Arc, RwLock};

use crate::printers::Printer;
use crate::resources::ResourceType;
use crate::strategy::Strategy;

/// One served kind: its declaration (names, scope, subresources, ...) and its strategy. The
/// built-in ones are statics under `kinds/`; a CustomResourceDefinition's are made at run time.
#[derive(Clone)]
pub struct Kind {
    pub resource: ResourceType,
    pub strategy: &'static dyn Strategy,
    /// Its server-side Table, as kube's printer for the kind prints it; `None` prints Name and
    /// Age, as kube's default table convertor does.
    pub printer: Option<&'static Printer>,
}

impl std::ops::Deref for Kind {
    type Target = ResourceType;

    fn deref(&self) -> &ResourceType {
        &self.resource
    }
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.resource.fmt(f)
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Self) -> bool {
        self.resource == other.resource && std::ptr::addr_eq(self.strategy, other.strategy)
    }
}

/// The kinds served at one moment.
#[derive(Debug)]
pub struct Snapshot {
    /// Bumped on every change of the served kinds.
    pub generation: u64,
    kinds: Vec<Arc<Kind>>,
}

impl Snapshot {
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<Kind>> {
        self.kinds.iter().find(|kind| kind.group == group && kind.version == version && kind.plural == plural)
    }

    pub fn kinds(&self) -> &[Arc<Kind>] {
        &self.kinds
    }

    /// The kinds of one group version, in declaration order.
    pub fn of_group_version<'a>(&'a self, group: &'a str, version: &'a str) -> impl Iterator<Item = &'a Arc<Kind>> + 'a {
        self.kinds.iter().filter(move |kind| kind.group == group && kind.version == version)
    }

    /// The served group versions, core first, in discovery order.
    pub fn group_versions(&self) -> Vec<(&str, &str)> {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for kind in &self.kinds {
            let group_version = (&*kind.group, &*kind.version);
            if !seen.contains(&group_version) {
                seen.push(group_version);
            }
        }
        seen
    }
}

/// The served kinds, shared by every request of one apiserver.
#[derive(Debug)]
pub struct Registry {
    builtin: Vec<Arc<Kind>>,
    current: RwLock<Arc<Snapshot>>,
}

impl Registry {
    /// The built-in kinds alone.
    pub fn new(builtin: &[&'static Kind]) -> Self {
        let builtin: Vec<Arc<Kind>> = builtin.iter().map(|kind| Arc::new((*kind).clone())).collect();
        let current = RwLock::new(Arc::new(Snapshot { generation: 1, kinds: builtin.clone() }));
        Self { builtin, current }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<Kind>> {
        self.snapshot().find(group, version, plural).cloned()
    }

    /// Serves the built-in kinds and `custom` (what the established CustomResourceDefinitions
    /// declare); a kind equal to one already served keeps its `Arc`, so that caches keyed by
    /// it go on. Returns the new snapshot, unchanged when nothing changed.
    pub fn set_custom(&self, custom: Vec<Kind>) -> Arc<Snapshot> {
        let mut current = self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut kinds = self.builtin.clone();
        for kind in custom {
            let existing = current.kinds.iter().find(|served| ***served == kind).cloned();
            kinds.push(existing.unwrap_or_else(|| Arc::new(kind)));
        }
        let unchanged = kinds.len() == current.kinds.len() && kinds.iter().zip(&current.kinds).all(|(new, old)| Arc::ptr_eq(new, old));
        if !unchanged {
            *current = Arc::new(Snapshot { generation: current.generation + 1, kinds });
        }
        current.clone()
    }
}
