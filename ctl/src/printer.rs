//! How kubectl prints objects for `-o`: YAML (Go-compatible), JSON with its four spaces, `name`,
//! JSONPath and Go templates. Shared by `get` and every verb that takes `-o` (the generators,
//! `label`, `patch`, `apply`, `scale`, `config view`); it depends on none of them.

use serde_json::Value;

use crate::CtlError;
use crate::gotemplate::GoTemplate;
use crate::output::{out, outln};

/// What `-o` asks for.
pub enum Output {
    Message,
    Yaml,
    Json,
    Name,
    JsonPath(crate::jsonpath::Template),
    GoTemplate(crate::gotemplate::GoTemplate),
}

impl Output {
    pub fn parse(output: Option<&str>) -> Result<Output, CtlError> {
        Ok(match output {
            None | Some("") => Output::Message,
            Some("yaml") => Output::Yaml,
            Some("json") => Output::Json,
            Some("name") => Output::Name,
            Some(other) if matches!(other.split_once('=').map(|(name, _)| name), Some("go-template" | "template" | "go-template-file" | "templatefile")) => {
                let (name, value) = other.split_once('=').unwrap_or_default();
                Output::GoTemplate(go_template(name, value)?)
            }
            Some(other) => match other.strip_prefix("jsonpath=") {
                Some(text) => Output::JsonPath(crate::jsonpath::Template::parse(text).map_err(|err| CtlError::Usage(format!("error parsing jsonpath {text}, {err}")))?),
                None => return Err(CtlError::Usage(format!(
                    "unable to match a printer suitable for the output format {other:?}, allowed formats are: go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,yaml"
                ))),
            },
        })
    }
}

/// `deployment.apps/web`: the kind and group of the object itself.
pub fn kind_name(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or_default().to_ascii_lowercase();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    match object["apiVersion"].as_str().and_then(|version| version.split_once('/')) {
        Some((group, _)) => format!("{kind}.{group}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// The object as `-o yaml|json|name` prints it (without managedFields, as kubectl's printers),
/// or `kind/name <verb>`.
pub fn print(mut object: Value, output: &Output, verb: &str) -> Result<(), CtlError> {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    match output {
        Output::Message => outln!("{} {verb}", kind_name(&object))?,
        Output::Name => outln!("{}", kind_name(&object))?,
        Output::JsonPath(template) => {
            let text = template.render(&object).map_err(|err| CtlError::Usage(format!("error executing jsonpath {:?}: {err}", template.source())))?;
            out!("{text}")?;
        }
        Output::GoTemplate(template) => print_go_template(template, &object)?,
        Output::Json => {
            // Go's MarshalIndent with kubectl's four spaces.
            let mut bytes = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
            serde::Serialize::serialize(&object, &mut serializer).map_err(|err| CtlError::Usage(err.to_string()))?;
            outln!("{}", String::from_utf8_lossy(&bytes))?;
        }
        Output::Yaml => out!("{}", go_yaml(&object)?)?,
    }
    Ok(())
}

/// YAML as kubectl writes it (see `crate::yaml`).
pub fn go_yaml(value: &Value) -> Result<String, CtlError> {
    crate::yaml::to_string(value).map_err(|err| CtlError::Usage(err.to_string()))
}

/// `-o go-template=TEXT` or `-o go-template-file=FILE`, parsed as kubectl reports it.
pub fn go_template(name: &str, value: &str) -> Result<GoTemplate, CtlError> {
    let text = if name.ends_with("file") {
        read_file(value, "--template")?
    } else {
        value.to_string()
    };
    GoTemplate::parse(&text).map_err(|err| CtlError::Usage(format!("error parsing template {text}, {err}")))
}

/// What the template printed; after a failure, kubectl's dump of the template and the object on
/// stdout too.
pub fn print_go_template(template: &GoTemplate, document: &Value) -> Result<(), CtlError> {
    let (rendered, failure) = template.render(document);
    out!("{rendered}")?;
    if let Some(err) = failure {
        let text = template.source();
        let mut raw = String::new();
        crate::jsonpath::go_json(document, &mut raw);
        let object = crate::gotemplate::go_value(document);
        out!(
            "Error executing template: {err}. Printing more information for debugging the template:\n\ttemplate was:\n\t\t{text}\n\traw data was:\n\t\t{raw}\n\tobject given to template engine was:\n\t\t{object}\n\n"
        )?;
        return Err(CtlError::Usage(format!("error executing template {text:?}: {err}")));
    }
    Ok(())
}

/// A template file, or kubectl's `error reading WHAT PATH, open PATH: …`.
pub fn read_file(path: &str, what: &str) -> Result<String, CtlError> {
    std::fs::read_to_string(path).map_err(|err| {
        let cause = if err.kind() == std::io::ErrorKind::NotFound { "no such file or directory".to_string() } else { err.to_string() };
        CtlError::Usage(format!("error reading {what} {path}, open {path}: {cause}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kind_names() {
        assert_eq!(kind_name(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}})), "deployment.apps/w");
        assert_eq!(kind_name(&json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}})), "service/s");
    }
}
