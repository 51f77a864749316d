//! The patch client-side `apply` sends, computed as kubectl computes it (apimachinery's
//! `strategicpatch.CreateThreeWayMergePatch` and `jsonmergepatch.CreateThreeWayJSONMergePatch`):
//! from the last applied manifest (`original`), the manifest being applied (`modified`) and the
//! stored object (`current`). A kind whose OpenAPI v3 PATCH accepts strategic merge patches gets
//! one, with lists merged by the keys that OpenAPI names (`x-kubernetes-patch-merge-key`); any
//! other kind gets a JSON merge patch. Both are the same bytes kubectl would send, which is what
//! kubectl prints when the server refuses the patch.

use serde_json::{Map, Value};

/// Where in an OpenAPI v3 document a field's schema is; `None` where the schema says nothing
/// (an unknown field, or a map's values), which makes lists be replaced and maps merged.
#[derive(Clone, Copy)]
pub struct Schema<'a> {
    document: &'a Value,
    node: Option<&'a Value>,
}

/// A field's patch metadata: its strategy (`merge`, `replace`, with `retainKeys` apart) and the
/// key by which a merged list's elements are matched.
struct PatchMeta<'a> {
    schema: Schema<'a>,
    strategy: &'a str,
    retain_keys: bool,
    merge_key: &'a str,
}

impl<'a> Schema<'a> {
    /// The schema of the kind `group/version, kind` in the group-version's OpenAPI v3 document,
    /// if that kind's PATCH accepts strategic merge patches (kubectl's `gvkSupportsPatchOpenAPIV3`).
    pub fn for_kind(document: &'a Value, group: &str, version: &str, kind: &str) -> Option<Self> {
        let is_kind = |gvk: &Value| gvk["group"] == group && gvk["version"] == version && gvk["kind"] == kind;
        let patchable = document["paths"].as_object()?.values().any(|path| {
            let patch = &path["patch"];
            patch["x-kubernetes-group-version-kind"].as_object().is_some() && is_kind(&patch["x-kubernetes-group-version-kind"])
                && patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_some()
        });
        if !patchable {
            return None;
        }
        let node = document["components"]["schemas"]
            .as_object()?
            .values()
            .find(|schema| schema["x-kubernetes-group-version-kind"].as_array().is_some_and(|kinds| kinds.iter().any(is_kind)))?;
        Some(Self { document, node: Some(node) })
    }

    fn resolved(&self, node: &'a Value) -> &'a Value {
        let reference = node["$ref"].as_str().or_else(|| node["allOf"][0]["$ref"].as_str());
        match reference.and_then(|reference| reference.strip_prefix("#/components/schemas/")) {
            Some(name) => &self.document["components"]["schemas"][name],
            None => node,
        }
    }

    fn field(&self, key: &str) -> PatchMeta<'a> {
        let field = self.node.map(|node| &self.resolved(node)["properties"][key]).filter(|field| !field.is_null());
        let strategies = field.and_then(|field| field["x-kubernetes-patch-strategy"].as_str()).unwrap_or_default();
        let retain_keys = strategies.split(',').any(|strategy| strategy == "retainKeys");
        PatchMeta {
            schema: Schema { document: self.document, node: field },
            strategy: strategies.split(',').find(|strategy| *strategy != "retainKeys").unwrap_or_default(),
            retain_keys,
            merge_key: field.and_then(|field| field["x-kubernetes-patch-merge-key"].as_str()).unwrap_or_default(),
        }
    }

    /// The schema of a list field's elements.
    fn items(self) -> Self {
        Self { document: self.document, node: self.node.map(|node| &node["items"]).filter(|items| !items.is_null()) }
    }
}

/// Which differences one pass of `diffMaps` keeps.
#[derive(Clone, Copy, Default)]
struct Options {
    ignore_deletions: bool,
    ignore_changes_and_additions: bool,
    set_element_order: bool,
    retain_keys: bool,
}

/// `CreateThreeWayMergePatch` with overwrite: the changes from current to modified, and the
/// deletions from original to modified, merged.
pub fn three_way_strategic(original: &Value, modified: &Value, current: &Value, schema: Schema<'_>) -> Value {
    let empty = Map::new();
    let map = |value: &'_ Value| value.as_object().cloned().unwrap_or_else(|| empty.clone());
    let delta = diff_maps(&map(current), &map(modified), schema, Options { ignore_deletions: true, set_element_order: true, ..Options::default() });
    let deletions = diff_maps(&map(original), &map(modified), schema, Options { ignore_changes_and_additions: true, set_element_order: true, ..Options::default() });
    Value::Object(merge_maps(deletions, delta, schema))
}

fn diff_maps(original: &Map<String, Value>, modified: &Map<String, Value>, schema: Schema<'_>, options: Options) -> Map<String, Value> {
    let mut patch = Map::new();
    let mut retained = Vec::new();
    for (key, modified_value) in modified {
        if options.retain_keys && !modified_value.is_null() {
            retained.push(Value::String(key.clone()));
        }
        let Some(original_value) = original.get(key) else {
            if !options.ignore_changes_and_additions {
                patch.insert(key.clone(), modified_value.clone());
            }
            continue;
        };
        match (original_value, modified_value) {
            (Value::Object(original_map), Value::Object(modified_map)) => {
                let meta = schema.field(key);
                if meta.strategy == "replace" {
                    if !options.ignore_changes_and_additions {
                        patch.insert(key.clone(), modified_value.clone());
                    }
                    continue;
                }
                let inner = diff_maps(original_map, modified_map, meta.schema, Options { retain_keys: meta.retain_keys, ..options });
                if !inner.is_empty() {
                    patch.insert(key.clone(), Value::Object(inner));
                }
            }
            (Value::Array(original_list), Value::Array(modified_list)) => {
                let meta = schema.field(key);
                if meta.strategy != "merge" {
                    replace_if_not_equal(&mut patch, key, original_value, modified_value, options);
                    continue;
                }
                let options = Options { retain_keys: meta.retain_keys, ..options };
                let (add, delete, order) = diff_lists(original_list, modified_list, meta.schema.items(), meta.merge_key, options);
                if !add.is_empty() {
                    patch.insert(key.clone(), Value::Array(add));
                }
                if !delete.is_empty() {
                    patch.insert(format!("$deleteFromPrimitiveList/{key}"), Value::Array(delete));
                }
                if !order.is_empty() {
                    patch.insert(format!("$setElementOrder/{key}"), Value::Array(order));
                }
            }
            (original_value, modified_value) if same_type(original_value, modified_value) => {
                replace_if_not_equal(&mut patch, key, original_value, modified_value, options);
            }
            _ => {
                if !options.ignore_changes_and_additions {
                    patch.insert(key.clone(), modified_value.clone());
                }
            }
        }
    }
    if !options.ignore_deletions {
        for key in original.keys().filter(|key| !modified.contains_key(*key)) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    let cleared = original.iter().any(|(key, value)| !value.is_null() && !modified.contains_key(key));
    if !retained.is_empty() && (!patch.is_empty() || cleared) {
        sort_scalars(&mut retained);
        patch.insert("$retainKeys".into(), Value::Array(retained));
    }
    patch
}

fn same_type(left: &Value, right: &Value) -> bool {
    std::mem::discriminant(left) == std::mem::discriminant(right)
}

fn replace_if_not_equal(patch: &mut Map<String, Value>, key: &str, original: &Value, modified: &Value, options: Options) {
    if !options.ignore_changes_and_additions && original != modified {
        patch.insert(key.to_string(), modified.clone());
    }
}

/// Go's `fmt.Sprintf("%v", value)` for the scalars that merge keys and primitive lists hold.
fn go_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

fn sort_scalars(values: &mut [Value]) {
    values.sort_by_key(go_text);
}

/// `diffLists`: what to add or change, which scalars to delete, and the order to set.
fn diff_lists(original: &[Value], modified: &[Value], schema: Schema<'_>, merge_key: &str, options: Options) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let is_maps = original.iter().chain(modified).next().is_some_and(Value::is_object);
    if !is_maps {
        let (add, delete) = diff_scalar_lists(original, modified, options);
        let add = normalize_order(add, modified, merge_key);
        let order = if options.set_element_order
            && ((!options.ignore_deletions && !delete.is_empty()) || (!options.ignore_changes_and_additions && original != modified))
        {
            modified.to_vec()
        } else {
            Vec::new()
        };
        return (add, delete, order);
    }
    let (changes, deletions) = diff_map_lists(original, modified, schema, merge_key, options);
    let mut add = normalize_order(changes, modified, merge_key);
    let order_same = keys_of(original, merge_key) == keys_of(modified, merge_key);
    add.extend(deletions);
    let order = if options.set_element_order
        && ((!options.ignore_changes_and_additions && (!add.is_empty() || !order_same)) || (!options.ignore_deletions && !add.is_empty()))
    {
        modified.iter().map(|element| serde_json::json!({merge_key: element[merge_key]})).collect()
    } else {
        Vec::new()
    };
    (add, Vec::new(), order)
}

fn keys_of<'v>(list: &'v [Value], merge_key: &str) -> Vec<&'v Value> {
    list.iter().map(|element| &element[merge_key]).collect()
}

/// One step of walking two lists sorted by the same text.
enum Step {
    Both(usize, usize),
    OnlyModified(usize),
    OnlyOriginal(usize),
}

/// Walks two sorted lists as apimachinery's list diffs do: equal texts pair up, and the smaller
/// text is the one only its list has.
fn walk(original: &[String], modified: &[String]) -> Vec<Step> {
    let (mut steps, mut at_original, mut at_modified) = (Vec::new(), 0, 0);
    while at_original < original.len() || at_modified < modified.len() {
        match (original.get(at_original), modified.get(at_modified)) {
            (Some(left), Some(right)) if left == right => {
                steps.push(Step::Both(at_original, at_modified));
                at_original += 1;
                at_modified += 1;
            }
            (None, Some(_)) => {
                steps.push(Step::OnlyModified(at_modified));
                at_modified += 1;
            }
            (Some(left), Some(right)) if left > right => {
                steps.push(Step::OnlyModified(at_modified));
                at_modified += 1;
            }
            _ => {
                steps.push(Step::OnlyOriginal(at_original));
                at_original += 1;
            }
        }
    }
    steps
}

/// `diffListsOfMaps`: both lists walked in merge-key order; a changed element becomes its diff
/// with its key, an added one is sent whole, a removed one becomes a `$patch: delete` directive.
fn diff_map_lists(original: &[Value], modified: &[Value], schema: Schema<'_>, merge_key: &str, options: Options) -> (Vec<Value>, Vec<Value>) {
    let sorted = |list: &[Value]| {
        let mut list = list.to_vec();
        list.sort_by_key(|element| go_text(&element[merge_key]));
        list
    };
    let (original, modified) = (sorted(original), sorted(modified));
    let keys = |list: &[Value]| list.iter().map(|element| go_text(&element[merge_key])).collect::<Vec<_>>();
    let (mut patch, mut deletions) = (Vec::new(), Vec::new());
    let empty = Map::new();
    for step in walk(&keys(&original), &keys(&modified)) {
        match step {
            Step::Both(left, right) => {
                let mut inner = diff_maps(original[left].as_object().unwrap_or(&empty), modified[right].as_object().unwrap_or(&empty), schema, options);
                if !inner.is_empty() {
                    inner.insert(merge_key.to_string(), modified[right][merge_key].clone());
                    patch.push(Value::Object(inner));
                }
            }
            Step::OnlyModified(right) if !options.ignore_changes_and_additions => patch.push(modified[right].clone()),
            Step::OnlyOriginal(left) if !options.ignore_deletions => {
                deletions.push(serde_json::json!({"$patch": "delete", merge_key: original[left][merge_key]}));
            }
            _ => {}
        }
    }
    (patch, deletions)
}

/// `diffListsOfScalars`: both lists sorted as text; what only `modified` has is added, what only
/// `original` has is deleted.
fn diff_scalar_lists(original: &[Value], modified: &[Value], options: Options) -> (Vec<Value>, Vec<Value>) {
    let (mut original, mut modified) = (original.to_vec(), modified.to_vec());
    sort_scalars(&mut original);
    sort_scalars(&mut modified);
    let texts = |list: &[Value]| list.iter().map(go_text).collect::<Vec<_>>();
    let (mut add, mut delete) = (Vec::new(), Vec::new());
    for step in walk(&texts(&original), &texts(&modified)) {
        match step {
            Step::OnlyModified(right) if !options.ignore_changes_and_additions => add.push(modified[right].clone()),
            Step::OnlyOriginal(left) if !options.ignore_deletions && !delete.contains(&original[left]) => delete.push(original[left].clone()),
            _ => {}
        }
    }
    (add, delete)
}

/// Where `element` is in `order`: by merge key for maps, by value for scalars.
fn index_in(order: &[Value], element: &Value, merge_key: &str) -> Option<usize> {
    if element.is_object() {
        order.iter().position(|candidate| candidate.is_object() && candidate[merge_key] == element[merge_key])
    } else {
        order.iter().position(|candidate| candidate == element)
    }
}

/// `normalizeSliceOrder`: `items` in the order of `order` (Go's stable insertion sort with its
/// comparison, which puts what `order` lacks in front), `$patch: delete` directives last.
fn normalize_order(items: Vec<Value>, order: &[Value], merge_key: &str) -> Vec<Value> {
    let (mut items, deletions): (Vec<Value>, Vec<Value>) = items.into_iter().partition(|item| item.get("$patch") != Some(&Value::from("delete")));
    let less = |left: &Value, right: &Value| match (index_in(order, left, merge_key), index_in(order, right, merge_key)) {
        (Some(left), Some(right)) => left < right,
        _ => true,
    };
    for at in 1..items.len() {
        let mut back = at;
        while back > 0 && less(&items[back], &items[back - 1]) {
            items.swap(back, back - 1);
            back -= 1;
        }
    }
    items.extend(deletions);
    items
}

/// `mergeMap` of two patches (MergeParallelList false): the deletions patch with the delta
/// patch merged in, directive lists taken from either.
fn merge_maps(mut original: Map<String, Value>, patch: Map<String, Value>, schema: Schema<'_>) -> Map<String, Value> {
    for (key, patch_value) in patch {
        if key == "$retainKeys" || key.starts_with("$setElementOrder/") {
            original.entry(key).or_insert(patch_value);
            continue;
        }
        let Some(original_value) = original.remove(&key) else {
            original.insert(key, patch_value);
            continue;
        };
        let merged = match (original_value, patch_value) {
            (Value::Object(left), Value::Object(right)) => {
                let meta = schema.field(&key);
                if meta.strategy == "replace" { Value::Object(right) } else { Value::Object(merge_maps(left, right, meta.schema)) }
            }
            (Value::Array(left), Value::Array(right)) => {
                let meta = schema.field(&key);
                if meta.strategy == "merge" { Value::Array(merge_lists(left, right, meta.schema.items(), meta.merge_key)) } else { Value::Array(right) }
            }
            (_, patch_value) => patch_value,
        };
        original.insert(key, merged);
    }
    original
}

/// `mergeSlice` of two patches' lists: elements with the same merge key merged, new ones added,
/// then ordered as apimachinery orders them (`normalizeElementOrder`).
fn merge_lists(original: Vec<Value>, patch: Vec<Value>, schema: Schema<'_>, merge_key: &str) -> Vec<Value> {
    if original.is_empty() && patch.is_empty() {
        return original;
    }
    let is_maps = original.iter().chain(&patch).next().is_some_and(Value::is_object);
    let mut merged = original.clone();
    if is_maps {
        for element in &patch {
            let found = merged.iter().position(|candidate| candidate.is_object() && candidate[merge_key] == element[merge_key]);
            match (found, element) {
                (Some(at), Value::Object(element)) => {
                    let current = std::mem::take(&mut merged[at]);
                    merged[at] = Value::Object(merge_maps(current.as_object().cloned().unwrap_or_default(), element.clone(), schema));
                }
                _ => merged.push(element.clone()),
            }
        }
    } else {
        for element in &patch {
            if !merged.contains(element) {
                merged.push(element.clone());
            }
        }
    }
    let (from_patch, server_only): (Vec<Value>, Vec<Value>) = merged.into_iter().partition(|item| index_in(&patch, item, merge_key).is_some());
    let from_patch = normalize_order(from_patch, &patch, merge_key);
    let server_only = normalize_order(server_only, &original, merge_key);
    merge_sorted(server_only, from_patch, &original, merge_key)
}

/// `mergeSortedSlice`: two ordered lists interleaved by their places in `order`.
fn merge_sorted(left: Vec<Value>, right: Vec<Value>, order: &[Value], merge_key: &str) -> Vec<Value> {
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!((index_in(order, l, merge_key), index_in(order, r, merge_key)), (Some(l), Some(r)) if l < r),
        };
        let next = if take_left { left.next() } else { right.next() };
        merged.extend(next);
    }
    merged
}

/// `CreateThreeWayJSONMergePatch`: the additions and changes from current to modified, and the
/// deletions (nulls) from original to modified.
pub fn three_way_json_merge(original: &Value, modified: &Value, current: &Value) -> Value {
    let additions = keep_nulls(&merge_diff(current, modified), false);
    let deletions = keep_nulls(&merge_diff(original, modified), true);
    merge_patch(deletions, &additions)
}

/// RFC 7386's patch from `from` to `to`.
fn merge_diff(from: &Value, to: &Value) -> Value {
    let (Some(from), Some(to)) = (from.as_object(), to.as_object()) else {
        return to.clone();
    };
    let mut patch = Map::new();
    for (key, value) in to {
        match from.get(key) {
            Some(old) if old == value => {}
            Some(old) if old.is_object() && value.is_object() => {
                let inner = merge_diff(old, value);
                if inner.as_object().is_some_and(|inner| !inner.is_empty()) {
                    patch.insert(key.clone(), inner);
                }
            }
            _ => {
                patch.insert(key.clone(), value.clone());
            }
        }
    }
    for key in from.keys().filter(|key| !to.contains_key(*key)) {
        patch.insert(key.clone(), Value::Null);
    }
    Value::Object(patch)
}

/// `keepOrDeleteNullInObj`: only the nulls (and the maps leading to them), or all but them.
fn keep_nulls(patch: &Value, keep: bool) -> Value {
    let Some(map) = patch.as_object() else { return patch.clone() };
    let mut kept = Map::new();
    for (key, value) in map {
        match value {
            Value::Null if keep => {
                kept.insert(key.clone(), Value::Null);
            }
            Value::Object(_) => {
                let inner = keep_nulls(value, keep);
                if !keep || inner.as_object().is_some_and(|inner| !inner.is_empty()) {
                    kept.insert(key.clone(), inner);
                }
            }
            Value::Null => {}
            other if !keep => {
                kept.insert(key.clone(), other.clone());
            }
            _ => {}
        }
    }
    Value::Object(kept)
}

/// RFC 7386 applied to a patch, keeping its nulls (evanphx's `MergePatch` of two patches).
fn merge_patch(target: Value, patch: &Value) -> Value {
    let (Value::Object(mut target), Some(patch)) = (target, patch.as_object()) else {
        return patch.clone();
    };
    for (key, value) in patch {
        let merged = match target.remove(key) {
            Some(existing @ Value::Object(_)) if value.is_object() => merge_patch(existing, value),
            _ => value.clone(),
        };
        target.insert(key.clone(), merged);
    }
    Value::Object(target)
}

/// JSON as Go's `json.Marshal` writes it: keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped.
pub fn go_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for char in text.chars() {
        match char {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document() -> Value {
        json!({
            "paths": {"/apis/apps/v1/namespaces/{namespace}/deployments/{name}": {"patch": {
                "x-kubernetes-group-version-kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "requestBody": {"content": {"application/strategic-merge-patch+json": {}}}
            }}},
            "components": {"schemas": {
                "Deployment": {"x-kubernetes-group-version-kind": [{"group": "apps", "version": "v1", "kind": "Deployment"}],
                    "properties": {"spec": {"allOf": [{"$ref": "#/components/schemas/Spec"}]}}},
                "Spec": {"properties": {
                    "strategy": {"allOf": [{"$ref": "#/components/schemas/Strategy"}], "x-kubernetes-patch-strategy": "retainKeys"},
                    "containers": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Container"}]},
                        "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}
                }},
                "Strategy": {"properties": {"type": {}, "rollingUpdate": {}}},
                "Container": {"properties": {
                    "ports": {"type": "array", "items": {}, "x-kubernetes-patch-merge-key": "containerPort", "x-kubernetes-patch-strategy": "merge"}
                }}
            }}
        })
    }

    #[test]
    fn the_issues_misspelled_command_as_kubectl_patches_it() {
        let document = document();
        let schema = Schema::for_kind(&document, "apps", "v1", "Deployment").unwrap();
        let original = json!({"spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep"]}]}});
        let modified = json!({"spec": {"containers": [{"name": "c", "image": "busybox", "comand": ["sleep"]}]}});
        let current = json!({"spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep"], "imagePullPolicy": "Always"}]}});
        let patch = three_way_strategic(&original, &modified, &current, schema);
        assert_eq!(
            go_json(&patch),
            r#"{"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"comand":["sleep"],"command":null,"name":"c"}]}}"#
        );
        assert_eq!(three_way_strategic(&original, &original, &current, schema), json!({}));
    }

    #[test]
    fn lists_merge_by_key_in_the_manifests_order() {
        let document = document();
        let schema = Schema::for_kind(&document, "apps", "v1", "Deployment").unwrap();
        let original = json!({"spec": {"containers": [{"name": "b"}, {"name": "a"}]}});
        let modified = json!({"spec": {"containers": [{"name": "z", "image": "i"}, {"name": "b"}]}});
        let current = json!({"spec": {"containers": [{"name": "b"}, {"name": "a"}, {"name": "other"}]}});
        let patch = three_way_strategic(&original, &modified, &current, schema);
        assert_eq!(
            go_json(&patch),
            r#"{"spec":{"$setElementOrder/containers":[{"name":"z"},{"name":"b"}],"containers":[{"image":"i","name":"z"},{"$patch":"delete","name":"a"}]}}"#
        );
        let strategy = three_way_strategic(&json!({}), &json!({"spec": {"strategy": {"type": "Recreate"}}}), &json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {}}}}), schema);
        assert_eq!(go_json(&strategy), r#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}"#);
    }

    #[test]
    fn other_kinds_get_kubectls_json_merge_patch() {
        let original = json!({"spec": {"a": 1, "gone": 2}, "keep": {"x": 1}});
        let modified = json!({"spec": {"a": 3, "list": [1]}, "keep": {"x": 1}});
        let current = json!({"spec": {"a": 1, "gone": 2, "server": true}, "keep": {"x": 1}, "status": {}});
        assert_eq!(go_json(&three_way_json_merge(&original, &modified, &current)), r#"{"spec":{"a":3,"gone":null,"list":[1]}}"#);
        assert_eq!(go_json(&json!({"a": "<&>"})), r#"{"a":"\u003c\u0026\u003e"}"#);
    }
}
