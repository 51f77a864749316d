//! Reads the Go type declarations of gofmt-formatted `types.go` files: structs with their fields,
//! Go types and struct tags, named types, and the `// +marker` comments above each. It reads only
//! what the tables need; anything it cannot place fails the build with the file and line, so a
//! re-vendored file that uses a new construct is noticed rather than misread.

use std::collections::{BTreeMap, HashMap};

/// A Go type expression as written in a field or a type declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoType {
    /// `Name` or `qualifier.Name`.
    Named {
        qualifier: Option<String>,
        name: String,
    },
    Pointer(Box<GoType>),
    Slice(Box<GoType>),
    Map(Box<GoType>, Box<GoType>),
}

impl GoType {
    pub fn parse(text: &str) -> Result<GoType, String> {
        let (parsed, rest) = Self::parse_prefix(text)?;
        if rest.is_empty() {
            Ok(parsed)
        } else {
            Err(format!("unexpected {rest:?} after the type in {text:?}"))
        }
    }

    fn parse_prefix(text: &str) -> Result<(GoType, &str), String> {
        if let Some(rest) = text.strip_prefix('*') {
            let (inner, rest) = Self::parse_prefix(rest)?;
            return Ok((GoType::Pointer(Box::new(inner)), rest));
        }
        if let Some(rest) = text.strip_prefix("[]") {
            let (inner, rest) = Self::parse_prefix(rest)?;
            return Ok((GoType::Slice(Box::new(inner)), rest));
        }
        if let Some(rest) = text.strip_prefix("map[") {
            let (key, rest) = Self::parse_prefix(rest)?;
            let rest = rest
                .strip_prefix(']')
                .ok_or_else(|| format!("no ']' after the map key in {text:?}"))?;
            let (value, rest) = Self::parse_prefix(rest)?;
            return Ok((GoType::Map(Box::new(key), Box::new(value)), rest));
        }
        if let Some(rest) = text.strip_prefix("interface{}") {
            let any = GoType::Named {
                qualifier: None,
                name: "interface{}".to_owned(),
            };
            return Ok((any, rest));
        }
        let end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(text.len());
        let (word, rest) = text.split_at(end);
        if word.is_empty() {
            return Err(format!("no type name at {text:?}"));
        }
        let named = match word.split_once('.') {
            Some((qualifier, name)) => GoType::Named {
                qualifier: Some(qualifier.to_owned()),
                name: name.to_owned(),
            },
            None => GoType::Named {
                qualifier: None,
                name: word.to_owned(),
            },
        };
        Ok((named, rest))
    }
}

/// The parts of a struct tag the tables read.
#[derive(Debug, Clone, Default)]
pub struct Tags {
    /// `json:"name,omitempty"`: the name (empty for `,inline` or an untagged embedding).
    pub json_name: Option<String>,
    pub omitempty: bool,
    pub inline: bool,
    /// `protobuf:"bytes,2,rep,name=containers"`.
    pub protobuf: Option<ProtobufTag>,
    pub patch_strategy: Option<String>,
    pub patch_merge_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ProtobufTag {
    pub number: u32,
    /// Empty where the tag has no `name=` (one embedded field at 1.33).
    pub name: String,
}

impl Tags {
    fn parse(text: &str) -> Result<Tags, String> {
        let mut tags = Tags::default();
        let mut rest = text.trim();
        while !rest.is_empty() {
            let (key, after) = rest
                .split_once(":\"")
                .ok_or_else(|| format!("malformed struct tag {text:?}"))?;
            let (value, after) = after
                .split_once('"')
                .ok_or_else(|| format!("unterminated struct tag value in {text:?}"))?;
            match key {
                "json" => {
                    let mut parts = value.split(',');
                    let name = parts.next().unwrap_or_default();
                    tags.json_name = Some(name.to_owned());
                    for option in parts {
                        match option {
                            "omitempty" => tags.omitempty = true,
                            "inline" => tags.inline = true,
                            // `omitzero` and the like do not occur at 1.33; refuse what is not
                            // understood rather than misjudge which zero values are written.
                            other => return Err(format!("unknown json tag option {other:?}")),
                        }
                    }
                }
                "protobuf" => tags.protobuf = Some(ProtobufTag::parse(value)?),
                "patchStrategy" => tags.patch_strategy = Some(value.to_owned()),
                "patchMergeKey" => tags.patch_merge_key = Some(value.to_owned()),
                _ => {}
            }
            rest = after.trim_start();
        }
        Ok(tags)
    }
}

impl ProtobufTag {
    fn parse(value: &str) -> Result<ProtobufTag, String> {
        // The wire type (`bytes`, `varint`) is not kept: go-to-protobuf goes by the Go type,
        // and at 1.33 one tag disagrees with it (ServiceSpec healthCheckNodePort, an int32
        // tagged `bytes`).
        let mut parts = value.split(',').skip(1);
        let number = parts
            .next()
            .and_then(|number| number.parse().ok())
            .ok_or_else(|| format!("no field number in protobuf tag {value:?}"))?;
        // `opt`/`rep` are not read: some tags say `opt` on a slice (ServiceSpec clusterIPs);
        // go-to-protobuf goes by the Go type, and so does the generator.
        let mut tag = ProtobufTag {
            number,
            name: String::new(),
        };
        for part in parts {
            if let Some(name) = part.strip_prefix("name=") {
                tag.name = name.to_owned();
            }
        }
        Ok(tag)
    }
}

/// One struct field. `name` is `None` for an embedded type.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: Option<String>,
    pub ty: GoType,
    pub tags: Tags,
    /// `+listType=` above the field.
    pub list_type: Option<String>,
    /// `+listMapKey=` lines above the field, in order.
    pub list_map_keys: Vec<String>,
    pub line: usize,
}

impl Field {
    /// Whether Go's JSON encoder puts this field's members into the enclosing object.
    pub fn is_inline(&self) -> bool {
        self.tags.inline
            || (self.name.is_none() && self.tags.json_name.as_deref().unwrap_or("").is_empty())
    }

    /// The JSON name, for a field that is not inline.
    pub fn json_name(&self) -> Result<&str, String> {
        match self.tags.json_name.as_deref() {
            Some("-") | None => Err(format!("line {}: the field has no JSON name", self.line)),
            Some(name) if !name.is_empty() => Ok(name),
            Some(_) => Err(format!(
                "line {}: the field has an empty JSON name",
                self.line
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Decl {
    Struct(Vec<Field>),
    /// `type X Y` or `type X = Y`; `markers` are the `+` comments above it.
    Named {
        ty: GoType,
        markers: Vec<String>,
    },
}

#[derive(Debug, Default)]
pub struct Package {
    /// Import alias (or the path's last element) to import path.
    pub imports: HashMap<String, String>,
    pub types: HashMap<String, Decl>,
}

/// Every vendored package, by import path.
#[derive(Debug, Default)]
pub struct Universe {
    pub packages: BTreeMap<String, Package>,
}

impl Universe {
    /// The import path and name a type name in `package` refers to. Go's predeclared types have
    /// an empty path.
    pub fn qualify(
        &self,
        package: &str,
        qualifier: Option<&str>,
        name: &str,
    ) -> Result<(String, String), String> {
        match qualifier {
            None if is_predeclared(name) => Ok((String::new(), name.to_owned())),
            None => Ok((package.to_owned(), name.to_owned())),
            Some(alias) => {
                let imports = &self
                    .packages
                    .get(package)
                    .ok_or_else(|| format!("package {package} is not vendored"))?
                    .imports;
                let path = imports
                    .get(alias)
                    .ok_or_else(|| format!("{package} does not import {alias:?}"))?;
                Ok((path.clone(), name.to_owned()))
            }
        }
    }

    pub fn decl(&self, package: &str, name: &str) -> Result<&Decl, String> {
        self.packages
            .get(package)
            .and_then(|vendored| vendored.types.get(name))
            .ok_or_else(|| format!("type {package}.{name} is not in the vendored sources"))
    }
}

fn is_predeclared(name: &str) -> bool {
    matches!(
        name,
        "string"
            | "bool"
            | "byte"
            | "int"
            | "int8"
            | "int16"
            | "int32"
            | "int64"
            | "uint"
            | "uint8"
            | "uint16"
            | "uint32"
            | "uint64"
            | "float32"
            | "float64"
            | "rune"
            | "interface{}"
            | "any"
    )
}

/// Parses one gofmt-formatted file. Top-level declarations start at column 0 in gofmt output,
/// so a line-based reader finds every `type` declaration without parsing function bodies.
pub fn parse_file(text: &str) -> Result<Package, String> {
    let mut package = Package::default();
    let text = blank_block_comments(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut comments: Vec<String> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let number = index + 1;
        let at = move |message: String| format!("line {number}: {message}");
        index += 1;
        if line.trim().is_empty() {
            comments.clear();
            continue;
        }
        if let Some(comment) = line.strip_prefix("//") {
            comments.push(comment.trim().to_owned());
            continue;
        }
        if line == "import (" {
            while index < lines.len() && lines[index].trim() != ")" {
                add_import(&mut package, lines[index])
                    .map_err(|error| format!("line {}: {error}", index + 1))?;
                index += 1;
            }
            index += 1;
        } else if let Some(spec) = line.strip_prefix("import ") {
            add_import(&mut package, spec).map_err(at)?;
        } else if line == "type (" {
            return Err(at("grouped type declarations are not read".into()));
        } else if let Some(spec) = line.strip_prefix("type ") {
            let (name, rest) = spec
                .split_once(' ')
                .ok_or_else(|| at(format!("cannot read {line:?}")))?;
            let rest = rest.trim();
            if rest == "struct {" {
                let (fields, next) = parse_struct(&lines, index)?;
                index = next;
                package.types.insert(name.to_owned(), Decl::Struct(fields));
            } else if rest == "struct{}" {
                package
                    .types
                    .insert(name.to_owned(), Decl::Struct(Vec::new()));
            } else if rest.starts_with("interface") {
                // Interfaces carry no data; skip the body.
                if rest.ends_with('{') {
                    while index < lines.len() && lines[index] != "}" {
                        index += 1;
                    }
                    index += 1;
                }
            } else {
                let underlying = rest.strip_prefix("= ").unwrap_or(rest);
                let underlying = strip_line_comment(underlying).trim();
                let ty = GoType::parse(underlying).map_err(at)?;
                let markers = comments
                    .iter()
                    .filter(|c| c.starts_with('+'))
                    .cloned()
                    .collect();
                package
                    .types
                    .insert(name.to_owned(), Decl::Named { ty, markers });
            }
        }
        comments.clear();
    }
    Ok(package)
}

/// The text with each `/* */` comment turned into spaces (newlines kept, so line numbers hold);
/// `//` comments, strings and struct tags are left as they are.
fn blank_block_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    // The character that ends the literal or line comment being copied, if any.
    let mut copying_until: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(end) = copying_until {
            out.push(c);
            if c == end {
                copying_until = None;
            } else if c == '\\'
                && end == '"'
                && let Some(escaped) = chars.next()
            {
                out.push(escaped);
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str("  ");
                let mut previous = ' ';
                for inner in chars.by_ref() {
                    out.push(if inner == '\n' { '\n' } else { ' ' });
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                out.push(c);
                copying_until = Some('\n');
            }
            '"' | '`' | '\'' => {
                out.push(c);
                copying_until = Some(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn add_import(package: &mut Package, spec: &str) -> Result<(), String> {
    let spec = strip_line_comment(spec).trim();
    if spec.is_empty() {
        return Ok(());
    }
    let (alias, quoted) = match spec.split_once(' ') {
        Some((alias, quoted)) => (Some(alias), quoted.trim()),
        None => (None, spec),
    };
    let path = quoted
        .strip_prefix('"')
        .and_then(|path| path.strip_suffix('"'))
        .ok_or_else(|| format!("cannot read import {spec:?}"))?;
    let alias = alias.unwrap_or_else(|| path.rsplit('/').next().unwrap_or(path));
    package.imports.insert(alias.to_owned(), path.to_owned());
    Ok(())
}

fn strip_line_comment(text: &str) -> &str {
    text.split_once("//").map_or(text, |(before, _)| before)
}

/// Reads fields from `start` (the line after `type X struct {`) to the closing `}`; returns them
/// and the index of the line after it.
fn parse_struct(lines: &[&str], start: usize) -> Result<(Vec<Field>, usize), String> {
    let mut fields = Vec::new();
    let mut list_type = None;
    let mut list_map_keys = Vec::new();
    let mut index = start;
    while index < lines.len() {
        let line = lines[index].trim();
        let number = index + 1;
        index += 1;
        if line == "}" {
            return Ok((fields, index));
        }
        if line.is_empty() {
            list_type = None;
            list_map_keys.clear();
            continue;
        }
        if let Some(comment) = line.strip_prefix("//") {
            let comment = comment.trim();
            if let Some(value) = comment.strip_prefix("+listType=") {
                list_type = Some(value.trim().to_owned());
            } else if let Some(value) = comment.strip_prefix("+listMapKey=") {
                list_map_keys.push(value.trim().to_owned());
            }
            continue;
        }
        let (declaration, tags) = match line.split_once('`') {
            Some((declaration, tag)) => {
                let tag = tag
                    .strip_suffix('`')
                    .or_else(|| tag.rsplit_once('`').map(|(tag, _)| tag))
                    .ok_or_else(|| format!("line {number}: unterminated struct tag"))?;
                (
                    declaration,
                    Tags::parse(tag).map_err(|error| format!("line {number}: {error}"))?,
                )
            }
            None => (strip_line_comment(line), Tags::default()),
        };
        let words: Vec<&str> = declaration.split_whitespace().collect();
        let (name, ty) = match words.as_slice() {
            [ty] => (None, *ty),
            [name, ty] => (Some((*name).to_owned()), *ty),
            _ => return Err(format!("line {number}: cannot read the field {line:?}")),
        };
        if ty.contains('{') && ty.trim_start_matches("[]") != "interface{}" {
            return Err(format!(
                "line {number}: anonymous struct and interface types are not read"
            ));
        }
        let ty = GoType::parse(ty).map_err(|error| format!("line {number}: {error}"))?;
        fields.push(Field {
            name,
            ty,
            tags,
            list_type: list_type.take(),
            list_map_keys: std::mem::take(&mut list_map_keys),
            line: number,
        });
    }
    Err(format!("line {start}: the struct is not closed"))
}
