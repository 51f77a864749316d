//! `events`: a namespace's events (or every namespace's), oldest first, as `kubectl events`
//! prints them.

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
}

pub async fn run(config: &Config, args: &EventsArgs) -> Result<(), CtlError> {
    if args.types.iter().any(|kind| !kind.eq_ignore_ascii_case("Normal") && !kind.eq_ignore_ascii_case("Warning")) {
        return Err(CtlError::Usage("valid --types are Normal or Warning".into()));
    }
    let (client, namespace) = client_and_namespace(config).await?;
    let mut path = if args.all_namespaces { "/api/v1/events".to_string() } else { format!("/api/v1/namespaces/{}/events", encode(&namespace)) };
    if let Some(object) = &args.for_object {
        path.push_str(&format!("?fieldSelector={}", encode(&for_selector(&client, object).await?)));
    }
    let list = get_json(&client, &path, "application/json").await?;
    let mut events: Vec<&Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| args.types.is_empty() || args.types.iter().any(|kind| event["type"].as_str().is_some_and(|own| own.eq_ignore_ascii_case(kind))))
        .collect();
    if events.is_empty() {
        match args.all_namespaces {
            true => eprintln!("No events found."),
            false => eprintln!("No events found in {namespace} namespace."),
        }
        return Ok(());
    }
    // Go's zero time, for an event without one, comes first, as None does.
    events.sort_by_cached_key(|event| sort_time(event).as_str().and_then(|time| time.parse::<jiff::Timestamp>().ok()));
    let mut rows = Vec::new();
    if !args.no_headers {
        let header = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"].map(String::from).to_vec();
        rows.push(if args.all_namespaces { [vec!["NAMESPACE".to_string()], header].concat() } else { header });
    }
    for event in events {
        let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
        let object = format!("{}/{}", text(&event["involvedObject"]["kind"]), text(&event["involvedObject"]["name"]));
        let mut row = vec![interval(event), text(&event["type"]), text(&event["reason"]), object, text(&event["message"]).trim().to_string()];
        if args.all_namespaces {
            row.insert(0, text(&event["metadata"]["namespace"]));
        }
        rows.push(row);
    }
    out!("{}", crate::print::columns(&rows))?;
    Ok(())
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
