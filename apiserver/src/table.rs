//! Server-side printing: the `meta.k8s.io/v1` `Table` that `kubectl get` asks for
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), with the columns the kind's
//! printer declares (priority 1 columns are the `-o wide` extras), or a custom kind's
//! `additionalPrinterColumns`.

use common::durations::age;
use serde_json::{Value, json};

use crate::meta;
use crate::printers::{self, Column};
use crate::registry::Kind;
use crate::resources::{CustomKind, PrinterColumn};

/// The Table of `objects`, each row carrying the object itself so that clients can print it
/// in any other form too.
pub fn table(kind: &Kind, objects: &[Value], list_metadata: Value) -> Value {
    if let Some(custom) = kind.custom.as_deref() {
        return custom_table(custom, objects, list_metadata);
    }
    let printer = kind.printer.unwrap_or(&printers::NAME_AND_AGE);
    render(printer.columns, objects, printer.cells, list_metadata)
}

/// The Table of `objects` with these columns, `cells` giving each row's.
fn render(columns: &[Column], objects: &[Value], cells: impl Fn(&Value) -> Vec<Value>, list_metadata: Value) -> Value {
    let definitions: Vec<Value> = columns
        .iter()
        .map(|column| {
            let format = if column.name == "Name" { "name" } else { "" };
            json!({"name": column.name, "type": column.type_, "format": format, "description": column.description, "priority": column.priority})
        })
        .collect();
    let rows: Vec<Value> = objects.iter().map(|object| json!({"cells": cells(object), "object": object})).collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_metadata, "columnDefinitions": definitions, "rows": rows})
}

/// A custom kind's Table: Name and the definition's `additionalPrinterColumns`, or Name and
/// Age when it declares none, as kube-apiserver's custom resource table convertor prints them.
fn custom_table(custom: &CustomKind, objects: &[Value], list_metadata: Value) -> Value {
    let age = PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        format: String::new(),
        description: String::new(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    };
    let declared: Vec<&PrinterColumn> = if custom.printer_columns.is_empty() { vec![&age] } else { custom.printer_columns.iter().collect() };
    let mut definitions = vec![json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority": 0})];
    definitions.extend(declared.iter().map(|column| json!({"name": column.name, "type": column.type_, "format": column.format, "description": column.description, "priority": column.priority})));
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut cells = vec![json!(meta::name(object).unwrap_or_default())];
            cells.extend(declared.iter().map(|column| custom_cell(column, object)));
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_metadata, "columnDefinitions": definitions, "rows": rows})
}

/// One cell: the first value the column's path finds, as its type prints it (`null` when none,
/// which kubectl shows as `<none>`).
fn custom_cell(column: &PrinterColumn, object: &Value) -> Value {
    let Some(value) = crate::jsonpath::find(object, &column.json_path).ok().and_then(|found| found.first().copied()) else { return Value::Null };
    match (column.type_.as_str(), value) {
        ("date", Value::String(time)) => json!(age(Some(time))),
        ("integer", Value::Number(number)) => number.as_i64().map_or_else(|| json!(number.as_f64().map(|float| float as i64)), |integer| json!(integer)),
        ("string", Value::String(text)) => json!(text),
        ("string", other) => json!(other.to_string()),
        (_, other) => other.clone(),
    }
}
