//! Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into the
//! object's Kubernetes JSON, for the kinds this server serves.
//!
//! Why: kubectl sends its typed `create` commands (`create namespace`, `create configmap`,
//! `create secret`, `create deployment`, `create service`, `create serviceaccount`) as protobuf.
//! Objects here are stored and answered as JSON, so the body is turned into the `Value` a JSON
//! client would have sent; clients accept the JSON answer because their Accept header lists
//! `application/json` too. Objects are not encoded as protobuf; [`Writer`] writes the few
//! documents served in protobuf (OpenAPI v2, aggregated discovery).
//!
//! The wire format is that of k8s.io/apimachinery/pkg/runtime/serializer/protobuf: the 4-byte
//! prefix `k8s\0`, then a `runtime.Unknown` message whose `typeMeta` names the apiVersion and kind
//! and whose `raw` holds the object's message from k8s.io/api's `generated.proto`.
//!
//! The JSON produced is what Go's `encoding/json` writes for the decoded Go struct, so that a body
//! reads the same whichever way it was sent (the unit tests compare real kubectl bodies with
//! kubectl's own `--dry-run=client -o json`):
//! - Kubernetes' Go marshaller writes every non-pointer scalar, zero or not. A zero scalar is
//!   dropped where the Go field is `omitempty` and not a pointer (`field` in the tables), and
//!   kept where Go keeps it: pointer fields, where zero is a value (`replicas: 0`, `runAsUser: 0`),
//!   and fields without `omitempty` (`keep`).
//! - Nested messages are always written, as Go writes non-pointer structs: `"strategy": {}`.
//! - Kubernetes' own types have their own JSON: `Time` and `MicroTime` become RFC 3339 strings
//!   (an empty message, the zero time, becomes `null`), `Duration` a Go duration string,
//!   `Quantity` its string, `IntOrString` a number or a string, `RawExtension` and `FieldsV1`
//!   the JSON they hold, `[]byte` base64.
//! - Structs that Go embeds in JSON (`VolumeSource` in `Volume`, `ProbeHandler` in `Probe`,
//!   `LocalObjectReference` in key selectors) are separate protobuf messages whose fields land in
//!   the enclosing JSON object (`Inline` in the tables).
//!
//! The tables of field numbers, JSON names and kinds are generated at build time (`build.rs`)
//! from the Go struct tags of `types.go` in k8s.io/api and k8s.io/apimachinery v0.33.13
//! (Kubernetes 1.33), vendored in `apiserver/kubernetes-1.33/`: the `protobuf` tag gives the
//! number, the Go type the kind (as go-to-protobuf derives `generated.proto` from it), the
//! `json` tag the name and `omitempty`, and `json:",inline"` an embedding. Fields added after
//! 1.33 are unknown here; their numbers are skipped, as protobuf says, and counted in
//! [`Decoded`] (kubectl 1.33 never sends them).
//!
//! Where this differs from kube-apiserver on purpose:
//! - Strings that are not UTF-8 are decoded lossily (U+FFFD), as Go's JSON encoder writes them,
//!   rather than refused.
//! - A `Quantity` is passed through as sent, not canonicalised (`1000m` stays `1000m`).

use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value};

/// The media type of Kubernetes' protobuf encoding.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The prefix of every Kubernetes protobuf body: "k8s" and a zero byte.
const MAGIC: &[u8; 4] = b"k8s\0";

/// How deeply messages may nest. The generated tables are acyclic and nest at most 11 levels (a
/// Deployment's template's ephemeral volume's claim template's selector; a unit test checks), so
/// real bodies never reach it; the limit keeps the recursion bounded should a recursive message
/// (such as a CRD's JSONSchemaProps) ever be added.
const MAX_DEPTH: usize = 32;

/// How many unknown fields [`Decoded::unknown_fields`] lists; the count goes on past it.
const MAX_UNKNOWN_LISTED: usize = 64;

/// The message name used in errors about the envelope.
const ENVELOPE: &str = "runtime.Unknown";

/// The message name used in errors about a map entry; the path names the map.
const MAP_ENTRY: &str = "map entry";

/// Why a body could not be decoded. The caller answers `UnsupportedKind` and
/// `UnsupportedContentEncoding` with 415 Unsupported Media Type and the rest with 400 Bad Request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The body lacks the `k8s\0` prefix: it is not Kubernetes protobuf (perhaps JSON sent with
    /// the protobuf Content-Type).
    #[error(
        "the body does not start with the Kubernetes protobuf prefix \"k8s\\0\"; \
         is it really {CONTENT_TYPE}?"
    )]
    MissingMagic,

    /// The bytes do not follow the protobuf wire format, or do not fit the schema.
    #[error("malformed protobuf in {location}: {problem}")]
    Malformed {
        location: Location,
        problem: Problem,
    },

    /// Messages nest deeper than [`MAX_DEPTH`].
    #[error("protobuf messages nest deeper than {limit} levels, in {location}")]
    TooDeep { location: Location, limit: usize },

    /// There is no schema here for the envelope's kind, so the body cannot be read; a JSON body
    /// can.
    #[error(
        "cannot decode protobuf for kind {kind:?} of apiVersion {api_version:?}; \
         send it as application/json"
    )]
    UnsupportedKind { api_version: String, kind: String },

    /// The envelope says the object is compressed or otherwise encoded; Kubernetes' own clients
    /// never set it.
    #[error("protobuf content encoding {0:?} is not supported; send the object unencoded")]
    UnsupportedContentEncoding(String),
}

/// Where in the body an error was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The protobuf message being read, e.g. `Container`.
    pub message: &'static str,
    /// The field number being read, when the problem is with a field rather than a key.
    pub field: Option<u32>,
    /// The JSON path of the field from the object's root, e.g.
    /// `spec.template.spec.containers[0].resources`; empty at the root.
    pub path: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "message {}", self.message)?;
        if let Some(field) = self.field {
            write!(f, " field {field}")?;
        }
        if !self.path.is_empty() {
            write!(f, " (at {})", self.path)?;
        }
        Ok(())
    }
}

/// What was wrong with the bytes of one field or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("a varint runs past the end of its message")]
    TruncatedVarint,
    #[error("a varint is longer than 10 bytes")]
    VarintTooLong,
    #[error("a {width}-byte fixed-width value runs past the end of its message")]
    TruncatedFixed { width: usize },
    #[error("a length of {length} bytes runs past the end of its message ({remaining} bytes left)")]
    LengthPastEnd { length: u64, remaining: usize },
    #[error(
        "wire type {found} ({name}) where the schema expects {expected}",
        name = wire_type_name(*found)
    )]
    WrongWireType { found: u8, expected: &'static str },
    #[error(
        "wire type {0} ({name}) is not supported: Kubernetes messages have no groups",
        name = wire_type_name(*.0)
    )]
    Group(u8),
    #[error("wire type {0} does not exist")]
    InvalidWireType(u8),
    #[error("field number {0} is outside protobuf's range 1..=536870911")]
    InvalidFieldNumber(u64),
    #[error("{0}")]
    InvalidValue(String),
}

impl ProtobufError {
    fn malformed(message: &'static str, field: Option<u32>, problem: Problem) -> Self {
        Self::Malformed {
            location: Location {
                message,
                field,
                path: String::new(),
            },
            problem,
        }
    }

    /// Puts `segment` (a field's JSON name, with `[index]` or `[key]` for an element) in front
    /// of the error's path, as the error passes out of a nested message. An empty segment (an
    /// inlined message) leaves the path as it is.
    fn within(mut self, segment: &str) -> Self {
        if let Self::Malformed { location, .. } | Self::TooDeep { location, .. } = &mut self {
            location.path = if location.path.is_empty() {
                segment.to_owned()
            } else if segment.is_empty() || location.path.starts_with('[') {
                format!("{segment}{}", location.path)
            } else {
                format!("{segment}.{}", location.path)
            };
        }
        self
    }
}

/// A decoded body, with what was skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The object as Kubernetes JSON, with `apiVersion` and `kind` from the envelope.
    pub object: Value,
    /// How many fields had numbers that the schema does not know (a client newer than these
    /// tables); they were skipped.
    pub unknown_field_count: usize,
    /// The first of those fields, to log.
    pub unknown_fields: Vec<UnknownField>,
}

/// A field that was skipped because its message has no field of that number here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownField {
    pub message: &'static str,
    pub field: u32,
}

/// Decodes a protobuf request body into the object's JSON, with apiVersion and kind from the
/// envelope.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    decode_detailed(body).map(|decoded| decoded.object)
}

/// The object a watch BOOKMARK carries for a built-in kind, as kube-apiserver writes the kind's
/// zero value: metadata with the resourceVersion (and a null creationTimestamp, Go's zero
/// `Time`), and `spec` and `status` as objects, which Go writes for every Kubernetes type since
/// they are struct values. Java clients (fabric8, under Spark) read a Pod's status and spec in
/// every event, bookmarks included. `None` for kinds not generated here (custom kinds, whose
/// bookmarks kube writes without them).
pub fn zero_object(api_version: &str, kind: &str, metadata: Map<String, Value>) -> Option<Value> {
    let root = generated::root(api_version, kind)?;
    let mut metadata = metadata;
    metadata.insert("creationTimestamp".to_owned(), Value::Null);
    let mut object = Map::new();
    object.insert("kind".to_owned(), Value::String(kind.to_owned()));
    object.insert("apiVersion".to_owned(), Value::String(api_version.to_owned()));
    object.insert("metadata".to_owned(), Value::Object(metadata));
    for field in root.fields {
        if matches!(field.kind, Kind::Msg(_)) && matches!(field.name, "spec" | "status") {
            object.insert(field.name.to_owned(), Value::Object(Map::new()));
        }
    }
    Some(Value::Object(object))
}

/// Like [`decode`], and also says which fields were skipped as unknown.
pub fn decode_detailed(body: &[u8]) -> Result<Decoded, ProtobufError> {
    decode_with_limit(body, MAX_DEPTH)
}

fn decode_with_limit(body: &[u8], max_depth: usize) -> Result<Decoded, ProtobufError> {
    let data = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::MissingMagic)?;
    let envelope = Envelope::parse(data)?;
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedContentEncoding(
            envelope.content_encoding,
        ));
    }
    let Some(root) = generated::root(&envelope.api_version, &envelope.kind) else {
        return Err(ProtobufError::UnsupportedKind {
            api_version: envelope.api_version,
            kind: envelope.kind,
        });
    };
    let mut decoder = Decoder {
        max_depth,
        unknown: Unknown::default(),
    };
    let mut object = Map::new();
    object.insert("apiVersion".to_owned(), Value::String(envelope.api_version));
    object.insert("kind".to_owned(), Value::String(envelope.kind));
    decoder.merge(envelope.raw, root, 1, &mut object)?;
    Ok(Decoded {
        object: Value::Object(object),
        unknown_field_count: decoder.unknown.count,
        unknown_fields: decoder.unknown.listed,
    })
}

/// The `runtime.Unknown` envelope: `{TypeMeta typeMeta = 1 {apiVersion = 1; kind = 2};
/// bytes raw = 2; string contentEncoding = 3; string contentType = 4}`.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
}

impl<'a> Envelope<'a> {
    fn parse(data: &'a [u8]) -> Result<Self, ProtobufError> {
        let mut envelope = Envelope {
            api_version: String::new(),
            kind: String::new(),
            raw: &[],
            content_encoding: String::new(),
        };
        // The envelope's own unknown fields are not the object's; they are not reported.
        let mut ignored = Unknown::default();
        walk(data, ENVELOPE, &mut ignored, |number, value| {
            match number {
                1 => {
                    let type_meta = want_bytes(ENVELOPE, number, value)?;
                    walk(
                        type_meta,
                        "TypeMeta",
                        &mut Unknown::default(),
                        |number, value| {
                            match number {
                                1 => envelope.api_version = want_string("TypeMeta", number, value)?,
                                2 => envelope.kind = want_string("TypeMeta", number, value)?,
                                _ => return Ok(Known::No),
                            }
                            Ok(Known::Yes)
                        },
                    )
                    .map_err(|error| error.within("typeMeta"))?;
                }
                2 => envelope.raw = want_bytes(ENVELOPE, number, value)?,
                3 => envelope.content_encoding = want_string(ENVELOPE, number, value)?,
                // The content type of `raw`; Kubernetes' serializer leaves it empty, and `raw`
                // is protobuf whatever it says.
                4 => {
                    want_bytes(ENVELOPE, number, value)?;
                }
                _ => return Ok(Known::No),
            }
            Ok(Known::Yes)
        })?;
        Ok(envelope)
    }
}

/// Unknown fields met so far.
#[derive(Debug, Default)]
struct Unknown {
    count: usize,
    listed: Vec<UnknownField>,
}

impl Unknown {
    fn record(&mut self, message: &'static str, field: u32) {
        self.count += 1;
        if self.listed.len() < MAX_UNKNOWN_LISTED {
            self.listed.push(UnknownField { message, field });
        }
    }
}

/// Whether a field number was one the reader knows.
enum Known {
    Yes,
    No,
}

/// Reads the fields of a small message one by one, handing each to `each`; fields it does not
/// know are skipped and recorded.
fn walk<'a>(
    data: &'a [u8],
    message: &'static str,
    unknown: &mut Unknown,
    mut each: impl FnMut(u32, WireValue<'a>) -> Result<Known, ProtobufError>,
) -> Result<(), ProtobufError> {
    let mut reader = Reader::new(data);
    while !reader.at_end() {
        let (number, wire_type) = reader
            .key()
            .map_err(|problem| ProtobufError::malformed(message, None, problem))?;
        let value = reader
            .value(wire_type)
            .map_err(|problem| ProtobufError::malformed(message, Some(number), problem))?;
        if let Known::No = each(number, value)? {
            unknown.record(message, number);
        }
    }
    Ok(())
}

fn want_bytes<'a>(
    message: &'static str,
    number: u32,
    value: WireValue<'a>,
) -> Result<&'a [u8], ProtobufError> {
    match value {
        WireValue::Bytes(bytes) => Ok(bytes),
        other => Err(wrong_wire_type(
            message,
            number,
            other,
            "2 (length-delimited)",
        )),
    }
}

fn want_string(
    message: &'static str,
    number: u32,
    value: WireValue<'_>,
) -> Result<String, ProtobufError> {
    want_bytes(message, number, value).map(lossy_string)
}

fn want_varint(
    message: &'static str,
    number: u32,
    value: WireValue<'_>,
) -> Result<u64, ProtobufError> {
    match value {
        WireValue::Varint(varint) => Ok(varint),
        other => Err(wrong_wire_type(message, number, other, "0 (varint)")),
    }
}

fn wrong_wire_type(
    message: &'static str,
    number: u32,
    found: WireValue<'_>,
    expected: &'static str,
) -> ProtobufError {
    ProtobufError::malformed(
        message,
        Some(number),
        Problem::WrongWireType {
            found: found.wire_type(),
            expected,
        },
    )
}

/// Go's protobuf code makes a string of any bytes and Go's JSON encoder writes invalid UTF-8 as
/// U+FFFD; this does the same in one step.
fn lossy_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Decodes messages of the schema into JSON objects.
struct Decoder {
    max_depth: usize,
    unknown: Unknown,
}

impl Decoder {
    /// Reads the fields of one `message` from `data` into `object`. A message is merged into
    /// what is there, as protobuf merges a message field that occurs twice, and as an inlined
    /// message's fields join those of its parent.
    fn merge(
        &mut self,
        data: &[u8],
        message: &'static Message,
        depth: usize,
        object: &mut Map<String, Value>,
    ) -> Result<(), ProtobufError> {
        if depth > self.max_depth {
            return Err(ProtobufError::TooDeep {
                location: Location {
                    message: message.name,
                    field: None,
                    path: String::new(),
                },
                limit: self.max_depth,
            });
        }
        let mut reader = Reader::new(data);
        while !reader.at_end() {
            let (number, wire_type) = reader
                .key()
                .map_err(|problem| ProtobufError::malformed(message.name, None, problem))?;
            let field = message.field(number);
            let value = reader.value(wire_type).map_err(|problem| {
                let error = ProtobufError::malformed(message.name, Some(number), problem);
                match field {
                    Some(field) => error.within(field.name),
                    None => error,
                }
            })?;
            match field {
                Some(field) => self.field(message, field, value, depth, object)?,
                None => self.unknown.record(message.name, number),
            }
        }
        Ok(())
    }

    /// Puts one occurrence of `field` into `object`.
    fn field(
        &mut self,
        message: &'static Message,
        field: &'static Field,
        value: WireValue<'_>,
        depth: usize,
        object: &mut Map<String, Value>,
    ) -> Result<(), ProtobufError> {
        let name = field.name;
        match (field.kind, field.cardinality) {
            (Kind::Inline(inner), _) => {
                let bytes = want_bytes(message.name, field.number, value)
                    .map_err(|error| error.within(name))?;
                self.merge(bytes, inner, depth + 1, object)
            }
            (Kind::Map(value_kind), _) => {
                let bytes = want_bytes(message.name, field.number, value)
                    .map_err(|error| error.within(name))?;
                let (key, value) = self
                    .map_entry(bytes, value_kind, depth)
                    .map_err(|error| error.within(name))?;
                let map = match object.entry(name) {
                    serde_json::map::Entry::Occupied(entry) => entry.into_mut(),
                    serde_json::map::Entry::Vacant(entry) => {
                        entry.insert(Value::Object(Map::new()))
                    }
                };
                // Only this function writes under a map field's name, so it is an object.
                if let Value::Object(map) = map {
                    map.insert(key, value);
                }
                Ok(())
            }
            (kind, Cardinality::Repeated) => {
                let list = match object.entry(name) {
                    serde_json::map::Entry::Occupied(entry) => entry.into_mut(),
                    serde_json::map::Entry::Vacant(entry) => entry.insert(Value::Array(Vec::new())),
                };
                let Value::Array(list) = list else {
                    // Only this function writes under a repeated field's name.
                    return Ok(());
                };
                match (kind, value) {
                    // Packed numbers: one length-delimited field holding the varints. Kubernetes'
                    // Go code writes them unpacked, other encoders may pack; protobuf says to
                    // accept both.
                    (Kind::Bool | Kind::I32 | Kind::I64, WireValue::Bytes(packed)) => {
                        let mut reader = Reader::new(packed);
                        while !reader.at_end() {
                            let varint = reader.varint().map_err(|problem| {
                                ProtobufError::malformed(message.name, Some(field.number), problem)
                                    .within(name)
                            })?;
                            list.push(scalar_from_varint(kind, varint));
                        }
                        Ok(())
                    }
                    (kind, value) => {
                        let index = list.len();
                        let element = self
                            .value(message, field.number, kind, value, depth)
                            .map_err(|error| error.within(&format!("{name}[{index}]")))?;
                        list.push(element);
                        Ok(())
                    }
                }
            }
            (Kind::Msg(inner), Cardinality::Single { .. }) => {
                let bytes = want_bytes(message.name, field.number, value)
                    .map_err(|error| error.within(name))?;
                let mut nested = match object.remove(name) {
                    Some(Value::Object(existing)) => existing,
                    _ => Map::new(),
                };
                self.merge(bytes, inner, depth + 1, &mut nested)
                    .map_err(|error| error.within(name))?;
                object.insert(name.to_owned(), Value::Object(nested));
                Ok(())
            }
            (kind, Cardinality::Single { keep_zero }) => {
                let value = self
                    .value(message, field.number, kind, value, depth)
                    .map_err(|error| error.within(name))?;
                if !keep_zero && kind.is_scalar() && is_zero(&value) {
                    // A later occurrence wins in protobuf, even a zero one.
                    object.remove(name);
                } else {
                    object.insert(name.to_owned(), value);
                }
                Ok(())
            }
        }
    }

    /// The JSON of one value of `kind` (not `Inline` or `Map`, which `field` handles).
    fn value(
        &mut self,
        message: &'static Message,
        number: u32,
        kind: Kind,
        value: WireValue<'_>,
        depth: usize,
    ) -> Result<Value, ProtobufError> {
        match kind {
            Kind::Str => want_string(message.name, number, value).map(Value::String),
            Kind::Bytes => want_bytes(message.name, number, value).map(base64_value),
            Kind::Bool | Kind::I32 | Kind::I64 => want_varint(message.name, number, value)
                .map(|varint| scalar_from_varint(kind, varint)),
            Kind::Msg(inner) => {
                let bytes = want_bytes(message.name, number, value)?;
                let mut nested = Map::new();
                self.merge(bytes, inner, depth + 1, &mut nested)?;
                Ok(Value::Object(nested))
            }
            Kind::Inline(_) | Kind::Map(_) => {
                // `field` handles both before calling here; reaching this is a bug in this file,
                // reported rather than panicking.
                Err(ProtobufError::malformed(
                    message.name,
                    Some(number),
                    Problem::InvalidValue("internal: inline or map field read as a value".into()),
                ))
            }
            Kind::Time => time(want_bytes(message.name, number, value)?, &mut self.unknown),
            Kind::MicroTime => {
                micro_time(want_bytes(message.name, number, value)?, &mut self.unknown)
            }
            Kind::Duration => duration(want_bytes(message.name, number, value)?, &mut self.unknown),
            Kind::Quantity => quantity(want_bytes(message.name, number, value)?, &mut self.unknown),
            Kind::IntOrString => {
                int_or_string(want_bytes(message.name, number, value)?, &mut self.unknown)
            }
            Kind::RawExtension => embedded_json(
                want_bytes(message.name, number, value)?,
                "RawExtension",
                &mut self.unknown,
            ),
            Kind::FieldsV1 => embedded_json(
                want_bytes(message.name, number, value)?,
                "FieldsV1",
                &mut self.unknown,
            ),
        }
    }

    /// One entry of a map field: `{key = 1; value = 2}`. Missing parts are their zero values,
    /// as in protobuf.
    fn map_entry(
        &mut self,
        data: &[u8],
        value_kind: MapValue,
        depth: usize,
    ) -> Result<(String, Value), ProtobufError> {
        let mut key = String::new();
        let mut value = None;
        let mut reader = Reader::new(data);
        while !reader.at_end() {
            let (number, wire_type) = reader
                .key()
                .map_err(|problem| ProtobufError::malformed(MAP_ENTRY, None, problem))?;
            let wire_value = reader
                .value(wire_type)
                .map_err(|problem| ProtobufError::malformed(MAP_ENTRY, Some(number), problem))?;
            match number {
                1 => key = want_string(MAP_ENTRY, number, wire_value)?,
                2 => {
                    // The key normally comes first; it names the entry in errors when it has.
                    let segment = if key.is_empty() {
                        String::new()
                    } else {
                        format!("[{key}]")
                    };
                    let bytes = want_bytes(MAP_ENTRY, number, wire_value)
                        .map_err(|error| error.within(&segment))?;
                    let decoded = match value_kind {
                        MapValue::Str => Ok(Value::String(lossy_string(bytes))),
                        MapValue::Bytes => Ok(base64_value(bytes)),
                        MapValue::Quantity => quantity(bytes, &mut self.unknown),
                        MapValue::Time => time(bytes, &mut self.unknown),
                        MapValue::StringList => string_list(bytes, &mut self.unknown),
                        MapValue::Msg(inner) => {
                            let mut nested = Map::new();
                            self.merge(bytes, inner, depth + 1, &mut nested)
                                .map(|()| Value::Object(nested))
                        }
                    };
                    value = Some(decoded.map_err(|error| error.within(&segment))?);
                }
                _ => self.unknown.record(MAP_ENTRY, number),
            }
        }
        let value = value.unwrap_or_else(|| match value_kind {
            MapValue::Str | MapValue::Bytes => Value::String(String::new()),
            MapValue::Quantity => Value::String("0".to_owned()),
            // Go's zero time, which `metav1.Time` writes as `null`.
            MapValue::Time => Value::Null,
            // Go's JSON encoder writes a nil slice as `null`.
            MapValue::StringList => Value::Null,
            MapValue::Msg(_) => Value::Object(Map::new()),
        });
        Ok((key, value))
    }
}

/// A bool or integer from its varint. Truncating to 32 bits is protobuf's rule for int32, whose
/// negative values are sent sign-extended to 64 bits.
fn scalar_from_varint(kind: Kind, varint: u64) -> Value {
    match kind {
        Kind::Bool => Value::Bool(varint != 0),
        Kind::I32 => Value::from(varint as i32),
        _ => Value::from(varint as i64),
    }
}

fn base64_value(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Whether a scalar is its type's zero value, which Go's `omitempty` leaves out.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(string) => string.is_empty(),
        Value::Bool(boolean) => !boolean,
        Value::Number(number) => number.as_i64() == Some(0),
        _ => false,
    }
}

// --- Kubernetes' special types -------------------------------------------------------------

/// Seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: Go's `Time.MarshalJSON` refuses
/// years outside 0..=9999.
const MIN_SECONDS: i64 = -62_167_219_200;
const MAX_SECONDS: i64 = 253_402_300_799;

/// Seconds of 0001-01-01T00:00:00Z, Go's zero `time.Time`, which Kubernetes writes as `null`.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// `Timestamp {int64 seconds = 1; int32 nanos = 2}`, the wire form of `Time` and `MicroTime`.
/// `None` for an empty message, which is how Kubernetes sends the zero time.
fn timestamp(
    data: &[u8],
    message: &'static str,
    unknown: &mut Unknown,
) -> Result<Option<(i64, i32)>, ProtobufError> {
    if data.is_empty() {
        return Ok(None);
    }
    let (mut seconds, mut nanos) = (0_i64, 0_i32);
    walk(data, message, unknown, |number, value| {
        match number {
            1 => seconds = want_varint(message, number, value)? as i64,
            2 => nanos = want_varint(message, number, value)? as i32,
            _ => return Ok(Known::No),
        }
        Ok(Known::Yes)
    })?;
    Ok(Some((seconds, nanos)))
}

fn out_of_range(message: &'static str, seconds: i64) -> ProtobufError {
    ProtobufError::malformed(
        message,
        Some(1),
        Problem::InvalidValue(format!(
            "{seconds} seconds since 1970 is outside the years 0 to 9999 that Kubernetes JSON can \
             write"
        )),
    )
}

/// `metav1.Time`: whole seconds in RFC 3339, `null` for the zero time. Kubernetes drops the
/// nanoseconds when it reads a `Time` from protobuf, because its JSON has none.
fn time(data: &[u8], unknown: &mut Unknown) -> Result<Value, ProtobufError> {
    let Some((seconds, _nanos)) = timestamp(data, "Time", unknown)? else {
        return Ok(Value::Null);
    };
    if seconds == GO_ZERO_TIME_SECONDS {
        return Ok(Value::Null);
    }
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(out_of_range("Time", seconds));
    }
    Ok(Value::String(rfc3339(seconds, None)))
}

/// `metav1.MicroTime`: RFC 3339 with exactly six fractional digits, `null` for the zero time.
/// The nanoseconds are truncated to microseconds, as Kubernetes does.
fn micro_time(data: &[u8], unknown: &mut Unknown) -> Result<Value, ProtobufError> {
    let Some((seconds, nanos)) = timestamp(data, "MicroTime", unknown)? else {
        return Ok(Value::Null);
    };
    // Go's `time.Unix` accepts nanos outside 0..1e9 and carries them into the seconds.
    let total_nanos = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    let micros = total_nanos.div_euclid(1_000);
    let (whole_seconds, fraction) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let (Ok(whole_seconds), Ok(fraction)) = (i64::try_from(whole_seconds), u32::try_from(fraction))
    else {
        return Err(out_of_range("MicroTime", seconds));
    };
    if whole_seconds == GO_ZERO_TIME_SECONDS && fraction == 0 {
        return Ok(Value::Null);
    }
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&whole_seconds) {
        return Err(out_of_range("MicroTime", seconds));
    }
    Ok(Value::String(rfc3339(whole_seconds, Some(fraction))))
}

/// `seconds` since 1970 in UTC as RFC 3339 ("2026-11-24T15:30:00Z"), with six fractional digits
/// when `micros` is given. The caller keeps `seconds` within years 0..=9999. (jiff's `Timestamp`
/// stops a day short of 9999-12-31, which Go accepts, so the date is worked out here, with
/// Howard Hinnant's `civil_from_days`.)
fn rfc3339(seconds: i64, micros: Option<u32>) -> String {
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let shifted = days + 719_468; // days since 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let (hour, minute, second) = (
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60,
    );
    let fraction = micros
        .map(|micros| format!(".{micros:06}"))
        .unwrap_or_default();
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z")
}

/// `metav1.Duration {int64 duration = 1}` in nanoseconds, written as Go's `Duration.String`.
fn duration(data: &[u8], unknown: &mut Unknown) -> Result<Value, ProtobufError> {
    let mut nanoseconds = 0_i64;
    walk(data, "Duration", unknown, |number, value| {
        match number {
            1 => nanoseconds = want_varint("Duration", number, value)? as i64,
            _ => return Ok(Known::No),
        }
        Ok(Known::Yes)
    })?;
    Ok(Value::String(go_duration(nanoseconds)))
}

/// Go's `time.Duration.String`: "0s", "1.5µs", "250ms", "1m0s", "2h45m0.5s".
fn go_duration(nanoseconds: i64) -> String {
    /// `value` with its last `digits` digits as a fraction, trailing zeros dropped.
    fn with_fraction(value: u64, digits: u32) -> String {
        let scale = 10_u64.pow(digits);
        let (whole, fraction) = (value / scale, value % scale);
        if fraction == 0 {
            return whole.to_string();
        }
        let fraction = format!("{fraction:0width$}", width = digits as usize);
        format!("{whole}.{}", fraction.trim_end_matches('0'))
    }

    let sign = if nanoseconds < 0 { "-" } else { "" };
    let magnitude = nanoseconds.unsigned_abs();
    let text = if magnitude == 0 {
        "0s".to_owned()
    } else if magnitude < 1_000 {
        format!("{magnitude}ns")
    } else if magnitude < 1_000_000 {
        format!("{}µs", with_fraction(magnitude, 3))
    } else if magnitude < 1_000_000_000 {
        format!("{}ms", with_fraction(magnitude, 6))
    } else {
        let seconds = with_fraction(magnitude % 60_000_000_000, 9);
        let minutes = magnitude / 60_000_000_000;
        match (minutes / 60, minutes % 60) {
            (0, 0) => format!("{seconds}s"),
            (0, minutes) => format!("{minutes}m{seconds}s"),
            (hours, minutes) => format!("{hours}h{minutes}m{seconds}s"),
        }
    };
    format!("{sign}{text}")
}

/// `resource.Quantity {string string = 1}`: its string. An empty message is the zero quantity.
fn quantity(data: &[u8], unknown: &mut Unknown) -> Result<Value, ProtobufError> {
    let mut text = None;
    walk(data, "Quantity", unknown, |number, value| {
        match number {
            1 => text = Some(want_string("Quantity", number, value)?),
            _ => return Ok(Known::No),
        }
        Ok(Known::Yes)
    })?;
    Ok(Value::String(text.unwrap_or_else(|| "0".to_owned())))
}

/// `intstr.IntOrString {int64 type = 1; int32 intVal = 2; string strVal = 3}`: type 0 is the
/// number, type 1 the string.
fn int_or_string(data: &[u8], unknown: &mut Unknown) -> Result<Value, ProtobufError> {
    const MESSAGE: &str = "IntOrString";
    let (mut kind, mut int_value, mut string_value) = (0_i64, 0_i32, String::new());
    walk(data, MESSAGE, unknown, |number, value| {
        match number {
            1 => kind = want_varint(MESSAGE, number, value)? as i64,
            2 => int_value = want_varint(MESSAGE, number, value)? as i32,
            3 => string_value = want_string(MESSAGE, number, value)?,
            _ => return Ok(Known::No),
        }
        Ok(Known::Yes)
    })?;
    match kind {
        0 => Ok(Value::from(int_value)),
        1 => Ok(Value::String(string_value)),
        other => Err(ProtobufError::malformed(
            MESSAGE,
            Some(1),
            Problem::InvalidValue(format!("type {other} is neither 0 (int) nor 1 (string)")),
        )),
    }
}

/// A named `[]string` that go-to-protobuf wraps in a message, `{repeated string items = 1}`
/// (authentication's and authorization's `ExtraValue`): the JSON array of its items, `null` when
/// there are none.
fn string_list(data: &[u8], unknown: &mut Unknown) -> Result<Value, ProtobufError> {
    const MESSAGE: &str = "ExtraValue";
    let mut items = Vec::new();
    walk(data, MESSAGE, unknown, |number, value| {
        match number {
            1 => items.push(Value::String(want_string(MESSAGE, number, value)?)),
            _ => return Ok(Known::No),
        }
        Ok(Known::Yes)
    })?;
    // No items leave Go a nil slice, which its JSON encoder writes as `null`.
    if items.is_empty() {
        return Ok(Value::Null);
    }
    Ok(Value::Array(items))
}

/// `runtime.RawExtension {bytes raw = 1}` and `metav1.FieldsV1 {bytes Raw = 1}`: the JSON they
/// carry, `null` when empty (as Go writes a nil `Raw`).
fn embedded_json(
    data: &[u8],
    message: &'static str,
    unknown: &mut Unknown,
) -> Result<Value, ProtobufError> {
    let mut raw: &[u8] = &[];
    walk(data, message, unknown, |number, value| {
        match number {
            1 => raw = want_bytes(message, number, value)?,
            _ => return Ok(Known::No),
        }
        Ok(Known::Yes)
    })?;
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|error| {
        ProtobufError::malformed(
            message,
            Some(1),
            Problem::InvalidValue(format!("its bytes are not JSON: {error}")),
        )
    })
}

// --- The protobuf wire format --------------------------------------------------------------

/// One field's value as it is on the wire.
#[derive(Clone, Copy, Debug)]
enum WireValue<'a> {
    Varint(u64),
    /// Skipped: no field of the schema is fixed-width.
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32,
}

impl WireValue<'_> {
    fn wire_type(&self) -> u8 {
        match self {
            Self::Varint(_) => 0,
            Self::Fixed64 => 1,
            Self::Bytes(_) => 2,
            Self::Fixed32 => 5,
        }
    }
}

fn wire_type_name(wire_type: u8) -> &'static str {
    match wire_type {
        0 => "varint",
        1 => "64-bit",
        2 => "length-delimited",
        3 => "start group",
        4 => "end group",
        5 => "32-bit",
        _ => "invalid",
    }
}

/// A bounds-checked cursor over a message's bytes. Every read either succeeds within the slice
/// or says what ran out.
struct Reader<'a> {
    data: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, position: 0 }
    }

    fn at_end(&self) -> bool {
        self.position >= self.data.len()
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.position)
    }

    fn varint(&mut self) -> Result<u64, Problem> {
        let mut value = 0_u64;
        for index in 0..10 {
            let Some(&byte) = self.data.get(self.position) else {
                return Err(Problem::TruncatedVarint);
            };
            self.position += 1;
            // The shift is at most 63; bits past 64 in a tenth byte are dropped, as protobuf's
            // own decoders do.
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Problem::VarintTooLong)
    }

    /// Steps over a fixed-width value of `width` bytes.
    fn skip(&mut self, width: usize) -> Result<(), Problem> {
        if width > self.remaining() {
            return Err(Problem::TruncatedFixed { width });
        }
        self.position += width;
        Ok(())
    }

    fn length_delimited(&mut self) -> Result<&'a [u8], Problem> {
        let length = self.varint()?;
        let remaining = self.remaining();
        let past_end = Problem::LengthPastEnd { length, remaining };
        let Ok(size) = usize::try_from(length) else {
            return Err(past_end);
        };
        if size > remaining {
            return Err(past_end);
        }
        let start = self.position;
        self.position += size;
        self.data.get(start..self.position).ok_or(past_end)
    }

    /// A field's key: its number and wire type.
    fn key(&mut self) -> Result<(u32, u8), Problem> {
        let key = self.varint()?;
        let number = key >> 3;
        let wire_type = (key & 0x7) as u8;
        match u32::try_from(number) {
            Ok(number) if (1..=536_870_911).contains(&number) => Ok((number, wire_type)),
            _ => Err(Problem::InvalidFieldNumber(number)),
        }
    }

    fn value(&mut self, wire_type: u8) -> Result<WireValue<'a>, Problem> {
        match wire_type {
            0 => self.varint().map(WireValue::Varint),
            1 => self.skip(8).map(|()| WireValue::Fixed64),
            2 => self.length_delimited().map(WireValue::Bytes),
            5 => self.skip(4).map(|()| WireValue::Fixed32),
            3 | 4 => Err(Problem::Group(wire_type)),
            other => Err(Problem::InvalidWireType(other)),
        }
    }
}

// --- The schema ----------------------------------------------------------------------------

/// A protobuf message: its name (for errors) and its fields.
#[derive(Debug)]
struct Message {
    name: &'static str,
    fields: &'static [Field],
}

impl Message {
    fn field(&self, number: u32) -> Option<&'static Field> {
        self.fields.iter().find(|field| field.number == number)
    }
}

/// One field of a message: its protobuf number, its JSON name (for `Inline`, the protobuf name,
/// used in errors only) and how it is written.
#[derive(Debug)]
struct Field {
    number: u32,
    name: &'static str,
    kind: Kind,
    cardinality: Cardinality,
}

#[derive(Debug, Clone, Copy)]
enum Cardinality {
    /// At most one value. `keep_zero` is false for Go's non-pointer `omitempty` fields, whose
    /// zero scalars are left out of the JSON.
    Single { keep_zero: bool },
    /// A JSON array; numbers may come packed or not.
    Repeated,
}

/// What a field holds, and so its wire type and JSON form.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `string`: a JSON string.
    Str,
    /// `bool`.
    Bool,
    /// `int32`: a JSON number.
    I32,
    /// `int64`: a JSON number.
    I64,
    /// `bytes` (Go `[]byte`): base64 with padding. No singular `bytes` field is reachable from
    /// the kinds served today; kept for the message types that have one.
    #[allow(dead_code)]
    Bytes,
    /// A nested message: a JSON object.
    Msg(&'static Message),
    /// A nested message whose Go struct is embedded in its parent's JSON.
    Inline(&'static Message),
    /// `map<string, V>`: a JSON object.
    Map(MapValue),
    /// `metav1.Time`: RFC 3339, seconds.
    Time,
    /// `metav1.MicroTime`: RFC 3339, microseconds.
    MicroTime,
    /// `metav1.Duration`: Go's duration string. Used by no served kind today.
    #[allow(dead_code)]
    Duration,
    /// `resource.Quantity`: its string.
    Quantity,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    /// `runtime.RawExtension`: the JSON it holds. Used by no served kind today.
    #[allow(dead_code)]
    RawExtension,
    /// `metav1.FieldsV1`: the JSON it holds.
    FieldsV1,
}

impl Kind {
    /// Whether the kind is a plain scalar, the only kind that `omitempty` leaves out when zero
    /// (Go's encoder never leaves out a struct).
    fn is_scalar(self) -> bool {
        matches!(
            self,
            Self::Str | Self::Bool | Self::I32 | Self::I64 | Self::Bytes
        )
    }
}

/// The value type of a `map<string, V>`.
#[derive(Debug, Clone, Copy)]
enum MapValue {
    Str,
    Bytes,
    Quantity,
    /// A `metav1.Time` (a PodDisruptionBudget's `disruptedPods`).
    Time,
    /// A named `[]string` sent as `{repeated string items = 1}`: a JSON array of strings.
    StringList,
    /// No map of messages is reachable from the kinds served today.
    #[allow(dead_code)]
    Msg(&'static Message),
}

const fn message(name: &'static str, fields: &'static [Field]) -> Message {
    Message { name, fields }
}

/// A singular field left out of the JSON when it is a zero scalar (a Go non-pointer `omitempty`
/// field); also used for every message, map and special field, which are written whenever sent.
const fn field(number: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        cardinality: Cardinality::Single { keep_zero: false },
    }
}

/// A singular scalar written even when zero: a Go pointer (where zero is a value, such as
/// `replicas: 0`) or a field without `omitempty`.
const fn keep(number: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        cardinality: Cardinality::Single { keep_zero: true },
    }
}

/// A repeated field.
const fn list(number: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        cardinality: Cardinality::Repeated,
    }
}

// --- The tables ----------------------------------------------------------------------------

/// The messages of the kinds served, generated by build.rs from the vendored Kubernetes 1.33
/// types: every struct reachable from a root, so whatever a Pod template can carry decodes. Each
/// `static` is named for its Go package and type (`CORE_V1_POD_SPEC`), and `ROOTS` maps
/// apiVersion and kind to the message.
mod generated {
    use super::Kind::*;
    use super::{MapValue, Message, field, keep, list, message};

    include!(concat!(env!("OUT_DIR"), "/protobuf_tables.rs"));

    /// The message of an object of `kind` in `api_version`, if it has a table here.
    pub(super) fn root(api_version: &str, kind: &str) -> Option<&'static Message> {
        // DeleteOptions is registered in every group version (`metav1.AddToGroupVersion`), so
        // a DELETE's body names the resource's: one message serves them all. pods/eviction
        // accepts a policy/v1beta1 Eviction, whose message is policy/v1's.
        let api_version = match (kind, api_version) {
            ("DeleteOptions", _) => "meta.k8s.io/v1",
            ("Eviction", "policy/v1beta1") => "policy/v1",
            _ => api_version,
        };
        ROOTS
            .iter()
            .find(|(version, name, _)| *version == api_version && *name == kind)
            .map(|(_, _, message)| *message)
    }
}

// Writing, for the documents served as protobuf (`/openapi/v2`, aggregated discovery).

/// A protobuf message being written: fields appended as tag, then value.
#[derive(Default)]
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    pub(crate) fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    pub(crate) fn tag(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    pub(crate) fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.tag(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    /// proto3 leaves empty strings out.
    pub(crate) fn string(&mut self, field: u32, text: &str) {
        if !text.is_empty() {
            self.bytes(field, text.as_bytes());
        }
    }

    pub(crate) fn boolean(&mut self, field: u32, value: bool) {
        if value {
            self.tag(field, 0);
            self.varint(1);
        }
    }

    pub(crate) fn int64(&mut self, field: u32, value: i64) {
        if value != 0 {
            self.tag(field, 0);
            // Two's complement, as protobuf writes negative int64s.
            self.varint(value as u64);
        }
    }

    pub(crate) fn double(&mut self, field: u32, value: f64) {
        if value != 0.0 {
            self.tag(field, 1);
            self.0.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// A nested message, written even when empty: presence is what a oneof says.
    pub(crate) fn message(&mut self, field: u32, message: Writer) {
        self.bytes(field, &message.0);
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A tiny protobuf encoder for building bodies: each method appends one field.
    #[derive(Clone, Default)]
    struct Pb(Vec<u8>);

    impl Pb {
        fn new() -> Self {
            Self::default()
        }

        fn put_varint(&mut self, mut value: u64) {
            while value >= 0x80 {
                self.0.push((value as u8 & 0x7f) | 0x80);
                value >>= 7;
            }
            self.0.push(value as u8);
        }

        fn key(mut self, number: u32, wire_type: u8) -> Self {
            self.put_varint((u64::from(number) << 3) | u64::from(wire_type));
            self
        }

        /// A varint field; negative numbers are sign-extended to 64 bits, as protobuf does.
        fn int(self, number: u32, value: i64) -> Self {
            let mut pb = self.key(number, 0);
            pb.put_varint(value as u64);
            pb
        }

        fn bytes(self, number: u32, bytes: &[u8]) -> Self {
            let mut pb = self.key(number, 2);
            pb.put_varint(bytes.len() as u64);
            pb.0.extend_from_slice(bytes);
            pb
        }

        fn str(self, number: u32, text: &str) -> Self {
            self.bytes(number, text.as_bytes())
        }

        fn msg(self, number: u32, message: Pb) -> Self {
            self.bytes(number, &message.0)
        }

        /// One entry of a `map<string, string>` or `map<string, bytes>`.
        fn entry(self, number: u32, key: &str, value: &[u8]) -> Self {
            self.msg(number, Pb::new().str(1, key).bytes(2, value))
        }

        /// One entry of a `map<string, Quantity>`.
        fn quantity(self, number: u32, key: &str, value: &str) -> Self {
            self.msg(
                number,
                Pb::new().str(1, key).msg(2, Pb::new().str(1, value)),
            )
        }

        /// Bytes as they are, for broken bodies.
        fn raw(mut self, bytes: &[u8]) -> Self {
            self.0.extend_from_slice(bytes);
            self
        }
    }

    /// A whole body: the prefix and the `runtime.Unknown` envelope around `object`.
    fn envelope(api_version: &str, kind: &str, object: Pb) -> Vec<u8> {
        let unknown = Pb::new()
            .msg(1, Pb::new().str(1, api_version).str(2, kind))
            .msg(2, object)
            .str(3, "")
            .str(4, "");
        [MAGIC.as_slice(), &unknown.0].concat()
    }

    /// ObjectMeta as Go's marshaller writes it: every non-pointer field, zero or not, and the
    /// zero creationTimestamp as an empty message.
    fn meta(name: &str, namespace: &str) -> Pb {
        Pb::new()
            .str(1, name)
            .str(2, "")
            .str(3, namespace)
            .str(4, "")
            .str(5, "")
            .str(6, "")
            .int(7, 0)
            .msg(8, Pb::new())
    }

    // Bodies captured from kubectl v1.32.4 (`kubectl create ...` against a listener on
    // loopback), and what `kubectl create ... --dry-run=client -o json` prints for the same
    // command: the JSON a JSON client would have sent.
    const KUBECTL_NAMESPACE: &[u8] = b"\
        k8s\x00\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x1c\x0a\x14\x0a\x04demo\x12\x00\x1a\x00\
        \x22\x00*\x002\x008\x00B\x00\x12\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00";
    const KUBECTL_CONFIGMAP: &[u8] = b"\
        k8s\x00\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12.\x0a\x1a\x0a\x03cm1\x12\x00\x1a\x07defaul\
        t\x22\x00*\x002\x008\x00B\x00\x12\x06\x0a\x01a\x12\x011\x12\x08\x0a\x01b\x12\x03two\x1a\
        \x00\x22\x00";
    const KUBECTL_CONFIGMAP_FROM_FILE: &[u8] = b"\
        k8s\x00\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12/\x0a\x1a\x0a\x03cm2\x12\x00\x1a\x07defaul\
        t\x22\x00*\x002\x008\x00B\x00\x12\x11\x0a\x04blob\x12\x09\x00\x01\x02binary\x1a\x00\x22\
        \x00";
    const KUBECTL_SECRET: &[u8] = b"\
        k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Secret\x128\x0a\x19\x0a\x02s1\x12\x00\x1a\x07default\
        \x22\x00*\x002\x008\x00B\x00\x12\x13\x0a\x08password\x12\x07hunter2\x1a\x06Opaque\x1a\
        \x00\x22\x00";
    const KUBECTL_SERVICEACCOUNT: &[u8] = b"\
        k8s\x00\x0a\x14\x0a\x02v1\x12\x0eServiceAccount\x12\x1c\x0a\x1a\x0a\x03sa1\x12\x00\x1a\
        \x07default\x22\x00*\x002\x008\x00B\x00\x1a\x00\x22\x00";
    const KUBECTL_SERVICE: &[u8] = b"\
        k8s\x00\x0a\x0d\x0a\x02v1\x12\x07Service\x12s\x0a(\x0a\x04svc1\x12\x00\x1a\x07default\
        \x22\x00*\x002\x008\x00B\x00Z\x0b\x0a\x03app\x12\x04svc1\x12C\x0a\x1b\x0a\x0780-8080\x12\
        \x03TCP\x18P\x22\x07\x08\x00\x10\x90?\x1a\x00(\x00\x12\x0b\x0a\x03app\x12\x04svc1\x1a\
        \x00\x22\x09ClusterIP:\x00B\x00R\x00Z\x00`\x00h\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00";
    const KUBECTL_DEPLOYMENT: &[u8] = b"\
        k8s\x00\x0a\x15\x0a\x07apps/v1\x12\x0aDeployment\x12\xb6\x01\x0a&\x0a\x03web\x12\x00\x1a\
        \x07default\x22\x00*\x002\x008\x00B\x00Z\x0a\x0a\x03app\x12\x03web\x12~\x08\x02\x12\x0c\
        \x0a\x0a\x0a\x03app\x12\x03web\x1ad\x0a\x1c\x0a\x00\x12\x00\x1a\x00\x22\x00*\x002\x008\
        \x00B\x00Z\x0a\x0a\x03app\x12\x03web\x12D\x12&\x0a\x07busybox\x12\x07busybox*\x00B\x00j\
        \x00r\x00\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\x01\x00\x1a\x002\x00B\x00J\x00R\x00X\
        \x00`\x00h\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\x22\x02\x0a\x00(\x008\x00\
        \x1a\x0c\x08\x00\x10\x00\x18\x00\x20\x00(\x008\x00\x1a\x00\x22\x00";

    const KUBECTL_BODIES: &[&[u8]] = &[
        KUBECTL_NAMESPACE,
        KUBECTL_CONFIGMAP,
        KUBECTL_CONFIGMAP_FROM_FILE,
        KUBECTL_SECRET,
        KUBECTL_SERVICEACCOUNT,
        KUBECTL_SERVICE,
        KUBECTL_DEPLOYMENT,
    ];

    #[test]
    fn kubectl_bodies_decode_to_the_json_kubectl_would_send() {
        let cases: &[(&str, &[u8], &str)] = &[
            (
                "create namespace demo",
                KUBECTL_NAMESPACE,
                concat!(
                    r#"{"apiVersion":"v1","kind":"Namespace","#,
                    r#""metadata":{"creationTimestamp":null,"name":"demo"},"spec":{},"#,
                    r#""status":{}}"#,
                ),
            ),
            (
                "create configmap cm1 --from-literal=a=1 --from-literal=b=two",
                KUBECTL_CONFIGMAP,
                concat!(
                    r#"{"apiVersion":"v1","data":{"a":"1","b":"two"},"kind":"ConfigMap","#,
                    r#""metadata":{"creationTimestamp":null,"name":"cm1","namespace":"default"}}"#,
                ),
            ),
            (
                "create configmap cm2 --from-file=blob=<\\0\\1\\2binary>",
                KUBECTL_CONFIGMAP_FROM_FILE,
                concat!(
                    r#"{"apiVersion":"v1","data":{"blob":"\u0000\u0001\u0002binary"},"#,
                    r#""kind":"ConfigMap","metadata":{"creationTimestamp":null,"name":"cm2","#,
                    r#""namespace":"default"}}"#,
                ),
            ),
            (
                "create secret generic s1 --from-literal=password=hunter2 --type=Opaque",
                KUBECTL_SECRET,
                concat!(
                    r#"{"apiVersion":"v1","data":{"password":"aHVudGVyMg=="},"kind":"Secret","#,
                    r#""metadata":{"creationTimestamp":null,"name":"s1","namespace":"default"},"#,
                    r#""type":"Opaque"}"#,
                ),
            ),
            (
                "create serviceaccount sa1",
                KUBECTL_SERVICEACCOUNT,
                concat!(
                    r#"{"apiVersion":"v1","kind":"ServiceAccount","#,
                    r#""metadata":{"creationTimestamp":null,"name":"sa1","namespace":"default"}}"#,
                ),
            ),
            (
                "create service clusterip svc1 --tcp=80:8080",
                KUBECTL_SERVICE,
                concat!(
                    r#"{"apiVersion":"v1","kind":"Service","metadata":{"creationTimestamp":null,"#,
                    r#""labels":{"app":"svc1"},"name":"svc1","namespace":"default"},"#,
                    r#""spec":{"ports":[{"name":"80-8080","port":80,"protocol":"TCP","#,
                    r#""targetPort":8080}],"selector":{"app":"svc1"},"type":"ClusterIP"},"#,
                    r#""status":{"loadBalancer":{}}}"#,
                ),
            ),
            (
                "create deployment web --image=busybox --replicas=2",
                KUBECTL_DEPLOYMENT,
                concat!(
                    r#"{"apiVersion":"apps/v1","kind":"Deployment","#,
                    r#""metadata":{"creationTimestamp":null,"labels":{"app":"web"},"name":"web","#,
                    r#""namespace":"default"},"spec":{"replicas":2,"#,
                    r#""selector":{"matchLabels":{"app":"web"}},"strategy":{},"#,
                    r#""template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"#,
                    r#""spec":{"containers":[{"image":"busybox","name":"busybox","#,
                    r#""resources":{}}]}}},"status":{}}"#,
                ),
            ),
        ];
        for (command, body, expected) in cases {
            let expected: Value = serde_json::from_str(expected).unwrap();
            let decoded =
                decode_detailed(body).unwrap_or_else(|error| panic!("{command}: {error}"));
            assert_eq!(decoded.object, expected, "{command}");
            assert_eq!(decoded.unknown_field_count, 0, "{command}");
        }
    }

    #[test]
    fn deployment_built_as_kubectl_sends_it() {
        let labels = |pb: Pb| pb.entry(11, "app", b"web");
        let container = Pb::new()
            .str(1, "busybox")
            .str(2, "busybox")
            .str(5, "")
            .msg(8, Pb::new())
            .str(13, "")
            .str(14, "")
            .int(16, 0)
            .int(17, 0)
            .int(18, 0)
            .str(20, "");
        let pod_spec = Pb::new().msg(2, container).str(3, "").str(6, "").int(11, 0);
        let spec = Pb::new()
            .int(1, 2)
            .msg(2, Pb::new().entry(1, "app", b"web"))
            .msg(3, Pb::new().msg(1, labels(meta("", ""))).msg(2, pod_spec))
            .msg(4, Pb::new().str(1, ""))
            .int(5, 0)
            .int(7, 0);
        let status = Pb::new()
            .int(1, 0)
            .int(2, 0)
            .int(3, 0)
            .int(4, 0)
            .int(5, 0)
            .int(7, 0);
        let body = envelope(
            "apps/v1",
            "Deployment",
            Pb::new()
                .msg(1, labels(meta("web", "default")))
                .msg(2, spec)
                .msg(3, status),
        );
        assert_eq!(decode(&body).unwrap(), decode(KUBECTL_DEPLOYMENT).unwrap());
    }

    /// kubectl has no `create` subcommand for ReplicationControllers, so the body is built as
    /// client-go's generated marshaller writes one: every non-pointer scalar, zero or not, and
    /// the pointer `replicas` when set.
    #[test]
    fn replication_controller_built_as_client_go_sends_it() {
        let labels = |pb: Pb| pb.entry(11, "app", b"web");
        let container = Pb::new().str(1, "busybox").str(2, "busybox").msg(8, Pb::new());
        let spec = Pb::new()
            .int(1, 0)
            .entry(2, "app", b"web")
            .msg(3, Pb::new().msg(1, labels(meta("", ""))).msg(2, Pb::new().msg(2, container)))
            .int(4, 0);
        let status = Pb::new().int(1, 0).int(2, 0).int(3, 0).int(4, 0).int(5, 0);
        let body = envelope(
            "v1",
            "ReplicationController",
            Pb::new()
                .msg(1, labels(meta("web", "default")))
                .msg(2, spec)
                .msg(3, status),
        );
        let decoded = decode_detailed(&body).unwrap();
        assert_eq!(decoded.unknown_field_count, 0);
        assert_eq!(
            decoded.object,
            json!({
                "apiVersion": "v1",
                "kind": "ReplicationController",
                "metadata": {
                    "name": "web",
                    "namespace": "default",
                    "labels": {"app": "web"},
                    "creationTimestamp": null
                },
                "spec": {
                    // A pointer: zero is a value and stays; minReadySeconds is omitempty.
                    "replicas": 0,
                    "selector": {"app": "web"},
                    "template": {
                        "metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                        "spec": {
                            "containers": [{"name": "busybox", "image": "busybox", "resources": {}}]
                        }
                    }
                },
                // status.replicas has no omitempty; the other counts do.
                "status": {"replicas": 0}
            })
        );
    }

    /// A review's `extra` values are go-to-protobuf's wrapper message around a `[]string`; the
    /// JSON is the plain array (`null` for none, as Go writes a nil slice).
    #[test]
    fn subject_access_review_extra_values_are_arrays() {
        let extra = |key: &str, values: &[&str]| {
            let items = values.iter().fold(Pb::new(), |pb, value| pb.str(1, value));
            Pb::new().str(1, key).msg(2, items)
        };
        let spec = Pb::new()
            .str(3, "jane")
            .msg(5, extra("scopes", &["read", "write"]))
            .msg(5, extra("empty", &[]));
        let body = envelope(
            "authorization.k8s.io/v1",
            "SubjectAccessReview",
            Pb::new().msg(2, spec),
        );
        assert_eq!(
            decode(&body).unwrap(),
            json!({
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {"user": "jane", "extra": {"scopes": ["read", "write"], "empty": null}}
            })
        );
    }

    #[test]
    fn configmap_data_binary_data_and_immutable() {
        let body = envelope(
            "v1",
            "ConfigMap",
            Pb::new()
                .msg(1, meta("settings", "default"))
                .entry(2, "mode", b"fast")
                .entry(2, "empty", b"")
                .entry(3, "blob", &[0xff, 0x00, 0x10])
                .int(4, 0),
        );
        assert_eq!(
            decode(&body).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "default", "creationTimestamp": null},
                "data": {"mode": "fast", "empty": ""},
                "binaryData": {"blob": "/wAQ"},
                // A pointer in Go: an explicit false is kept.
                "immutable": false,
            })
        );
    }

    #[test]
    fn secret_data_is_base64_and_type_is_kept() {
        let body = envelope(
            "v1",
            "Secret",
            Pb::new()
                .msg(1, meta("creds", "team-a"))
                .entry(2, "password", b"hunter2")
                .entry(2, "key", &[0, 159, 146, 150])
                .entry(4, "plain", b"text")
                .str(3, "kubernetes.io/basic-auth")
                .int(5, 1),
        );
        assert_eq!(
            decode(&body).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "creds", "namespace": "team-a", "creationTimestamp": null},
                "data": {"password": "aHVudGVyMg==", "key": "AJ+Slg=="},
                "stringData": {"plain": "text"},
                "type": "kubernetes.io/basic-auth",
                "immutable": true,
            })
        );
    }

    #[test]
    fn service_ports_with_int_and_string_target_ports() {
        let port = |name: &str, port: i64, target: Pb| {
            Pb::new()
                .str(1, name)
                .str(2, "TCP")
                .int(3, port)
                .msg(4, target)
                .int(5, 0)
        };
        let spec = Pb::new()
            .msg(
                1,
                port("http", 80, Pb::new().int(1, 0).int(2, 8080).str(3, "")),
            )
            .msg(
                1,
                port(
                    "metrics",
                    9090,
                    Pb::new().int(1, 1).int(2, 0).str(3, "metrics"),
                ),
            )
            .entry(2, "app", b"web")
            .str(3, "10.96.0.10")
            .str(4, "ClusterIP")
            .str(7, "None");
        let body = envelope(
            "v1",
            "Service",
            Pb::new()
                .msg(1, meta("web", "default"))
                .msg(2, spec)
                .msg(3, Pb::new().msg(1, Pb::new())),
        );
        assert_eq!(
            decode(&body).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null},
                "spec": {
                    "ports": [
                        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                        {
                            "name": "metrics",
                            "protocol": "TCP",
                            "port": 9090,
                            "targetPort": "metrics",
                        },
                    ],
                    "selector": {"app": "web"},
                    "clusterIP": "10.96.0.10",
                    "type": "ClusterIP",
                    "sessionAffinity": "None",
                },
                "status": {"loadBalancer": {}},
            })
        );
    }

    #[test]
    fn pod_with_time_quantities_inlined_structs_and_pointer_zeros() {
        let metadata = meta("web-0", "default")
            // Kubernetes drops the nanoseconds of a Time.
            .msg(8, Pb::new().int(1, 1_795_534_200).int(2, 123))
            .msg(
                13,
                Pb::new()
                    .str(1, "ReplicaSet")
                    .str(3, "web-7d4b9")
                    .str(4, "0b6a")
                    .str(5, "apps/v1")
                    .int(6, 1)
                    .int(7, 1),
            )
            .str(14, "example.com/guard")
            .msg(
                17,
                Pb::new()
                    .str(1, "kubectl")
                    .str(2, "Update")
                    .str(3, "v1")
                    .msg(4, Pb::new().int(1, 1_795_534_205))
                    .str(6, "FieldsV1")
                    .msg(7, Pb::new().bytes(1, br#"{"f:spec":{}}"#)),
            );
        let resources = Pb::new()
            .quantity(1, "cpu", "500m")
            .quantity(1, "memory", "128Mi")
            .quantity(2, "cpu", "250m");
        let env = Pb::new().str(1, "PASSWORD").msg(
            3,
            Pb::new().msg(
                4,
                Pb::new()
                    .msg(1, Pb::new().str(1, "creds"))
                    .str(2, "password"),
            ),
        );
        let probe = Pb::new()
            .msg(
                1,
                Pb::new().msg(
                    2,
                    Pb::new()
                        .str(1, "/healthz")
                        .msg(2, Pb::new().int(1, 1).str(3, "http")),
                ),
            )
            .int(2, 0)
            .int(4, 10);
        let container = Pb::new()
            .str(1, "web")
            .str(2, "nginx:1.27")
            .str(3, "nginx")
            .str(3, "-g")
            .msg(6, Pb::new().str(1, "http").int(3, 8080).str(4, "TCP"))
            .msg(7, env)
            .msg(8, resources)
            .msg(9, Pb::new().str(1, "config").int(2, 1).str(3, "/etc/web"))
            .msg(11, probe)
            .msg(15, Pb::new().int(4, 0).int(5, 1).int(6, 0));
        let volume = Pb::new().str(1, "config").msg(
            2,
            Pb::new().msg(
                19,
                Pb::new()
                    .msg(1, Pb::new().str(1, "web-config"))
                    .int(3, 0o644),
            ),
        );
        let spec = Pb::new()
            .msg(1, volume)
            .msg(2, container)
            .str(3, "Always")
            .int(4, 0)
            .msg(
                14,
                Pb::new()
                    .int(2, 0)
                    // supplementalGroups unpacked, as Go writes it, then packed.
                    .int(4, 1000)
                    .bytes(4, &Pb::new().raw(&[0xd1, 0x0f, 0xd2, 0x0f]).0),
            )
            .msg(
                22,
                Pb::new()
                    .str(1, "node.kubernetes.io/not-ready")
                    .str(2, "Exists")
                    .str(4, "NoExecute")
                    .int(5, 300),
            );
        let body = envelope("v1", "Pod", Pb::new().msg(1, metadata).msg(2, spec));
        assert_eq!(
            decode(&body).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "web-0",
                    "namespace": "default",
                    "creationTimestamp": "2026-11-24T15:30:00Z",
                    "ownerReferences": [{
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "web-7d4b9",
                        "uid": "0b6a",
                        "controller": true,
                        "blockOwnerDeletion": true,
                    }],
                    "finalizers": ["example.com/guard"],
                    "managedFields": [{
                        "manager": "kubectl",
                        "operation": "Update",
                        "apiVersion": "v1",
                        "time": "2026-11-24T15:30:05Z",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:spec": {}},
                    }],
                },
                "spec": {
                    "volumes": [{
                        "name": "config",
                        "configMap": {"name": "web-config", "defaultMode": 420},
                    }],
                    "containers": [{
                        "name": "web",
                        "image": "nginx:1.27",
                        "command": ["nginx", "-g"],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "env": [{
                            "name": "PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}},
                        }],
                        "resources": {
                            "limits": {"cpu": "500m", "memory": "128Mi"},
                            "requests": {"cpu": "250m"},
                        },
                        "volumeMounts": [
                            {"name": "config", "readOnly": true, "mountPath": "/etc/web"},
                        ],
                        "readinessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http"},
                            "periodSeconds": 10,
                        },
                        "securityContext": {
                            "runAsUser": 0,
                            "runAsNonRoot": true,
                            "readOnlyRootFilesystem": false,
                        },
                    }],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 0,
                    "securityContext": {"runAsUser": 0, "supplementalGroups": [1000, 2001, 2002]},
                    "tolerations": [{
                        "key": "node.kubernetes.io/not-ready",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }],
                },
            })
        );
    }

    #[test]
    fn lease_event_binding_scale_endpoints_node_and_replicaset() {
        let micro = Pb::new().int(1, 1_795_534_200).int(2, 123_456_789);
        let cases: Vec<(&str, Vec<u8>, Value)> = vec![
            (
                "Lease",
                envelope(
                    "coordination.k8s.io/v1",
                    "Lease",
                    Pb::new().msg(1, meta("kube-scheduler", "kube-system")).msg(
                        2,
                        Pb::new()
                            .str(1, "node-1_abc")
                            .int(2, 15)
                            .msg(3, micro.clone())
                            .msg(4, Pb::new().int(1, 1_795_534_205))
                            .int(5, 0),
                    ),
                ),
                json!({
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {
                        "name": "kube-scheduler",
                        "namespace": "kube-system",
                        "creationTimestamp": null,
                    },
                    "spec": {
                        "holderIdentity": "node-1_abc",
                        "leaseDurationSeconds": 15,
                        "acquireTime": "2026-11-24T15:30:00.123456Z",
                        "renewTime": "2026-11-24T15:30:05.000000Z",
                        "leaseTransitions": 0,
                    },
                }),
            ),
            (
                "Event",
                envelope(
                    "v1",
                    "Event",
                    Pb::new()
                        .msg(1, meta("web-0.1", "default"))
                        .msg(2, Pb::new().str(1, "Pod").str(2, "default").str(3, "web-0"))
                        .str(3, "Scheduled")
                        .str(4, "Successfully assigned default/web-0 to node-1")
                        .msg(5, Pb::new().str(1, "default-scheduler").str(2, ""))
                        .msg(6, Pb::new())
                        .msg(7, Pb::new())
                        .int(8, 0)
                        .str(9, "Normal")
                        .msg(10, micro)
                        .str(12, "Binding")
                        .str(14, "default-scheduler")
                        .str(15, ""),
                ),
                json!({
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {
                        "name": "web-0.1",
                        "namespace": "default",
                        "creationTimestamp": null,
                    },
                    "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-0"},
                    "reason": "Scheduled",
                    "message": "Successfully assigned default/web-0 to node-1",
                    "source": {"component": "default-scheduler"},
                    "firstTimestamp": null,
                    "lastTimestamp": null,
                    "type": "Normal",
                    "eventTime": "2026-11-24T15:30:00.123456Z",
                    "action": "Binding",
                    "reportingComponent": "default-scheduler",
                    "reportingInstance": "",
                }),
            ),
            (
                "Binding",
                envelope(
                    "v1",
                    "Binding",
                    Pb::new()
                        .msg(1, meta("web-0", "default"))
                        .msg(2, Pb::new().str(1, "Node").str(3, "node-1")),
                ),
                json!({
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {
                        "name": "web-0",
                        "namespace": "default",
                        "creationTimestamp": null,
                    },
                    "target": {"kind": "Node", "name": "node-1"},
                }),
            ),
            (
                "Scale",
                envelope(
                    "autoscaling/v1",
                    "Scale",
                    Pb::new()
                        .msg(1, meta("web", "default"))
                        .msg(2, Pb::new().int(1, 0))
                        .msg(3, Pb::new().int(1, 0).str(2, "app=web")),
                ),
                json!({
                    "apiVersion": "autoscaling/v1",
                    "kind": "Scale",
                    "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null},
                    // Go's ScaleSpec.replicas is omitempty; ScaleStatus.replicas is not.
                    "spec": {},
                    "status": {"replicas": 0, "selector": "app=web"},
                }),
            ),
            (
                "Endpoints",
                envelope(
                    "v1",
                    "Endpoints",
                    Pb::new().msg(1, meta("web", "default")).msg(
                        2,
                        Pb::new()
                            .msg(
                                1,
                                Pb::new().str(1, "10.244.1.5").str(3, "").str(4, "node-1"),
                            )
                            .msg(3, Pb::new().str(1, "http").int(2, 8080).str(3, "TCP")),
                    ),
                ),
                json!({
                    "apiVersion": "v1",
                    "kind": "Endpoints",
                    "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null},
                    "subsets": [{
                        "addresses": [{"ip": "10.244.1.5", "nodeName": "node-1"}],
                        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    }],
                }),
            ),
            (
                "Node",
                envelope(
                    "v1",
                    "Node",
                    Pb::new()
                        .msg(1, meta("node-1", ""))
                        .msg(
                            2,
                            Pb::new()
                                .str(1, "10.244.1.0/24")
                                .str(7, "10.244.1.0/24")
                                .int(4, 1)
                                .msg(
                                    5,
                                    Pb::new()
                                        .str(1, "dedicated")
                                        .str(2, "gpu")
                                        .str(3, "NoSchedule"),
                                ),
                        )
                        .msg(
                            3,
                            Pb::new()
                                .quantity(1, "cpu", "4")
                                .quantity(1, "pods", "110")
                                .msg(
                                    4,
                                    Pb::new()
                                        .str(1, "Ready")
                                        .str(2, "True")
                                        .msg(3, Pb::new().int(1, 1_795_534_200))
                                        .msg(4, Pb::new())
                                        .str(5, "KubeletReady"),
                                )
                                .msg(5, Pb::new().str(1, "InternalIP").str(2, "192.168.1.10"))
                                .msg(6, Pb::new().msg(1, Pb::new().int(1, 10250))),
                        ),
                ),
                json!({
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": "node-1", "creationTimestamp": null},
                    "spec": {
                        "podCIDR": "10.244.1.0/24",
                        "podCIDRs": ["10.244.1.0/24"],
                        "unschedulable": true,
                        "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
                    },
                    "status": {
                        "capacity": {"cpu": "4", "pods": "110"},
                        "conditions": [{
                            "type": "Ready",
                            "status": "True",
                            "lastHeartbeatTime": "2026-11-24T15:30:00Z",
                            "lastTransitionTime": null,
                            "reason": "KubeletReady",
                        }],
                        "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
                        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    },
                }),
            ),
            (
                "ReplicaSet",
                envelope(
                    "apps/v1",
                    "ReplicaSet",
                    Pb::new()
                        .msg(1, meta("web-7d4b9", "default"))
                        .msg(
                            2,
                            Pb::new()
                                .int(1, 0)
                                .msg(
                                    2,
                                    Pb::new().msg(
                                        2,
                                        Pb::new()
                                            .str(1, "tier")
                                            .str(2, "In")
                                            .str(3, "web")
                                            .str(3, "api"),
                                    ),
                                )
                                .int(4, 0),
                        )
                        .msg(3, Pb::new().int(1, 0).int(3, 4)),
                ),
                json!({
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": "web-7d4b9",
                        "namespace": "default",
                        "creationTimestamp": null,
                    },
                    "spec": {
                        "replicas": 0,
                        "selector": {"matchExpressions": [
                            {"key": "tier", "operator": "In", "values": ["web", "api"]},
                        ]},
                    },
                    "status": {"replicas": 0, "observedGeneration": 4},
                }),
            ),
        ];
        for (kind, body, expected) in cases {
            assert_eq!(decode(&body).unwrap(), expected, "{kind}");
        }
    }

    #[test]
    fn unknown_fields_are_skipped_and_counted() {
        let body = envelope(
            "v1",
            "Namespace",
            Pb::new()
                .msg(
                    1,
                    meta("demo", "").str(99, "from a newer client").int(100, 7),
                )
                .int(1000, 1)
                .raw(&Pb::new().key(1001, 1).0)
                .raw(&[1, 2, 3, 4, 5, 6, 7, 8])
                .raw(&Pb::new().key(1002, 5).0)
                .raw(&[1, 2, 3, 4]),
        );
        let decoded = decode_detailed(&body).unwrap();
        assert_eq!(
            decoded.object,
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "demo", "creationTimestamp": null},
            })
        );
        assert_eq!(decoded.unknown_field_count, 5);
        let unknown = |message, field| UnknownField { message, field };
        assert_eq!(
            decoded.unknown_fields,
            vec![
                unknown("ObjectMeta", 99),
                unknown("ObjectMeta", 100),
                unknown("Namespace", 1000),
                unknown("Namespace", 1001),
                unknown("Namespace", 1002),
            ]
        );
    }

    #[test]
    fn a_repeated_message_field_merges_and_the_last_scalar_wins() {
        // Protobuf merges a message field that occurs twice, and the last scalar wins, even a
        // zero one, which is then left out as omitempty.
        let body = envelope(
            "v1",
            "Namespace",
            Pb::new()
                .msg(1, Pb::new().str(1, "first").str(3, "kept"))
                .msg(1, Pb::new().str(1, "second").entry(11, "a", b"b"))
                .msg(3, Pb::new().str(1, "Active"))
                .msg(3, Pb::new().str(1, "")),
        );
        assert_eq!(
            decode(&body).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "second", "namespace": "kept", "labels": {"a": "b"}},
                "status": {},
            })
        );
    }

    /// Malformed bodies: each is an error, with where and why.
    #[test]
    fn malformed_bodies_are_errors() {
        let at = |message: &'static str, field: Option<u32>, path: &str| Location {
            message,
            field,
            path: path.to_owned(),
        };
        let malformed =
            |location: Location, problem: Problem| ProtobufError::Malformed { location, problem };
        let namespace = |object: Pb| envelope("v1", "Namespace", object);
        let cases: Vec<(&str, Vec<u8>, ProtobufError)> = vec![
            ("empty body", Vec::new(), ProtobufError::MissingMagic),
            (
                "JSON body",
                br#"{"kind":"Namespace"}"#.to_vec(),
                ProtobufError::MissingMagic,
            ),
            (
                "magic cut short",
                b"k8s".to_vec(),
                ProtobufError::MissingMagic,
            ),
            (
                "truncated varint in the envelope",
                [MAGIC.as_slice(), &[0x0a, 0x80]].concat(),
                malformed(at(ENVELOPE, Some(1), ""), Problem::TruncatedVarint),
            ),
            (
                "truncated varint in a field",
                namespace(Pb::new().msg(1, Pb::new().raw(&[0x38, 0xff]))),
                malformed(
                    at("ObjectMeta", Some(7), "metadata.generation"),
                    Problem::TruncatedVarint,
                ),
            ),
            (
                "varint of eleven bytes",
                namespace(Pb::new().msg(1, Pb::new().raw(&[0x38]).raw(&[0xff; 10]).raw(&[0x01]))),
                malformed(
                    at("ObjectMeta", Some(7), "metadata.generation"),
                    Problem::VarintTooLong,
                ),
            ),
            (
                "length past the end",
                namespace(Pb::new().msg(1, Pb::new().raw(&[0x0a, 0x10]).raw(b"demo"))),
                malformed(
                    at("ObjectMeta", Some(1), "metadata.name"),
                    Problem::LengthPastEnd {
                        length: 16,
                        remaining: 4,
                    },
                ),
            ),
            (
                "huge length",
                namespace(Pb::new().msg(1, Pb::new().raw(&[0x0a]).raw(&[0xff; 9]).raw(&[0x01]))),
                malformed(
                    at("ObjectMeta", Some(1), "metadata.name"),
                    Problem::LengthPastEnd {
                        length: u64::MAX,
                        remaining: 0,
                    },
                ),
            ),
            (
                "truncated 64-bit value",
                namespace(Pb::new().raw(&Pb::new().key(9, 1).0).raw(&[1, 2, 3])),
                malformed(
                    at("Namespace", Some(9), ""),
                    Problem::TruncatedFixed { width: 8 },
                ),
            ),
            (
                "a string sent as a varint",
                namespace(Pb::new().msg(1, Pb::new().int(1, 5))),
                malformed(
                    at("ObjectMeta", Some(1), "metadata.name"),
                    Problem::WrongWireType {
                        found: 0,
                        expected: "2 (length-delimited)",
                    },
                ),
            ),
            (
                "a number sent as 32 bits",
                envelope(
                    "apps/v1",
                    "Deployment",
                    Pb::new().msg(2, Pb::new().raw(&Pb::new().key(1, 5).0).raw(&[2, 0, 0, 0])),
                ),
                malformed(
                    at("DeploymentSpec", Some(1), "spec.replicas"),
                    Problem::WrongWireType {
                        found: 5,
                        expected: "0 (varint)",
                    },
                ),
            ),
            (
                "wrong wire type deep in a list",
                envelope(
                    "v1",
                    "Pod",
                    Pb::new().msg(
                        2,
                        Pb::new().msg(2, Pb::new().str(1, "a")).msg(
                            2,
                            Pb::new()
                                .str(1, "b")
                                .msg(8, Pb::new().msg(1, Pb::new().str(1, "cpu").int(2, 1))),
                        ),
                    ),
                ),
                malformed(
                    at(
                        MAP_ENTRY,
                        Some(2),
                        "spec.containers[1].resources.limits[cpu]",
                    ),
                    Problem::WrongWireType {
                        found: 0,
                        expected: "2 (length-delimited)",
                    },
                ),
            ),
            (
                "a special type with a wrong wire type",
                namespace(Pb::new().msg(1, Pb::new().msg(8, Pb::new().str(1, "2026")))),
                malformed(
                    at("Time", Some(1), "metadata.creationTimestamp"),
                    Problem::WrongWireType {
                        found: 2,
                        expected: "0 (varint)",
                    },
                ),
            ),
            (
                "a group",
                namespace(Pb::new().raw(&Pb::new().key(1, 3).0)),
                malformed(at("Namespace", Some(1), "metadata"), Problem::Group(3)),
            ),
            (
                "wire type 7",
                namespace(Pb::new().raw(&Pb::new().key(2, 7).0)),
                malformed(
                    at("Namespace", Some(2), "spec"),
                    Problem::InvalidWireType(7),
                ),
            ),
            (
                "field number 0",
                namespace(Pb::new().raw(&[0x02, 0x00])),
                malformed(at("Namespace", None, ""), Problem::InvalidFieldNumber(0)),
            ),
            (
                "IntOrString of type 2",
                envelope(
                    "v1",
                    "Service",
                    Pb::new().msg(
                        2,
                        Pb::new().msg(1, Pb::new().int(3, 80).msg(4, Pb::new().int(1, 2))),
                    ),
                ),
                malformed(
                    at("IntOrString", Some(1), "spec.ports[0].targetPort"),
                    Problem::InvalidValue("type 2 is neither 0 (int) nor 1 (string)".to_owned()),
                ),
            ),
            (
                "a time past year 9999",
                namespace(Pb::new().msg(1, Pb::new().msg(8, Pb::new().int(1, MAX_SECONDS + 1)))),
                malformed(
                    at("Time", Some(1), "metadata.creationTimestamp"),
                    Problem::InvalidValue(
                        "253402300800 seconds since 1970 is outside the years 0 to 9999 that \
                         Kubernetes JSON can write"
                            .to_owned(),
                    ),
                ),
            ),
            (
                "unknown kind",
                envelope("example.com/v1", "Widget", Pb::new()),
                ProtobufError::UnsupportedKind {
                    api_version: "example.com/v1".into(),
                    kind: "Widget".into(),
                },
            ),
            (
                "known kind in another version",
                envelope("apps/v1beta1", "Deployment", Pb::new()),
                ProtobufError::UnsupportedKind {
                    api_version: "apps/v1beta1".into(),
                    kind: "Deployment".into(),
                },
            ),
            (
                "no type meta",
                [MAGIC.as_slice(), &Pb::new().msg(2, Pb::new()).0].concat(),
                ProtobufError::UnsupportedKind {
                    api_version: String::new(),
                    kind: String::new(),
                },
            ),
            (
                "compressed",
                [
                    MAGIC.as_slice(),
                    &Pb::new()
                        .msg(1, Pb::new().str(1, "v1").str(2, "Namespace"))
                        .str(3, "gzip")
                        .0,
                ]
                .concat(),
                ProtobufError::UnsupportedContentEncoding("gzip".into()),
            ),
        ];
        for (name, body, expected) in cases {
            assert_eq!(decode(&body), Err(expected), "{name}");
        }
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_an_error() {
        // Deployment (1) → spec (2) → template (3) → metadata (4).
        assert_eq!(
            decode_with_limit(KUBECTL_DEPLOYMENT, 3),
            Err(ProtobufError::TooDeep {
                location: Location {
                    message: "ObjectMeta",
                    field: None,
                    path: "spec.template.metadata".to_owned()
                },
                limit: 3,
            })
        );
        // ... → template.spec (4) → containers (5) → resources (6).
        assert!(decode_with_limit(KUBECTL_DEPLOYMENT, 5).is_err());
        assert!(decode_with_limit(KUBECTL_DEPLOYMENT, 6).is_ok());
    }

    /// The deepest chain of messages in the tables: what a real body can nest at most.
    fn schema_depth(message: &'static Message, seen: &mut Vec<&'static str>) -> usize {
        assert!(
            !seen.contains(&message.name),
            "the tables are acyclic, but {} recurs",
            message.name
        );
        seen.push(message.name);
        let deepest = message
            .fields
            .iter()
            .filter_map(|field| match field.kind {
                Kind::Msg(inner) | Kind::Inline(inner) | Kind::Map(MapValue::Msg(inner)) => {
                    Some(schema_depth(inner, seen))
                }
                _ => None,
            })
            .max()
            .unwrap_or(0);
        seen.pop();
        deepest + 1
    }

    #[test]
    fn the_tables_are_consistent_and_within_the_depth_limit() {
        for (api_version, kind, root) in generated::ROOTS {
            assert_eq!(*kind, root.name, "{api_version} {kind}");
            let depth = schema_depth(root, &mut Vec::new());
            assert!(depth < MAX_DEPTH, "{kind} nests {depth} deep");
            let mut pending = vec![*root];
            let mut visited: Vec<&'static str> = Vec::new();
            while let Some(message) = pending.pop() {
                if visited.contains(&message.name) {
                    continue;
                }
                visited.push(message.name);
                for (index, field) in message.fields.iter().enumerate() {
                    let later = &message.fields[index + 1..];
                    assert!(
                        later.iter().all(|other| other.number != field.number),
                        "{}: field {} twice",
                        message.name,
                        field.number
                    );
                    assert!(
                        later.iter().all(|other| other.name != field.name),
                        "{}: {} twice",
                        message.name,
                        field.name
                    );
                    if let Kind::Msg(inner) | Kind::Inline(inner) = field.kind {
                        pending.push(inner);
                    }
                }
            }
        }
        // Pod → spec → volumes → (volume source) → ephemeral → volumeClaimTemplate → spec →
        // selector → matchExpressions; a Deployment adds spec → template, a CronJob
        // spec → jobTemplate → spec → template.
        assert_eq!(
            schema_depth(generated::root("v1", "Pod").unwrap(), &mut Vec::new()),
            9
        );
        let deepest = generated::ROOTS
            .iter()
            .map(|(_, _, root)| schema_depth(root, &mut Vec::new()))
            .max();
        assert_eq!(deepest, Some(13));
    }

    #[test]
    fn arbitrary_damage_never_panics() {
        // Every prefix and many single-byte changes of real bodies: an error or a value, never
        // a panic.
        for body in KUBECTL_BODIES {
            for end in 0..body.len() {
                let _ = decode(&body[..end]);
            }
            for position in 0..body.len() {
                for replacement in [0x00, 0x01, 0x07, 0x0a, 0x12, 0x7f, 0x80, 0xff] {
                    let mut damaged = body.to_vec();
                    damaged[position] = replacement;
                    let _ = decode(&damaged);
                }
            }
        }
        // Random objects for every kind: random bytes, then random fields of every wire type
        // with small numbers so that they hit the schema. A fixed xorshift seed keeps the test
        // repeatable.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (api_version, kind, _) in generated::ROOTS {
            for _ in 0..500 {
                let length = (next() % 64) as usize;
                let noise: Vec<u8> = (0..length).map(|_| next() as u8).collect();
                let _ = decode(&envelope(api_version, kind, Pb::new().raw(&noise)));
                let mut object = Pb::new();
                for _ in 0..(next() % 12) {
                    let number = (next() % 20 + 1) as u32;
                    object = match next() % 4 {
                        0 => object.int(number, next() as i64),
                        1 => object.bytes(number, &noise[..(next() as usize % (length + 1))]),
                        2 => object.raw(&Pb::new().key(number, 1).0).raw(&[0; 8]),
                        _ => object.msg(number, Pb::new().int(number, 1).str(number, "x")),
                    };
                }
                let _ = decode(&envelope(api_version, kind, object));
            }
        }
    }

    /// One of Kubernetes' special types decoded on its own.
    fn special_value(kind: Kind, data: &[u8]) -> Result<Value, ProtobufError> {
        let unknown = &mut Unknown::default();
        match kind {
            Kind::Time => time(data, unknown),
            Kind::MicroTime => micro_time(data, unknown),
            Kind::Duration => duration(data, unknown),
            Kind::Quantity => quantity(data, unknown),
            Kind::IntOrString => int_or_string(data, unknown),
            Kind::RawExtension => embedded_json(data, "RawExtension", unknown),
            Kind::FieldsV1 => embedded_json(data, "FieldsV1", unknown),
            other => panic!("{other:?} is not a special type"),
        }
    }

    #[test]
    fn times() {
        let cases: &[(&str, Pb, Value)] = &[
            ("empty is Go's zero time", Pb::new(), Value::Null),
            (
                "epoch",
                Pb::new().int(1, 0).int(2, 0),
                json!("1970-01-01T00:00:00Z"),
            ),
            (
                "nanoseconds dropped",
                Pb::new().int(1, 1_795_534_200).int(2, 999_999_999),
                json!("2026-11-24T15:30:00Z"),
            ),
            (
                "Go's zero time sent as seconds",
                Pb::new().int(1, GO_ZERO_TIME_SECONDS),
                Value::Null,
            ),
            (
                "before 1970",
                Pb::new().int(1, -1),
                json!("1969-12-31T23:59:59Z"),
            ),
            (
                "last second of 9999",
                Pb::new().int(1, MAX_SECONDS),
                json!("9999-12-31T23:59:59Z"),
            ),
        ];
        for (name, data, expected) in cases {
            let value = special_value(Kind::Time, &data.0);
            assert_eq!(value.as_ref(), Ok(expected), "{name}");
        }
        let cases: &[(&str, Pb, Value)] = &[
            ("empty is Go's zero time", Pb::new(), Value::Null),
            (
                "whole seconds",
                Pb::new().int(1, 1_795_534_200),
                json!("2026-11-24T15:30:00.000000Z"),
            ),
            (
                "truncated to microseconds",
                Pb::new().int(1, 1_795_534_200).int(2, 1_999),
                json!("2026-11-24T15:30:00.000001Z"),
            ),
            (
                "negative nanoseconds carry",
                Pb::new().int(1, 1_795_534_200).int(2, -1_000),
                json!("2026-11-24T15:29:59.999999Z"),
            ),
        ];
        for (name, data, expected) in cases {
            let value = special_value(Kind::MicroTime, &data.0);
            assert_eq!(value.as_ref(), Ok(expected), "{name}");
        }
        let too_early = Pb::new().int(1, MIN_SECONDS - 1);
        assert!(special_value(Kind::MicroTime, &too_early.0).is_err());
    }

    #[test]
    fn rfc3339_agrees_with_jiff() {
        // jiff as the oracle, over its range (which ends a day before Go's), in uneven steps so
        // that leap days, month ends and negative seconds all come up.
        let mut seconds = MIN_SECONDS;
        while seconds < 253_402_207_200 {
            let expected = jiff::Timestamp::from_second(seconds).unwrap().to_string();
            assert_eq!(rfc3339(seconds, None), expected, "{seconds}");
            seconds += 86_400 * 7 + 3_601;
        }
        let micros = jiff::Timestamp::new(1_709_164_800, 5_000).unwrap();
        assert_eq!(rfc3339(1_709_164_800, Some(5)), format!("{micros:.6}"));
        assert_eq!(rfc3339(1_709_164_800, None), "2024-02-29T00:00:00Z");
        assert_eq!(rfc3339(MIN_SECONDS, None), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn durations_read_as_go_prints_them() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (1_500, "1.5µs"),
            (1_000_000, "1ms"),
            (2_500_000, "2.5ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (9_900_500_000_000, "2h45m0.5s"),
            (-1_500_000_000, "-1.5s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanoseconds, expected) in cases {
            assert_eq!(go_duration(*nanoseconds), *expected, "{nanoseconds}");
            let data = Pb::new().int(1, *nanoseconds);
            let value = special_value(Kind::Duration, &data.0);
            assert_eq!(value, Ok(json!(expected)));
        }
    }

    #[test]
    fn other_special_types() {
        let cases: &[(&str, Kind, Pb, Result<Value, ()>)] = &[
            (
                "quantity",
                Kind::Quantity,
                Pb::new().str(1, "1.5Gi"),
                Ok(json!("1.5Gi")),
            ),
            ("empty quantity", Kind::Quantity, Pb::new(), Ok(json!("0"))),
            (
                "int",
                Kind::IntOrString,
                Pb::new().int(1, 0).int(2, -3).str(3, ""),
                Ok(json!(-3)),
            ),
            (
                "string",
                Kind::IntOrString,
                Pb::new().int(1, 1).int(2, 0).str(3, "25%"),
                Ok(json!("25%")),
            ),
            (
                "empty int or string",
                Kind::IntOrString,
                Pb::new(),
                Ok(json!(0)),
            ),
            (
                "raw extension",
                Kind::RawExtension,
                Pb::new().bytes(1, br#"{"a":[1,2]}"#),
                Ok(json!({"a": [1, 2]})),
            ),
            (
                "empty raw extension",
                Kind::RawExtension,
                Pb::new(),
                Ok(Value::Null),
            ),
            (
                "raw extension not JSON",
                Kind::RawExtension,
                Pb::new().bytes(1, b"\x0a\x02v1"),
                Err(()),
            ),
            (
                "fields",
                Kind::FieldsV1,
                Pb::new().bytes(1, br#"{"f:data":{".":{}}}"#),
                Ok(json!({"f:data": {".": {}}})),
            ),
        ];
        for (name, kind, data, expected) in cases {
            let value = special_value(*kind, &data.0).map_err(|_| ());
            assert_eq!(&value, expected, "{name}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_as_go_json_does() {
        let body = envelope(
            "v1",
            "Namespace",
            Pb::new().msg(1, Pb::new().bytes(1, b"de\xffmo")),
        );
        assert_eq!(
            decode(&body).unwrap()["metadata"]["name"],
            json!("de\u{fffd}mo")
        );
    }

    #[test]
    fn negative_int32_sent_sign_extended() {
        let body = envelope(
            "apps/v1",
            "Deployment",
            Pb::new().msg(2, Pb::new().int(6, -1)),
        );
        assert_eq!(
            decode(&body).unwrap()["spec"]["revisionHistoryLimit"],
            json!(-1)
        );
    }

    #[test]
    fn errors_say_where_and_what() {
        let body = envelope(
            "apps/v1",
            "Deployment",
            Pb::new().msg(
                2,
                Pb::new().msg(3, Pb::new().msg(2, Pb::new().msg(2, Pb::new().int(2, 7)))),
            ),
        );
        let error = decode(&body).unwrap_err();
        assert_eq!(
            error.to_string(),
            "malformed protobuf in message Container field 2 \
             (at spec.template.spec.containers[0].image): \
             wire type 0 (varint) where the schema expects 2 (length-delimited)"
        );
        let unsupported = decode(&envelope("example.com/v1", "Widget", Pb::new())).unwrap_err();
        assert_eq!(
            unsupported.to_string(),
            "cannot decode protobuf for kind \"Widget\" of apiVersion \"example.com/v1\"; \
             send it as application/json"
        );
    }
}
