//! `ctl explain TYPE[.field.path]`: a type's or a field's documentation from the server's OpenAPI
//! v3 document, laid out as kubectl 1.33's `plaintext` template lays it out. The functions below
//! follow that template's named parts (`output`, `fieldList`, `fieldDetail`, `description`,
//! `typeGuess`, `extractEnum`) so that its quirks (two blank lines after `FIELD:`, a field's
//! description followed by its type's, the cycle rules of `--recursive`) come out the same.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::discovery::{Resource, discover, get_json};
use crate::output::out;
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
pub struct ExplainArgs {
    /// TYPE, or TYPE.field.path (deployments.spec.template, deployments.apps.spec).
    pub target: String,
    /// Print the names and types of all the fields below, without descriptions.
    #[arg(long)]
    pub recursive: bool,
    /// The group/version of the type to explain instead of the server's preferred one.
    #[arg(long)]
    pub api_version: Option<String>,
    /// The format of the schema; only kubectl's default, plaintext.
    #[arg(long, default_value = "plaintext", value_parser = ["plaintext"])]
    pub output: String,
}

/// kubectl prints these errors as they are, without its usual `error: ` prefix.
fn fail(message: String) -> CtlError {
    eprintln!("{message}");
    CtlError::Reported(1)
}

pub async fn run(config: &Config, args: &ExplainArgs) -> Result<(), CtlError> {
    let client = crate::kubeconfig::client(config).await?;
    let served = discover(&client).await?;
    let target = args.target.strip_suffix('.').unwrap_or(&args.target);
    let (resource, fields) = split_target(&served, target)?;
    let (group, version) = match &args.api_version {
        Some(api_version) => match api_version.split_once('/') {
            Some((group, version)) => (group.to_string(), version.to_string()),
            None => (String::new(), api_version.clone()),
        },
        None => (resource.group.clone(), resource.version.clone()),
    };
    let document_name = if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") };
    let index = get_json(&client, "/openapi/v3", "application/json").await?;
    if index["paths"].get(&document_name).is_none() {
        return Err(CtlError::Usage(format!("couldn't find resource for \"{group}/{version}, Resource={}\"", resource.plural)));
    }
    let document = get_json(&client, &format!("/openapi/v3/{document_name}"), "application/json").await?;
    let explainer = Explainer { document: &document, recursive: args.recursive };
    let (text, error) = explainer.render(&group, &version, &resource.plural, &fields);
    out!("{text}")?;
    match error {
        Some(message) => Err(fail(message)),
        None => Ok(()),
    }
}

/// The resource a `TYPE[.group][.field…]` argument names and the field path after it; a group
/// is recognised as kubectl recognises it, as a prefix of what follows the type.
fn split_target<'a>(served: &'a [Resource], target: &str) -> Result<(&'a Resource, Vec<String>), CtlError> {
    let (word, rest) = target.split_once('.').unwrap_or((target, ""));
    let candidates: Vec<&Resource> = served.iter().filter(|resource| resource.matches(word)).collect();
    let grouped = candidates.iter().find(|resource| {
        !resource.group.is_empty() && (rest == resource.group || rest.starts_with(&format!("{}.", resource.group)))
    });
    let (resource, path) = match (grouped, candidates.first()) {
        (Some(resource), _) => (*resource, rest[resource.group.len()..].trim_start_matches('.')),
        (None, Some(resource)) => (*resource, rest),
        (None, None) => return Err(fail(format!("the server doesn't have a resource type {word:?}"))),
    };
    let fields = if path.is_empty() { Vec::new() } else { path.split('.').map(str::to_string).collect() };
    Ok((resource, fields))
}

struct Explainer<'a> {
    document: &'a Value,
    recursive: bool,
}

/// A JSON value as Go templates test it: empty strings, maps and lists, zero, false and null
/// are false.
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => !text.is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(map)) => !map.is_empty(),
        Some(Value::Number(number)) => number.as_f64() != Some(0.0),
    }
}

/// `additionalProperties` when it is a schema (not `true`/`false`).
fn map_values(schema: &Value) -> Option<&Value> {
    schema.get("additionalProperties").filter(|value| value.is_object() && truthy(Some(value)))
}

fn items(schema: &Value) -> Option<&Value> {
    schema.get("items").filter(|value| truthy(Some(value)))
}

fn all_of(schema: &Value) -> &[Value] {
    schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// A map's entries in Go's order for `range` over a map: by key.
fn sorted(map: Option<&Map<String, Value>>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.into_iter().flatten().collect();
    entries.sort_by(|left, right| left.0.cmp(right.0));
    entries
}

fn reference(schema: &Value) -> &str {
    schema.get("$ref").and_then(Value::as_str).unwrap_or_default()
}

impl Explainer<'_> {
    fn render(&self, group: &str, version: &str, plural: &str, fields: &[String]) -> (String, Option<String>) {
        let Some(gvk) = self.find_gvk(group, version, plural) else {
            return (String::new(), Some(format!("error: GVR ({group}/{version}, Resource={plural}) not found in OpenAPI schema")));
        };
        let mut text = String::new();
        let gvk_field = |key: &str| gvk[key].as_str().unwrap_or_default().to_string();
        if !gvk_field("group").is_empty() {
            text.push_str(&format!("GROUP:      {}\n", gvk_field("group")));
        }
        text.push_str(&format!("KIND:       {}\nVERSION:    {}\n\n", gvk_field("kind"), gvk_field("version")));
        let schemas = self.document["components"]["schemas"].as_object();
        let found = sorted(schemas).into_iter().find(|(_, schema)| {
            schema["x-kubernetes-group-version-kind"].as_array().is_some_and(|list| list.contains(&gvk))
        });
        let Some((_, schema)) = found else {
            return (text, Some(format!("error: GVK {} not found in OpenAPI schema", go_map(&gvk))));
        };
        let body = self.output(schema, &HashSet::new(), fields);
        if body.is_empty() {
            let last = fields.last().cloned().unwrap_or_default();
            return (text, Some(format!("error: field \"{last}\" does not exist")));
        }
        text.push_str(&body);
        text.push('\n');
        (text, None)
    }

    /// The group-version-kind the operations on the resource's paths name, as the template
    /// searches them: the last path searched that has one wins.
    fn find_gvk(&self, group: &str, version: &str, plural: &str) -> Option<Value> {
        let prefix = if group.is_empty() { "/api".to_string() } else { format!("/apis/{group}") };
        let searched = [
            format!("{prefix}/{version}/{plural}"),
            format!("{prefix}/{version}/{plural}/{{name}}"),
            format!("{prefix}/{version}/namespaces/{{namespace}}/{plural}"),
            format!("{prefix}/{version}/namespaces/{{namespace}}/{plural}/{{name}}"),
        ];
        let mut gvk = None;
        for path in &searched {
            let Some(element) = self.document["paths"].get(path).filter(|element| truthy(Some(element))) else { continue };
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(operation) = element.get(method).filter(|operation| truthy(Some(operation))) else { continue };
                gvk = operation.get("x-kubernetes-group-version-kind").filter(|gvk| truthy(Some(gvk))).cloned();
                if gvk.is_some() {
                    break;
                }
            }
        }
        gvk
    }

    fn resolve(&self, reference: &str) -> Option<&Value> {
        let fragment = reference.strip_prefix('#')?;
        let mut current = self.document;
        for key in fragment.split('/').filter(|key| !key.is_empty()) {
            current = current.get(key).filter(|next| next.is_object())?;
        }
        Some(current)
    }

    /// The schema itself, or what its `$ref` names.
    fn resolved<'s>(&'s self, schema: &'s Value) -> &'s Value {
        self.resolve(reference(schema)).filter(|resolved| truthy(Some(resolved))).unwrap_or(schema)
    }

    fn output(&self, schema: &Value, history: &HashSet<String>, fields: &[String]) -> String {
        let reference = reference(schema);
        let mut next_history = history.clone();
        next_history.insert(reference.to_string());
        let resolved = self.resolved(schema);
        let Some((first, rest)) = fields.split_first() else {
            let description = self.description(resolved);
            let description = if description.is_empty() { "<empty>".to_string() } else { description };
            let mut text = format!("DESCRIPTION:\n{}\n", indent(4, &wrap(76, &description)));
            let external = external_docs(resolved, 0, 4, 76);
            if !external.is_empty() {
                text.push('\n');
                text.push_str(&external);
            }
            let list = self.field_list(resolved, 1, &HashSet::new());
            if !list.is_empty() {
                text.push_str("FIELDS:\n");
                text.push_str(&list);
            }
            return text;
        };
        if !reference.is_empty() && history.contains(reference) {
            return String::new();
        }
        if let Some(field) = resolved["properties"].get(first).filter(|field| truthy(Some(field))) {
            let mut text = String::new();
            if rest.is_empty() {
                text = format!("FIELD: {first} <{}>\n{}\n\n", self.type_guess(field), extract_enum(field, true, -1, 0));
            }
            text.push_str(&self.output(field, &HashSet::new(), rest));
            return text;
        }
        if let Some(items) = items(resolved) {
            return self.output(items, &next_history, fields);
        }
        if let Some(values) = map_values(resolved) {
            return self.output(values, &next_history, fields);
        }
        all_of(resolved).iter().map(|alternative| self.output(alternative, &next_history, fields)).find(|text| !text.is_empty()).unwrap_or_default()
    }

    fn field_list(&self, schema: &Value, level: usize, history: &HashSet<String>) -> String {
        let reference = reference(schema);
        if !reference.is_empty() && history.contains(reference) {
            return String::new();
        }
        let mut next_history = history.clone();
        next_history.insert(reference.to_string());
        let resolved = self.resolved(schema);
        let mut text = String::new();
        for (name, field) in sorted(resolved["properties"].as_object()) {
            text.push_str(&self.field_detail(name, resolved, level));
            if self.recursive {
                text.push_str(&self.field_list(field, level + 1, &next_history));
            }
        }
        for alternative in all_of(resolved) {
            text.push_str(&self.field_list(alternative, level, &next_history));
        }
        if let Some(items) = items(resolved) {
            text.push_str(&self.field_list(items, level, &next_history));
        }
        if let Some(values) = map_values(resolved) {
            text.push_str(&self.field_list(values, level, &next_history));
        }
        text
    }

    fn field_detail(&self, name: &str, parent: &Value, level: usize) -> String {
        let amount = level * 2;
        let field = &parent["properties"][name];
        let required = parent["required"].as_array().is_some_and(|names| names.iter().any(|required| required == name));
        let mut text = format!(
            "{}{name}\t<{}>{}{}\n",
            " ".repeat(amount),
            self.type_guess(field),
            if required { " -required-" } else { "" },
            extract_enum(field, false, 4, amount)
        );
        if !self.recursive {
            let description = field["description"].as_str().filter(|text| !text.is_empty()).unwrap_or("<no description>");
            text.push_str(&indent(amount + 2, &wrap(78 - amount, description)));
            text.push('\n');
            text.push_str(&external_docs(field, amount + 2, amount + 4, 76 - amount));
            text.push('\n');
        }
        text
    }

    /// The schema's description, then those of what it is made of (allOf, items, map values).
    fn description(&self, schema: &Value) -> String {
        let schema = self.resolved(schema);
        if !truthy(Some(schema)) {
            return String::new();
        }
        let mut text = String::new();
        if let Some(description) = schema["description"].as_str().filter(|text| !text.is_empty()) {
            text.push_str(description);
            text.push('\n');
        }
        for alternative in all_of(schema) {
            text.push_str(&self.description(alternative));
        }
        if let Some(items) = items(schema) {
            text.push_str(&self.description(items));
        }
        if let Some(values) = map_values(schema) {
            text.push_str(&self.description(values));
        }
        text
    }

    /// kubectl's short type: `string`, `Object`, `[]Container`, `map[string]string`, or the
    /// name of the object type a `$ref` names.
    fn type_guess(&self, schema: &Value) -> String {
        if let Some(items) = items(schema) {
            return format!("[]{}", self.type_guess(items));
        }
        if let Some(values) = map_values(schema) {
            return format!("map[string]{}", self.type_guess(values));
        }
        let alternatives = all_of(schema);
        if alternatives.len() == 1 && !truthy(schema.get("properties")) {
            return self.type_guess(&alternatives[0]);
        }
        let reference = reference(schema);
        let type_name = |schema: &Value| schema["type"].as_str().filter(|name| !name.is_empty()).map(str::to_string);
        if !reference.is_empty() {
            return match self.resolve(reference).and_then(type_name) {
                Some(name) if name != "object" => name,
                _ => {
                    let name = reference.rsplit('/').next().unwrap_or_default();
                    let short = name.rsplit('.').next().unwrap_or_default();
                    if short.is_empty() { "Object".to_string() } else { short.to_string() }
                }
            };
        }
        match type_name(schema) {
            Some(name) if name != "object" => name,
            _ => "Object".to_string(),
        }
    }
}

/// `ENUM:` with one value a line (a field's own page), or `enum: a, b, c, d, ....` under a
/// field of a list.
fn extract_enum(schema: &Value, long_view: bool, limit: i64, amount: usize) -> String {
    let Some(values) = schema["enum"].as_array().filter(|values| !values.is_empty()) else {
        return String::new();
    };
    let mut text = if long_view { "ENUM:".to_string() } else { format!("\n{}enum: ", " ".repeat(amount)) };
    for (index, value) in values.iter().enumerate() {
        if limit > -1 && index as i64 >= limit {
            text.push_str(", ....");
            break;
        }
        if long_view {
            text.push_str("\n    ");
        } else if index > 0 {
            text.push_str(", ");
        }
        match value {
            Value::String(value) if value.is_empty() => text.push_str("\"\""),
            Value::String(value) => text.push_str(value),
            other => text.push_str(&other.to_string()),
        }
    }
    text
}

/// The `EXTERNAL DOCS:` part of a schema: its title indented by `header`, its lines by `body`.
fn external_docs(schema: &Value, header: usize, body: usize, width: usize) -> String {
    let Some(docs) = schema.get("externalDocs").filter(|docs| truthy(Some(docs))) else {
        return String::new();
    };
    let mut text = format!("{}\n", indent(header, "EXTERNAL DOCS:"));
    if let Some(description) = docs["description"].as_str().filter(|text| !text.is_empty()) {
        text.push_str(&format!("{}\n", indent(body, &wrap(width, description))));
    }
    if let Some(url) = docs["url"].as_str().filter(|text| !text.is_empty()) {
        text.push_str(&format!("{}\n", indent(body, &format!("URL: {url}"))));
    }
    text
}

/// A Go map as `%v` prints it: `map[group: kind:Pod version:v1]`.
fn go_map(value: &Value) -> String {
    let entries: Vec<String> = sorted(value.as_object()).into_iter().map(|(key, value)| format!("{key}:{}", value.as_str().unwrap_or_default())).collect();
    format!("map[{}]", entries.join(" "))
}

/// The template's `indent`: every line, the first included, after `amount` spaces.
fn indent(amount: usize, text: &str) -> String {
    let pad = " ".repeat(amount);
    format!("{pad}{}", text.replace('\n', &format!("\n{pad}")))
}

/// go-wordwrap's `WrapString`, which kubectl's `wrap` uses: breaks at spaces so that lines
/// stay within `limit` characters where the words allow, keeping the text's own line breaks.
fn wrap(limit: usize, text: &str) -> String {
    let mut out = String::new();
    let mut current = 0;
    let (mut word, mut space) = (String::new(), String::new());
    let (mut word_len, mut space_len) = (0, 0);
    for char in text.chars() {
        if char == '\n' {
            if word.is_empty() {
                if current + space_len <= limit {
                    out.push_str(&space);
                }
            } else {
                out.push_str(&space);
                out.push_str(&word);
                word.clear();
                word_len = 0;
            }
            space.clear();
            space_len = 0;
            out.push(char);
            current = 0;
        } else if char.is_whitespace() && char != '\u{a0}' {
            if space.is_empty() || !word.is_empty() {
                current += space_len + word_len;
                out.push_str(&space);
                out.push_str(&word);
                space.clear();
                space_len = 0;
                word.clear();
                word_len = 0;
            }
            space.push(char);
            space_len += 1;
        } else {
            word.push(char);
            word_len += 1;
            if current + space_len + word_len > limit && word_len < limit {
                out.push('\n');
                current = 0;
                space.clear();
                space_len = 0;
            }
        }
    }
    if word.is_empty() {
        if current + space_len <= limit {
            out.push_str(&space);
        }
    } else {
        out.push_str(&space);
        out.push_str(&word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_as_go_wordwrap() {
        assert_eq!(wrap(10, "aaa bbb ccc ddd"), "aaa bbb\nccc ddd");
        assert_eq!(wrap(5, "a verylongword b"), "a\nverylongword\nb");
        assert_eq!(wrap(20, "one\ntwo  three"), "one\ntwo  three");
        assert_eq!(indent(2, "a\nb\n"), "  a\n  b\n  ");
    }
}
