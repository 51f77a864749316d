//! `events`: a namespace's events (or every namespace's), oldest first, as `kubectl events`
//! prints them: as a table, or (`-o json|yaml`) as the EventList kubectl's typed client makes of
//! them, every field Go's encoder writes in the order it writes them.

use futures::{AsyncBufReadExt, StreamExt};
use serde_json::Value;

use crate::commands::find;
use crate::discovery::{api_version, discover, encode, get_json};
use crate::kubeconfig::client_and_namespace;
use crate::output::out;
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl events -n dev\n  ctl events -A --types=Warning\n  ctl events --for pod/web")]
pub struct EventsArgs {
    /// Events of every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only the events of this object, TYPE/NAME.
    #[arg(long = "for")]
    pub for_object: Option<String>,
    /// Only events of these types (Normal, Warning), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<String>,
    /// Leave the header out.
    #[arg(long)]
    pub no_headers: bool,
    /// After the list, print new events as they come.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// json or yaml: the events as an EventList; name: nothing, as kubectl.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// What `-o` asks for.
#[derive(PartialEq)]
enum Format {
    Table,
    Json,
    Yaml,
    /// kubectl accepts `-o name` for events and prints nothing for the list.
    Name,
}

fn format(output: Option<&str>) -> Result<Format, CtlError> {
    match output.unwrap_or_default() {
        "" => Ok(Format::Table),
        "json" => Ok(Format::Json),
        "yaml" => Ok(Format::Yaml),
        "name" => Ok(Format::Name),
        other => Err(CtlError::Usage(format!(
            "unable to match a printer suitable for the output format {other:?}, allowed formats are: go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,yaml"
        ))),
    }
}

pub async fn run(config: &Config, args: &EventsArgs) -> Result<(), CtlError> {
    if args.types.iter().any(|kind| !kind.eq_ignore_ascii_case("Normal") && !kind.eq_ignore_ascii_case("Warning")) {
        return Err(CtlError::Usage("valid --types are Normal or Warning".into()));
    }
    let format = format(args.output.as_deref())?;
    let (client, namespace) = client_and_namespace(config).await?;
    let mut path = if args.all_namespaces { "/api/v1/events".to_string() } else { format!("/api/v1/namespaces/{}/events", encode(&namespace)) };
    if let Some(object) = &args.for_object {
        path.push_str(&format!("?fieldSelector={}", encode(&for_selector(&client, object).await?)));
    }
    if args.watch {
        return watch(&client, &path, args, &format).await;
    }
    let list = get_json(&client, &path, "application/json").await?;
    let mut events: Vec<&Value> = list["items"].as_array().into_iter().flatten().filter(|event| wanted_type(args, event)).collect();
    if events.is_empty() {
        match args.all_namespaces {
            true => eprintln!("No events found."),
            false => eprintln!("No events found in {namespace} namespace."),
        }
        return Ok(());
    }
    // Go's zero time, for an event without one, comes first, as None does.
    events.sort_by_cached_key(|event| sort_time(event).as_str().and_then(|time| time.parse::<jiff::Timestamp>().ok()));
    match format {
        Format::Json => return out!("{}\n", pretty(&event_list(&events), "")),
        Format::Yaml => {
            return out!("{}", yaml(&event_list(&events))?);
        }
        Format::Name => return Ok(()),
        Format::Table => {}
    }
    let rows: Vec<Vec<String>> = header(args).into_iter().chain(events.iter().map(|event| row(event, args.all_namespaces))).collect();
    out!("{}", Widths::default().table(&rows))?;
    Ok(())
}

fn header(args: &EventsArgs) -> Option<Vec<String>> {
    (!args.no_headers).then(|| {
        let header = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"].map(String::from).to_vec();
        if args.all_namespaces { [vec!["NAMESPACE".to_string()], header].concat() } else { header }
    })
}

/// `events -w` as kubectl runs it: a watch from no version, so the events there are come first
/// as the server sends them (unsorted), each printed as a table of its own, the header with the
/// first; deletions are left out, since events expire after an hour.
async fn watch(client: &kube::Client, path: &str, args: &EventsArgs, format: &Format) -> Result<(), CtlError> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let request = http::Request::get(format!("{path}{separator}watch=true"))
        .body(Vec::new())
        .map_err(|err| CtlError::Usage(format!("bad request {path}: {err}")))?;
    let mut lines = client.request_stream(request).await.map_err(CtlError::from_kube)?.lines();
    let mut header = header(args);
    let mut widths = Widths::default();
    let mut printed = false;
    while let Some(line) = lines.next().await {
        let change: Value = serde_json::from_str(&line?).map_err(|err| CtlError::Usage(format!("bad watch event: {err}")))?;
        if ["DELETED", "BOOKMARK", "ERROR"].contains(&change["type"].as_str().unwrap_or_default()) || !wanted_type(args, &change["object"]) {
            continue;
        }
        let event = &change["object"];
        match format {
            Format::Table => out!("{}", widths.table(&header.take().into_iter().chain([row(event, args.all_namespaces)]).collect::<Vec<_>>()))?,
            // Each event on its own, as kubectl prints watched objects, YAML's after a `---`.
            Format::Json => out!("{}\n", pretty(&typed_event(event), ""))?,
            Format::Yaml => {
                let separator = if printed { "---\n" } else { "" };
                out!("{separator}{}", yaml(&typed_event(event))?)?;
            }
            Format::Name => out!("event/{}\n", event["metadata"]["name"].as_str().unwrap_or_default())?,
        }
        printed = true;
    }
    Ok(())
}

/// Column widths kept from one table to the next, as kubectl's tab writer keeps them for watches
/// (cli-runtime's `RememberWidths`): later rows line up with earlier ones, and columns only grow.
/// A column is at least three wide before its gap of three, the writer's minimum width of six.
#[derive(Default)]
struct Widths(Vec<usize>);

impl Widths {
    fn table(&mut self, rows: &[Vec<String>]) -> String {
        for row in rows {
            if self.0.len() < row.len() {
                self.0.resize(row.len(), 3);
            }
            for (width, cell) in self.0.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut text = String::new();
        for row in rows {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                match column + 1 == row.len() {
                    true => line.push_str(cell),
                    false => line.push_str(&format!("{cell:<width$}   ", width = self.0[column])),
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }
}

fn wanted_type(args: &EventsArgs, event: &Value) -> bool {
    args.types.is_empty() || args.types.iter().any(|kind| event["type"].as_str().is_some_and(|own| own.eq_ignore_ascii_case(kind)))
}

/// An event's cells: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, after NAMESPACE across namespaces.
fn row(event: &Value, all_namespaces: bool) -> Vec<String> {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    let object = format!("{}/{}", text(&event["involvedObject"]["kind"]), text(&event["involvedObject"]["name"]));
    let mut row = vec![interval(event), text(&event["type"]), text(&event["reason"]), object, text(&event["message"]).trim().to_string()];
    if all_namespaces {
        row.insert(0, text(&event["metadata"]["namespace"]));
    }
    row
}

/// kubectl's `--for` field selector: the object's kind, API version and name.
async fn for_selector(client: &kube::Client, object: &str) -> Result<String, CtlError> {
    let Some((kind, name)) = object.split_once('/') else {
        return Err(CtlError::Usage("--for must be in resource/name form".into()));
    };
    let served = discover(client).await?;
    let resource = match find(&served, kind) {
        Ok(resource) => resource,
        Err(_) => {
            // kubectl prints this one without its `error: ` prefix.
            eprintln!("the server doesn't have a resource type {kind:?}");
            return Err(CtlError::Reported(1));
        }
    };
    Ok(format!("involvedObject.kind={},involvedObject.apiVersion={},involvedObject.name={name}", resource.kind, api_version(resource)))
}

/// The time kubectl sorts events by: the series' last, else the last timestamp, else the event
/// time.
fn sort_time(event: &Value) -> &Value {
    if event["series"].is_object() {
        &event["series"]["lastObservedTime"]
    } else if event["lastTimestamp"].is_string() {
        &event["lastTimestamp"]
    } else {
        &event["eventTime"]
    }
}

/// LAST SEEN: an age, with the count and the first time for repeats (`46m (x5 over 50m)`).
fn interval(event: &Value) -> String {
    let age = |value: &Value| common::durations::age(value.as_str());
    let first = if event["eventTime"].is_string() { age(&event["eventTime"]) } else { age(&event["firstTimestamp"]) };
    let count = event["count"].as_i64().unwrap_or(0);
    if event["series"].is_object() {
        let series = &event["series"];
        format!("{} (x{} over {first})", age(&series["lastObservedTime"]), series["count"].as_i64().unwrap_or(0))
    } else if count > 1 {
        format!("{} (x{count} over {first})", age(&event["lastTimestamp"]))
    } else {
        first
    }
}

/// A JSON value whose objects keep their fields in the order given, as Go's encoder writes a
/// struct's; plain values (maps such as labels) are written with sorted keys, as Go writes maps.
enum Ordered {
    Fields(Vec<(&'static str, Ordered)>),
    List(Vec<Ordered>),
    Plain(Value),
}

/// The EventList kubectl prints: a typed list with an empty ListMeta.
fn event_list(events: &[&Value]) -> Ordered {
    Ordered::Fields(vec![
        ("kind", Ordered::Plain(Value::from("EventList"))),
        ("apiVersion", Ordered::Plain(Value::from("v1"))),
        ("metadata", Ordered::Fields(Vec::new())),
        ("items", Ordered::List(events.iter().map(|event| typed_event(event)).collect())),
    ])
}

/// Fields of `object` in this order: `Some(default)` for fields Go always writes (its zero value
/// when absent), `None` for `omitempty` ones, left out when absent or empty.
fn fields(object: &Value, layout: &[(&'static str, Option<Value>)]) -> Vec<(&'static str, Ordered)> {
    layout
        .iter()
        .filter_map(|(key, default)| {
            let value = object.get(*key).filter(|value| !is_empty(value));
            match (value, default) {
                (Some(value), _) => Some((*key, Ordered::Plain(value.clone()))),
                (None, Some(default)) => Some((*key, Ordered::Plain(default.clone()))),
                (None, None) => None,
            }
        })
        .collect()
}

/// What Go's `omitempty` leaves out.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::Bool(flag) => !flag,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
    }
}

/// A core/v1 Event as Go encodes the typed struct, managedFields left out as kubectl prints.
fn typed_event(event: &Value) -> Ordered {
    let null = || Some(Value::Null);
    let mut out = vec![
        ("kind", Ordered::Plain(Value::from("Event"))),
        ("apiVersion", Ordered::Plain(Value::from("v1"))),
        ("metadata", object_meta(&event["metadata"])),
        ("involvedObject", object_reference(&event["involvedObject"])),
    ];
    out.extend(fields(event, &[("reason", None), ("message", None)]));
    let source = &event["source"];
    out.push(("source", Ordered::Fields(fields(source, &[("component", None), ("host", None)]))));
    out.extend(fields(event, &[("firstTimestamp", null()), ("lastTimestamp", null()), ("count", None), ("type", None), ("eventTime", null())]));
    if event["series"].is_object() {
        out.push(("series", Ordered::Fields(fields(&event["series"], &[("count", None), ("lastObservedTime", null())]))));
    }
    out.extend(fields(event, &[("action", None)]));
    if event["related"].is_object() {
        out.push(("related", object_reference(&event["related"])));
    }
    out.extend(fields(event, &[("reportingComponent", Some(Value::from(""))), ("reportingInstance", Some(Value::from("")))]));
    Ordered::Fields(out)
}

fn object_meta(metadata: &Value) -> Ordered {
    let mut out = fields(
        metadata,
        &[
            ("name", None),
            ("generateName", None),
            ("namespace", None),
            ("selfLink", None),
            ("uid", None),
            ("resourceVersion", None),
            ("generation", None),
            ("creationTimestamp", Some(Value::Null)),
            ("deletionTimestamp", None),
            ("deletionGracePeriodSeconds", None),
            ("labels", None),
            ("annotations", None),
        ],
    );
    if let Some(owners) = metadata["ownerReferences"].as_array().filter(|owners| !owners.is_empty()) {
        let layout = [("apiVersion", Some(Value::from(""))), ("kind", Some(Value::from(""))), ("name", Some(Value::from(""))), ("uid", Some(Value::from(""))), ("controller", None), ("blockOwnerDeletion", None)];
        out.push(("ownerReferences", Ordered::List(owners.iter().map(|owner| Ordered::Fields(fields(owner, &layout))).collect())));
    }
    out.extend(fields(metadata, &[("finalizers", None)]));
    Ordered::Fields(out)
}

fn object_reference(reference: &Value) -> Ordered {
    Ordered::Fields(fields(
        reference,
        &[("kind", None), ("namespace", None), ("name", None), ("uid", None), ("apiVersion", None), ("resourceVersion", None), ("fieldPath", None)],
    ))
}

/// The document as Go's YAML encoder writes it (keys sorted, strings quoted as Go quotes them,
/// timestamps included).
fn yaml(document: &Ordered) -> Result<String, CtlError> {
    crate::generate::go_yaml(&plain(document))
}

/// The value for YAML, whose encoder sorts the keys anyway.
fn plain(value: &Ordered) -> Value {
    match value {
        Ordered::Fields(fields) => Value::Object(fields.iter().map(|(key, value)| (key.to_string(), plain(value))).collect()),
        Ordered::List(items) => Value::Array(items.iter().map(plain).collect()),
        Ordered::Plain(value) => value.clone(),
    }
}

/// Go's `json.MarshalIndent(value, "", "    ")`, at `indent`, fields in their order.
fn pretty(value: &Ordered, indent: &str) -> String {
    let inner = format!("{indent}    ");
    let block = |open: char, close: char, parts: Vec<String>| {
        if parts.is_empty() { format!("{open}{close}") } else { format!("{open}\n{inner}{}\n{indent}{close}", parts.join(&format!(",\n{inner}"))) }
    };
    match value {
        Ordered::Fields(fields) => block(
            '{',
            '}',
            fields
                .iter()
                .map(|(name, value)| {
                    let mut key = String::new();
                    crate::jsonpath::go_string(name, &mut key);
                    format!("{key}: {}", pretty(value, &inner))
                })
                .collect(),
        ),
        Ordered::List(items) => block('[', ']', items.iter().map(|item| pretty(item, &inner)).collect()),
        Ordered::Plain(value) => crate::jsonpath::go_json_indented(value, indent),
    }
}
