//! `ctl replace -f`: every object of the manifests is PUT in place of the stored one, as
//! `kubectl replace -f` does. Manifests are read and resolved as apply resolves them (a bad file
//! replaces nothing); then each object is sent on its own, and one that fails (missing, changed
//! since it was read) is reported and the rest still replaced, ctl failing at the end.
//!
//! An object that carries `metadata.resourceVersion` (as `ctl get -o json` prints it) is sent with
//! it, so the server refuses it with a Conflict if the object changed since. One without is given
//! the stored object's, overwriting whatever is there, as kubectl's `Helper.Replace` does with
//! `overwrite`.

use serde_json::{Value, json};

use crate::apply::{FileArgs, Target, ValidateArgs, query, report, resolve, with_source};
use crate::discovery::send;
use crate::{Config, CtlError};
use crate::output::outln;

/// The field manager kubectl's replace names itself with, after ctl's own name.
const FIELD_MANAGER: &str = "ctl-replace";

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl replace -f web.yaml\n  ctl get configmap settings -o yaml | sed 's/debug/info/' | ctl replace -f -")]
pub struct ReplaceArgs {
    #[command(flatten)]
    pub files: FileArgs,
    #[command(flatten)]
    pub validate: ValidateArgs,
}

pub async fn replace(config: &Config, args: &ReplaceArgs) -> Result<(), CtlError> {
    let validation = args.validate.field_validation()?;
    let (client, targets) = resolve(config, &args.files, "replace").await?;
    let dry_run = args.files.dry_run == "server";
    let suffix = args.files.dry_run_suffix();
    let query = query(&[("dryRun", if dry_run { "All" } else { "" }), ("fieldManager", FIELD_MANAGER), ("fieldValidation", validation)]);
    let mut errors = Vec::new();
    for target in &targets {
        // A client dry run (which `apply`'s flags allow) sends nothing.
        if args.files.dry_run == "client" {
            outln!("{}/{} replaced{suffix}", target.resource.kind_prefix(), target.name)?;
            continue;
        }
        match replace_one(&client, target, &query).await {
            Ok(()) => outln!("{}/{} replaced{suffix}", target.resource.kind_prefix(), target.name)?,
            // As kubectl: go on with the rest, and report each failure, naming its file, at the end.
            Err(err) => errors.push(with_source(err, "replacing", &target.manifest.source)),
        }
    }
    report(errors)
}

async fn replace_one(client: &kube::Client, target: &Target, query: &str) -> Result<(), CtlError> {
    if target.name.is_empty() {
        // A generateName-only manifest names nothing to replace; kubectl refuses it the same way.
        return Err(CtlError::Usage("resource name may not be empty".into()));
    }
    let item_path = target.resource.path(target.namespace.as_deref(), Some(&target.name));
    let mut object = target.manifest.object.clone();
    // The namespace the object goes to is written into it, as kubectl's builder does.
    if let Some(namespace) = &target.namespace {
        object["metadata"]["namespace"] = json!(namespace);
    }
    let has_version = object["metadata"]["resourceVersion"].as_str().is_some_and(|version| !version.is_empty());
    if !has_version {
        // kubectl sends the stored version so the PUT overwrites; if the GET fails, the PUT is
        // sent anyway and its error (NotFound for a missing object) is the one reported.
        if let Ok(current) = send(client, "GET", &item_path, "application/json", &Value::Null).await
            && let Some(version) = current["metadata"]["resourceVersion"].as_str()
        {
            object["metadata"]["resourceVersion"] = json!(version);
        }
    }
    send(client, "PUT", &format!("{item_path}{query}"), "application/json", &object).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_source_as_kubectl_does() {
        let not_found = || CtlError::Server { reason: "NotFound".into(), message: "configmaps \"a\" not found".into(), details: None };
        let cases: Vec<(CtlError, &str, &str)> = vec![
            (not_found(), "cms.yaml", "Error from server (NotFound): error when replacing \"cms.yaml\": configmaps \"a\" not found"),
            (not_found(), "-", "Error from server (NotFound): error when replacing \"STDIN\": configmaps \"a\" not found"),
            (CtlError::Usage("resource name may not be empty".into()), "dir/x.json", "error when replacing \"dir/x.json\": resource name may not be empty"),
        ];
        for (err, source, expected) in cases {
            assert_eq!(with_source(err, "replacing", source).to_string(), expected, "{source}");
        }
    }
}
