//! `ctl get`: resolves kind names through the server's discovery (plurals, singulars, kinds,
//! short names), asks the server for Tables (its printers hold the columns, as with kubectl),
//! and prints them as kubectl does; `-o json|yaml|name` print the objects instead.

use serde_json::{Value, json};

use crate::discovery::{Resource, api_version, discover, encode, get_json, get_typed};
use crate::kubeconfig::client_and_namespace;
use crate::print::columns;
use crate::{Config, CtlError};
use crate::output::{out, outln};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
/// Rows asked for per request, as kubectl's `--chunk-size` default: big lists come in pages, and
/// only the printed cells of each page are kept.
const CHUNK: usize = 500;

/// What of a server Table the printer reads; the rest of each row's object is skipped unparsed.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Table {
    #[serde(default)]
    column_definitions: Vec<ColumnDefinition>,
    #[serde(default)]
    rows: Vec<Row>,
    #[serde(default)]
    metadata: ListMeta,
}

#[derive(Debug, serde::Deserialize)]
struct ColumnDefinition {
    name: String,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    format: String,
}

#[derive(Debug, serde::Deserialize)]
struct Row {
    #[serde(default)]
    cells: Vec<Value>,
    #[serde(default)]
    object: RowObject,
}

#[derive(Debug, Default, serde::Deserialize)]
struct RowObject {
    #[serde(default)]
    metadata: RowMeta,
}

#[derive(Debug, Default, serde::Deserialize)]
struct RowMeta {
    #[serde(default)]
    namespace: String,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListMeta {
    resource_version: Option<String>,
    #[serde(rename = "continue")]
    next: Option<String>,
}

/// A list as a Table, fetched page by page; the rows of all pages in one Table.
async fn get_table(client: &kube::Client, path: &str, paged: bool) -> Result<Table, CtlError> {
    let mut table = Table::default();
    let mut next: Option<String> = None;
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let page_path = match (&next, paged) {
            (_, false) => path.to_string(),
            (None, true) => format!("{path}{separator}limit={CHUNK}"),
            (Some(token), true) => format!("{path}{separator}limit={CHUNK}&continue={}", encode(token)),
        };
        let page: Table = get_typed(client, &page_path, TABLE).await?;
        if table.column_definitions.is_empty() {
            table.column_definitions = page.column_definitions;
        }
        table.rows.extend(page.rows);
        table.metadata.resource_version = page.metadata.resource_version.or(table.metadata.resource_version);
        next = page.metadata.next.filter(|token| !token.is_empty());
        if next.is_none() || !paged {
            return Ok(table);
        }
    }
}

#[derive(Clone, Debug, clap::Args)]
pub struct GetArgs {
    /// KIND[,KIND...], e.g. pods, deploy,svc
    pub kinds: String,
    /// One object's name.
    pub name: Option<String>,
    /// Output format: wide, json, yaml or name.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// List in every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Label selector, e.g. app=web,tier!=db
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Field selector, e.g. status.phase=Running
    #[arg(long)]
    pub field_selector: Option<String>,
    /// After listing, keep printing changes.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Keep `metadata.managedFields` in JSON and YAML output, which kubectl leaves out.
    #[arg(long)]
    pub show_managed_fields: bool,
}

pub async fn run(config: &Config, args: &GetArgs) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let served = discover(&client).await?;
    let mut resources = Vec::new();
    for word in args.kinds.split(',').filter(|word| !word.is_empty()) {
        let resource = served
            .iter()
            .find(|resource| resource.matches(word))
            .ok_or_else(|| CtlError::Usage(format!("the server doesn't have a resource type {word:?}")))?;
        resources.push(resource.clone());
    }
    if resources.is_empty() {
        return Err(CtlError::Usage("you must specify the type of resource to get".into()));
    }
    if args.name.is_some() && resources.len() > 1 {
        return Err(CtlError::Usage("a name can only be given with one resource type".into()));
    }
    let scope = (!args.all_namespaces).then_some(namespace.as_str());
    let mut query = Vec::new();
    if let Some(selector) = &args.selector {
        query.push(format!("labelSelector={}", encode(selector)));
    }
    if let Some(selector) = &args.field_selector {
        query.push(format!("fieldSelector={}", encode(selector)));
    }
    let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
    let output = args.output.as_deref().unwrap_or("");
    let several = resources.len() > 1;
    if args.watch && (several || !matches!(output, "" | "wide")) {
        return Err(CtlError::Usage("watch is only supported on one resource type, printed as a table".into()));
    }
    let mut watch_from = None;

    let mut printed_any = false;
    let mut listed = Vec::new();
    for (index, resource) in resources.iter().enumerate() {
        let path = format!("{}{query}", resource.path(scope, args.name.as_deref()));
        match output {
            "" | "wide" => {
                let table = get_table(&client, &path, args.name.is_none()).await?;
                watch_from.clone_from(&table.metadata.resource_version);
                // As kubectl: across namespaces, once a namespaced kind was asked for, the tables
                // after it keep the NAMESPACE column, empty for cluster-scoped kinds.
                let namespaces = args.all_namespaces && resources[..=index].iter().any(|earlier| earlier.namespaced);
                let text = render_table(&table, resource, output == "wide", several, namespaces);
                if let Some(text) = text {
                    if printed_any {
                        outln!()?;
                    }
                    out!("{text}")?;
                    printed_any = true;
                }
            }
            "json" | "yaml" | "name" => {
                let found = get_json(&client, &path, "application/json").await?;
                match found["items"].as_array() {
                    Some(items) if args.name.is_none() => listed.extend(items.iter().cloned().map(|mut item| {
                        item["apiVersion"] = json!(api_version(resource));
                        item["kind"] = json!(resource.kind);
                        item
                    })),
                    _ => listed.push(found),
                }
            }
            other => return Err(CtlError::Usage(format!("unable to match a printer suitable for the output format {other:?}, allowed formats are: json,name,wide,yaml"))),
        }
        if output == "name" {
            for object in listed.drain(..) {
                outln!("{}/{}", resource.kind_prefix(), object["metadata"]["name"].as_str().unwrap_or_default())?;
                printed_any = true;
            }
        }
    }
    if matches!(output, "json" | "yaml") {
        if !args.show_managed_fields {
            for object in &mut listed {
                if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    metadata.remove("managedFields");
                }
            }
        }
        let document = if args.name.is_some() {
            listed.pop().unwrap_or(Value::Null)
        } else {
            json!({"apiVersion": "v1", "kind": "List", "items": listed, "metadata": {"resourceVersion": ""}})
        };
        let text = if output == "json" {
            serde_json::to_string_pretty(&document).map_err(|err| CtlError::Usage(err.to_string()))? + "\n"
        } else {
            serde_yaml_ng::to_string(&document).map_err(|err| CtlError::Usage(err.to_string()))?
        };
        out!("{text}")?;
        return Ok(());
    }
    if args.watch {
        if !printed_any {
            eprintln!("No resources found");
        }
        let resource = &resources[0];
        let separator = if query.is_empty() { "?" } else { "&" };
        let revision = watch_from.unwrap_or_default();
        let path = format!("{}{query}{separator}watch=true&resourceVersion={revision}", resource.path(scope, args.name.as_deref()));
        return watch(&client, &path, resource, output == "wide", args.all_namespaces && resource.namespaced, !printed_any).await;
    }
    if !printed_any {
        match scope {
            Some(namespace) if resources.iter().any(|resource| resource.namespaced) => {
                eprintln!("No resources found in {namespace} namespace.");
            }
            _ => eprintln!("No resources found"),
        }
    }
    Ok(())
}

/// Prints the rows of every change as it comes (the header too, if nothing was listed first).
async fn watch(client: &kube::Client, path: &str, resource: &Resource, wide: bool, namespaces: bool, mut header: bool) -> Result<(), CtlError> {
    use futures::{AsyncBufReadExt, StreamExt};
    let request = http::Request::get(path)
        .header(http::header::ACCEPT, TABLE)
        .body(Vec::new())
        .map_err(|err| CtlError::Usage(format!("bad request {path}: {err}")))?;
    let mut lines = client.request_stream(request).await.map_err(CtlError::from_kube)?.lines();
    while let Some(line) = lines.next().await {
        let mut event: Value = serde_json::from_str(&line?).map_err(|err| CtlError::Usage(format!("bad watch event: {err}")))?;
        if event["type"] == "ERROR" {
            let status = &event["object"];
            return Err(CtlError::Server {
                reason: status["reason"].as_str().unwrap_or_default().to_string(),
                message: status["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        if event["type"] == "BOOKMARK" {
            continue;
        }
        let table: Table = serde_json::from_value(event["object"].take()).map_err(|err| CtlError::Usage(format!("bad watch event: {err}")))?;
        if let Some(text) = render_table(&table, resource, wide, false, namespaces) {
            let rows: Vec<&str> = text.lines().skip(usize::from(!header)).collect();
            header = false;
            outln!("{}", rows.join("\n"))?;
        }
    }
    Ok(())
}

/// A server Table as kubectl prints it: upper-case headers, `-o wide` adding priority-1 columns,
/// `NAMESPACE` first across namespaces, `kind/name` names when several types are listed.
fn render_table(table: &Table, resource: &Resource, wide: bool, several: bool, namespaces: bool) -> Option<String> {
    let definitions = &table.column_definitions;
    if table.rows.is_empty() {
        return None;
    }
    let shown: Vec<usize> = definitions
        .iter()
        .enumerate()
        .filter(|(_, column)| wide || column.priority == 0)
        .map(|(index, _)| index)
        .collect();
    let mut lines = Vec::with_capacity(table.rows.len() + 1);
    let mut header: Vec<String> = shown.iter().map(|index| definitions[*index].name.to_ascii_uppercase()).collect();
    if namespaces {
        header.insert(0, "NAMESPACE".into());
    }
    lines.push(header);
    for row in &table.rows {
        let mut line: Vec<String> = Vec::with_capacity(shown.len() + 1);
        if namespaces {
            line.push(row.object.metadata.namespace.clone());
        }
        line.extend(shown.iter().map(|index| {
            let text = match row.cells.get(*index) {
                Some(Value::String(text)) => text.clone(),
                None | Some(Value::Null) => String::new(),
                Some(other) => other.to_string(),
            };
            if definitions[*index].format == "name" && several { format!("{}/{text}", resource.kind_prefix()) } else { text }
        }));
        lines.push(line);
    }
    Some(columns(&lines))
}
