//! `ctl label` and `ctl annotate`: `KEY=VALUE` sets, `KEY-` removes, an existing key is changed
//! only with `--overwrite`; each object gets a merge patch of its labels or annotations, and the
//! words kubectl prints for what happened (`labeled`, `not labeled`, `unlabeled`, `annotated`).

use serde_json::{Map, Value, json};

use crate::apply::{query, report};
use crate::printer::{Output, print};
use crate::output::outln;
use crate::patch::{FileOptions, Named, Selection, kind_prefix_of, objects};
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:
  ctl label pods web-0 tier=frontend
  ctl label pod/web-0 tier=backend --overwrite
  ctl label pods --all tier-
  ctl annotate deployment web -l app=web owner=team-a
  ctl annotate cm settings --list")]
pub struct LabelArgs {
    /// TYPE NAME… or TYPE/NAME…, then KEY=VALUE… and KEY-…
    pub args: Vec<String>,
    /// Change keys that already have a value.
    #[arg(long)]
    pub overwrite: bool,
    /// Act on the objects of TYPE matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Act on every object of TYPE in the namespace.
    #[arg(long)]
    pub all: bool,
    /// Print each object's keys and values instead of changing them.
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub files: FileOptions,
    /// yaml, json, name, jsonpath=TEMPLATE or go-template=TEMPLATE: print each changed object.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// Which of the two maps of an object's metadata the verb changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Labels,
    Annotations,
}

impl Field {
    fn key(self) -> &'static str {
        match self {
            Self::Labels => "labels",
            Self::Annotations => "annotations",
        }
    }

    fn field_manager(self) -> &'static str {
        match self {
            Self::Labels => "ctl-label",
            Self::Annotations => "ctl-annotate",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Labels => "label",
            Self::Annotations => "annotation",
        }
    }
}

/// The changes asked for, in the order given.
struct Changes {
    set: Vec<(String, String)>,
    remove: Vec<String>,
}

/// Splits the words into objects and changes as kubectl's `GetResourcesAndPairs` does: a change
/// is a word with `=` (not first) or ending in `-`, and every object comes before the changes.
fn split_words(words: &[String], field: Field) -> Result<(Vec<String>, Vec<String>), CtlError> {
    let is_change = |word: &str| (word.contains('=') && !word.starts_with('=')) || (word.ends_with('-') && word != "-");
    let at = words.iter().position(|word| is_change(word)).unwrap_or(words.len());
    if let Some(late) = words[at..].iter().find(|word| !is_change(word)) {
        return Err(CtlError::Usage(format!("all resources must be specified before {} changes: {late}", field.noun())));
    }
    Ok((words[..at].to_vec(), words[at..].to_vec()))
}

fn parse_changes(words: &[String], field: Field) -> Result<Changes, CtlError> {
    let mut changes = Changes { set: Vec::new(), remove: Vec::new() };
    for word in words {
        if let Some((key, value)) = word.split_once('=') {
            if field == Field::Labels {
                if value.contains('=') {
                    return Err(CtlError::Usage(format!("invalid label spec: {word}")));
                }
                if let Some(problem) = label_value_problem(value) {
                    return Err(CtlError::Usage(format!("invalid label value: {word:?}: {problem}")));
                }
            }
            changes.set.push((key.to_string(), value.to_string()));
        } else if let Some(key) = word.strip_suffix('-') {
            changes.remove.push(key.to_string());
        }
    }
    let both: Vec<&str> = changes.remove.iter().filter(|key| changes.set.iter().any(|(set, _)| set == *key)).map(String::as_str).collect();
    match (both.is_empty(), field) {
        (true, _) => Ok(changes),
        (false, Field::Labels) => Err(CtlError::Usage("can not both modify and remove a label in the same command".into())),
        (false, Field::Annotations) => Err(CtlError::Usage(format!(
            "can not both modify and remove the following annotation(s) in the same command: {}",
            both.join(", ")
        ))),
    }
}

/// What apimachinery's `IsValidLabelValue` finds wrong with a label value, in its words.
fn label_value_problem(value: &str) -> Option<String> {
    let mut problems = Vec::new();
    if value.len() > 63 {
        problems.push("must be no more than 63 characters".to_string());
    }
    let alphanumeric = |char: char| char.is_ascii_alphanumeric();
    let well_formed = value.is_empty()
        || (value.starts_with(alphanumeric)
            && value.ends_with(alphanumeric)
            && value.chars().all(|char| alphanumeric(char) || matches!(char, '-' | '_' | '.')));
    if !well_formed {
        problems.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string());
    }
    (!problems.is_empty()).then(|| problems.join(";"))
}

pub async fn run(config: &Config, args: &LabelArgs, field: Field) -> Result<(), CtlError> {
    let (words, change_words) = split_words(&args.args, field)?;
    let changes = parse_changes(&change_words, field)?;
    if args.all && args.selector.is_some() {
        return Err(CtlError::Usage("cannot set --all and --selector at the same time".into()));
    }
    if words.is_empty() && args.files.files.is_empty() {
        return Err(CtlError::Usage("one or more resources must be specified as <resource> <name> or <resource>/<name>".into()));
    }
    if changes.set.is_empty() && changes.remove.is_empty() && !args.list {
        return Err(CtlError::Usage(format!("at least one {} update is required", field.noun())));
    }
    if args.list && args.output.is_some() {
        return Err(CtlError::Usage("--list and --output may not be specified together".into()));
    }
    let selection = Selection { words: &words, files: &args.files, selector: args.selector.as_deref(), all: args.all };
    let verb = field.noun();
    let (client, targets) = objects(config, &selection, verb).await?;
    let mut errors = Vec::new();
    for target in &targets {
        if let Err(err) = change_one(&client, args, field, &changes, target, targets.len() == 1).await {
            errors.push(err);
        }
    }
    report(errors)
}

async fn change_one(client: &kube::Client, args: &LabelArgs, field: Field, changes: &Changes, target: &Named, only: bool) -> Result<(), CtlError> {
    let path = target.resource.path(target.namespace.as_deref(), Some(&target.name));
    let object = crate::discovery::send(client, "GET", &path, "application/json", &Value::Null).await?;
    let current = object["metadata"][field.key()].as_object();
    if !args.overwrite {
        refuse_overwrites(current, changes, field)?;
    }
    // kubectl looks for its printer only after reading the object and checking the changes.
    let output = Output::parse(args.output.as_deref())?;
    let mut wanted = current.cloned().unwrap_or_default();
    for (key, value) in &changes.set {
        wanted.insert(key.clone(), json!(value));
    }
    for key in &changes.remove {
        wanted.remove(key);
    }
    let label = format!("{}/{}", kind_prefix_of(&object, &target.resource), target.name);
    if args.list {
        if !only {
            outln!("Listing {}s for {}.{}/{}:", field.noun(), target.resource.kind, target.resource.group, target.name)?;
        }
        let indent = if only { "" } else { " " };
        // kubectl prints in Go's map order, which varies; sorted is one of its orders.
        let mut pairs: Vec<(&String, &Value)> = wanted.iter().collect();
        pairs.sort_by_key(|(key, _)| *key);
        for (key, value) in pairs {
            outln!("{indent}{key}={}", value.as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    if field == Field::Labels {
        for key in changes.remove.iter().filter(|key| current.is_none_or(|map| !map.contains_key(*key))) {
            outln!("label {key:?} not found.")?;
        }
    }
    let mut changed = object.clone();
    changed["metadata"][field.key()] = Value::Object(wanted.clone());
    let patch = json!({"metadata": {field.key(): merge_patch(current, &wanted)}});
    // A dry run prints the object as kubectl changed it (a server's dry run sends the patch,
    // but prints the same); a change, the server's answer.
    let result = if args.files.dry_run == "client" {
        changed.clone()
    } else {
        let query = query(&[("dryRun", if args.files.dry_run() { "All" } else { "" }), ("fieldManager", field.field_manager())]);
        let answer = crate::discovery::send(client, "PATCH", &format!("{path}{query}"), "application/merge-patch+json", &patch).await?;
        if args.files.dry_run() { changed.clone() } else { answer }
    };
    let suffix = args.files.dry_run_suffix();
    match (&output, field) {
        (Output::Message, Field::Annotations) => outln!("{label} annotated{suffix}")?,
        (Output::Message, Field::Labels) => outln!("{label} {}{suffix}", change_message(&object, &changed, args.overwrite))?,
        (output, _) => print(result, output, "")?,
    }
    Ok(())
}

/// kubectl's check before a change without `--overwrite`: a key may be set again to the value it
/// has, never to another.
fn refuse_overwrites(current: Option<&Map<String, Value>>, changes: &Changes, field: Field) -> Result<(), CtlError> {
    let taken: Vec<(&str, &str)> = changes
        .set
        .iter()
        .filter_map(|(key, value)| {
            let existing = current?.get(key)?.as_str()?;
            (existing != value).then_some((key.as_str(), existing))
        })
        .collect();
    if taken.is_empty() {
        return Ok(());
    }
    match field {
        Field::Labels => {
            let each: Vec<String> = taken.iter().map(|(key, value)| format!("'{key}' already has a value ({value}), and --overwrite is false")).collect();
            if let [one] = each.as_slice() {
                return Err(CtlError::Usage(one.clone()));
            }
            // kubectl prints an aggregate of errors one a line, without its `error: `.
            for line in each {
                eprintln!("{line}");
            }
            Err(CtlError::Reported(1))
        }
        Field::Annotations => {
            let each: Vec<String> = taken.iter().map(|(key, value)| format!("'{key}' already has a value ({value})")).collect();
            Err(CtlError::Usage(format!("--overwrite is false but found the following declared annotation(s): {}", each.join("; "))))
        }
    }
}

/// The merge patch from `current` to `wanted`; an object without the map gets an empty one, as
/// kubectl's patch gives it.
fn merge_patch(current: Option<&Map<String, Value>>, wanted: &Map<String, Value>) -> Value {
    let empty = Map::new();
    let current = current.unwrap_or(&empty);
    let mut patch: Map<String, Value> = wanted.iter().filter(|(key, value)| current.get(*key) != Some(*value)).map(|(k, v)| (k.clone(), v.clone())).collect();
    for key in current.keys().filter(|key| !wanted.contains_key(*key)) {
        patch.insert(key.clone(), Value::Null);
    }
    Value::Object(patch)
}

/// kubectl's `updateDataChangeMsg`: whether the object's JSON changed, and "unlabeled" when it
/// shrank without --overwrite.
fn change_message(before: &Value, after: &Value, overwrite: bool) -> &'static str {
    if before == after {
        return "not labeled";
    }
    if !overwrite && after.to_string().len() < before.to_string().len() { "unlabeled" } else { "labeled" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn words_split_into_objects_and_changes_as_kubectl_splits_them() {
        let (objects, changes) = split_words(&words("cm a b x=1 y-"), Field::Labels).unwrap();
        assert_eq!((objects, changes), (words("cm a b"), words("x=1 y-")));
        let late = split_words(&words("cm a x=1 b"), Field::Labels).unwrap_err();
        assert_eq!(late.to_string(), "all resources must be specified before label changes: b");
        let (objects, _) = split_words(&words("cm =odd -"), Field::Annotations).unwrap();
        assert_eq!(objects, words("cm =odd -"));
    }

    #[test]
    fn changes_are_checked_as_kubectl_checks_them() {
        let cases = [
            ("a=b a-", Field::Labels, "can not both modify and remove a label in the same command"),
            ("a=b a-", Field::Annotations, "can not both modify and remove the following annotation(s) in the same command: a"),
            ("a=b=c", Field::Labels, "invalid label spec: a=b=c"),
            ("a=-x", Field::Labels, "invalid label value: \"a=-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
        ];
        for (text, field, expected) in cases {
            assert_eq!(parse_changes(&words(text), field).err().map(|err| err.to_string()).as_deref(), Some(expected), "{text}");
        }
        assert!(parse_changes(&words("a=b=c x= y-"), Field::Annotations).is_ok());
    }

    #[test]
    fn overwrites_are_refused_in_kubectls_words() {
        let current = json!({"a": "1", "b": "2"});
        let changes = Changes { set: vec![("a".into(), "9".into()), ("b".into(), "2".into()), ("c".into(), "3".into())], remove: vec![] };
        let labels = refuse_overwrites(current.as_object(), &changes, Field::Labels).unwrap_err();
        assert_eq!(labels.to_string(), "'a' already has a value (1), and --overwrite is false");
        let annotations = refuse_overwrites(current.as_object(), &changes, Field::Annotations).unwrap_err();
        assert_eq!(annotations.to_string(), "--overwrite is false but found the following declared annotation(s): 'a' already has a value (1)");
    }
}
