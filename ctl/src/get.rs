//! `ctl get`: resolves kind names through the server's discovery (plurals, singulars, kinds,
//! short names), asks the server for Tables (its printers hold the columns, as with kubectl),
//! and prints them as kubectl does; `-o json|yaml|name` print the objects instead.

use serde_json::{Value, json};

use crate::discovery::{Resource, api_version, discover_with_categories, encode, get_json, get_typed};
use crate::gotemplate::GoTemplate;
use crate::jsonpath::{Template, go_number, go_value, relaxed};
use crate::kubeconfig::client_and_namespace;
use crate::output::{out, outln};
use crate::print::columns;
use crate::printer::read_file;
pub use crate::printer::{go_template, print_go_template};
use crate::{Config, CtlError};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
/// Rows asked for per request, as kubectl's `--chunk-size` default: big lists come in pages, and
/// only the printed cells of each page are kept.
const CHUNK: usize = 500;

/// What of a server Table the printer reads; the rest of each row's object is skipped unparsed.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", bound = "O: RowSource")]
struct Table<O> {
    #[serde(default)]
    column_definitions: Vec<ColumnDefinition>,
    #[serde(default)]
    rows: Vec<Row<O>>,
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
#[serde(bound = "O: RowSource")]
struct Row<O> {
    #[serde(default)]
    cells: Vec<Value>,
    #[serde(default)]
    object: O,
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
async fn get_table<O: RowSource>(client: &kube::Client, path: &str, paged: bool) -> Result<Table<O>, CtlError> {
    let mut table = Table::default();
    let mut next: Option<String> = None;
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let page_path = match (&next, paged) {
            (_, false) => path.to_string(),
            (None, true) => format!("{path}{separator}limit={CHUNK}"),
            (Some(token), true) => format!("{path}{separator}limit={CHUNK}&continue={}", encode(token)),
        };
        let page: Table<O> = get_typed(client, &page_path, TABLE).await?;
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
#[command(after_help = "Examples:\n  ctl get pods\n  ctl get pods -o wide -A\n  ctl get deployment web -o yaml\n  ctl get pods,services -l app=web\n  ctl get pod/web-0 -o jsonpath='{.status.podIP}'\n  ctl get pods -w\n  ctl get nodes --sort-by=.metadata.name -L zone")]
pub struct GetArgs {
    /// TYPE[,TYPE...] [NAME...] or TYPE/NAME..., e.g. `pods`, `deploy,svc`, `pod/web`; `all` is
    /// the `all` category of discovery.
    pub resources: Vec<String>,
    /// Output format: wide, json, yaml, name, jsonpath=TEMPLATE, jsonpath-file=FILE, go-template=TEMPLATE, go-template-file=FILE,
    /// custom-columns=HEADER:PATH,... or custom-columns-file=FILE.
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
    /// Leave out the header line of tables and custom columns.
    #[arg(long)]
    pub no_headers: bool,
    /// Add a LABELS column to tables.
    #[arg(long)]
    pub show_labels: bool,
    /// A column for each of these labels, e.g. -L app,tier
    #[arg(short = 'L', long = "label-columns", value_delimiter = ',')]
    pub label_columns: Vec<String>,
    /// Sort by the value of this JSONPath over each object, e.g. .metadata.name
    #[arg(long)]
    pub sort_by: Option<String>,
    /// Objects asked for by name that do not exist are no error, and an empty list no message.
    #[arg(long)]
    pub ignore_not_found: bool,
    /// GET this path of the server (e.g. /readyz, /api/v1/namespaces) and print its answer as it is.
    #[arg(long)]
    pub raw: Option<String>,
}

/// `get --raw PATH`: the server's bytes, unchanged, as kubectl prints them.
async fn raw(config: &Config, args: &GetArgs, path: &str) -> Result<(), CtlError> {
    if !args.resources.is_empty() {
        return Err(CtlError::Usage("arguments may not be passed when --raw is specified".into()));
    }
    let (client, _) = client_and_namespace(config).await?;
    let request = http::Request::get(path).body(Vec::new()).map_err(|err| CtlError::Usage(format!("bad request {path}: {err}")))?;
    let bytes = crate::discovery::request_bytes(&client, request).await?;
    crate::output::write_bytes(&bytes)
}

/// One GET to make: a whole list of a type, or one object by name.
struct Target {
    resource: Resource,
    name: Option<String>,
}

/// How the objects are printed.
enum Format {
    Table { wide: bool },
    Json,
    Yaml,
    Name,
    /// `-o jsonpath=`, or with `as_json` `-o jsonpath-as-json=`: each action's results as a JSON list.
    JsonPath { template: Template, as_json: bool },
    GoTemplate(GoTemplate),
    /// Headers, and each column's template. kubectl prints a file's headers even with `--no-headers`.
    CustomColumns { headers: Vec<String>, columns: Vec<Template>, from_file: bool },
}

pub async fn run(config: &Config, args: &GetArgs) -> Result<(), CtlError> {
    if let Some(path) = &args.raw {
        return raw(config, args, path).await;
    }
    let format = format(args)?;
    let sort = args.sort_by.as_deref().map(column_template).transpose()?;
    let (client, namespace) = client_and_namespace(config).await?;
    let served = discover_with_categories(&client).await?;
    let targets = resolve(&served, &args.resources)?;
    if args.selector.is_some() && targets.iter().any(|target| target.name.is_some()) {
        return Err(CtlError::Usage("name cannot be provided when a selector is specified".into()));
    }
    let single = targets.len() == 1 && targets[0].name.is_some();
    let scope = (!args.all_namespaces).then_some(namespace.as_str());
    let mut query = Vec::new();
    if let Some(selector) = &args.selector {
        query.push(format!("labelSelector={}", encode(selector)));
    }
    if let Some(selector) = &args.field_selector {
        query.push(format!("fieldSelector={}", encode(selector)));
    }
    let kinds = targets.iter().map(|target| target.resource.plural.as_str()).collect::<std::collections::HashSet<_>>().len();
    if args.watch && (kinds > 1 || !matches!(format, Format::Table { .. })) {
        return Err(CtlError::Usage("watch is only supported on one resource type, printed as a table".into()));
    }
    if sort.is_some() {
        query.push("includeObject=Object".into());
    }
    let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
    let context = Context { client: &client, scope, query: &query, args, sort: sort.as_ref() };
    let (printed, errors) = match &format {
        // Labels and sort keys come from each row's object; without them the rows' objects are
        // skipped unparsed.
        Format::Table { wide } if sort.is_some() || args.show_labels || !args.label_columns.is_empty() => {
            print_tables::<Value>(&context, &targets, *wide).await?
        }
        Format::Table { wide } => print_tables::<RowObject>(&context, &targets, *wide).await?,
        other => print_objects(&context, &targets, other, single).await?,
    };
    let errors: Vec<CtlError> =
        errors.into_iter().filter(|error| !(args.ignore_not_found && matches!(error, CtlError::Server { reason, .. } if reason == "NotFound"))).collect();
    let failed = errors.len();
    for error in errors {
        eprintln!("{error}");
    }
    if failed > 0 {
        return Err(CtlError::Reported(failed));
    }
    if args.watch {
        if !printed.printed {
            eprintln!("No resources found");
        }
        let target = &targets[0];
        let separator = if query.is_empty() { "?" } else { "&" };
        let revision = printed.revision.unwrap_or_default();
        let path = format!("{}{query}{separator}watch=true&resourceVersion={revision}", target.resource.path(scope, target.name.as_deref()));
        let layout = Layout {
            wide: matches!(format, Format::Table { wide: true }),
            several: false,
            namespaces: args.all_namespaces && target.resource.namespaced,
            headers: !args.no_headers,
            label_columns: &args.label_columns,
            show_labels: args.show_labels,
        };
        return watch(&client, &path, &target.resource, &layout, !printed.printed).await;
    }
    if !printed.printed && !args.ignore_not_found && matches!(format, Format::Table { .. }) {
        match scope {
            Some(namespace) if targets.iter().any(|target| target.resource.namespaced) => {
                eprintln!("No resources found in {namespace} namespace.");
            }
            _ => eprintln!("No resources found"),
        }
    }
    Ok(())
}

/// What every GET of one `get` shares.
struct Context<'a> {
    client: &'a kube::Client,
    scope: Option<&'a str>,
    query: &'a str,
    args: &'a GetArgs,
    sort: Option<&'a Template>,
}

/// Whether a table printed anything, and the resourceVersion a watch starts from.
#[derive(Default)]
struct Printed {
    printed: bool,
    revision: Option<String>,
}

/// `-o` as kubectl reads it.
fn format(args: &GetArgs) -> Result<Format, CtlError> {
    let output = args.output.as_deref().unwrap_or("");
    let (name, value) = output.split_once('=').map_or((output, None), |(name, value)| (name, Some(value)));
    let value = || value.filter(|value| !value.is_empty()).ok_or_else(|| CtlError::Usage("template format specified but no template given".into()));
    Ok(match name {
        "" | "wide" => Format::Table { wide: name == "wide" },
        "json" => Format::Json,
        "yaml" => Format::Yaml,
        "name" => Format::Name,
        "jsonpath" | "jsonpath-file" | "jsonpath-as-json" => {
            let text = if name == "jsonpath-file" { read_template(value()?)? } else { value()?.to_string() };
            let template = Template::parse(&text).map_err(|err| CtlError::Usage(format!("error parsing jsonpath {text}, {err}")))?;
            Format::JsonPath { template, as_json: name == "jsonpath-as-json" }
        }
        "go-template" | "template" | "go-template-file" | "templatefile" => Format::GoTemplate(go_template(name, value()?)?),
        "custom-columns" => {
            let mut headers = Vec::new();
            let mut columns = Vec::new();
            for spec in value()?.split(',') {
                let (header, path) = spec
                    .split_once(':')
                    .ok_or_else(|| CtlError::Usage(format!("unexpected custom-columns spec: {spec}, expected <header>:<json-path-expr>")))?;
                headers.push(header.to_string());
                columns.push(column_template(path)?);
            }
            Format::CustomColumns { headers, columns, from_file: false }
        }
        "custom-columns-file" => {
            let text = read_template(value()?)?;
            let mut lines = text.lines();
            let headers: Vec<String> = lines.next().unwrap_or_default().split_whitespace().map(str::to_string).collect();
            let paths: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
            if headers.len() != paths.len() {
                return Err(CtlError::Usage(format!("number of headers ({}) and field specifications ({}) don't match", headers.len(), paths.len())));
            }
            let columns = paths.into_iter().map(column_template).collect::<Result<_, _>>()?;
            Format::CustomColumns { headers, columns, from_file: true }
        }
        _ => {
            return Err(CtlError::Usage(format!(
                "unable to match a printer suitable for the output format {output:?}, allowed formats are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml"
            )));
        }
    })
}

fn read_template(path: &str) -> Result<String, CtlError> {
    read_file(path, "template")
}


fn column_template(path: &str) -> Result<Template, CtlError> {
    let expression = relaxed(path).map_err(|err| CtlError::Usage(err.to_string()))?;
    Template::parse(&expression).map_err(|err| CtlError::Usage(format!("error parsing jsonpath {expression}, {err}")))
}

/// The GETs that `TYPE[,TYPE] [NAME...]` or `TYPE/NAME...` ask for, in kubectl's order.
fn resolve(served: &[(Resource, Vec<String>)], words: &[String]) -> Result<Vec<Target>, CtlError> {
    let Some(first) = words.first() else {
        eprintln!("You must specify the type of resource to get. Use \"kubectl api-resources\" for a complete list of supported resources.\n");
        return Err(CtlError::Usage(
            "Required resource not specified.\nUse \"kubectl explain <resource>\" for a detailed description of that resource (e.g. kubectl explain pods).\nSee 'kubectl get -h' for help and examples".into(),
        ));
    };
    // A category (`all`) is expanded first, as kubectl's category expander does, but only in the
    // `TYPE[,TYPE]` form.
    let lookup = |word: &str, categories: bool| -> Result<Vec<Resource>, CtlError> {
        let category: Vec<Resource> = served
            .iter()
            .filter(|(_, names)| categories && names.iter().any(|category| category == word))
            .map(|(resource, _)| resource.clone())
            .collect();
        if !category.is_empty() {
            return Ok(category);
        }
        served
            .iter()
            .find(|(resource, _)| resource.matches(word))
            .map(|(resource, _)| vec![resource.clone()])
            .ok_or_else(|| CtlError::Usage(format!("the server doesn't have a resource type {word:?}")))
    };
    let mut targets: Vec<Target> = Vec::new();
    let mut add = |resource: Resource, name: Option<&str>| {
        let seen = targets.iter().any(|target| same_type(&target.resource, &resource) && target.name.as_deref() == name);
        if !seen {
            targets.push(Target { resource, name: name.map(str::to_string) });
        }
    };
    if words.iter().any(|word| word.contains('/')) {
        for word in words {
            let (kind, name) = word.split_once('/').ok_or_else(|| {
                CtlError::Usage("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'".into())
            })?;
            if kind.is_empty() || name.is_empty() || name.contains('/') {
                return Err(CtlError::Usage("arguments in resource/name form must have a single resource and name".into()));
            }
            for resource in lookup(kind, false)? {
                add(resource, Some(name));
            }
        }
    } else {
        for word in first.split(',').filter(|word| !word.is_empty()) {
            for resource in lookup(word, true)? {
                if words.len() == 1 {
                    add(resource, None);
                } else {
                    for name in &words[1..] {
                        add(resource.clone(), Some(name));
                    }
                }
            }
        }
    }
    if targets.is_empty() {
        return Err(CtlError::Usage("you must specify the type of resource to get".into()));
    }
    Ok(targets)
}

fn same_type(left: &Resource, right: &Resource) -> bool {
    left.plural == right.plural && left.group == right.group
}

/// The tables, one per run of targets of the same type, as kubectl prints them. Objects not
/// found are returned as errors, printed after the tables.
async fn print_tables<O: RowSource>(context: &Context<'_>, targets: &[Target], wide: bool) -> Result<(Printed, Vec<CtlError>), CtlError> {
    let mut printed = Printed::default();
    let mut errors = Vec::new();
    let mut tables: Vec<(&Resource, Table<O>)> = Vec::new();
    let mut listed_kinds = std::collections::HashSet::new();
    for target in targets {
        let path = format!("{}{}", target.resource.path(context.scope, target.name.as_deref()), context.query);
        let table = match &target.name {
            None => {
                listed_kinds.insert(target.resource.plural.as_str());
                get_table(context.client, &path, true).await?
            }
            Some(_) => match get_table::<O>(context.client, &path, false).await {
                Ok(table) => table,
                Err(err @ CtlError::Server { .. }) => {
                    errors.push(err);
                    continue;
                }
                Err(err) => return Err(err),
            },
        };
        printed.revision.clone_from(&table.metadata.resource_version);
        match tables.last_mut() {
            Some((resource, last)) if same_type(resource, &target.resource) => last.rows.extend(table.rows),
            _ => tables.push((&target.resource, table)),
        }
    }
    // As kubectl: names carry their kind when several types were listed or found.
    let found_kinds: std::collections::HashSet<&str> = tables.iter().filter(|(_, table)| !table.rows.is_empty()).map(|(resource, _)| resource.plural.as_str()).collect();
    let several = listed_kinds.union(&found_kinds).count() > 1;
    // As kubectl: across namespaces, once a namespaced kind was asked for, the tables after it
    // keep the NAMESPACE column, empty for cluster-scoped kinds.
    let namespaced_so_far: Vec<bool> = tables.iter().scan(false, |any, (resource, _)| {
        *any |= resource.namespaced;
        Some(*any)
    }).collect();
    for ((resource, table), namespaced) in tables.iter_mut().zip(namespaced_so_far) {
        if let Some(template) = context.sort {
            let rows = std::mem::take(&mut table.rows);
            // kubectl prints nothing of a table none of whose objects has the field.
            table.rows = match sorted(rows, template, |row| row.object.object()) {
                Err(SortError::NotFound(_)) => Vec::new(),
                other => other?,
            };
        }
        let layout = Layout {
            wide,
            several,
            namespaces: context.args.all_namespaces && namespaced,
            headers: !context.args.no_headers,
            label_columns: &context.args.label_columns,
            show_labels: context.args.show_labels,
        };
        if let Some(text) = render_table(table, resource, &layout) {
            if printed.printed && layout.headers {
                outln!()?;
            }
            out!("{text}")?;
            printed.printed = true;
        }
    }
    Ok((printed, errors))
}

/// `-o json|yaml|name|jsonpath|custom-columns`: the objects, one List unless one object was named.
async fn print_objects(context: &Context<'_>, targets: &[Target], format: &Format, single: bool) -> Result<(Printed, Vec<CtlError>), CtlError> {
    let mut errors = Vec::new();
    let mut listed = Vec::new();
    for target in targets {
        let path = format!("{}{}", target.resource.path(context.scope, target.name.as_deref()), context.query);
        match (get_json(context.client, &path, "application/json").await, &target.name) {
            (Ok(mut found), None) => {
                if let Some(items) = found.get_mut("items").and_then(Value::as_array_mut) {
                    listed.extend(items.drain(..).map(|mut item| {
                        item["apiVersion"] = json!(api_version(&target.resource));
                        item["kind"] = json!(target.resource.kind);
                        item
                    }));
                }
            }
            (Ok(found), Some(_)) => listed.push(found),
            (Err(err @ CtlError::Server { .. }), Some(_)) => errors.push(err),
            (Err(err), _) => return Err(err),
        }
    }
    if let Some(template) = context.sort {
        listed = sorted(listed, template, itself)?;
    }
    // kubectl leaves managedFields out of JSON and YAML only; templates see them.
    if !context.args.show_managed_fields && matches!(format, Format::Json | Format::Yaml) {
        for object in &mut listed {
            if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("managedFields");
            }
        }
    }
    let printed = Printed { printed: !listed.is_empty(), revision: None };
    if let Format::Name = format {
        for object in &listed {
            outln!("{}/{}", kind_prefix(object), object["metadata"]["name"].as_str().unwrap_or_default())?;
        }
        return Ok((printed, errors));
    }
    if listed.is_empty() && single {
        return Ok((printed, errors));
    }
    let document = if single && listed.len() == 1 {
        listed.pop().unwrap_or(Value::Null)
    } else {
        json!({"apiVersion": "v1", "kind": "List", "items": listed, "metadata": {"resourceVersion": ""}})
    };
    match format {
        Format::Json => out!("{}\n", serde_json::to_string_pretty(&document).map_err(|err| CtlError::Usage(err.to_string()))?)?,
        Format::Yaml => out!("{}", crate::yaml::to_string(&document).map_err(|err| CtlError::Usage(err.to_string()))?)?,
        Format::JsonPath { template, as_json } => {
            let text = template.source();
            let rendered = if *as_json { template.render_json(&document) } else { template.render(&document) };
            let rendered = rendered.map_err(|err| {
                let mut object = String::new();
                crate::jsonpath::go_json(&document, &mut object);
                CtlError::Usage(format!(
                    "error executing jsonpath {text:?}: Error executing template: {err}. Printing more information for debugging the template:\n\ttemplate was:\n\t\t{text}\n\tobject given to jsonpath engine was:\n\t\t{object}\n\n"
                ))
            })?;
            out!("{rendered}")?;
        }
        Format::GoTemplate(template) => print_go_template(template, &document)?,
        Format::CustomColumns { headers, columns: templates, from_file } => {
            let objects = match document.get("items").and_then(Value::as_array) {
                Some(items) if document["kind"] == "List" => items.iter().collect(),
                _ => vec![&document],
            };
            out!("{}", custom_columns(headers, templates, &objects, *from_file || !context.args.no_headers)?)?;
        }
        Format::Table { .. } | Format::Name => {}
    }
    Ok((printed, errors))
}

/// kubectl's custom-columns: each column's results joined with `,` as Go's `%v` prints them,
/// `<none>` where there are none.
fn custom_columns(headers: &[String], templates: &[Template], objects: &[&Value], with_headers: bool) -> Result<String, CtlError> {
    let mut rows = Vec::with_capacity(objects.len() + 1);
    if with_headers {
        rows.push(headers.to_vec());
    }
    for object in objects {
        let mut row = Vec::with_capacity(templates.len());
        for template in templates {
            let results = template.results(object).map_err(|err| CtlError::Usage(err.to_string()))?;
            let values: Vec<String> = results
                .iter()
                .flatten()
                .map(|value| {
                    let mut text = String::new();
                    go_value(value, go_number, &mut text);
                    text
                })
                .collect();
            let empty = results.first().is_none_or(Vec::is_empty);
            row.push(if empty { "<none>".to_string() } else { values.join(",") });
        }
        rows.push(row);
    }
    Ok(columns(&rows))
}

/// `deployment.apps` or `pod`, from an object's own apiVersion and kind, as `-o name` prints it.
fn kind_prefix(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or_default().to_ascii_lowercase();
    match object["apiVersion"].as_str().and_then(|version| version.split_once('/')) {
        Some((group, _)) => format!("{kind}.{group}"),
        None => kind,
    }
}

/// Items in `--sort-by` order, compared as kubectl compares them: a missing value first, numbers
/// as numbers, strings in natural order ("web-9" before "web-10").
fn sorted<T>(items: Vec<T>, template: &Template, object: impl Fn(&T) -> Option<&Value>) -> Result<Vec<T>, SortError> {
    let mut keyed: Vec<(Option<Value>, T)> = Vec::with_capacity(items.len());
    for item in items {
        let key = match object(&item) {
            Some(value) => template
                .results(value)
                .map_err(|err| CtlError::Usage(err.to_string()))?
                .into_iter()
                .next()
                .and_then(|values| values.into_iter().next())
                .map(std::borrow::Cow::into_owned),
            None => None,
        };
        keyed.push((key, item));
    }
    if !keyed.is_empty() && keyed.iter().all(|(key, _)| key.is_none()) {
        return Err(SortError::NotFound(template.source().to_string()));
    }
    crate::sort::go_sort(&mut keyed, |left, right| crate::sort::less(&left.0, &right.0))?;
    Ok(keyed.into_iter().map(|(_, item)| item).collect())
}

fn itself(object: &Value) -> Option<&Value> {
    Some(object)
}

#[derive(Debug, thiserror::Error)]
enum SortError {
    #[error("couldn't find any field with path {0:?} in the list of objects")]
    NotFound(String),
    #[error(transparent)]
    Other(#[from] CtlError),
}

impl From<SortError> for CtlError {
    fn from(err: SortError) -> Self {
        match err {
            SortError::Other(err) => err,
            not_found => CtlError::Usage(not_found.to_string()),
        }
    }
}

/// What a table row's object tells the printer: its namespace, and when asked for, its labels
/// and the whole object (for `--sort-by`).
trait RowSource: serde::de::DeserializeOwned + Default {
    fn namespace(&self) -> &str;
    fn labels(&self) -> Option<&serde_json::Map<String, Value>>;
    fn object(&self) -> Option<&Value>;
}

impl RowSource for RowObject {
    fn namespace(&self) -> &str {
        &self.metadata.namespace
    }
    fn labels(&self) -> Option<&serde_json::Map<String, Value>> {
        None
    }
    fn object(&self) -> Option<&Value> {
        None
    }
}

impl RowSource for Value {
    fn namespace(&self) -> &str {
        self["metadata"]["namespace"].as_str().unwrap_or_default()
    }
    fn labels(&self) -> Option<&serde_json::Map<String, Value>> {
        self["metadata"]["labels"].as_object()
    }
    fn object(&self) -> Option<&Value> {
        Some(self)
    }
}

/// Prints the rows of every change as it comes (the header too, if nothing was listed first).
async fn watch(client: &kube::Client, path: &str, resource: &Resource, layout: &Layout<'_>, mut header: bool) -> Result<(), CtlError> {
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
                details: serde_json::from_value(status["details"].clone()).ok().map(Box::new),
            });
        }
        if event["type"] == "BOOKMARK" {
            continue;
        }
        let table: Table<Value> = serde_json::from_value(event["object"].take()).map_err(|err| CtlError::Usage(format!("bad watch event: {err}")))?;
        if let Some(text) = render_table(&table, resource, layout) {
            let rows: Vec<&str> = text.lines().skip(usize::from(!header && layout.headers)).collect();
            header = false;
            outln!("{}", rows.join("\n"))?;
        }
    }
    Ok(())
}

/// How a table is laid out.
struct Layout<'a> {
    /// `-o wide`: the priority-1 columns too.
    wide: bool,
    /// Names as `kind/name`, when several types are printed.
    several: bool,
    /// A NAMESPACE column first.
    namespaces: bool,
    headers: bool,
    /// `-L`: a column per label, named by the label's last path segment in upper case.
    label_columns: &'a [String],
    /// `--show-labels`: a last LABELS column.
    show_labels: bool,
}

/// A server Table as kubectl prints it: upper-case headers, `-o wide` adding priority-1 columns,
/// `NAMESPACE` first across namespaces, `kind/name` names when several types are listed, label
/// columns last.
fn render_table<O: RowSource>(table: &Table<O>, resource: &Resource, layout: &Layout<'_>) -> Option<String> {
    let definitions = &table.column_definitions;
    if table.rows.is_empty() {
        return None;
    }
    let shown: Vec<usize> = definitions
        .iter()
        .enumerate()
        .filter(|(_, column)| layout.wide || column.priority == 0)
        .map(|(index, _)| index)
        .collect();
    let mut lines = Vec::with_capacity(table.rows.len() + 1);
    if layout.headers {
        let mut header: Vec<String> = shown.iter().map(|index| definitions[*index].name.to_ascii_uppercase()).collect();
        if layout.namespaces {
            header.insert(0, "NAMESPACE".into());
        }
        header.extend(layout.label_columns.iter().map(|label| label.rsplit('/').next().unwrap_or_default().to_uppercase()));
        if layout.show_labels {
            header.push("LABELS".into());
        }
        lines.push(header);
    }
    for row in &table.rows {
        let mut line: Vec<String> = Vec::with_capacity(shown.len() + 2 + layout.label_columns.len());
        if layout.namespaces {
            line.push(row.object.namespace().to_string());
        }
        line.extend(shown.iter().map(|index| {
            let text = match row.cells.get(*index) {
                Some(Value::String(text)) => text.clone(),
                None | Some(Value::Null) => String::new(),
                Some(other) => other.to_string(),
            };
            if definitions[*index].format == "name" && layout.several { format!("{}/{text}", resource.kind_prefix()) } else { text }
        }));
        let labels = row.object.labels();
        let label = |key: &str| labels.and_then(|labels| labels.get(key)).and_then(Value::as_str).unwrap_or_default().to_string();
        line.extend(layout.label_columns.iter().map(|key| label(key)));
        if layout.show_labels {
            let mut pairs: Vec<String> =
                labels.into_iter().flatten().map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default())).collect();
            pairs.sort();
            line.push(if pairs.is_empty() { "<none>".into() } else { pairs.join(",") });
        }
        lines.push(line);
    }
    Some(columns(&lines))
}
