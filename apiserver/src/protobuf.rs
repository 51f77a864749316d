//! Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into the
//! object's Kubernetes JSON, for the kinds this server serves.
//!
//! Why: kubectl sends its typed `create` commands (`create namespace`, `create configmap`,
//! `create secret`, `create deployment`, `create service`, `create serviceaccount`) as protobuf.
//! Objects here are stored and answered as JSON, so the body is turned into the `Value` a JSON
//! client would have sent; clients accept the JSON answer because their Accept header lists
//! `application/json` too. Encoding responses as protobuf is not done.
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
//! Field numbers and names follow `generated.proto` and the Go struct tags of `types.go` in
//! k8s.io/api and k8s.io/apimachinery v0.36.3 (Kubernetes 1.36; a superset of the fields kubectl
//! 1.32 and 1.33 send, as protobuf numbers never change meaning). Unknown field numbers are
//! skipped, as protobuf says, and counted in [`Decoded`]; among them PodSpec's `workloadRef`
//! (42), an alpha field of 1.35 that 1.36 removed.
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

/// How deeply messages may nest. The tables below are acyclic and nest at most 11 levels (a
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

/// The tables generated by build.rs from the vendored Kubernetes 1.33 types.
mod generated {
    use super::Kind::*;
    use super::{MapValue, Message, field, keep, list, message};

    include!(concat!(env!("OUT_DIR"), "/protobuf_tables.rs"));

    /// The message of an object of `kind` in `api_version`, if it has a table here.
    pub(super) fn root(api_version: &str, kind: &str) -> Option<&'static Message> {
        ROOTS
            .iter()
            .find(|(version, name, _)| *version == api_version && *name == kind)
            .map(|(_, _, message)| *message)
    }
}

/// The messages of the kinds served, from k8s.io/api and k8s.io/apimachinery v0.36.3
/// (`generated.proto` for numbers and types, the Go struct tags of `types.go` for JSON names,
/// pointers, `omitempty` and embedding). Every message reachable from a served kind is here, so
/// whatever a Pod template can carry decodes.
#[cfg(test)]
mod schema {
    use super::Kind::{
        Bool, FieldsV1, I32, I64, Inline, IntOrString, Map, MicroTime, Msg, Quantity, Str, Time,
    };
    use super::{MapValue, Message, field, keep, list, message};

    /// The kinds whose bodies decode, by apiVersion and kind.
    pub(super) static ROOTS: &[(&str, &str, &Message)] = &[
        ("v1", "Namespace", &NAMESPACE),
        ("v1", "ConfigMap", &CONFIG_MAP),
        ("v1", "Secret", &SECRET),
        ("v1", "Service", &SERVICE),
        ("v1", "ServiceAccount", &SERVICE_ACCOUNT),
        ("v1", "Pod", &POD),
        ("v1", "Endpoints", &ENDPOINTS),
        ("v1", "Node", &NODE),
        ("v1", "Event", &EVENT),
        ("v1", "Binding", &BINDING),
        ("apps/v1", "Deployment", &DEPLOYMENT),
        ("apps/v1", "ReplicaSet", &REPLICA_SET),
        ("coordination.k8s.io/v1", "Lease", &LEASE),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview", &SELF_SUBJECT_ACCESS_REVIEW),
        ("authorization.k8s.io/v1", "SubjectAccessReview", &SUBJECT_ACCESS_REVIEW),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview", &SELF_SUBJECT_RULES_REVIEW),
        ("rbac.authorization.k8s.io/v1", "Role", &ROLE),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", &CLUSTER_ROLE),
        ("rbac.authorization.k8s.io/v1", "RoleBinding", &ROLE_BINDING),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &CLUSTER_ROLE_BINDING),
        ("autoscaling/v1", "Scale", &SCALE),
        ("authentication.k8s.io/v1", "TokenRequest", &TOKEN_REQUEST),
        ("authentication.k8s.io/v1", "TokenReview", &TOKEN_REVIEW),
        ("authentication.k8s.io/v1", "SelfSubjectReview", &SELF_SUBJECT_REVIEW),
    ];

    /// The message of an object of `kind` in `api_version`, if it has a table here.
    pub(super) fn root(api_version: &str, kind: &str) -> Option<&'static Message> {
        ROOTS
            .iter()
            .find(|(version, name, _)| *version == api_version && *name == kind)
            .map(|(_, _, message)| *message)
    }
    // --- Namespace and the messages first reached from it ----------------------------------------

    // k8s.io.api.core.v1.Namespace
    static NAMESPACE: Message = message(
        "Namespace",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "spec", Msg(&NAMESPACE_SPEC)),
            field(3, "status", Msg(&NAMESPACE_STATUS)),
        ],
    );
    // k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta
    static OBJECT_META: Message = message(
        "ObjectMeta",
        &[
            field(1, "name", Str),
            field(2, "generateName", Str),
            field(3, "namespace", Str),
            field(4, "selfLink", Str),
            field(5, "uid", Str),
            field(6, "resourceVersion", Str),
            field(7, "generation", I64),
            field(8, "creationTimestamp", Time),
            field(9, "deletionTimestamp", Time),
            keep(10, "deletionGracePeriodSeconds", I64),
            field(11, "labels", Map(MapValue::Str)),
            field(12, "annotations", Map(MapValue::Str)),
            list(13, "ownerReferences", Msg(&OWNER_REFERENCE)),
            list(14, "finalizers", Str),
            list(17, "managedFields", Msg(&MANAGED_FIELDS_ENTRY)),
        ],
    );
    // k8s.io.apimachinery.pkg.apis.meta.v1.OwnerReference
    static OWNER_REFERENCE: Message = message(
        "OwnerReference",
        &[
            keep(5, "apiVersion", Str),
            keep(1, "kind", Str),
            keep(3, "name", Str),
            keep(4, "uid", Str),
            keep(6, "controller", Bool),
            keep(7, "blockOwnerDeletion", Bool),
        ],
    );
    // k8s.io.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry
    static MANAGED_FIELDS_ENTRY: Message = message(
        "ManagedFieldsEntry",
        &[
            field(1, "manager", Str),
            field(2, "operation", Str),
            field(3, "apiVersion", Str),
            field(4, "time", Time),
            field(6, "fieldsType", Str),
            field(7, "fieldsV1", FieldsV1),
            field(8, "subresource", Str),
        ],
    );
    // k8s.io.api.core.v1.NamespaceSpec
    static NAMESPACE_SPEC: Message = message("NamespaceSpec", &[list(1, "finalizers", Str)]);
    // k8s.io.api.core.v1.NamespaceStatus
    static NAMESPACE_STATUS: Message = message(
        "NamespaceStatus",
        &[
            field(1, "phase", Str),
            list(2, "conditions", Msg(&NAMESPACE_CONDITION)),
        ],
    );
    // k8s.io.api.core.v1.NamespaceCondition
    static NAMESPACE_CONDITION: Message = message(
        "NamespaceCondition",
        &[
            keep(1, "type", Str),
            keep(2, "status", Str),
            field(4, "lastTransitionTime", Time),
            field(5, "reason", Str),
            field(6, "message", Str),
        ],
    );

    // --- ConfigMap and the messages first reached from it ----------------------------------------

    // k8s.io.api.core.v1.ConfigMap
    static CONFIG_MAP: Message = message(
        "ConfigMap",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            keep(4, "immutable", Bool),
            field(2, "data", Map(MapValue::Str)),
            field(3, "binaryData", Map(MapValue::Bytes)),
        ],
    );

    // --- Secret and the messages first reached from it -------------------------------------------

    // k8s.io.api.core.v1.Secret
    static SECRET: Message = message(
        "Secret",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            keep(5, "immutable", Bool),
            field(2, "data", Map(MapValue::Bytes)),
            field(4, "stringData", Map(MapValue::Str)),
            field(3, "type", Str),
        ],
    );

    // --- Service and the messages first reached from it ------------------------------------------

    // k8s.io.api.core.v1.Service
    static SERVICE: Message = message(
        "Service",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "spec", Msg(&SERVICE_SPEC)),
            field(3, "status", Msg(&SERVICE_STATUS)),
        ],
    );
    // k8s.io.api.core.v1.ServiceSpec
    static SERVICE_SPEC: Message = message(
        "ServiceSpec",
        &[
            list(1, "ports", Msg(&SERVICE_PORT)),
            field(2, "selector", Map(MapValue::Str)),
            field(3, "clusterIP", Str),
            list(18, "clusterIPs", Str),
            field(4, "type", Str),
            list(5, "externalIPs", Str),
            field(7, "sessionAffinity", Str),
            field(8, "loadBalancerIP", Str),
            list(9, "loadBalancerSourceRanges", Str),
            field(10, "externalName", Str),
            field(11, "externalTrafficPolicy", Str),
            field(12, "healthCheckNodePort", I32),
            field(13, "publishNotReadyAddresses", Bool),
            field(14, "sessionAffinityConfig", Msg(&SESSION_AFFINITY_CONFIG)),
            list(19, "ipFamilies", Str),
            keep(17, "ipFamilyPolicy", Str),
            keep(20, "allocateLoadBalancerNodePorts", Bool),
            keep(21, "loadBalancerClass", Str),
            keep(22, "internalTrafficPolicy", Str),
            keep(23, "trafficDistribution", Str),
        ],
    );
    // k8s.io.api.core.v1.ServicePort
    static SERVICE_PORT: Message = message(
        "ServicePort",
        &[
            field(1, "name", Str),
            field(2, "protocol", Str),
            keep(6, "appProtocol", Str),
            keep(3, "port", I32),
            field(4, "targetPort", IntOrString),
            field(5, "nodePort", I32),
        ],
    );
    // k8s.io.api.core.v1.SessionAffinityConfig
    static SESSION_AFFINITY_CONFIG: Message = message(
        "SessionAffinityConfig",
        &[field(1, "clientIP", Msg(&CLIENT_IP_CONFIG))],
    );
    // k8s.io.api.core.v1.ClientIPConfig
    static CLIENT_IP_CONFIG: Message = message("ClientIPConfig", &[keep(1, "timeoutSeconds", I32)]);
    // k8s.io.api.core.v1.ServiceStatus
    static SERVICE_STATUS: Message = message(
        "ServiceStatus",
        &[
            field(1, "loadBalancer", Msg(&LOAD_BALANCER_STATUS)),
            list(2, "conditions", Msg(&CONDITION)),
        ],
    );
    // k8s.io.api.core.v1.LoadBalancerStatus
    static LOAD_BALANCER_STATUS: Message = message(
        "LoadBalancerStatus",
        &[list(1, "ingress", Msg(&LOAD_BALANCER_INGRESS))],
    );
    // k8s.io.api.core.v1.LoadBalancerIngress
    static LOAD_BALANCER_INGRESS: Message = message(
        "LoadBalancerIngress",
        &[
            field(1, "ip", Str),
            field(2, "hostname", Str),
            keep(3, "ipMode", Str),
            list(4, "ports", Msg(&PORT_STATUS)),
        ],
    );
    // k8s.io.api.core.v1.PortStatus
    static PORT_STATUS: Message = message(
        "PortStatus",
        &[
            keep(1, "port", I32),
            keep(2, "protocol", Str),
            keep(3, "error", Str),
        ],
    );
    // k8s.io.apimachinery.pkg.apis.meta.v1.Condition
    static CONDITION: Message = message(
        "Condition",
        &[
            keep(1, "type", Str),
            keep(2, "status", Str),
            field(3, "observedGeneration", I64),
            field(4, "lastTransitionTime", Time),
            keep(5, "reason", Str),
            keep(6, "message", Str),
        ],
    );

    // --- Pod and the messages first reached from it ----------------------------------------------

    // k8s.io.api.core.v1.Pod
    static POD: Message = message(
        "Pod",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "spec", Msg(&POD_SPEC)),
            field(3, "status", Msg(&POD_STATUS)),
        ],
    );
    // k8s.io.api.core.v1.PodSpec
    static POD_SPEC: Message = message(
        "PodSpec",
        &[
            list(1, "volumes", Msg(&VOLUME)),
            list(20, "initContainers", Msg(&CONTAINER)),
            list(2, "containers", Msg(&CONTAINER)),
            list(34, "ephemeralContainers", Msg(&EPHEMERAL_CONTAINER)),
            field(3, "restartPolicy", Str),
            keep(4, "terminationGracePeriodSeconds", I64),
            keep(5, "activeDeadlineSeconds", I64),
            field(6, "dnsPolicy", Str),
            field(7, "nodeSelector", Map(MapValue::Str)),
            field(8, "serviceAccountName", Str),
            field(9, "serviceAccount", Str),
            keep(21, "automountServiceAccountToken", Bool),
            field(10, "nodeName", Str),
            field(11, "hostNetwork", Bool),
            field(12, "hostPID", Bool),
            field(13, "hostIPC", Bool),
            keep(27, "shareProcessNamespace", Bool),
            field(14, "securityContext", Msg(&POD_SECURITY_CONTEXT)),
            list(15, "imagePullSecrets", Msg(&LOCAL_OBJECT_REFERENCE)),
            field(16, "hostname", Str),
            field(17, "subdomain", Str),
            field(18, "affinity", Msg(&AFFINITY)),
            field(19, "schedulerName", Str),
            list(22, "tolerations", Msg(&TOLERATION)),
            list(23, "hostAliases", Msg(&HOST_ALIAS)),
            field(24, "priorityClassName", Str),
            keep(25, "priority", I32),
            field(26, "dnsConfig", Msg(&POD_DNS_CONFIG)),
            list(28, "readinessGates", Msg(&POD_READINESS_GATE)),
            keep(29, "runtimeClassName", Str),
            keep(30, "enableServiceLinks", Bool),
            keep(31, "preemptionPolicy", Str),
            field(32, "overhead", Map(MapValue::Quantity)),
            list(
                33,
                "topologySpreadConstraints",
                Msg(&TOPOLOGY_SPREAD_CONSTRAINT),
            ),
            keep(35, "setHostnameAsFQDN", Bool),
            field(36, "os", Msg(&POD_OS)),
            keep(37, "hostUsers", Bool),
            list(38, "schedulingGates", Msg(&POD_SCHEDULING_GATE)),
            list(39, "resourceClaims", Msg(&POD_RESOURCE_CLAIM)),
            field(40, "resources", Msg(&RESOURCE_REQUIREMENTS)),
            keep(41, "hostnameOverride", Str),
            field(43, "schedulingGroup", Msg(&POD_SCHEDULING_GROUP)),
        ],
    );
    // k8s.io.api.core.v1.Volume
    static VOLUME: Message = message(
        "Volume",
        &[
            keep(1, "name", Str),
            field(2, "volumeSource", Inline(&VOLUME_SOURCE)),
        ],
    );
    // k8s.io.api.core.v1.VolumeSource
    static VOLUME_SOURCE: Message = message(
        "VolumeSource",
        &[
            field(1, "hostPath", Msg(&HOST_PATH_VOLUME_SOURCE)),
            field(2, "emptyDir", Msg(&EMPTY_DIR_VOLUME_SOURCE)),
            field(
                3,
                "gcePersistentDisk",
                Msg(&GCE_PERSISTENT_DISK_VOLUME_SOURCE),
            ),
            field(
                4,
                "awsElasticBlockStore",
                Msg(&AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE),
            ),
            field(5, "gitRepo", Msg(&GIT_REPO_VOLUME_SOURCE)),
            field(6, "secret", Msg(&SECRET_VOLUME_SOURCE)),
            field(7, "nfs", Msg(&NFS_VOLUME_SOURCE)),
            field(8, "iscsi", Msg(&ISCSI_VOLUME_SOURCE)),
            field(9, "glusterfs", Msg(&GLUSTERFS_VOLUME_SOURCE)),
            field(
                10,
                "persistentVolumeClaim",
                Msg(&PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE),
            ),
            field(11, "rbd", Msg(&RBD_VOLUME_SOURCE)),
            field(12, "flexVolume", Msg(&FLEX_VOLUME_SOURCE)),
            field(13, "cinder", Msg(&CINDER_VOLUME_SOURCE)),
            field(14, "cephfs", Msg(&CEPH_FS_VOLUME_SOURCE)),
            field(15, "flocker", Msg(&FLOCKER_VOLUME_SOURCE)),
            field(16, "downwardAPI", Msg(&DOWNWARD_API_VOLUME_SOURCE)),
            field(17, "fc", Msg(&FC_VOLUME_SOURCE)),
            field(18, "azureFile", Msg(&AZURE_FILE_VOLUME_SOURCE)),
            field(19, "configMap", Msg(&CONFIG_MAP_VOLUME_SOURCE)),
            field(
                20,
                "vsphereVolume",
                Msg(&VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE),
            ),
            field(21, "quobyte", Msg(&QUOBYTE_VOLUME_SOURCE)),
            field(22, "azureDisk", Msg(&AZURE_DISK_VOLUME_SOURCE)),
            field(
                23,
                "photonPersistentDisk",
                Msg(&PHOTON_PERSISTENT_DISK_VOLUME_SOURCE),
            ),
            field(26, "projected", Msg(&PROJECTED_VOLUME_SOURCE)),
            field(24, "portworxVolume", Msg(&PORTWORX_VOLUME_SOURCE)),
            field(25, "scaleIO", Msg(&SCALE_IO_VOLUME_SOURCE)),
            field(27, "storageos", Msg(&STORAGE_OS_VOLUME_SOURCE)),
            field(28, "csi", Msg(&CSI_VOLUME_SOURCE)),
            field(29, "ephemeral", Msg(&EPHEMERAL_VOLUME_SOURCE)),
            field(30, "image", Msg(&IMAGE_VOLUME_SOURCE)),
        ],
    );
    // k8s.io.api.core.v1.HostPathVolumeSource
    static HOST_PATH_VOLUME_SOURCE: Message = message(
        "HostPathVolumeSource",
        &[keep(1, "path", Str), keep(2, "type", Str)],
    );
    // k8s.io.api.core.v1.EmptyDirVolumeSource
    static EMPTY_DIR_VOLUME_SOURCE: Message = message(
        "EmptyDirVolumeSource",
        &[field(1, "medium", Str), field(2, "sizeLimit", Quantity)],
    );
    // k8s.io.api.core.v1.GCEPersistentDiskVolumeSource
    static GCE_PERSISTENT_DISK_VOLUME_SOURCE: Message = message(
        "GCEPersistentDiskVolumeSource",
        &[
            keep(1, "pdName", Str),
            field(2, "fsType", Str),
            field(3, "partition", I32),
            field(4, "readOnly", Bool),
        ],
    );
    // k8s.io.api.core.v1.AWSElasticBlockStoreVolumeSource
    static AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE: Message = message(
        "AWSElasticBlockStoreVolumeSource",
        &[
            keep(1, "volumeID", Str),
            field(2, "fsType", Str),
            field(3, "partition", I32),
            field(4, "readOnly", Bool),
        ],
    );
    // k8s.io.api.core.v1.GitRepoVolumeSource
    static GIT_REPO_VOLUME_SOURCE: Message = message(
        "GitRepoVolumeSource",
        &[
            keep(1, "repository", Str),
            field(2, "revision", Str),
            field(3, "directory", Str),
        ],
    );
    // k8s.io.api.core.v1.SecretVolumeSource
    static SECRET_VOLUME_SOURCE: Message = message(
        "SecretVolumeSource",
        &[
            field(1, "secretName", Str),
            list(2, "items", Msg(&KEY_TO_PATH)),
            keep(3, "defaultMode", I32),
            keep(4, "optional", Bool),
        ],
    );
    // k8s.io.api.core.v1.KeyToPath
    static KEY_TO_PATH: Message = message(
        "KeyToPath",
        &[
            keep(1, "key", Str),
            keep(2, "path", Str),
            keep(3, "mode", I32),
        ],
    );
    // k8s.io.api.core.v1.NFSVolumeSource
    static NFS_VOLUME_SOURCE: Message = message(
        "NFSVolumeSource",
        &[
            keep(1, "server", Str),
            keep(2, "path", Str),
            field(3, "readOnly", Bool),
        ],
    );
    // k8s.io.api.core.v1.ISCSIVolumeSource
    static ISCSI_VOLUME_SOURCE: Message = message(
        "ISCSIVolumeSource",
        &[
            keep(1, "targetPortal", Str),
            keep(2, "iqn", Str),
            keep(3, "lun", I32),
            field(4, "iscsiInterface", Str),
            field(5, "fsType", Str),
            field(6, "readOnly", Bool),
            list(7, "portals", Str),
            field(8, "chapAuthDiscovery", Bool),
            field(11, "chapAuthSession", Bool),
            field(10, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE)),
            keep(12, "initiatorName", Str),
        ],
    );
    // k8s.io.api.core.v1.LocalObjectReference
    static LOCAL_OBJECT_REFERENCE: Message =
        message("LocalObjectReference", &[field(1, "name", Str)]);
    // k8s.io.api.core.v1.GlusterfsVolumeSource
    static GLUSTERFS_VOLUME_SOURCE: Message = message(
        "GlusterfsVolumeSource",
        &[
            keep(1, "endpoints", Str),
            keep(2, "path", Str),
            field(3, "readOnly", Bool),
        ],
    );
    // k8s.io.api.core.v1.PersistentVolumeClaimVolumeSource
    static PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: Message = message(
        "PersistentVolumeClaimVolumeSource",
        &[keep(1, "claimName", Str), field(2, "readOnly", Bool)],
    );
    // k8s.io.api.core.v1.RBDVolumeSource
    static RBD_VOLUME_SOURCE: Message = message(
        "RBDVolumeSource",
        &[
            list(1, "monitors", Str),
            keep(2, "image", Str),
            field(3, "fsType", Str),
            field(4, "pool", Str),
            field(5, "user", Str),
            field(6, "keyring", Str),
            field(7, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE)),
            field(8, "readOnly", Bool),
        ],
    );
    // k8s.io.api.core.v1.FlexVolumeSource
    static FLEX_VOLUME_SOURCE: Message = message(
        "FlexVolumeSource",
        &[
            keep(1, "driver", Str),
            field(2, "fsType", Str),
            field(3, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE)),
            field(4, "readOnly", Bool),
            field(5, "options", Map(MapValue::Str)),
        ],
    );
    // k8s.io.api.core.v1.CinderVolumeSource
    static CINDER_VOLUME_SOURCE: Message = message(
        "CinderVolumeSource",
        &[
            keep(1, "volumeID", Str),
            field(2, "fsType", Str),
            field(3, "readOnly", Bool),
            field(4, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE)),
        ],
    );
    // k8s.io.api.core.v1.CephFSVolumeSource
    static CEPH_FS_VOLUME_SOURCE: Message = message(
        "CephFSVolumeSource",
        &[
            list(1, "monitors", Str),
            field(2, "path", Str),
            field(3, "user", Str),
            field(4, "secretFile", Str),
            field(5, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE)),
            field(6, "readOnly", Bool),
        ],
    );
    // k8s.io.api.core.v1.FlockerVolumeSource
    static FLOCKER_VOLUME_SOURCE: Message = message(
        "FlockerVolumeSource",
        &[field(1, "datasetName", Str), field(2, "datasetUUID", Str)],
    );
    // k8s.io.api.core.v1.DownwardAPIVolumeSource
    static DOWNWARD_API_VOLUME_SOURCE: Message = message(
        "DownwardAPIVolumeSource",
        &[
            list(1, "items", Msg(&DOWNWARD_API_VOLUME_FILE)),
            keep(2, "defaultMode", I32),
        ],
    );
    // k8s.io.api.core.v1.DownwardAPIVolumeFile
    static DOWNWARD_API_VOLUME_FILE: Message = message(
        "DownwardAPIVolumeFile",
        &[
            keep(1, "path", Str),
            field(2, "fieldRef", Msg(&OBJECT_FIELD_SELECTOR)),
            field(3, "resourceFieldRef", Msg(&RESOURCE_FIELD_SELECTOR)),
            keep(4, "mode", I32),
        ],
    );
    // k8s.io.api.core.v1.ObjectFieldSelector
    static OBJECT_FIELD_SELECTOR: Message = message(
        "ObjectFieldSelector",
        &[field(1, "apiVersion", Str), keep(2, "fieldPath", Str)],
    );
    // k8s.io.api.core.v1.ResourceFieldSelector
    static RESOURCE_FIELD_SELECTOR: Message = message(
        "ResourceFieldSelector",
        &[
            field(1, "containerName", Str),
            keep(2, "resource", Str),
            field(3, "divisor", Quantity),
        ],
    );
    // k8s.io.api.core.v1.FCVolumeSource
    static FC_VOLUME_SOURCE: Message = message(
        "FCVolumeSource",
        &[
            list(1, "targetWWNs", Str),
            keep(2, "lun", I32),
            field(3, "fsType", Str),
            field(4, "readOnly", Bool),
            list(5, "wwids", Str),
        ],
    );
    // k8s.io.api.core.v1.AzureFileVolumeSource
    static AZURE_FILE_VOLUME_SOURCE: Message = message(
        "AzureFileVolumeSource",
        &[
            keep(1, "secretName", Str),
            keep(2, "shareName", Str),
            field(3, "readOnly", Bool),
        ],
    );
    // k8s.io.api.core.v1.ConfigMapVolumeSource
    static CONFIG_MAP_VOLUME_SOURCE: Message = message(
        "ConfigMapVolumeSource",
        &[
            field(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
            list(2, "items", Msg(&KEY_TO_PATH)),
            keep(3, "defaultMode", I32),
            keep(4, "optional", Bool),
        ],
    );
    // k8s.io.api.core.v1.VsphereVirtualDiskVolumeSource
    static VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE: Message = message(
        "VsphereVirtualDiskVolumeSource",
        &[
            keep(1, "volumePath", Str),
            field(2, "fsType", Str),
            field(3, "storagePolicyName", Str),
            field(4, "storagePolicyID", Str),
        ],
    );
    // k8s.io.api.core.v1.QuobyteVolumeSource
    static QUOBYTE_VOLUME_SOURCE: Message = message(
        "QuobyteVolumeSource",
        &[
            keep(1, "registry", Str),
            keep(2, "volume", Str),
            field(3, "readOnly", Bool),
            field(4, "user", Str),
            field(5, "group", Str),
            field(6, "tenant", Str),
        ],
    );
    // k8s.io.api.core.v1.AzureDiskVolumeSource
    static AZURE_DISK_VOLUME_SOURCE: Message = message(
        "AzureDiskVolumeSource",
        &[
            keep(1, "diskName", Str),
            keep(2, "diskURI", Str),
            keep(3, "cachingMode", Str),
            keep(4, "fsType", Str),
            keep(5, "readOnly", Bool),
            keep(6, "kind", Str),
        ],
    );
    // k8s.io.api.core.v1.PhotonPersistentDiskVolumeSource
    static PHOTON_PERSISTENT_DISK_VOLUME_SOURCE: Message = message(
        "PhotonPersistentDiskVolumeSource",
        &[keep(1, "pdID", Str), field(2, "fsType", Str)],
    );
    // k8s.io.api.core.v1.ProjectedVolumeSource
    static PROJECTED_VOLUME_SOURCE: Message = message(
        "ProjectedVolumeSource",
        &[
            list(1, "sources", Msg(&VOLUME_PROJECTION)),
            keep(2, "defaultMode", I32),
        ],
    );
    // k8s.io.api.core.v1.VolumeProjection
    static VOLUME_PROJECTION: Message = message(
        "VolumeProjection",
        &[
            field(1, "secret", Msg(&SECRET_PROJECTION)),
            field(2, "downwardAPI", Msg(&DOWNWARD_API_PROJECTION)),
            field(3, "configMap", Msg(&CONFIG_MAP_PROJECTION)),
            field(
                4,
                "serviceAccountToken",
                Msg(&SERVICE_ACCOUNT_TOKEN_PROJECTION),
            ),
            field(
                5,
                "clusterTrustBundle",
                Msg(&CLUSTER_TRUST_BUNDLE_PROJECTION),
            ),
            field(6, "podCertificate", Msg(&POD_CERTIFICATE_PROJECTION)),
        ],
    );
    // k8s.io.api.core.v1.SecretProjection
    static SECRET_PROJECTION: Message = message(
        "SecretProjection",
        &[
            field(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
            list(2, "items", Msg(&KEY_TO_PATH)),
            keep(4, "optional", Bool),
        ],
    );
    // k8s.io.api.core.v1.DownwardAPIProjection
    static DOWNWARD_API_PROJECTION: Message = message(
        "DownwardAPIProjection",
        &[list(1, "items", Msg(&DOWNWARD_API_VOLUME_FILE))],
    );
    // k8s.io.api.core.v1.ConfigMapProjection
    static CONFIG_MAP_PROJECTION: Message = message(
        "ConfigMapProjection",
        &[
            field(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
            list(2, "items", Msg(&KEY_TO_PATH)),
            keep(4, "optional", Bool),
        ],
    );
    // k8s.io.api.core.v1.ServiceAccountTokenProjection
    static SERVICE_ACCOUNT_TOKEN_PROJECTION: Message = message(
        "ServiceAccountTokenProjection",
        &[
            field(1, "audience", Str),
            keep(2, "expirationSeconds", I64),
            keep(3, "path", Str),
        ],
    );
    // k8s.io.api.core.v1.ClusterTrustBundleProjection
    static CLUSTER_TRUST_BUNDLE_PROJECTION: Message = message(
        "ClusterTrustBundleProjection",
        &[
            keep(1, "name", Str),
            keep(2, "signerName", Str),
            field(3, "labelSelector", Msg(&LABEL_SELECTOR)),
            keep(5, "optional", Bool),
            keep(4, "path", Str),
        ],
    );
    // k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector
    static LABEL_SELECTOR: Message = message(
        "LabelSelector",
        &[
            field(1, "matchLabels", Map(MapValue::Str)),
            list(2, "matchExpressions", Msg(&LABEL_SELECTOR_REQUIREMENT)),
        ],
    );
    // k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement
    static LABEL_SELECTOR_REQUIREMENT: Message = message(
        "LabelSelectorRequirement",
        &[
            keep(1, "key", Str),
            keep(2, "operator", Str),
            list(3, "values", Str),
        ],
    );
    // k8s.io.api.core.v1.PodCertificateProjection
    static POD_CERTIFICATE_PROJECTION: Message = message(
        "PodCertificateProjection",
        &[
            field(1, "signerName", Str),
            field(2, "keyType", Str),
            keep(3, "maxExpirationSeconds", I32),
            field(4, "credentialBundlePath", Str),
            field(5, "keyPath", Str),
            field(6, "certificateChainPath", Str),
            field(7, "userAnnotations", Map(MapValue::Str)),
        ],
    );
    // k8s.io.api.core.v1.PortworxVolumeSource
    static PORTWORX_VOLUME_SOURCE: Message = message(
        "PortworxVolumeSource",
        &[
            keep(1, "volumeID", Str),
            field(2, "fsType", Str),
            field(3, "readOnly", Bool),
        ],
    );
    // k8s.io.api.core.v1.ScaleIOVolumeSource
    static SCALE_IO_VOLUME_SOURCE: Message = message(
        "ScaleIOVolumeSource",
        &[
            keep(1, "gateway", Str),
            keep(2, "system", Str),
            field(3, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE)),
            field(4, "sslEnabled", Bool),
            field(5, "protectionDomain", Str),
            field(6, "storagePool", Str),
            field(7, "storageMode", Str),
            field(8, "volumeName", Str),
            field(9, "fsType", Str),
            field(10, "readOnly", Bool),
        ],
    );
    // k8s.io.api.core.v1.StorageOSVolumeSource
    static STORAGE_OS_VOLUME_SOURCE: Message = message(
        "StorageOSVolumeSource",
        &[
            field(1, "volumeName", Str),
            field(2, "volumeNamespace", Str),
            field(3, "fsType", Str),
            field(4, "readOnly", Bool),
            field(5, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE)),
        ],
    );
    // k8s.io.api.core.v1.CSIVolumeSource
    static CSI_VOLUME_SOURCE: Message = message(
        "CSIVolumeSource",
        &[
            keep(1, "driver", Str),
            keep(2, "readOnly", Bool),
            keep(3, "fsType", Str),
            field(4, "volumeAttributes", Map(MapValue::Str)),
            field(5, "nodePublishSecretRef", Msg(&LOCAL_OBJECT_REFERENCE)),
        ],
    );
    // k8s.io.api.core.v1.EphemeralVolumeSource
    static EPHEMERAL_VOLUME_SOURCE: Message = message(
        "EphemeralVolumeSource",
        &[field(
            1,
            "volumeClaimTemplate",
            Msg(&PERSISTENT_VOLUME_CLAIM_TEMPLATE),
        )],
    );
    // k8s.io.api.core.v1.PersistentVolumeClaimTemplate
    static PERSISTENT_VOLUME_CLAIM_TEMPLATE: Message = message(
        "PersistentVolumeClaimTemplate",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "spec", Msg(&PERSISTENT_VOLUME_CLAIM_SPEC)),
        ],
    );
    // k8s.io.api.core.v1.PersistentVolumeClaimSpec
    static PERSISTENT_VOLUME_CLAIM_SPEC: Message = message(
        "PersistentVolumeClaimSpec",
        &[
            list(1, "accessModes", Str),
            field(4, "selector", Msg(&LABEL_SELECTOR)),
            field(2, "resources", Msg(&VOLUME_RESOURCE_REQUIREMENTS)),
            field(3, "volumeName", Str),
            keep(5, "storageClassName", Str),
            keep(6, "volumeMode", Str),
            field(7, "dataSource", Msg(&TYPED_LOCAL_OBJECT_REFERENCE)),
            field(8, "dataSourceRef", Msg(&TYPED_OBJECT_REFERENCE)),
            keep(9, "volumeAttributesClassName", Str),
        ],
    );
    // k8s.io.api.core.v1.VolumeResourceRequirements
    static VOLUME_RESOURCE_REQUIREMENTS: Message = message(
        "VolumeResourceRequirements",
        &[
            field(1, "limits", Map(MapValue::Quantity)),
            field(2, "requests", Map(MapValue::Quantity)),
        ],
    );
    // k8s.io.api.core.v1.TypedLocalObjectReference
    static TYPED_LOCAL_OBJECT_REFERENCE: Message = message(
        "TypedLocalObjectReference",
        &[
            keep(1, "apiGroup", Str),
            keep(2, "kind", Str),
            keep(3, "name", Str),
        ],
    );
    // k8s.io.api.core.v1.TypedObjectReference
    static TYPED_OBJECT_REFERENCE: Message = message(
        "TypedObjectReference",
        &[
            keep(1, "apiGroup", Str),
            keep(2, "kind", Str),
            keep(3, "name", Str),
            keep(4, "namespace", Str),
        ],
    );
    // k8s.io.api.core.v1.ImageVolumeSource
    static IMAGE_VOLUME_SOURCE: Message = message(
        "ImageVolumeSource",
        &[field(1, "reference", Str), field(2, "pullPolicy", Str)],
    );
    // k8s.io.api.core.v1.Container
    static CONTAINER: Message = message(
        "Container",
        &[
            keep(1, "name", Str),
            field(2, "image", Str),
            list(3, "command", Str),
            list(4, "args", Str),
            field(5, "workingDir", Str),
            list(6, "ports", Msg(&CONTAINER_PORT)),
            list(19, "envFrom", Msg(&ENV_FROM_SOURCE)),
            list(7, "env", Msg(&ENV_VAR)),
            field(8, "resources", Msg(&RESOURCE_REQUIREMENTS)),
            list(23, "resizePolicy", Msg(&CONTAINER_RESIZE_POLICY)),
            keep(24, "restartPolicy", Str),
            list(25, "restartPolicyRules", Msg(&CONTAINER_RESTART_RULE)),
            list(9, "volumeMounts", Msg(&VOLUME_MOUNT)),
            list(21, "volumeDevices", Msg(&VOLUME_DEVICE)),
            field(10, "livenessProbe", Msg(&PROBE)),
            field(11, "readinessProbe", Msg(&PROBE)),
            field(22, "startupProbe", Msg(&PROBE)),
            field(12, "lifecycle", Msg(&LIFECYCLE)),
            field(13, "terminationMessagePath", Str),
            field(20, "terminationMessagePolicy", Str),
            field(14, "imagePullPolicy", Str),
            field(15, "securityContext", Msg(&SECURITY_CONTEXT)),
            field(16, "stdin", Bool),
            field(17, "stdinOnce", Bool),
            field(18, "tty", Bool),
        ],
    );
    // k8s.io.api.core.v1.ContainerPort
    static CONTAINER_PORT: Message = message(
        "ContainerPort",
        &[
            field(1, "name", Str),
            field(2, "hostPort", I32),
            keep(3, "containerPort", I32),
            field(4, "protocol", Str),
            field(5, "hostIP", Str),
        ],
    );
    // k8s.io.api.core.v1.EnvFromSource
    static ENV_FROM_SOURCE: Message = message(
        "EnvFromSource",
        &[
            field(1, "prefix", Str),
            field(2, "configMapRef", Msg(&CONFIG_MAP_ENV_SOURCE)),
            field(3, "secretRef", Msg(&SECRET_ENV_SOURCE)),
        ],
    );
    // k8s.io.api.core.v1.ConfigMapEnvSource
    static CONFIG_MAP_ENV_SOURCE: Message = message(
        "ConfigMapEnvSource",
        &[
            field(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
            keep(2, "optional", Bool),
        ],
    );
    // k8s.io.api.core.v1.SecretEnvSource
    static SECRET_ENV_SOURCE: Message = message(
        "SecretEnvSource",
        &[
            field(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
            keep(2, "optional", Bool),
        ],
    );
    // k8s.io.api.core.v1.EnvVar
    static ENV_VAR: Message = message(
        "EnvVar",
        &[
            keep(1, "name", Str),
            field(2, "value", Str),
            field(3, "valueFrom", Msg(&ENV_VAR_SOURCE)),
        ],
    );
    // k8s.io.api.core.v1.EnvVarSource
    static ENV_VAR_SOURCE: Message = message(
        "EnvVarSource",
        &[
            field(1, "fieldRef", Msg(&OBJECT_FIELD_SELECTOR)),
            field(2, "resourceFieldRef", Msg(&RESOURCE_FIELD_SELECTOR)),
            field(3, "configMapKeyRef", Msg(&CONFIG_MAP_KEY_SELECTOR)),
            field(4, "secretKeyRef", Msg(&SECRET_KEY_SELECTOR)),
            field(5, "fileKeyRef", Msg(&FILE_KEY_SELECTOR)),
        ],
    );
    // k8s.io.api.core.v1.ConfigMapKeySelector
    static CONFIG_MAP_KEY_SELECTOR: Message = message(
        "ConfigMapKeySelector",
        &[
            field(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
            keep(2, "key", Str),
            keep(3, "optional", Bool),
        ],
    );
    // k8s.io.api.core.v1.SecretKeySelector
    static SECRET_KEY_SELECTOR: Message = message(
        "SecretKeySelector",
        &[
            field(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
            keep(2, "key", Str),
            keep(3, "optional", Bool),
        ],
    );
    // k8s.io.api.core.v1.FileKeySelector
    static FILE_KEY_SELECTOR: Message = message(
        "FileKeySelector",
        &[
            keep(1, "volumeName", Str),
            keep(2, "path", Str),
            keep(3, "key", Str),
            keep(4, "optional", Bool),
        ],
    );
    // k8s.io.api.core.v1.ResourceRequirements
    static RESOURCE_REQUIREMENTS: Message = message(
        "ResourceRequirements",
        &[
            field(1, "limits", Map(MapValue::Quantity)),
            field(2, "requests", Map(MapValue::Quantity)),
            list(3, "claims", Msg(&RESOURCE_CLAIM)),
        ],
    );
    // k8s.io.api.core.v1.ResourceClaim
    static RESOURCE_CLAIM: Message = message(
        "ResourceClaim",
        &[keep(1, "name", Str), field(2, "request", Str)],
    );
    // k8s.io.api.core.v1.ContainerResizePolicy
    static CONTAINER_RESIZE_POLICY: Message = message(
        "ContainerResizePolicy",
        &[keep(1, "resourceName", Str), keep(2, "restartPolicy", Str)],
    );
    // k8s.io.api.core.v1.ContainerRestartRule
    static CONTAINER_RESTART_RULE: Message = message(
        "ContainerRestartRule",
        &[
            field(1, "action", Str),
            field(2, "exitCodes", Msg(&CONTAINER_RESTART_RULE_ON_EXIT_CODES)),
        ],
    );
    // k8s.io.api.core.v1.ContainerRestartRuleOnExitCodes
    static CONTAINER_RESTART_RULE_ON_EXIT_CODES: Message = message(
        "ContainerRestartRuleOnExitCodes",
        &[field(1, "operator", Str), list(2, "values", I32)],
    );
    // k8s.io.api.core.v1.VolumeMount
    static VOLUME_MOUNT: Message = message(
        "VolumeMount",
        &[
            keep(1, "name", Str),
            field(2, "readOnly", Bool),
            keep(7, "recursiveReadOnly", Str),
            keep(3, "mountPath", Str),
            field(4, "subPath", Str),
            keep(5, "mountPropagation", Str),
            field(6, "subPathExpr", Str),
        ],
    );
    // k8s.io.api.core.v1.VolumeDevice
    static VOLUME_DEVICE: Message = message(
        "VolumeDevice",
        &[keep(1, "name", Str), keep(2, "devicePath", Str)],
    );
    // k8s.io.api.core.v1.Probe
    static PROBE: Message = message(
        "Probe",
        &[
            field(1, "handler", Inline(&PROBE_HANDLER)),
            field(2, "initialDelaySeconds", I32),
            field(3, "timeoutSeconds", I32),
            field(4, "periodSeconds", I32),
            field(5, "successThreshold", I32),
            field(6, "failureThreshold", I32),
            keep(7, "terminationGracePeriodSeconds", I64),
        ],
    );
    // k8s.io.api.core.v1.ProbeHandler
    static PROBE_HANDLER: Message = message(
        "ProbeHandler",
        &[
            field(1, "exec", Msg(&EXEC_ACTION)),
            field(2, "httpGet", Msg(&HTTP_GET_ACTION)),
            field(3, "tcpSocket", Msg(&TCP_SOCKET_ACTION)),
            field(4, "grpc", Msg(&GRPC_ACTION)),
        ],
    );
    // k8s.io.api.core.v1.ExecAction
    static EXEC_ACTION: Message = message("ExecAction", &[list(1, "command", Str)]);
    // k8s.io.api.core.v1.HTTPGetAction
    static HTTP_GET_ACTION: Message = message(
        "HTTPGetAction",
        &[
            field(1, "path", Str),
            field(2, "port", IntOrString),
            field(3, "host", Str),
            field(4, "scheme", Str),
            list(5, "httpHeaders", Msg(&HTTP_HEADER)),
        ],
    );
    // k8s.io.api.core.v1.HTTPHeader
    static HTTP_HEADER: Message =
        message("HTTPHeader", &[keep(1, "name", Str), keep(2, "value", Str)]);
    // k8s.io.api.core.v1.TCPSocketAction
    static TCP_SOCKET_ACTION: Message = message(
        "TCPSocketAction",
        &[field(1, "port", IntOrString), field(2, "host", Str)],
    );
    // k8s.io.api.core.v1.GRPCAction
    static GRPC_ACTION: Message = message(
        "GRPCAction",
        &[keep(1, "port", I32), keep(2, "service", Str)],
    );
    // k8s.io.api.core.v1.Lifecycle
    static LIFECYCLE: Message = message(
        "Lifecycle",
        &[
            field(1, "postStart", Msg(&LIFECYCLE_HANDLER)),
            field(2, "preStop", Msg(&LIFECYCLE_HANDLER)),
            keep(3, "stopSignal", Str),
        ],
    );
    // k8s.io.api.core.v1.LifecycleHandler
    static LIFECYCLE_HANDLER: Message = message(
        "LifecycleHandler",
        &[
            field(1, "exec", Msg(&EXEC_ACTION)),
            field(2, "httpGet", Msg(&HTTP_GET_ACTION)),
            field(3, "tcpSocket", Msg(&TCP_SOCKET_ACTION)),
            field(4, "sleep", Msg(&SLEEP_ACTION)),
        ],
    );
    // k8s.io.api.core.v1.SleepAction
    static SLEEP_ACTION: Message = message("SleepAction", &[keep(1, "seconds", I64)]);
    // k8s.io.api.core.v1.SecurityContext
    static SECURITY_CONTEXT: Message = message(
        "SecurityContext",
        &[
            field(1, "capabilities", Msg(&CAPABILITIES)),
            keep(2, "privileged", Bool),
            field(3, "seLinuxOptions", Msg(&SE_LINUX_OPTIONS)),
            field(10, "windowsOptions", Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
            keep(4, "runAsUser", I64),
            keep(8, "runAsGroup", I64),
            keep(5, "runAsNonRoot", Bool),
            keep(6, "readOnlyRootFilesystem", Bool),
            keep(7, "allowPrivilegeEscalation", Bool),
            keep(9, "procMount", Str),
            field(11, "seccompProfile", Msg(&SECCOMP_PROFILE)),
            field(12, "appArmorProfile", Msg(&APP_ARMOR_PROFILE)),
        ],
    );
    // k8s.io.api.core.v1.Capabilities
    static CAPABILITIES: Message =
        message("Capabilities", &[list(1, "add", Str), list(2, "drop", Str)]);
    // k8s.io.api.core.v1.SELinuxOptions
    static SE_LINUX_OPTIONS: Message = message(
        "SELinuxOptions",
        &[
            field(1, "user", Str),
            field(2, "role", Str),
            field(3, "type", Str),
            field(4, "level", Str),
        ],
    );
    // k8s.io.api.core.v1.WindowsSecurityContextOptions
    static WINDOWS_SECURITY_CONTEXT_OPTIONS: Message = message(
        "WindowsSecurityContextOptions",
        &[
            keep(1, "gmsaCredentialSpecName", Str),
            keep(2, "gmsaCredentialSpec", Str),
            keep(3, "runAsUserName", Str),
            keep(4, "hostProcess", Bool),
        ],
    );
    // k8s.io.api.core.v1.SeccompProfile
    static SECCOMP_PROFILE: Message = message(
        "SeccompProfile",
        &[keep(1, "type", Str), keep(2, "localhostProfile", Str)],
    );
    // k8s.io.api.core.v1.AppArmorProfile
    static APP_ARMOR_PROFILE: Message = message(
        "AppArmorProfile",
        &[keep(1, "type", Str), keep(2, "localhostProfile", Str)],
    );
    // k8s.io.api.core.v1.EphemeralContainer
    static EPHEMERAL_CONTAINER: Message = message(
        "EphemeralContainer",
        &[
            field(
                1,
                "ephemeralContainerCommon",
                Inline(&EPHEMERAL_CONTAINER_COMMON),
            ),
            field(2, "targetContainerName", Str),
        ],
    );
    // k8s.io.api.core.v1.EphemeralContainerCommon
    static EPHEMERAL_CONTAINER_COMMON: Message = message(
        "EphemeralContainerCommon",
        &[
            keep(1, "name", Str),
            field(2, "image", Str),
            list(3, "command", Str),
            list(4, "args", Str),
            field(5, "workingDir", Str),
            list(6, "ports", Msg(&CONTAINER_PORT)),
            list(19, "envFrom", Msg(&ENV_FROM_SOURCE)),
            list(7, "env", Msg(&ENV_VAR)),
            field(8, "resources", Msg(&RESOURCE_REQUIREMENTS)),
            list(23, "resizePolicy", Msg(&CONTAINER_RESIZE_POLICY)),
            keep(24, "restartPolicy", Str),
            list(25, "restartPolicyRules", Msg(&CONTAINER_RESTART_RULE)),
            list(9, "volumeMounts", Msg(&VOLUME_MOUNT)),
            list(21, "volumeDevices", Msg(&VOLUME_DEVICE)),
            field(10, "livenessProbe", Msg(&PROBE)),
            field(11, "readinessProbe", Msg(&PROBE)),
            field(22, "startupProbe", Msg(&PROBE)),
            field(12, "lifecycle", Msg(&LIFECYCLE)),
            field(13, "terminationMessagePath", Str),
            field(20, "terminationMessagePolicy", Str),
            field(14, "imagePullPolicy", Str),
            field(15, "securityContext", Msg(&SECURITY_CONTEXT)),
            field(16, "stdin", Bool),
            field(17, "stdinOnce", Bool),
            field(18, "tty", Bool),
        ],
    );
    // k8s.io.api.core.v1.PodSecurityContext
    static POD_SECURITY_CONTEXT: Message = message(
        "PodSecurityContext",
        &[
            field(1, "seLinuxOptions", Msg(&SE_LINUX_OPTIONS)),
            field(8, "windowsOptions", Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
            keep(2, "runAsUser", I64),
            keep(6, "runAsGroup", I64),
            keep(3, "runAsNonRoot", Bool),
            list(4, "supplementalGroups", I64),
            keep(12, "supplementalGroupsPolicy", Str),
            keep(5, "fsGroup", I64),
            list(7, "sysctls", Msg(&SYSCTL)),
            keep(9, "fsGroupChangePolicy", Str),
            field(10, "seccompProfile", Msg(&SECCOMP_PROFILE)),
            field(11, "appArmorProfile", Msg(&APP_ARMOR_PROFILE)),
            keep(13, "seLinuxChangePolicy", Str),
        ],
    );
    // k8s.io.api.core.v1.Sysctl
    static SYSCTL: Message = message("Sysctl", &[keep(1, "name", Str), keep(2, "value", Str)]);
    // k8s.io.api.core.v1.Affinity
    static AFFINITY: Message = message(
        "Affinity",
        &[
            field(1, "nodeAffinity", Msg(&NODE_AFFINITY)),
            field(2, "podAffinity", Msg(&POD_AFFINITY)),
            field(3, "podAntiAffinity", Msg(&POD_ANTI_AFFINITY)),
        ],
    );
    // k8s.io.api.core.v1.NodeAffinity
    static NODE_AFFINITY: Message = message(
        "NodeAffinity",
        &[
            field(
                1,
                "requiredDuringSchedulingIgnoredDuringExecution",
                Msg(&NODE_SELECTOR),
            ),
            list(
                2,
                "preferredDuringSchedulingIgnoredDuringExecution",
                Msg(&PREFERRED_SCHEDULING_TERM),
            ),
        ],
    );
    // k8s.io.api.core.v1.NodeSelector
    static NODE_SELECTOR: Message = message(
        "NodeSelector",
        &[list(1, "nodeSelectorTerms", Msg(&NODE_SELECTOR_TERM))],
    );
    // k8s.io.api.core.v1.NodeSelectorTerm
    static NODE_SELECTOR_TERM: Message = message(
        "NodeSelectorTerm",
        &[
            list(1, "matchExpressions", Msg(&NODE_SELECTOR_REQUIREMENT)),
            list(2, "matchFields", Msg(&NODE_SELECTOR_REQUIREMENT)),
        ],
    );
    // k8s.io.api.core.v1.NodeSelectorRequirement
    static NODE_SELECTOR_REQUIREMENT: Message = message(
        "NodeSelectorRequirement",
        &[
            keep(1, "key", Str),
            keep(2, "operator", Str),
            list(3, "values", Str),
        ],
    );
    // k8s.io.api.core.v1.PreferredSchedulingTerm
    static PREFERRED_SCHEDULING_TERM: Message = message(
        "PreferredSchedulingTerm",
        &[
            keep(1, "weight", I32),
            field(2, "preference", Msg(&NODE_SELECTOR_TERM)),
        ],
    );
    // k8s.io.api.core.v1.PodAffinity
    static POD_AFFINITY: Message = message(
        "PodAffinity",
        &[
            list(
                1,
                "requiredDuringSchedulingIgnoredDuringExecution",
                Msg(&POD_AFFINITY_TERM),
            ),
            list(
                2,
                "preferredDuringSchedulingIgnoredDuringExecution",
                Msg(&WEIGHTED_POD_AFFINITY_TERM),
            ),
        ],
    );
    // k8s.io.api.core.v1.PodAffinityTerm
    static POD_AFFINITY_TERM: Message = message(
        "PodAffinityTerm",
        &[
            field(1, "labelSelector", Msg(&LABEL_SELECTOR)),
            list(2, "namespaces", Str),
            keep(3, "topologyKey", Str),
            field(4, "namespaceSelector", Msg(&LABEL_SELECTOR)),
            list(5, "matchLabelKeys", Str),
            list(6, "mismatchLabelKeys", Str),
        ],
    );
    // k8s.io.api.core.v1.WeightedPodAffinityTerm
    static WEIGHTED_POD_AFFINITY_TERM: Message = message(
        "WeightedPodAffinityTerm",
        &[
            keep(1, "weight", I32),
            field(2, "podAffinityTerm", Msg(&POD_AFFINITY_TERM)),
        ],
    );
    // k8s.io.api.core.v1.PodAntiAffinity
    static POD_ANTI_AFFINITY: Message = message(
        "PodAntiAffinity",
        &[
            list(
                1,
                "requiredDuringSchedulingIgnoredDuringExecution",
                Msg(&POD_AFFINITY_TERM),
            ),
            list(
                2,
                "preferredDuringSchedulingIgnoredDuringExecution",
                Msg(&WEIGHTED_POD_AFFINITY_TERM),
            ),
        ],
    );
    // k8s.io.api.core.v1.Toleration
    static TOLERATION: Message = message(
        "Toleration",
        &[
            field(1, "key", Str),
            field(2, "operator", Str),
            field(3, "value", Str),
            field(4, "effect", Str),
            keep(5, "tolerationSeconds", I64),
        ],
    );
    // k8s.io.api.core.v1.HostAlias
    static HOST_ALIAS: Message = message(
        "HostAlias",
        &[keep(1, "ip", Str), list(2, "hostnames", Str)],
    );
    // k8s.io.api.core.v1.PodDNSConfig
    static POD_DNS_CONFIG: Message = message(
        "PodDNSConfig",
        &[
            list(1, "nameservers", Str),
            list(2, "searches", Str),
            list(3, "options", Msg(&POD_DNS_CONFIG_OPTION)),
        ],
    );
    // k8s.io.api.core.v1.PodDNSConfigOption
    static POD_DNS_CONFIG_OPTION: Message = message(
        "PodDNSConfigOption",
        &[field(1, "name", Str), keep(2, "value", Str)],
    );
    // k8s.io.api.core.v1.PodReadinessGate
    static POD_READINESS_GATE: Message =
        message("PodReadinessGate", &[keep(1, "conditionType", Str)]);
    // k8s.io.api.core.v1.TopologySpreadConstraint
    static TOPOLOGY_SPREAD_CONSTRAINT: Message = message(
        "TopologySpreadConstraint",
        &[
            keep(1, "maxSkew", I32),
            keep(2, "topologyKey", Str),
            keep(3, "whenUnsatisfiable", Str),
            field(4, "labelSelector", Msg(&LABEL_SELECTOR)),
            keep(5, "minDomains", I32),
            keep(6, "nodeAffinityPolicy", Str),
            keep(7, "nodeTaintsPolicy", Str),
            list(8, "matchLabelKeys", Str),
        ],
    );
    // k8s.io.api.core.v1.PodOS
    static POD_OS: Message = message("PodOS", &[keep(1, "name", Str)]);
    // k8s.io.api.core.v1.PodSchedulingGate
    static POD_SCHEDULING_GATE: Message = message("PodSchedulingGate", &[keep(1, "name", Str)]);
    // k8s.io.api.core.v1.PodResourceClaim
    static POD_RESOURCE_CLAIM: Message = message(
        "PodResourceClaim",
        &[
            keep(1, "name", Str),
            keep(3, "resourceClaimName", Str),
            keep(4, "resourceClaimTemplateName", Str),
        ],
    );
    // k8s.io.api.core.v1.PodSchedulingGroup
    static POD_SCHEDULING_GROUP: Message =
        message("PodSchedulingGroup", &[keep(1, "podGroupName", Str)]);
    // k8s.io.api.core.v1.PodStatus
    static POD_STATUS: Message = message(
        "PodStatus",
        &[
            field(17, "observedGeneration", I64),
            field(1, "phase", Str),
            list(2, "conditions", Msg(&POD_CONDITION)),
            field(3, "message", Str),
            field(4, "reason", Str),
            field(11, "nominatedNodeName", Str),
            field(5, "hostIP", Str),
            list(16, "hostIPs", Msg(&HOST_IP)),
            field(6, "podIP", Str),
            list(12, "podIPs", Msg(&POD_IP)),
            field(7, "startTime", Time),
            list(10, "initContainerStatuses", Msg(&CONTAINER_STATUS)),
            list(8, "containerStatuses", Msg(&CONTAINER_STATUS)),
            field(9, "qosClass", Str),
            list(13, "ephemeralContainerStatuses", Msg(&CONTAINER_STATUS)),
            field(14, "resize", Str),
            list(15, "resourceClaimStatuses", Msg(&POD_RESOURCE_CLAIM_STATUS)),
            field(
                18,
                "extendedResourceClaimStatus",
                Msg(&POD_EXTENDED_RESOURCE_CLAIM_STATUS),
            ),
            field(19, "allocatedResources", Map(MapValue::Quantity)),
            field(20, "resources", Msg(&RESOURCE_REQUIREMENTS)),
            list(
                21,
                "nodeAllocatableResourceClaimStatuses",
                Msg(&NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS),
            ),
        ],
    );
    // k8s.io.api.core.v1.PodCondition
    static POD_CONDITION: Message = message(
        "PodCondition",
        &[
            keep(1, "type", Str),
            field(7, "observedGeneration", I64),
            keep(2, "status", Str),
            field(3, "lastProbeTime", Time),
            field(4, "lastTransitionTime", Time),
            field(5, "reason", Str),
            field(6, "message", Str),
        ],
    );
    // k8s.io.api.core.v1.HostIP
    static HOST_IP: Message = message("HostIP", &[keep(1, "ip", Str)]);
    // k8s.io.api.core.v1.PodIP
    static POD_IP: Message = message("PodIP", &[keep(1, "ip", Str)]);
    // k8s.io.api.core.v1.ContainerStatus
    static CONTAINER_STATUS: Message = message(
        "ContainerStatus",
        &[
            keep(1, "name", Str),
            field(2, "state", Msg(&CONTAINER_STATE)),
            field(3, "lastState", Msg(&CONTAINER_STATE)),
            keep(4, "ready", Bool),
            keep(5, "restartCount", I32),
            keep(6, "image", Str),
            keep(7, "imageID", Str),
            field(8, "containerID", Str),
            keep(9, "started", Bool),
            field(10, "allocatedResources", Map(MapValue::Quantity)),
            field(11, "resources", Msg(&RESOURCE_REQUIREMENTS)),
            list(12, "volumeMounts", Msg(&VOLUME_MOUNT_STATUS)),
            field(13, "user", Msg(&CONTAINER_USER)),
            list(14, "allocatedResourcesStatus", Msg(&RESOURCE_STATUS)),
            keep(15, "stopSignal", Str),
        ],
    );
    // k8s.io.api.core.v1.ContainerState
    static CONTAINER_STATE: Message = message(
        "ContainerState",
        &[
            field(1, "waiting", Msg(&CONTAINER_STATE_WAITING)),
            field(2, "running", Msg(&CONTAINER_STATE_RUNNING)),
            field(3, "terminated", Msg(&CONTAINER_STATE_TERMINATED)),
        ],
    );
    // k8s.io.api.core.v1.ContainerStateWaiting
    static CONTAINER_STATE_WAITING: Message = message(
        "ContainerStateWaiting",
        &[field(1, "reason", Str), field(2, "message", Str)],
    );
    // k8s.io.api.core.v1.ContainerStateRunning
    static CONTAINER_STATE_RUNNING: Message =
        message("ContainerStateRunning", &[field(1, "startedAt", Time)]);
    // k8s.io.api.core.v1.ContainerStateTerminated
    static CONTAINER_STATE_TERMINATED: Message = message(
        "ContainerStateTerminated",
        &[
            keep(1, "exitCode", I32),
            field(2, "signal", I32),
            field(3, "reason", Str),
            field(4, "message", Str),
            field(5, "startedAt", Time),
            field(6, "finishedAt", Time),
            field(7, "containerID", Str),
        ],
    );
    // k8s.io.api.core.v1.VolumeMountStatus
    static VOLUME_MOUNT_STATUS: Message = message(
        "VolumeMountStatus",
        &[
            keep(1, "name", Str),
            keep(2, "mountPath", Str),
            field(3, "readOnly", Bool),
            keep(4, "recursiveReadOnly", Str),
            field(5, "volumeStatus", Msg(&VOLUME_STATUS)),
        ],
    );
    // k8s.io.api.core.v1.VolumeStatus
    static VOLUME_STATUS: Message = message(
        "VolumeStatus",
        &[field(1, "image", Msg(&IMAGE_VOLUME_STATUS))],
    );
    // k8s.io.api.core.v1.ImageVolumeStatus
    static IMAGE_VOLUME_STATUS: Message =
        message("ImageVolumeStatus", &[field(1, "imageRef", Str)]);
    // k8s.io.api.core.v1.ContainerUser
    static CONTAINER_USER: Message = message(
        "ContainerUser",
        &[field(1, "linux", Msg(&LINUX_CONTAINER_USER))],
    );
    // k8s.io.api.core.v1.LinuxContainerUser
    static LINUX_CONTAINER_USER: Message = message(
        "LinuxContainerUser",
        &[
            keep(1, "uid", I64),
            keep(2, "gid", I64),
            list(3, "supplementalGroups", I64),
        ],
    );
    // k8s.io.api.core.v1.ResourceStatus
    static RESOURCE_STATUS: Message = message(
        "ResourceStatus",
        &[
            keep(1, "name", Str),
            list(2, "resources", Msg(&RESOURCE_HEALTH)),
        ],
    );
    // k8s.io.api.core.v1.ResourceHealth
    static RESOURCE_HEALTH: Message = message(
        "ResourceHealth",
        &[
            keep(1, "resourceID", Str),
            field(2, "health", Str),
            keep(6, "message", Str),
        ],
    );
    // k8s.io.api.core.v1.PodResourceClaimStatus
    static POD_RESOURCE_CLAIM_STATUS: Message = message(
        "PodResourceClaimStatus",
        &[keep(1, "name", Str), keep(2, "resourceClaimName", Str)],
    );
    // k8s.io.api.core.v1.PodExtendedResourceClaimStatus
    static POD_EXTENDED_RESOURCE_CLAIM_STATUS: Message = message(
        "PodExtendedResourceClaimStatus",
        &[
            list(
                1,
                "requestMappings",
                Msg(&CONTAINER_EXTENDED_RESOURCE_REQUEST),
            ),
            keep(2, "resourceClaimName", Str),
        ],
    );
    // k8s.io.api.core.v1.ContainerExtendedResourceRequest
    static CONTAINER_EXTENDED_RESOURCE_REQUEST: Message = message(
        "ContainerExtendedResourceRequest",
        &[
            keep(1, "containerName", Str),
            keep(2, "resourceName", Str),
            keep(3, "requestName", Str),
        ],
    );
    // k8s.io.api.core.v1.NodeAllocatableResourceClaimStatus
    static NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS: Message = message(
        "NodeAllocatableResourceClaimStatus",
        &[
            keep(1, "resourceClaimName", Str),
            list(2, "containers", Str),
            field(3, "resources", Map(MapValue::Quantity)),
        ],
    );

    // --- Deployment and the messages first reached from it ---------------------------------------

    // k8s.io.api.apps.v1.Deployment
    static DEPLOYMENT: Message = message(
        "Deployment",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "spec", Msg(&DEPLOYMENT_SPEC)),
            field(3, "status", Msg(&DEPLOYMENT_STATUS)),
        ],
    );
    // k8s.io.api.apps.v1.DeploymentSpec
    static DEPLOYMENT_SPEC: Message = message(
        "DeploymentSpec",
        &[
            keep(1, "replicas", I32),
            field(2, "selector", Msg(&LABEL_SELECTOR)),
            field(3, "template", Msg(&POD_TEMPLATE_SPEC)),
            field(4, "strategy", Msg(&DEPLOYMENT_STRATEGY)),
            field(5, "minReadySeconds", I32),
            keep(6, "revisionHistoryLimit", I32),
            field(7, "paused", Bool),
            keep(9, "progressDeadlineSeconds", I32),
        ],
    );
    // k8s.io.api.core.v1.PodTemplateSpec
    static POD_TEMPLATE_SPEC: Message = message(
        "PodTemplateSpec",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "spec", Msg(&POD_SPEC)),
        ],
    );
    // k8s.io.api.apps.v1.DeploymentStrategy
    static DEPLOYMENT_STRATEGY: Message = message(
        "DeploymentStrategy",
        &[
            field(1, "type", Str),
            field(2, "rollingUpdate", Msg(&ROLLING_UPDATE_DEPLOYMENT)),
        ],
    );
    // k8s.io.api.apps.v1.RollingUpdateDeployment
    static ROLLING_UPDATE_DEPLOYMENT: Message = message(
        "RollingUpdateDeployment",
        &[
            field(1, "maxUnavailable", IntOrString),
            field(2, "maxSurge", IntOrString),
        ],
    );
    // k8s.io.api.apps.v1.DeploymentStatus
    static DEPLOYMENT_STATUS: Message = message(
        "DeploymentStatus",
        &[
            field(1, "observedGeneration", I64),
            field(2, "replicas", I32),
            field(3, "updatedReplicas", I32),
            field(7, "readyReplicas", I32),
            field(4, "availableReplicas", I32),
            field(5, "unavailableReplicas", I32),
            keep(9, "terminatingReplicas", I32),
            list(6, "conditions", Msg(&DEPLOYMENT_CONDITION)),
            keep(8, "collisionCount", I32),
        ],
    );
    // k8s.io.api.apps.v1.DeploymentCondition
    static DEPLOYMENT_CONDITION: Message = message(
        "DeploymentCondition",
        &[
            keep(1, "type", Str),
            keep(2, "status", Str),
            field(6, "lastUpdateTime", Time),
            field(7, "lastTransitionTime", Time),
            field(4, "reason", Str),
            field(5, "message", Str),
        ],
    );

    // --- ReplicaSet and the messages first reached from it ---------------------------------------

    // k8s.io.api.apps.v1.ReplicaSet
    static REPLICA_SET: Message = message(
        "ReplicaSet",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "spec", Msg(&REPLICA_SET_SPEC)),
            field(3, "status", Msg(&REPLICA_SET_STATUS)),
        ],
    );
    // k8s.io.api.apps.v1.ReplicaSetSpec
    static REPLICA_SET_SPEC: Message = message(
        "ReplicaSetSpec",
        &[
            keep(1, "replicas", I32),
            field(4, "minReadySeconds", I32),
            field(2, "selector", Msg(&LABEL_SELECTOR)),
            field(3, "template", Msg(&POD_TEMPLATE_SPEC)),
        ],
    );
    // k8s.io.api.apps.v1.ReplicaSetStatus
    static REPLICA_SET_STATUS: Message = message(
        "ReplicaSetStatus",
        &[
            keep(1, "replicas", I32),
            field(2, "fullyLabeledReplicas", I32),
            field(4, "readyReplicas", I32),
            field(5, "availableReplicas", I32),
            keep(7, "terminatingReplicas", I32),
            field(3, "observedGeneration", I64),
            list(6, "conditions", Msg(&REPLICA_SET_CONDITION)),
        ],
    );
    // k8s.io.api.apps.v1.ReplicaSetCondition
    static REPLICA_SET_CONDITION: Message = message(
        "ReplicaSetCondition",
        &[
            keep(1, "type", Str),
            keep(2, "status", Str),
            field(3, "lastTransitionTime", Time),
            field(4, "reason", Str),
            field(5, "message", Str),
        ],
    );

    // --- Endpoints and the messages first reached from it ----------------------------------------

    // k8s.io.api.core.v1.Endpoints
    static ENDPOINTS: Message = message(
        "Endpoints",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            list(2, "subsets", Msg(&ENDPOINT_SUBSET)),
        ],
    );
    // k8s.io.api.core.v1.EndpointSubset
    static ENDPOINT_SUBSET: Message = message(
        "EndpointSubset",
        &[
            list(1, "addresses", Msg(&ENDPOINT_ADDRESS)),
            list(2, "notReadyAddresses", Msg(&ENDPOINT_ADDRESS)),
            list(3, "ports", Msg(&ENDPOINT_PORT)),
        ],
    );
    // k8s.io.api.core.v1.EndpointAddress
    static ENDPOINT_ADDRESS: Message = message(
        "EndpointAddress",
        &[
            keep(1, "ip", Str),
            field(3, "hostname", Str),
            keep(4, "nodeName", Str),
            field(2, "targetRef", Msg(&OBJECT_REFERENCE)),
        ],
    );
    // k8s.io.api.core.v1.ObjectReference
    static OBJECT_REFERENCE: Message = message(
        "ObjectReference",
        &[
            field(1, "kind", Str),
            field(2, "namespace", Str),
            field(3, "name", Str),
            field(4, "uid", Str),
            field(5, "apiVersion", Str),
            field(6, "resourceVersion", Str),
            field(7, "fieldPath", Str),
        ],
    );
    // k8s.io.api.core.v1.EndpointPort
    static ENDPOINT_PORT: Message = message(
        "EndpointPort",
        &[
            field(1, "name", Str),
            keep(2, "port", I32),
            field(3, "protocol", Str),
            keep(4, "appProtocol", Str),
        ],
    );

    // --- Node and the messages first reached from it ---------------------------------------------

    // k8s.io.api.core.v1.Node
    static NODE: Message = message(
        "Node",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "spec", Msg(&NODE_SPEC)),
            field(3, "status", Msg(&NODE_STATUS)),
        ],
    );
    // k8s.io.api.core.v1.NodeSpec
    static NODE_SPEC: Message = message(
        "NodeSpec",
        &[
            field(1, "podCIDR", Str),
            list(7, "podCIDRs", Str),
            field(3, "providerID", Str),
            field(4, "unschedulable", Bool),
            list(5, "taints", Msg(&TAINT)),
            field(6, "configSource", Msg(&NODE_CONFIG_SOURCE)),
            field(2, "externalID", Str),
        ],
    );
    // k8s.io.api.core.v1.Taint
    static TAINT: Message = message(
        "Taint",
        &[
            keep(1, "key", Str),
            field(2, "value", Str),
            keep(3, "effect", Str),
            field(4, "timeAdded", Time),
        ],
    );
    // k8s.io.api.core.v1.NodeConfigSource
    static NODE_CONFIG_SOURCE: Message = message(
        "NodeConfigSource",
        &[field(2, "configMap", Msg(&CONFIG_MAP_NODE_CONFIG_SOURCE))],
    );
    // k8s.io.api.core.v1.ConfigMapNodeConfigSource
    static CONFIG_MAP_NODE_CONFIG_SOURCE: Message = message(
        "ConfigMapNodeConfigSource",
        &[
            keep(1, "namespace", Str),
            keep(2, "name", Str),
            field(3, "uid", Str),
            field(4, "resourceVersion", Str),
            keep(5, "kubeletConfigKey", Str),
        ],
    );
    // k8s.io.api.core.v1.NodeStatus
    static NODE_STATUS: Message = message(
        "NodeStatus",
        &[
            field(1, "capacity", Map(MapValue::Quantity)),
            field(2, "allocatable", Map(MapValue::Quantity)),
            field(3, "phase", Str),
            list(4, "conditions", Msg(&NODE_CONDITION)),
            list(5, "addresses", Msg(&NODE_ADDRESS)),
            field(6, "daemonEndpoints", Msg(&NODE_DAEMON_ENDPOINTS)),
            field(7, "nodeInfo", Msg(&NODE_SYSTEM_INFO)),
            list(8, "images", Msg(&CONTAINER_IMAGE)),
            list(9, "volumesInUse", Str),
            list(10, "volumesAttached", Msg(&ATTACHED_VOLUME)),
            field(11, "config", Msg(&NODE_CONFIG_STATUS)),
            list(12, "runtimeHandlers", Msg(&NODE_RUNTIME_HANDLER)),
            field(13, "features", Msg(&NODE_FEATURES)),
            list(14, "declaredFeatures", Str),
        ],
    );
    // k8s.io.api.core.v1.NodeCondition
    static NODE_CONDITION: Message = message(
        "NodeCondition",
        &[
            keep(1, "type", Str),
            keep(2, "status", Str),
            field(3, "lastHeartbeatTime", Time),
            field(4, "lastTransitionTime", Time),
            field(5, "reason", Str),
            field(6, "message", Str),
        ],
    );
    // k8s.io.api.core.v1.NodeAddress
    static NODE_ADDRESS: Message = message(
        "NodeAddress",
        &[keep(1, "type", Str), keep(2, "address", Str)],
    );
    // k8s.io.api.core.v1.NodeDaemonEndpoints
    static NODE_DAEMON_ENDPOINTS: Message = message(
        "NodeDaemonEndpoints",
        &[field(1, "kubeletEndpoint", Msg(&DAEMON_ENDPOINT))],
    );
    // k8s.io.api.core.v1.DaemonEndpoint
    static DAEMON_ENDPOINT: Message = message("DaemonEndpoint", &[keep(1, "Port", I32)]);
    // k8s.io.api.core.v1.NodeSystemInfo
    static NODE_SYSTEM_INFO: Message = message(
        "NodeSystemInfo",
        &[
            keep(1, "machineID", Str),
            keep(2, "systemUUID", Str),
            keep(3, "bootID", Str),
            keep(4, "kernelVersion", Str),
            keep(5, "osImage", Str),
            keep(6, "containerRuntimeVersion", Str),
            keep(7, "kubeletVersion", Str),
            keep(8, "kubeProxyVersion", Str),
            keep(9, "operatingSystem", Str),
            keep(10, "architecture", Str),
            field(11, "swap", Msg(&NODE_SWAP_STATUS)),
        ],
    );
    // k8s.io.api.core.v1.NodeSwapStatus
    static NODE_SWAP_STATUS: Message = message("NodeSwapStatus", &[keep(1, "capacity", I64)]);
    // k8s.io.api.core.v1.ContainerImage
    static CONTAINER_IMAGE: Message = message(
        "ContainerImage",
        &[list(1, "names", Str), field(2, "sizeBytes", I64)],
    );
    // k8s.io.api.core.v1.AttachedVolume
    static ATTACHED_VOLUME: Message = message(
        "AttachedVolume",
        &[keep(1, "name", Str), keep(2, "devicePath", Str)],
    );
    // k8s.io.api.core.v1.NodeConfigStatus
    static NODE_CONFIG_STATUS: Message = message(
        "NodeConfigStatus",
        &[
            field(1, "assigned", Msg(&NODE_CONFIG_SOURCE)),
            field(2, "active", Msg(&NODE_CONFIG_SOURCE)),
            field(3, "lastKnownGood", Msg(&NODE_CONFIG_SOURCE)),
            field(4, "error", Str),
        ],
    );
    // k8s.io.api.core.v1.NodeRuntimeHandler
    static NODE_RUNTIME_HANDLER: Message = message(
        "NodeRuntimeHandler",
        &[
            keep(1, "name", Str),
            field(2, "features", Msg(&NODE_RUNTIME_HANDLER_FEATURES)),
        ],
    );
    // k8s.io.api.core.v1.NodeRuntimeHandlerFeatures
    static NODE_RUNTIME_HANDLER_FEATURES: Message = message(
        "NodeRuntimeHandlerFeatures",
        &[
            keep(1, "recursiveReadOnlyMounts", Bool),
            keep(2, "userNamespaces", Bool),
        ],
    );
    // k8s.io.api.core.v1.NodeFeatures
    static NODE_FEATURES: Message =
        message("NodeFeatures", &[keep(1, "supplementalGroupsPolicy", Bool)]);

    // --- Event and the messages first reached from it --------------------------------------------

    // k8s.io.api.core.v1.Event
    static EVENT: Message = message(
        "Event",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "involvedObject", Msg(&OBJECT_REFERENCE)),
            field(3, "reason", Str),
            field(4, "message", Str),
            field(5, "source", Msg(&EVENT_SOURCE)),
            field(6, "firstTimestamp", Time),
            field(7, "lastTimestamp", Time),
            field(8, "count", I32),
            field(9, "type", Str),
            field(10, "eventTime", MicroTime),
            field(11, "series", Msg(&EVENT_SERIES)),
            field(12, "action", Str),
            field(13, "related", Msg(&OBJECT_REFERENCE)),
            keep(14, "reportingComponent", Str),
            keep(15, "reportingInstance", Str),
        ],
    );
    // k8s.io.api.core.v1.EventSource
    static EVENT_SOURCE: Message = message(
        "EventSource",
        &[field(1, "component", Str), field(2, "host", Str)],
    );
    // k8s.io.api.core.v1.EventSeries
    static EVENT_SERIES: Message = message(
        "EventSeries",
        &[
            field(1, "count", I32),
            field(2, "lastObservedTime", MicroTime),
        ],
    );

    // --- Lease and the messages first reached from it --------------------------------------------

    // k8s.io.api.coordination.v1.Lease
    // k8s.io.api.authorization.v1.SelfSubjectAccessReview (the request: no status)
    static SELF_SUBJECT_ACCESS_REVIEW: Message =
        message("SelfSubjectAccessReview", &[field(1, "metadata", Msg(&OBJECT_META)), field(2, "spec", Msg(&SELF_SUBJECT_ACCESS_REVIEW_SPEC))]);
    static SELF_SUBJECT_ACCESS_REVIEW_SPEC: Message = message(
        "SelfSubjectAccessReviewSpec",
        &[field(1, "resourceAttributes", Msg(&RESOURCE_ATTRIBUTES)), field(2, "nonResourceAttributes", Msg(&NON_RESOURCE_ATTRIBUTES))],
    );
    // k8s.io.api.authorization.v1.SubjectAccessReview
    static SUBJECT_ACCESS_REVIEW: Message =
        message("SubjectAccessReview", &[field(1, "metadata", Msg(&OBJECT_META)), field(2, "spec", Msg(&SUBJECT_ACCESS_REVIEW_SPEC))]);
    static SUBJECT_ACCESS_REVIEW_SPEC: Message = message(
        "SubjectAccessReviewSpec",
        &[
            field(1, "resourceAttributes", Msg(&RESOURCE_ATTRIBUTES)),
            field(2, "nonResourceAttributes", Msg(&NON_RESOURCE_ATTRIBUTES)),
            field(3, "user", Str),
            list(4, "groups", Str),
            field(6, "uid", Str),
        ],
    );
    // k8s.io.api.authorization.v1.SelfSubjectRulesReview
    static SELF_SUBJECT_RULES_REVIEW: Message =
        message("SelfSubjectRulesReview", &[field(1, "metadata", Msg(&OBJECT_META)), field(2, "spec", Msg(&SELF_SUBJECT_RULES_REVIEW_SPEC))]);
    static SELF_SUBJECT_RULES_REVIEW_SPEC: Message = message("SelfSubjectRulesReviewSpec", &[field(1, "namespace", Str)]);
    // k8s.io.api.authorization.v1.ResourceAttributes
    static RESOURCE_ATTRIBUTES: Message = message(
        "ResourceAttributes",
        &[
            field(1, "namespace", Str),
            field(2, "verb", Str),
            field(3, "group", Str),
            field(4, "version", Str),
            field(5, "resource", Str),
            field(6, "subresource", Str),
            field(7, "name", Str),
        ],
    );
    // k8s.io.api.authorization.v1.NonResourceAttributes
    static NON_RESOURCE_ATTRIBUTES: Message = message("NonResourceAttributes", &[field(1, "path", Str), field(2, "verb", Str)]);
    // k8s.io.api.rbac.v1.Role
    static ROLE: Message = message("Role", &[field(1, "metadata", Msg(&OBJECT_META)), list(2, "rules", Msg(&POLICY_RULE))]);
    // k8s.io.api.rbac.v1.ClusterRole
    static CLUSTER_ROLE: Message = message(
        "ClusterRole",
        &[field(1, "metadata", Msg(&OBJECT_META)), list(2, "rules", Msg(&POLICY_RULE)), field(3, "aggregationRule", Msg(&AGGREGATION_RULE))],
    );
    // k8s.io.api.rbac.v1.AggregationRule
    static AGGREGATION_RULE: Message = message("AggregationRule", &[list(1, "clusterRoleSelectors", Msg(&LABEL_SELECTOR))]);
    // k8s.io.api.rbac.v1.PolicyRule
    static POLICY_RULE: Message = message(
        "PolicyRule",
        &[
            list(1, "verbs", Str),
            list(2, "apiGroups", Str),
            list(3, "resources", Str),
            list(4, "resourceNames", Str),
            list(5, "nonResourceURLs", Str),
        ],
    );
    // k8s.io.api.rbac.v1.RoleBinding
    static ROLE_BINDING: Message = message(
        "RoleBinding",
        &[field(1, "metadata", Msg(&OBJECT_META)), list(2, "subjects", Msg(&SUBJECT)), field(3, "roleRef", Msg(&ROLE_REF))],
    );
    // k8s.io.api.rbac.v1.ClusterRoleBinding
    static CLUSTER_ROLE_BINDING: Message = message(
        "ClusterRoleBinding",
        &[field(1, "metadata", Msg(&OBJECT_META)), list(2, "subjects", Msg(&SUBJECT)), field(3, "roleRef", Msg(&ROLE_REF))],
    );
    // k8s.io.api.rbac.v1.Subject
    static SUBJECT: Message = message("Subject", &[keep(1, "kind", Str), field(2, "apiGroup", Str), keep(3, "name", Str), field(4, "namespace", Str)]);
    // k8s.io.api.rbac.v1.RoleRef
    static ROLE_REF: Message = message("RoleRef", &[keep(1, "apiGroup", Str), keep(2, "kind", Str), keep(3, "name", Str)]);
    static LEASE: Message = message(
        "Lease",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "spec", Msg(&LEASE_SPEC)),
        ],
    );
    // k8s.io.api.coordination.v1.LeaseSpec
    static LEASE_SPEC: Message = message(
        "LeaseSpec",
        &[
            keep(1, "holderIdentity", Str),
            keep(2, "leaseDurationSeconds", I32),
            field(3, "acquireTime", MicroTime),
            field(4, "renewTime", MicroTime),
            keep(5, "leaseTransitions", I32),
            keep(6, "strategy", Str),
            keep(7, "preferredHolder", Str),
        ],
    );

    // --- Binding and the messages first reached from it ------------------------------------------

    // k8s.io.api.core.v1.Binding
    static BINDING: Message = message(
        "Binding",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "target", Msg(&OBJECT_REFERENCE)),
        ],
    );

    // --- Scale and the messages first reached from it --------------------------------------------

    // k8s.io.api.autoscaling.v1.Scale
    static SCALE: Message = message(
        "Scale",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            field(2, "spec", Msg(&SCALE_SPEC)),
            field(3, "status", Msg(&SCALE_STATUS)),
        ],
    );
    // k8s.io.api.autoscaling.v1.ScaleSpec
    static SCALE_SPEC: Message = message("ScaleSpec", &[field(1, "replicas", I32)]);
    // k8s.io.api.autoscaling.v1.ScaleStatus
    static SCALE_STATUS: Message = message(
        "ScaleStatus",
        &[keep(1, "replicas", I32), field(2, "selector", Str)],
    );

    // --- ServiceAccount and the messages first reached from it -----------------------------------

    // k8s.io.api.core.v1.ServiceAccount
    // k8s.io.api.authentication.v1.TokenRequest (the request: no status)
    static TOKEN_REQUEST: Message = message("TokenRequest", &[field(1, "metadata", Msg(&OBJECT_META)), field(2, "spec", Msg(&TOKEN_REQUEST_SPEC))]);
    static TOKEN_REQUEST_SPEC: Message = message(
        "TokenRequestSpec",
        &[list(1, "audiences", Str), field(3, "boundObjectRef", Msg(&BOUND_OBJECT_REFERENCE)), keep(4, "expirationSeconds", I64)],
    );
    // k8s.io.api.authentication.v1.TokenReview and SelfSubjectReview (the requests: no status)
    static TOKEN_REVIEW: Message = message("TokenReview", &[field(1, "metadata", Msg(&OBJECT_META)), field(2, "spec", Msg(&TOKEN_REVIEW_SPEC))]);
    static TOKEN_REVIEW_SPEC: Message = message("TokenReviewSpec", &[field(1, "token", Str), list(2, "audiences", Str)]);
    static SELF_SUBJECT_REVIEW: Message = message("SelfSubjectReview", &[field(1, "metadata", Msg(&OBJECT_META))]);
    static BOUND_OBJECT_REFERENCE: Message =
        message("BoundObjectReference", &[field(1, "kind", Str), field(2, "apiVersion", Str), field(3, "name", Str), field(4, "uid", Str)]);
    static SERVICE_ACCOUNT: Message = message(
        "ServiceAccount",
        &[
            field(1, "metadata", Msg(&OBJECT_META)),
            list(2, "secrets", Msg(&OBJECT_REFERENCE)),
            list(3, "imagePullSecrets", Msg(&LOCAL_OBJECT_REFERENCE)),
            keep(4, "automountServiceAccountToken", Bool),
        ],
    );
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
                envelope("batch/v1", "Job", Pb::new()),
                ProtobufError::UnsupportedKind {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
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
        // selector → matchExpressions; a Deployment adds spec → template.
        assert_eq!(
            schema_depth(generated::root("v1", "Pod").unwrap(), &mut Vec::new()),
            9
        );
        let deepest = generated::ROOTS
            .iter()
            .map(|(_, _, root)| schema_depth(root, &mut Vec::new()))
            .max();
        assert_eq!(deepest, Some(11));
    }

    /// What a field is, for comparing two tables: kind and cardinality, with `keep_zero` only
    /// where it matters (scalars) and nested messages by name.
    fn describe_field(field: &Field) -> String {
        let kind = match field.kind {
            Kind::Msg(inner) => format!("Msg({})", inner.name),
            Kind::Inline(inner) => format!("Inline({})", inner.name),
            Kind::Map(MapValue::Msg(inner)) => format!("Map(Msg({}))", inner.name),
            Kind::Map(value) => format!("Map({value:?})"),
            other => format!("{other:?}"),
        };
        let cardinality = match field.cardinality {
            Cardinality::Repeated => "list",
            Cardinality::Single { keep_zero: true } if field.kind.is_scalar() => "keep",
            Cardinality::Single { .. } => "field",
        };
        format!("{cardinality} {} {kind}", field.name)
    }

    fn nested(field: &Field) -> Option<&'static Message> {
        match field.kind {
            Kind::Msg(inner) | Kind::Inline(inner) | Kind::Map(MapValue::Msg(inner)) => Some(inner),
            _ => None,
        }
    }

    fn compare_messages(
        hand: &'static Message,
        generated: &'static Message,
        differences: &mut Vec<String>,
        seen: &mut Vec<&'static str>,
    ) {
        if seen.contains(&hand.name) {
            return;
        }
        seen.push(hand.name);
        if hand.name != generated.name {
            differences.push(format!("{} is {} in the generated tables", hand.name, generated.name));
        }
        let mut numbers: Vec<u32> = hand
            .fields
            .iter()
            .chain(generated.fields)
            .map(|field| field.number)
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        for number in numbers {
            match (hand.field(number), generated.field(number)) {
                (Some(old), None) => differences.push(format!(
                    "{}.{number}: hand only: {}",
                    hand.name,
                    describe_field(old)
                )),
                (None, Some(new)) => differences.push(format!(
                    "{}.{number}: generated only: {}",
                    hand.name,
                    describe_field(new)
                )),
                (Some(old), Some(new)) => {
                    let (old_text, new_text) = (describe_field(old), describe_field(new));
                    if old_text != new_text {
                        differences.push(format!(
                            "{}.{number}: hand {old_text}, generated {new_text}",
                            hand.name
                        ));
                    }
                    if let (Some(old), Some(new)) = (nested(old), nested(new)) {
                        compare_messages(old, new, differences, seen);
                    }
                }
                (None, None) => {}
            }
        }
    }

    /// The guard before the hand tables go: the generated tables, message by message, against
    /// the hand-copied ones.
    #[test]
    fn generated_tables_match_the_hand_tables() {
        let mut differences = Vec::new();
        let mut seen = Vec::new();
        for (api_version, kind, hand) in schema::ROOTS {
            match generated::ROOTS
                .iter()
                .find(|(version, name, _)| version == api_version && name == kind)
            {
                Some((_, _, generated)) => {
                    compare_messages(hand, generated, &mut differences, &mut seen)
                }
                None => differences.push(format!("{api_version} {kind}: hand only")),
            }
        }
        for (api_version, kind, _) in generated::ROOTS {
            if schema::root(api_version, kind).is_none() {
                differences.push(format!("{api_version} {kind}: generated root only"));
            }
        }
        // Every difference, accepted: the hand tables followed 1.36, so they have the fields
        // added in 1.34-1.36; they left out the reviews' status (never sent by a client) and
        // missed ResourceAttributes' selectors (1.31) and SubjectAccessReviewSpec's extra; and
        // ReplicationController had no table.
        let accepted = [
            "VolumeProjection.6: hand only: field podCertificate Msg(PodCertificateProjection)",
            "EnvVarSource.5: hand only: field fileKeyRef Msg(FileKeySelector)",
            "Container.25: hand only: list restartPolicyRules Msg(ContainerRestartRule)",
            "EphemeralContainerCommon.25: hand only: list restartPolicyRules Msg(ContainerRestartRule)",
            "PodSpec.41: hand only: keep hostnameOverride Str",
            "PodSpec.43: hand only: field schedulingGroup Msg(PodSchedulingGroup)",
            "VolumeMountStatus.5: hand only: field volumeStatus Msg(VolumeStatus)",
            "ResourceHealth.6: hand only: keep message Str",
            "PodStatus.18: hand only: field extendedResourceClaimStatus Msg(PodExtendedResourceClaimStatus)",
            "PodStatus.19: hand only: field allocatedResources Map(Quantity)",
            "PodStatus.20: hand only: field resources Msg(ResourceRequirements)",
            "PodStatus.21: hand only: list nodeAllocatableResourceClaimStatuses Msg(NodeAllocatableResourceClaimStatus)",
            "NodeStatus.14: hand only: list declaredFeatures Str",
            "ResourceAttributes.8: generated only: field fieldSelector Msg(FieldSelectorAttributes)",
            "ResourceAttributes.9: generated only: field labelSelector Msg(LabelSelectorAttributes)",
            "SelfSubjectAccessReview.3: generated only: field status Msg(SubjectAccessReviewStatus)",
            "SubjectAccessReviewSpec.5: generated only: field extra Map(StringList)",
            "SubjectAccessReview.3: generated only: field status Msg(SubjectAccessReviewStatus)",
            "SelfSubjectRulesReview.3: generated only: field status Msg(SubjectRulesReviewStatus)",
            "TokenRequest.3: generated only: field status Msg(TokenRequestStatus)",
            "TokenReview.3: generated only: field status Msg(TokenReviewStatus)",
            "SelfSubjectReview.2: generated only: field status Msg(SelfSubjectReviewStatus)",
            "v1 ReplicationController: generated root only",
        ];
        assert_eq!(differences, accepted);
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
        let unsupported = decode(&envelope("batch/v1", "Job", Pb::new())).unwrap_err();
        assert_eq!(
            unsupported.to_string(),
            "cannot decode protobuf for kind \"Job\" of apiVersion \"batch/v1\"; \
             send it as application/json"
        );
    }
}
