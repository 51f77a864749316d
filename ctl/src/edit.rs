//! `ctl edit TYPE NAME`: the object as YAML in a temporary file under kubectl's header, opened in
//! `$KUBE_EDITOR`, `$EDITOR` or `vi`; what changed is sent as kubectl sends it (a strategic merge
//! patch where the kind takes one, else a JSON merge patch), and an object the server finds
//! invalid is reopened with the server's reasons as comments, as kubectl's edit loop does.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::apply::{OpenApi, PreparedPatch, ValidateArgs, prepare_patch, query};
use crate::discovery::send;
use crate::output::outln;
use crate::patch::{FileOptions, Named, Selection, kind_prefix_of, objects};
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
pub struct EditArgs {
    /// TYPE NAME, or TYPE/NAME.
    #[arg(required = true)]
    pub objects: Vec<String>,
    #[command(flatten)]
    pub validate: ValidateArgs,
    /// Print the patch sent (`Patch: {...}`) before the result.
    #[arg(long)]
    pub output_patch: bool,
}

const HEADER: &str = "# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
";

const FIELD_MANAGER: &str = "ctl-edit";

/// Why the file is reopened: a headline and its details, written as comments above the object.
struct Reason {
    head: String,
    details: Vec<String>,
}

/// kubectl's header with the reasons of the last attempt.
fn header(reasons: &[Reason]) -> String {
    let mut text = HEADER.to_string();
    for reason in reasons {
        let colon = if reason.details.is_empty() { "" } else { ":" };
        text.push_str(&format!("# {}{colon}\n", hash_on_line_break(&reason.head)));
        for detail in &reason.details {
            text.push_str(&format!("# * {}\n", hash_on_line_break(detail)));
        }
        text.push_str("#\n");
    }
    text
}

/// Keeps a multi-line reason a comment: `# ` after each line break not already followed by `#`.
fn hash_on_line_break(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(char) = chars.next() {
        match chars.peek() {
            Some(next) if char == '\n' && *next != '#' => out.push_str("\n# "),
            _ => out.push(char),
        }
    }
    out
}

/// The text without its comment lines (`#!` kept), as kubectl's `ManualStrip`.
fn manual_strip(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').filter(|line| {
        let trimmed = line.trim();
        !trimmed.starts_with('#') || trimmed.starts_with("#!")
    }).collect();
    lines.join("\n")
}

/// What kubectl compares of two versions of the file: the document, or its text when it is not
/// YAML.
#[derive(PartialEq)]
enum Stripped {
    Document(Value),
    Text(String),
}

fn stripped(text: &str) -> Stripped {
    match serde_yaml_ng::from_str::<Value>(text) {
        Ok(document) => Stripped::Document(document),
        Err(_) => Stripped::Text(manual_strip(text)),
    }
}

fn has_lines(text: &str) -> bool {
    text.lines().map(str::trim).any(|line| !line.is_empty() && !line.starts_with('#'))
}

/// The editor command as kubectl builds it: one word, words split at spaces, or the shell when
/// the setting holds quotes or backslashes.
fn editor_command(file: &Path) -> Vec<String> {
    let editor = ["KUBE_EDITOR", "EDITOR"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let path = file.display().to_string();
    if !editor.contains(' ') {
        return vec![editor, path];
    }
    if !editor.contains(['"', '\'', '\\']) {
        return editor.split(' ').map(str::to_string).chain([path]).collect();
    }
    vec!["sh".into(), "-c".into(), format!("{editor} {path:?}")]
}

/// Writes `text` to a new temporary file, runs the editor on it and reads it back.
fn launch(text: &str) -> Result<(String, PathBuf), CtlError> {
    let file = temp_file(text)?;
    let command = editor_command(&file);
    let shown = command.join(" ");
    let status = std::process::Command::new(&command[0]).args(&command[1..]).status();
    match status {
        Ok(status) if status.success() => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(CtlError::Usage(format!("unable to launch the editor {shown:?}"))),
        _ => return Err(CtlError::Usage(format!("there was a problem with the editor {shown:?}"))),
    }
    let edited = std::fs::read_to_string(&file).map_err(|err| CtlError::Usage(format!("cannot read {}: {err}", file.display())))?;
    Ok((edited, file))
}

/// A new file `ctl-edit-….yaml` in the temporary directory holding `text`, kept after ctl ends
/// (kubectl leaves the changes there when saving them fails).
fn temp_file(text: &str) -> Result<PathBuf, CtlError> {
    use std::io::Write;
    let mut file = tempfile::Builder::new().prefix("ctl-edit-").suffix(".yaml").tempfile()?;
    file.write_all(text.as_bytes())?;
    let (_, path) = file.keep().map_err(|err| CtlError::Output(err.error))?;
    Ok(path)
}

/// kubectl's note before an error that ends the edit with the user's changes kept.
fn preserved(err: CtlError, file: &Path) -> CtlError {
    if file.exists() {
        eprintln!("A copy of your changes has been stored to {:?}", file.display().to_string());
    }
    err
}

fn without_managed_fields(mut object: Value) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    object
}

/// How an attempt to save ended.
enum Saved {
    Done,
    /// The server found the object invalid: reopen with these reasons.
    Invalid(Vec<Reason>),
}

pub async fn run(config: &Config, args: &EditArgs) -> Result<(), CtlError> {
    let validation = args.validate.field_validation()?;
    let files = FileOptions { files: Vec::new(), recursive: false, dry_run: "none".into() };
    let selection = Selection { words: &args.objects, files: &files, selector: None, all: false };
    let (client, targets) = objects(config, &selection, "edit").await?;
    let [target] = targets.as_slice() else {
        return Err(CtlError::Usage("ctl edit edits one object at a time".into()));
    };
    let path = target.resource.path(target.namespace.as_deref(), Some(&target.name));
    let mut current = without_managed_fields(send(&client, "GET", &path, "application/json", &Value::Null).await?);
    let yaml = crate::yaml::to_string(&current).map_err(|err| CtlError::Usage(err.to_string()))?;
    let original = format!("{HEADER}{yaml}");
    let mut text = original.clone();
    let mut previous: Option<(String, PathBuf)> = None;
    loop {
        let (edited, file) = launch(&text)?;
        if let Some((before, _)) = &previous
            && stripped(before) == stripped(&edited)
        {
            return Err(preserved(CtlError::Usage("Edit cancelled, no valid changes were saved.".into()), &file));
        }
        if let Some((_, old)) = previous.take() {
            let _ = std::fs::remove_file(old);
        }
        if stripped(&original) == stripped(&edited) {
            let _ = std::fs::remove_file(&file);
            eprintln!("Edit cancelled, no changes made.");
            return Ok(());
        }
        if !has_lines(&edited) {
            let _ = std::fs::remove_file(&file);
            eprintln!("Edit cancelled, saved file was empty.");
            return Ok(());
        }
        let reasons = match serde_yaml_ng::from_str::<Value>(&manual_strip(&edited)) {
            Err(err) => vec![Reason { head: format!("The edited file had a syntax error: {err}"), details: Vec::new() }],
            Ok(object) => match save(&client, target, &current, object.clone(), validation, args.output_patch, &file).await? {
                Saved::Done => {
                    let _ = std::fs::remove_file(&file);
                    return Ok(());
                }
                // As kubectl, the next attempt's patch starts from this one's object.
                Saved::Invalid(reasons) => {
                    current = without_managed_fields(object);
                    reasons
                }
            },
        };
        text = format!("{}{}", header(&reasons), manual_strip(&edited));
        previous = Some((edited, file));
    }
}

/// Sends the change from `current` to `edited` and prints the result; an invalid object comes
/// back as the reasons to reopen the file with.
async fn save(client: &kube::Client, target: &Named, current: &Value, edited: Value, validation: &str, output_patch: bool, file: &Path) -> Result<Saved, CtlError> {
    let resource = &target.resource;
    let label = format!("{}/{}", kind_prefix_of(current, resource), target.name);
    if let Some(namespace) = edited["metadata"]["namespace"].as_str().filter(|namespace| Some(*namespace) != target.namespace.as_deref()) {
        let flag = target.namespace.clone().unwrap_or_default();
        return Err(preserved(CtlError::Usage(format!(
            "the namespace from the provided object {namespace:?} does not match the namespace {flag:?}. You must pass '--namespace={namespace}' to perform this operation."
        )), file));
    }
    let edited = without_managed_fields(edited);
    if edited == *current {
        outln!("{label} skipped")?;
        return Ok(Saved::Done);
    }
    if ["apiVersion", "kind"].iter().any(|key| edited[key] != current[key]) || edited["metadata"]["name"] != current["metadata"]["name"] {
        return Err(preserved(CtlError::Usage("At least one of apiVersion, kind and name was changed".into()), file));
    }
    // As kubectl's edit: the three-way patch of apply, with the object before the edit as the
    // original.
    let PreparedPatch { patch, content_type, .. } = prepare_patch(client, resource, current, &edited, current, &mut OpenApi::default()).await;
    if output_patch {
        outln!("Patch: {}", crate::strategic::go_json(&patch))?;
    }
    let path = format!("{}{}", resource.path(target.namespace.as_deref(), Some(&target.name)), query(&[("fieldManager", FIELD_MANAGER), ("fieldValidation", validation)]));
    let request = http::Request::patch(&path)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::ACCEPT, "application/json")
        .body(patch.to_string().into_bytes())
        .map_err(|err| CtlError::Usage(format!("bad request {path}: {err}")))?;
    // kube keeps the server's Status whole here, with the causes an invalid object reopens with.
    let status = match client.request::<Value>(request).await {
        Ok(_) => {
            outln!("{label} edited")?;
            return Ok(Saved::Done);
        }
        Err(kube::Error::Api(status)) => status,
        Err(other) => return Err(other.into()),
    };
    let named = if resource.group.is_empty() { resource.plural.clone() } else { format!("{}.{}", resource.plural, resource.group) };
    let name = &target.name;
    match status.reason.as_str() {
        "Invalid" => {
            eprintln!("error: {named} {name:?} is invalid");
            let details = status.details.iter().flat_map(|details| &details.causes).map(|cause| format!("{}: {}", cause.field, cause.message)).collect();
            Ok(Saved::Invalid(vec![Reason { head: format!("{named} {name:?} was not valid"), details }]))
        }
        "NotFound" => {
            eprintln!("error: {named} {name:?} could not be found on the server");
            eprintln!("The edits you made on deleted resources have been saved to {:?}", file.display().to_string());
            Err(CtlError::Reported(1))
        }
        _ => {
            eprintln!("error: {named} {name:?} could not be patched: {}", status.message);
            eprintln!("You can run `ctl replace -f {}` to try this update again.", file.display());
            Err(CtlError::Reported(1))
        }
    }
}
