//! Reading manifests the way `kubectl apply -f` does, refusing bad ones before anything is sent.
//!
//! Input is a file, a directory (its `.yaml`/`.yml`/`.json` files in name order, subdirectories
//! too with `recursive`), or `-` for standard input. A file holds YAML documents separated by
//! `---` lines, or a stream of JSON objects; an object with an `items` array (`kind: List`,
//! `ConfigMapList`, ...) is expanded into its items, as kubectl's unstructured decoder does.
//!
//! Every error names the file, the 1-based document number and a line of the whole file, so a
//! person can go straight to it. If any document of a file is bad the whole read fails (nothing
//! is applied); the first problem is reported along with how many other documents are bad.
//!
//! Choices worth knowing:
//! - A document's `line` is its first line that is neither blank nor only a comment (for the
//!   demo app, line 3, past the header comment), since that is where a person looks.
//! - Comments before a leading `---` are not a document (as in YAML); an empty or comments-only
//!   document between two `---` lines is skipped but keeps its number, so later numbers match
//!   what a person counts in the file.
//! - Scalars follow YAML 1.2 as serde_yaml_ng resolves them: `on`, `yes`, `off`, `no` stay
//!   strings, while kubectl (go-yaml, YAML 1.1) turns them into booleans. Only `true`/`false`
//!   (any case) are booleans here. Quoted scalars are always strings; `2` is a number.
//! - Mapping keys that are numbers or booleans become their text (`1:` → `"1"`), as
//!   sigs.k8s.io/yaml does when converting to JSON; `.inf` and `.nan` have no JSON form and are
//!   refused, as kubectl's JSON encoder refuses them.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

/// One object read from a manifest, ready to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The file path as given (or found in a directory), or `-` for standard input.
    pub source: String,
    /// 1-based index of the document in the file; the items of a list share their list's.
    pub document: usize,
    /// Line of the whole file where the document's content starts.
    pub line: usize,
    pub object: Json,
}

/// Where in the input a problem is: file, document and line (and column when known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub source: String,
    pub document: usize,
    pub line: usize,
    pub column: Option<usize>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: document {}, line {}",
            self.source, self.document, self.line
        )?;
        if let Some(column) = self.column {
            write!(f, ", column {column}")?;
        }
        Ok(())
    }
}

/// Why manifests could not be read. Display gives a message a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file, directory or standard input could not be read (or was not UTF-8).
    #[error("{path}: cannot read: {error}")]
    Read { path: String, #[source] error: std::io::Error },
    /// A tab in the indentation: YAML forbids it, and the seed notes' examples use it.
    #[error("{at}: a tab character is used for indentation; YAML allows only spaces")]
    TabIndentation { at: Position },
    /// The YAML or JSON parser refused the text.
    #[error("{at}: invalid syntax: {message}")]
    Syntax { at: Position, message: String },
    /// A document is a list, a string, a number... instead of an object.
    #[error("{at}: expected an object (a mapping with apiVersion, kind and metadata), found {found}")]
    NotAMapping { at: Position, found: &'static str },
    /// A required field (`apiVersion`, `kind`, `metadata.name`) is absent or empty.
    #[error("{at}: missing \"{field}\"{}", if field.ends_with("metadata.name") { " (or \"metadata.generateName\")" } else { "" })]
    MissingField { at: Position, field: String },
    /// A field has the wrong type, e.g. `kind: 3` or `metadata: []`.
    #[error("{at}: \"{field}\" must be {expected}, found {found}")]
    WrongType {
        at: Position,
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    /// A value JSON cannot carry (`.inf`, `.nan`, a list used as a mapping key).
    #[error("{at}: \"{field}\": {problem}")]
    Unrepresentable {
        at: Position,
        field: String,
        problem: &'static str,
    },
    /// More than one document of the file is bad: the first problem, and how many others.
    #[error("{first} ({others} more {} bad in this file; nothing was applied)", if *others == 1 { "document is" } else { "documents are" })]
    Several {
        #[source]
        first: Box<ManifestError>,
        others: usize,
    },
}

impl ManifestError {
    /// Where the problem is, when it is inside a document.
    pub fn position(&self) -> Option<&Position> {
        match self {
            Self::Read { .. } => None,
            Self::TabIndentation { at }
            | Self::Syntax { at, .. }
            | Self::NotAMapping { at, .. }
            | Self::MissingField { at, .. }
            | Self::WrongType { at, .. }
            | Self::Unrepresentable { at, .. } => Some(at),
            Self::Several { first, .. } => first.position(),
        }
    }
}

/// Reads `-f` arguments: a file, a directory (its .yaml/.yml/.json files in name order; with
/// `recursive`, subdirectories too), or "-" for standard input (pass the reader in for
/// testability). Stops at the first bad file.
///
/// A file named explicitly is read whatever its extension, as kubectl does; the extension filter
/// only applies inside directories. A directory with no manifests yields nothing; whether that
/// is an error ("no objects passed to apply") is the caller's call.
pub fn read_paths(
    paths: &[PathBuf],
    recursive: bool,
    stdin: &mut dyn Read,
) -> Result<Vec<Manifest>, ManifestError> {
    let mut manifests = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .map_err(|error| ManifestError::Read {
                    path: "-".to_owned(),
                    error,
                })?;
            manifests.extend(parse("-", &text)?);
            continue;
        }
        let metadata = std::fs::metadata(path).map_err(|error| read_error(path, error))?;
        let files = if metadata.is_dir() {
            let mut files = Vec::new();
            collect_directory(path, recursive, &mut files)?;
            files
        } else {
            vec![path.clone()]
        };
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|error| read_error(&file, error))?;
            manifests.extend(parse(&file.display().to_string(), &text)?);
        }
    }
    Ok(manifests)
}

fn read_error(path: &Path, error: std::io::Error) -> ManifestError {
    ManifestError::Read {
        path: path.display().to_string(),
        error,
    }
}

/// Walks a directory like kubectl's `filepath.Walk`: entries in name order, descending into
/// subdirectories where they sort (only with `recursive`), keeping the extensions kubectl knows.
fn collect_directory(
    directory: &Path,
    recursive: bool,
    files: &mut Vec<PathBuf>,
) -> Result<(), ManifestError> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(directory).map_err(|error| read_error(directory, error))? {
        let entry = entry.map_err(|error| read_error(directory, error))?;
        // The entry's own type, not its target's: like Walk (lstat), symlinked directories are
        // not followed, so a link loop cannot make the walk endless.
        let file_type = entry
            .file_type()
            .map_err(|error| read_error(&entry.path(), error))?;
        entries.push((entry.file_name(), entry.path(), file_type.is_dir()));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, path, is_dir) in entries {
        if is_dir {
            if recursive {
                collect_directory(&path, recursive, files)?;
            }
        } else if matches!(
            path.extension().and_then(|extension| extension.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            files.push(path);
        }
    }
    Ok(())
}

/// Parses one file's text (multi-document YAML separated by `---`, or a JSON object, or a
/// JSON/YAML `kind: List` whose items are expanded as kubectl does). `source` names the file in
/// the results and in errors.
pub fn parse(source: &str, text: &str) -> Result<Vec<Manifest>, ManifestError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // kubectl's YAMLOrJSONDecoder sniffs the same way: JSON if the first non-space is `{`.
    let results = if text.trim_start().starts_with('{') {
        parse_json(source, text)
    } else {
        parse_yaml(source, text)
    };
    let mut manifests = Vec::new();
    let mut first_error = None;
    let mut others = 0;
    for result in results {
        match result {
            Ok(found) => manifests.extend(found),
            Err(error) if first_error.is_none() => first_error = Some(error),
            Err(_) => others += 1,
        }
    }
    match first_error {
        None => Ok(manifests),
        Some(first) if others == 0 => Err(first),
        Some(first) => Err(ManifestError::Several {
            first: Box::new(first),
            others,
        }),
    }
}

/// One document's outcome: its objects (several for a list), or what is wrong with it.
type DocumentResult = Result<Vec<Manifest>, ManifestError>;

fn parse_yaml(source: &str, text: &str) -> Vec<DocumentResult> {
    let mut chunks = split_documents(text);
    // Comments before a leading `---` are a preamble in YAML, not a document of their own.
    if chunks.len() > 1
        && chunks
            .first()
            .is_some_and(|chunk| chunk.start_line.is_none())
    {
        chunks.remove(0);
    }
    let mut results = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        let Some(start_line) = chunk.start_line else {
            continue; // empty or comments only: skipped, but its number stays taken
        };
        let document = index + 1;
        let at = |line, column| Position {
            source: source.to_owned(),
            document,
            line,
            column,
        };
        results.push(match parse_yaml_document(chunk) {
            Ok(yaml) => yaml_to_json(&yaml, "")
                .map_err(|(field, problem)| ManifestError::Unrepresentable {
                    at: at(start_line, None),
                    field,
                    problem,
                })
                .and_then(|object| validate(object, at(start_line, None))),
            Err(error) => Err(yaml_error(chunk, error, at)),
        });
    }
    results
}

/// A document's text as split from the file.
struct Chunk<'a> {
    text: &'a str,
    /// Line of the whole file where `text` begins.
    first_line: usize,
    /// First line with content (not blank, not only a comment); `None` for an empty document.
    start_line: Option<usize>,
}

/// Splits on separator lines the way kubectl's YAMLReader does: a line starting with `---` and
/// followed by nothing but blanks or a comment. (`--- {a: 1}` is not split, so the YAML parser
/// sees two documents and says so.) Splitting ourselves, rather than letting the parser iterate
/// documents, lets one bad document be reported without hiding the others' problems.
fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut chunk_start = 0;
    let mut chunk_first_line = 1;
    let mut start_line = None;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let line_number = index + 1;
        let is_separator = line.strip_prefix("---").is_some_and(|rest| {
            let rest = rest.trim();
            rest.is_empty() || rest.starts_with('#')
        });
        if is_separator {
            chunks.push(Chunk {
                text: &text[chunk_start..offset],
                first_line: chunk_first_line,
                start_line,
            });
            chunk_start = offset + line.len();
            chunk_first_line = line_number + 1;
            start_line = None;
        } else if start_line.is_none() && has_content(line) {
            start_line = Some(line_number);
        }
        offset += line.len();
    }
    chunks.push(Chunk {
        text: &text[chunk_start..],
        first_line: chunk_first_line,
        start_line,
    });
    chunks
}

fn has_content(line: &str) -> bool {
    let trimmed = line.trim();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

fn parse_yaml_document(chunk: &Chunk<'_>) -> Result<Yaml, serde_yaml_ng::Error> {
    // Blank lines in place of the earlier documents make the parser's line numbers (in its
    // location and inside its message) lines of the whole file, with columns untouched.
    let mut padded = "\n".repeat(chunk.first_line - 1);
    padded.push_str(chunk.text);
    let mut yaml: Yaml = serde_yaml_ng::from_str(&padded)?;
    // `<<: *defaults` merge keys, which go-yaml (and so kubectl) honours.
    yaml.apply_merge()?;
    Ok(yaml)
}

fn yaml_error(
    chunk: &Chunk<'_>,
    error: serde_yaml_ng::Error,
    at: impl Fn(usize, Option<usize>) -> Position,
) -> ManifestError {
    let location = error
        .location()
        .map(|location| (location.line(), location.column()));
    // The parser's complaint about a tab ("found character that cannot start any token") does
    // not say what to do; name the tab instead, if one indents a line at or before the failure.
    // Tabs are only blamed when parsing fails, since they are legal inside block scalars.
    if let Some(tab_line) = first_tab_indented_line(chunk)
        && location.is_none_or(|(line, _)| tab_line <= line)
    {
        return ManifestError::TabIndentation {
            at: at(tab_line, None),
        };
    }
    let mut message = error.to_string();
    let (line, column) = match location {
        Some((line, column)) => {
            // The location is in our prefix already; don't repeat it in the parser's words.
            message = message.replacen(&format!(" at line {line} column {column}"), "", 1);
            (line, Some(column))
        }
        None => (chunk.start_line.unwrap_or(chunk.first_line), None),
    };
    ManifestError::Syntax {
        at: at(line, column),
        message,
    }
}

fn first_tab_indented_line(chunk: &Chunk<'_>) -> Option<usize> {
    chunk.text.lines().enumerate().find_map(|(index, line)| {
        let rest = line.trim_start_matches([' ', '\t']);
        let indentation = &line[..line.len() - rest.len()];
        let content = !rest.trim().is_empty() && !rest.starts_with('#');
        (content && indentation.contains('\t')).then_some(chunk.first_line + index)
    })
}

/// Converts parsed YAML to JSON. On failure, returns the field path and what is wrong.
fn yaml_to_json(yaml: &Yaml, path: &str) -> Result<Json, (String, &'static str)> {
    Ok(match yaml {
        Yaml::Null => Json::Null,
        Yaml::Bool(value) => Json::Bool(*value),
        Yaml::Number(number) => {
            if let Some(value) = number.as_i64() {
                Json::from(value)
            } else if let Some(value) = number.as_u64() {
                Json::from(value)
            } else {
                let value = number.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(value)
                    .map(Json::Number)
                    .ok_or_else(|| {
                        (
                            field_path(path),
                            "infinity and NaN cannot be represented in JSON",
                        )
                    })?
            }
        }
        Yaml::String(value) => Json::String(value.clone()),
        Yaml::Sequence(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| yaml_to_json(item, &format!("{path}[{index}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut object = serde_json::Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(key) => key.clone(),
                    Yaml::Number(key) => key.to_string(),
                    Yaml::Bool(key) => key.to_string(),
                    Yaml::Null => "null".to_owned(),
                    _ => {
                        return Err((
                            field_path(path),
                            "a mapping key must be a string, not a list or mapping",
                        ));
                    }
                };
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                object.insert(key, yaml_to_json(value, &child)?);
            }
            Json::Object(object)
        }
        // Tags (`!!str`, custom `!thing`) have no JSON form; the value under them is what counts.
        Yaml::Tagged(tagged) => yaml_to_json(&tagged.value, path)?,
    })
}

fn field_path(path: &str) -> String {
    if path.is_empty() {
        "(document)".to_owned()
    } else {
        path.to_owned()
    }
}

fn parse_json(source: &str, text: &str) -> Vec<DocumentResult> {
    let mut results = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Json>();
    let mut end = 0;
    for document in 1.. {
        let start = end + (text[end..].len() - text[end..].trim_start().len());
        let line = line_of(text, start);
        let at = |line, column| Position {
            source: source.to_owned(),
            document,
            line,
            column,
        };
        match stream.next() {
            None => break,
            Some(Ok(object)) => results.push(validate(object, at(line, None))),
            Some(Err(error)) => {
                let (line, column) = (error.line(), error.column());
                let message =
                    error
                        .to_string()
                        .replacen(&format!(" at line {line} column {column}"), "", 1);
                results.push(Err(ManifestError::Syntax {
                    at: at(line, Some(column)),
                    message,
                }));
                // The stream cannot resynchronise after a syntax error.
                break;
            }
        }
        end = stream.byte_offset();
    }
    results
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// Checks one document's object and expands lists, as kubectl does before sending anything.
fn validate(object: Json, at: Position) -> DocumentResult {
    let mut manifests = Vec::new();
    validate_object(object, &at, "", &mut manifests)?;
    Ok(manifests)
}

fn validate_object(
    object: Json,
    at: &Position,
    prefix: &str,
    manifests: &mut Vec<Manifest>,
) -> Result<(), ManifestError> {
    let Json::Object(mut map) = object else {
        return Err(ManifestError::NotAMapping {
            at: at.clone(),
            found: json_type(&object),
        });
    };
    let field = |name: &str| format!("{prefix}{name}");
    let api_version = required_string(&map, "apiVersion", at, &field)?.to_owned();
    let kind = required_string(&map, "kind", at, &field)?.to_owned();

    // kubectl's unstructured decoder treats any object with `items` as a list and sends the items
    // one by one; items of a typed list (`ConfigMapList`) that name neither apiVersion nor kind
    // take the list's apiVersion and the kind without "List".
    if let Some(items) = map.remove("items").filter(|items| !items.is_null()) {
        let Json::Array(items) = items else {
            return Err(ManifestError::WrongType {
                at: at.clone(),
                field: field("items"),
                expected: "a list",
                found: json_type(&items),
            });
        };
        let item_kind = kind
            .strip_suffix("List")
            .filter(|item_kind| !item_kind.is_empty());
        for (index, mut item) in items.into_iter().enumerate() {
            if let (Some(item_kind), Json::Object(item_map)) = (item_kind, &mut item)
                && !item_map.contains_key("apiVersion")
                && !item_map.contains_key("kind")
            {
                item_map.insert("apiVersion".to_owned(), Json::from(api_version.clone()));
                item_map.insert("kind".to_owned(), Json::from(item_kind));
            }
            validate_object(item, at, &format!("{prefix}items[{index}]."), manifests)?;
        }
        return Ok(());
    }

    match map.get("metadata") {
        None | Some(Json::Null) => {
            return Err(ManifestError::MissingField {
                at: at.clone(),
                field: field("metadata.name"),
            });
        }
        Some(Json::Object(metadata)) => {
            let name = optional_string(metadata, "name", at, &|name| {
                field(&format!("metadata.{name}"))
            })?;
            let generate_name = optional_string(metadata, "generateName", at, &|name| {
                field(&format!("metadata.{name}"))
            })?;
            if name.is_none() && generate_name.is_none() {
                return Err(ManifestError::MissingField {
                    at: at.clone(),
                    field: field("metadata.name"),
                });
            }
        }
        Some(other) => {
            return Err(ManifestError::WrongType {
                at: at.clone(),
                field: field("metadata"),
                expected: "a mapping",
                found: json_type(other),
            });
        }
    }
    manifests.push(Manifest {
        source: at.source.clone(),
        document: at.document,
        line: at.line,
        object: Json::Object(map),
    });
    Ok(())
}

/// A string field that must be present and non-empty.
fn required_string<'a>(
    map: &'a serde_json::Map<String, Json>,
    name: &str,
    at: &Position,
    field: &dyn Fn(&str) -> String,
) -> Result<&'a str, ManifestError> {
    optional_string(map, name, at, field)?.ok_or_else(|| ManifestError::MissingField {
        at: at.clone(),
        field: field(name),
    })
}

/// A string field that may be absent (or null, or empty, which the apiserver treats as absent)
/// but must be a string when present.
fn optional_string<'a>(
    map: &'a serde_json::Map<String, Json>,
    name: &str,
    at: &Position,
    field: &dyn Fn(&str) -> String,
) -> Result<Option<&'a str>, ManifestError> {
    match map.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(value)) if value.is_empty() => Ok(None),
        Some(Json::String(value)) => Ok(Some(value)),
        Some(other) => Err(ManifestError::WrongType {
            at: at.clone(),
            field: field(name),
            expected: "a string",
            found: json_type(other),
        }),
    }
}

fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "nothing (null)",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

    use super::*;

    fn repository_file(path: &str) -> (String, String) {
        let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("{full}: {error}"));
        (path.to_owned(), text)
    }

    /// (document, line, kind, name) of each manifest, for compact expectations.
    fn summary(manifests: &[Manifest]) -> Vec<(usize, usize, String, String)> {
        manifests
            .iter()
            .map(|manifest| {
                let text = |pointer: &str| {
                    manifest
                        .object
                        .pointer(pointer)
                        .and_then(Json::as_str)
                        .unwrap_or("?")
                        .to_owned()
                };
                (
                    manifest.document,
                    manifest.line,
                    text("/kind"),
                    text("/metadata/name"),
                )
            })
            .collect()
    }

    fn rows(expected: &[(usize, usize, &str, &str)]) -> Vec<(usize, usize, String, String)> {
        expected
            .iter()
            .map(|(document, line, kind, name)| {
                (*document, *line, kind.to_string(), name.to_string())
            })
            .collect()
    }

    #[test]
    fn demo_app_yields_its_four_objects() {
        let (source, text) = repository_file("manifests/demo/app.yaml");
        let manifests = parse(&source, &text).unwrap();
        assert_eq!(
            summary(&manifests),
            rows(&[
                (1, 3, "ConfigMap", "example-config"),
                (2, 14, "Secret", "example-secret"),
                (3, 23, "Deployment", "example"),
                (4, 88, "Service", "example-service"),
            ])
        );
        assert!(
            manifests
                .iter()
                .all(|manifest| manifest.source == "manifests/demo/app.yaml")
        );
        assert_eq!(
            manifests[2].object.pointer("/spec/replicas"),
            Some(&Json::from(2))
        );
        assert_eq!(
            manifests[2]
                .object
                .pointer("/spec/template/spec/containers/0/command/3"),
            Some(&Json::from("5000"))
        );
    }

    #[test]
    fn seed_notes_tabs_get_the_tab_message() {
        let (source, text) = repository_file("manifests/bad/tabs.yaml");
        let error = parse(&source, &text).unwrap_err();
        assert!(
            matches!(error, ManifestError::TabIndentation { .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "manifests/bad/tabs.yaml: document 1, line 4: \
             a tab character is used for indentation; YAML allows only spaces"
        );
    }

    const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";

    #[test]
    fn valid_inputs() {
        let cases: &[(&str, &str, &[(usize, usize, &str, &str)])] = &[
            ("single document", CONFIG_MAP, &[(1, 1, "ConfigMap", "a")]),
            (
                "separator at the start",
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n",
                &[(1, 2, "Pod", "p")],
            ),
            (
                "comments before a leading separator are no document",
                "# header\n\n--- # first\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n",
                &[(1, 4, "Pod", "p")],
            ),
            (
                "comments-only and empty documents are counted but skipped",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n---\n# only a comment\n---\n\n---\n\
                 apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n---\n",
                &[(1, 1, "Pod", "p"), (4, 10, "Service", "s")],
            ),
            ("comments only", "# nothing here\n\n", &[]),
            ("empty file", "", &[]),
            (
                "generateName instead of name, CRLF line ends",
                "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  generateName: p-\r\n---\r\n\
                 apiVersion: v1\r\nkind: Pod\r\nmetadata: {name: q}\r\n",
                &[(1, 1, "Pod", "?"), (2, 6, "Pod", "q")],
            ),
            (
                "JSON object",
                "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Secret\",\n  \"metadata\": {\"name\": \"s\"}\n}\n",
                &[(1, 1, "Secret", "s")],
            ),
            (
                "JSON stream",
                "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}}\n\n\
                 {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"b\"}}\n",
                &[(1, 1, "Pod", "a"), (2, 3, "Pod", "b")],
            ),
            (
                "YAML kind: List is expanded",
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n\
                 - apiVersion: v1\n  kind: Service\n  metadata: {name: b}\n",
                &[(1, 1, "Pod", "a"), (1, 1, "Service", "b")],
            ),
            (
                "JSON List after a YAML-looking comment-free start",
                "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\
                 {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}}]}",
                &[(1, 1, "Pod", "a")],
            ),
            (
                "typed list items take the list's kind",
                "apiVersion: v1\nkind: ConfigMapList\nitems:\n- metadata: {name: a}\n",
                &[(1, 1, "ConfigMap", "a")],
            ),
            (
                "merge keys",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  <<: {name: merged}\n",
                &[(1, 1, "Pod", "merged")],
            ),
        ];
        for (name, text, expected) in cases {
            let manifests =
                parse("in.yaml", text).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(summary(&manifests), rows(expected), "{name}");
        }
    }

    #[test]
    fn values_keep_their_types() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {1: one, true: yes}\n\
                    spec:\n  replicas: 2\n  quoted: \"2\"\n  ratio: 0.5\n  big: 18446744073709551615\n  \
                    on_word: on\n  yes_word: yes\n  no_word: No\n  boolean: True\n  nothing: ~\n  \
                    tagged: !!str 3\n  octal: 0o17\n";
        let object = &parse("in.yaml", text).unwrap()[0].object;
        let cases: &[(&str, Json)] = &[
            ("/spec/replicas", Json::from(2)),
            ("/spec/quoted", Json::from("2")),
            ("/spec/ratio", Json::from(0.5)),
            ("/spec/big", Json::from(u64::MAX)),
            // YAML 1.2 as serde_yaml_ng resolves it: these stay strings (kubectl says booleans).
            ("/spec/on_word", Json::from("on")),
            ("/spec/yes_word", Json::from("yes")),
            ("/spec/no_word", Json::from("No")),
            ("/spec/boolean", Json::from(true)),
            ("/spec/nothing", Json::Null),
            ("/spec/tagged", Json::from("3")),
            ("/spec/octal", Json::from(15)),
            ("/metadata/labels/1", Json::from("one")),
            ("/metadata/labels/true", Json::from("yes")),
        ];
        for (pointer, expected) in cases {
            assert_eq!(object.pointer(pointer), Some(expected), "{pointer}");
        }
    }

    #[test]
    fn bad_inputs_say_where_and_what() {
        let three = |second: &str| {
            format!(
                "{CONFIG_MAP}---\n{second}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
            )
        };
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "missing kind in document 2 of 3",
                three("apiVersion: v1\nmetadata:\n  name: b\n"),
                "in.yaml: document 2, line 6: missing \"kind\"",
            ),
            (
                "missing apiVersion after a comment",
                "# why\n\nkind: Pod\nmetadata: {name: a}\n".to_owned(),
                "in.yaml: document 1, line 3: missing \"apiVersion\"",
            ),
            (
                "missing name",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {a: b}\n".to_owned(),
                "in.yaml: document 1, line 1: missing \"metadata.name\" (or \"metadata.generateName\")",
            ),
            (
                "missing metadata",
                "apiVersion: v1\nkind: Pod\n".to_owned(),
                "in.yaml: document 1, line 1: missing \"metadata.name\" (or \"metadata.generateName\")",
            ),
            (
                "empty kind",
                "apiVersion: v1\nkind: \"\"\nmetadata: {name: a}\n".to_owned(),
                "in.yaml: document 1, line 1: missing \"kind\"",
            ),
            (
                "kind not a string",
                "apiVersion: v1\nkind: 3\nmetadata: {name: a}\n".to_owned(),
                "in.yaml: document 1, line 1: \"kind\" must be a string, found a number",
            ),
            (
                "metadata not a mapping",
                "apiVersion: v1\nkind: Pod\nmetadata: [a]\n".to_owned(),
                "in.yaml: document 1, line 1: \"metadata\" must be a mapping, found a list",
            ),
            (
                "document is a list",
                "---\n- a\n- b\n".to_owned(),
                "in.yaml: document 1, line 2: expected an object (a mapping with apiVersion, kind and \
                 metadata), found a list",
            ),
            (
                "document is a string",
                three("just words\n"),
                "in.yaml: document 2, line 6: expected an object (a mapping with apiVersion, kind and \
                 metadata), found a string",
            ),
            (
                "list item without kind",
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n\
                 - apiVersion: v1\n  metadata: {name: b}\n"
                    .to_owned(),
                "in.yaml: document 1, line 1: missing \"items[1].kind\"",
            ),
            (
                "items not a list",
                "apiVersion: v1\nkind: List\nitems: {}\n".to_owned(),
                "in.yaml: document 1, line 1: \"items\" must be a list, found a mapping",
            ),
            (
                "infinity",
                "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  x: [1, .inf]\n".to_owned(),
                "in.yaml: document 1, line 1: \"spec.x[1]\": infinity and NaN cannot be represented in JSON",
            ),
            (
                "tab after a valid document names the tab line",
                format!("{CONFIG_MAP}---\napiVersion: v1\nkind: Pod\nmetadata:\n\tname: p\n"),
                "in.yaml: document 2, line 9: a tab character is used for indentation; YAML allows only spaces",
            ),
            (
                "JSON missing kind",
                "{\"apiVersion\": \"v1\", \"metadata\": {\"name\": \"a\"}}".to_owned(),
                "in.yaml: document 1, line 1: missing \"kind\"",
            ),
            (
                "JSON array in a stream",
                "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}}\n[1]\n".to_owned(),
                "in.yaml: document 2, line 2: expected an object (a mapping with apiVersion, kind and \
                 metadata), found a list",
            ),
            (
                "two bad documents: the first, and a count",
                three("apiVersion: v1\nmetadata:\n  name: b\n").replace("kind: Pod\n", ""),
                "in.yaml: document 2, line 6: missing \"kind\" (1 more document is bad in this file; \
                 nothing was applied)",
            ),
        ];
        for (name, text, expected) in &cases {
            match parse("in.yaml", text) {
                Ok(manifests) => panic!("{name}: accepted {manifests:?}"),
                Err(error) => assert_eq!(error.to_string(), *expected, "{name}"),
            }
        }
    }

    #[test]
    fn syntax_error_lines_are_lines_of_the_file() {
        // Deep in document 3 of a file: a container spec from line 13 on.
        let deep = |line_18: &str| {
            format!(
                "{CONFIG_MAP}---\n{CONFIG_MAP}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n\
                 spec:\n  containers:\n  - name: c\n{line_18}\n    command: [a, b]\n"
            )
        };
        // (text, document, line, column, words the message must have) — lines of the whole file.
        let cases: &[(String, usize, usize, usize, &str)] = &[
            (
                deep("    image: busybox: latest"),
                3,
                18,
                19,
                "mapping values are not allowed",
            ),
            // The parser only notices at the end; its context still points at line 18.
            (
                deep("    image: \"busybox"),
                3,
                20,
                1,
                "quoted scalar at line 18 column 12",
            ),
            (
                "apiVersion: v1\nkind: [Pod\n".to_owned(),
                1,
                3,
                1,
                "flow sequence",
            ),
            (
                format!("{CONFIG_MAP}---\n---\nc: d\n  e: f\n"),
                3,
                8,
                4,
                "mapping values",
            ),
            (
                "{\"apiVersion\": \"v1\",\n \"kind\": Pod}\n".to_owned(),
                1,
                2,
                10,
                "expected value",
            ),
        ];
        for (text, document, line, column, words) in cases {
            let error = parse("in.yaml", text).unwrap_err();
            assert!(error.to_string().contains(words), "{text:?}: {error}");
            assert!(
                matches!(error, ManifestError::Syntax { .. }),
                "{text:?}: {error:?}"
            );
            let position = error.position().unwrap();
            assert_eq!(
                (position.document, position.line, position.column),
                (*document, *line, Some(*column)),
                "{text:?}: {error}"
            );
            assert!(
                error.to_string().starts_with(&format!(
                    "in.yaml: document {document}, line {line}, column {column}: "
                )),
                "{error}"
            );
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn pod(name: &str) -> String {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n")
    }

    #[test]
    fn directories_files_and_stdin() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        write(&root.join("b.yaml"), &pod("b"));
        write(
            &root.join("a.json"),
            "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}}",
        );
        write(&root.join("README.md"), "not a manifest: [");
        write(&root.join("nested/c.yml"), &pod("c"));
        write(&root.join("nested/deeper/d.yaml"), &pod("d"));
        write(&root.join("notes.txt"), &pod("explicit"));
        let names = |manifests: &[Manifest]| -> Vec<String> {
            summary(manifests).into_iter().map(|row| row.3).collect()
        };
        let cases: &[(&str, Vec<PathBuf>, bool, &[&str])] = &[
            ("directory", vec![root.to_path_buf()], false, &["a", "b"]),
            (
                "directory, recursive",
                vec![root.to_path_buf()],
                true,
                &["a", "b", "c", "d"],
            ),
            (
                "explicit file of any extension",
                vec![root.join("notes.txt")],
                false,
                &["explicit"],
            ),
            (
                "stdin between files",
                vec![root.join("b.yaml"), "-".into(), root.join("nested")],
                false,
                &["b", "stdin", "c"],
            ),
        ];
        for (name, paths, recursive, expected) in cases {
            let stdin = pod("stdin");
            let manifests = read_paths(paths, *recursive, &mut stdin.as_bytes())
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(names(&manifests), *expected, "{name}");
        }
        let stdin_manifests = read_paths(&["-".into()], false, &mut pod("x").as_bytes()).unwrap();
        assert_eq!(stdin_manifests[0].source, "-");
        let from_directory =
            read_paths(&[root.to_path_buf()], false, &mut std::io::empty()).unwrap();
        assert_eq!(
            from_directory[0].source,
            root.join("a.json").display().to_string()
        );

        // A bad file anywhere fails the whole read and is named.
        write(&root.join("nested/e.yaml"), "apiVersion: v1\nkind: Pod\n");
        let error = read_paths(&[root.to_path_buf()], true, &mut std::io::empty()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{}: document 1, line 1: missing \"metadata.name\" (or \"metadata.generateName\")",
                root.join("nested/e.yaml").display()
            )
        );
        let error =
            read_paths(&[root.join("missing.yaml")], false, &mut std::io::empty()).unwrap_err();
        assert!(matches!(error, ManifestError::Read { .. }), "{error:?}");
        assert!(error.to_string().starts_with(&format!(
            "{}: cannot read: ",
            root.join("missing.yaml").display()
        )));
    }
}
