//! Reading a partial command line against clap's command tree: which subcommand it is in, the
//! flags and positional arguments before the cursor, and so what the word at the cursor can be.

use clap::{Arg, ArgAction, Command};

use super::{Candidate, directive};

/// The command line before the word being completed.
pub struct Line<'a> {
    /// The deepest subcommand reached.
    pub command: &'a Command,
    /// The subcommands' names from the root, as in `["rollout", "status"]`.
    pub path: Vec<&'a str>,
    pub positionals: Vec<String>,
    /// The flags given, each with its value when it takes one.
    pub flags: Vec<(&'a Arg, Option<String>)>,
    /// The global flags (`--kubeconfig`, `--context`, `-n`, ...) as typed, to choose the
    /// kubeconfig, context and namespace as the finished command would.
    pub global_words: Vec<String>,
    /// A flag just before the cursor that takes the word being completed as its value.
    pending: Option<&'a Arg>,
    /// After `--` every word is an argument (`exec POD -- COMMAND`).
    after_double_dash: bool,
}

/// What the word at the cursor can be.
#[derive(Debug, PartialEq, Eq)]
pub enum Want {
    /// Fixed words, already matched against the partial word.
    Words(Vec<Candidate>, u32),
    /// Resource types and object names, the way kubectl's `get` completes them.
    TypeAndName { allowed: Option<&'static [&'static str]>, repeat: bool, prefix: String, before: Vec<Candidate> },
    /// Resource types only (`explain`).
    Types { prefix: String },
    /// Names of objects of one type (nodes for `cordon`, namespaces for `-n`).
    Names { resource: &'static str, prefix: String },
    /// Pods by name, or `TYPE/` of the types that have pods (`logs`, `exec`).
    PodOrType { prefix: String },
    /// The containers of a pod (`-c`).
    Containers { pod: String, prefix: String },
    /// `LOCAL:REMOTE` ports of a pod or service (`port-forward`).
    Ports { target: String, prefix: String },
    /// Names in the kubeconfig.
    Contexts { prefix: String },
    Clusters { prefix: String },
    Users { prefix: String },
}

/// The types kubectl offers for commands that take only some (`scale`, `rollout`, ...).
const SCALABLE: &[&str] = &["deployment", "replicaset", "replicationcontroller", "statefulset"];
const EXPOSABLE: &[&str] = &["pod", "service", "replicationcontroller", "deployment", "replicaset"];
const ROLLABLE: &[&str] = &["deployment", "daemonset", "statefulset"];
const PAUSABLE: &[&str] = &["deployment"];
const WITH_IMAGES: &[&str] = &["daemonsets", "deployments", "pods", "cronjobs", "replicasets", "replicationcontrollers", "statefulsets"];
const TAINTABLE: &[&str] = &["node"];

/// kubectl's output formats for `get -o`, in its order (`wide` last, as it adds it).
const OUTPUT_FORMATS: &[&str] = &[
    "json",
    "yaml",
    "name",
    "go-template",
    "go-template-file",
    "template",
    "templatefile",
    "jsonpath",
    "jsonpath-as-json",
    "jsonpath-file",
    "custom-columns",
    "custom-columns-file",
    "wide",
];

fn takes_value(arg: &Arg) -> bool {
    arg.get_action().takes_values() && arg.get_num_args().is_none_or(|range| range.min_values() > 0)
}

fn repeatable(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append | ArgAction::Count)
}

fn by_long<'a>(command: &'a Command, name: &str) -> Option<&'a Arg> {
    command.get_arguments().find(|arg| arg.get_long_and_visible_aliases().is_some_and(|names| names.contains(&name)))
}

fn by_short(command: &Command, short: char) -> Option<&Arg> {
    command.get_arguments().find(|arg| arg.get_short_and_visible_aliases().is_some_and(|shorts| shorts.contains(&short)))
}

/// The first line of a help text, as a description.
fn summary(text: Option<&clap::builder::StyledStr>) -> String {
    text.map(|text| text.to_string().lines().next().unwrap_or_default().trim().to_string()).unwrap_or_default()
}

impl<'a> Line<'a> {
    pub fn parse(root: &'a Command, words: &[String]) -> Self {
        let mut line = Line {
            command: root,
            path: Vec::new(),
            positionals: Vec::new(),
            flags: Vec::new(),
            global_words: Vec::new(),
            pending: None,
            after_double_dash: false,
        };
        let mut words = words.iter();
        while let Some(word) = words.next() {
            if line.after_double_dash {
                line.positionals.push(word.clone());
            } else if word == "--" {
                line.after_double_dash = true;
            } else if let Some(flag) = word.strip_prefix("--") {
                let (name, value) = match flag.split_once('=') {
                    Some((name, value)) => (name, Some(value.to_string())),
                    None => (flag, None),
                };
                // An unknown flag is taken as one without a value; the command will reject it.
                if let Some(arg) = by_long(line.command, name) {
                    line.flag(arg, word, value, &mut words);
                }
            } else if word.len() > 1 && word.starts_with('-') {
                for (at, short) in word.char_indices().skip(1) {
                    let Some(arg) = by_short(line.command, short) else { break };
                    if takes_value(arg) {
                        // `-nkube-system` and `-n=kube-system` carry their value.
                        let rest = &word[at + short.len_utf8()..];
                        let rest = rest.strip_prefix('=').unwrap_or(rest);
                        let value = (!rest.is_empty()).then(|| rest.to_string());
                        line.flag(arg, word, value, &mut words);
                        break;
                    }
                    line.flag(arg, &format!("-{short}"), None, &mut words);
                }
            } else if let Some(subcommand) = line.positionals.is_empty().then(|| line.command.find_subcommand(word)).flatten() {
                line.command = subcommand;
                line.path.push(subcommand.get_name());
            } else {
                line.positionals.push(word.clone());
            }
        }
        line
    }

    /// Records a flag; one that takes a value and has none takes the next word, or, when it is
    /// the last, the word being completed.
    fn flag(&mut self, arg: &'a Arg, word: &str, mut value: Option<String>, words: &mut std::slice::Iter<'_, String>) {
        let global = arg.is_global_set();
        if global {
            self.global_words.push(word.to_string());
        }
        if value.is_none() && takes_value(arg) {
            match words.next() {
                Some(next) => {
                    if global {
                        self.global_words.push(next.clone());
                    }
                    value = Some(next.clone());
                }
                None => {
                    // Its value is the word being completed, not part of the line yet.
                    if global {
                        self.global_words.pop();
                    }
                    self.pending = Some(arg);
                }
            }
        }
        self.flags.push((arg, value));
    }

    /// What the word at the cursor, `current`, can be.
    pub fn want(&self, current: &str) -> Want {
        if let Some(arg) = self.pending {
            return self.flag_value(arg, current);
        }
        if !self.after_double_dash {
            if let Some((name, value)) = current.strip_prefix("--").and_then(|flag| flag.split_once('=')) {
                return match by_long(self.command, name) {
                    Some(arg) => self.flag_value(arg, value),
                    None => Want::Words(Vec::new(), 0),
                };
            }
            if current.starts_with('-') {
                return Want::Words(self.flag_names(current), directive::NO_FILE_COMP);
            }
        }
        self.argument(current)
    }

    /// The flags of the command matching `prefix`, less those given already that cannot repeat.
    fn flag_names(&self, prefix: &str) -> Vec<Candidate> {
        let mut names = Vec::new();
        for arg in self.command.get_arguments().filter(|arg| !arg.is_positional() && !arg.is_hide_set()) {
            if !repeatable(arg) && self.flags.iter().any(|(given, _)| given.get_id() == arg.get_id()) {
                continue;
            }
            let description = summary(arg.get_help());
            let long = arg.get_long().map(|long| format!("--{long}"));
            let short = arg.get_short().map(|short| format!("-{short}"));
            for name in [long, short].into_iter().flatten().filter(|name| name.starts_with(prefix)) {
                names.push(Candidate { value: name, description: description.clone() });
            }
        }
        names
    }

    /// The value of `arg`, of which `prefix` is typed.
    fn flag_value(&self, arg: &Arg, prefix: &str) -> Want {
        let prefix = prefix.to_string();
        match arg.get_long().unwrap_or_default() {
            "namespace" => Want::Names { resource: "namespaces", prefix },
            "context" => Want::Contexts { prefix },
            "cluster" => Want::Clusters { prefix },
            "user" => Want::Users { prefix },
            "container" => match self.positionals.first() {
                Some(pod) => Want::Containers { pod: pod.clone(), prefix },
                None => Want::Words(Vec::new(), directive::NO_FILE_COMP),
            },
            "output" if self.path == ["get"] => Want::Words(matching(OUTPUT_FORMATS.iter().copied(), &prefix), directive::NO_FILE_COMP),
            _ => match possible_values(arg, &prefix) {
                Some(values) => Want::Words(values, directive::NO_FILE_COMP),
                // A free value (a file name, a selector, a duration): the shell's default.
                None => Want::Words(Vec::new(), 0),
            },
        }
    }

    /// A positional argument: a subcommand, or what the command takes there.
    fn argument(&self, current: &str) -> Want {
        let prefix = current.to_string();
        if self.after_double_dash {
            return Want::Words(Vec::new(), 0);
        }
        if self.positionals.is_empty() && self.command.get_subcommands().any(|command| !command.is_hide_set()) {
            // As cobra: sorted by name, `help` only at the top.
            let mut subcommands: Vec<Candidate> = self
                .command
                .get_subcommands()
                .filter(|command| !command.is_hide_set() && command.get_name().starts_with(current))
                .filter(|command| command.get_name() != "help" || self.path.is_empty())
                .map(|command| Candidate { value: command.get_name().to_string(), description: summary(command.get_about()) })
                .collect();
            subcommands.sort_by(|a, b| a.value.cmp(&b.value));
            return Want::Words(subcommands, directive::NO_FILE_COMP);
        }
        // As cobra, an empty word also offers the required flags not yet given.
        let required: Vec<Candidate> = if current.is_empty() {
            self.command
                .get_arguments()
                .filter(|arg| !arg.is_positional() && arg.is_required_set() && !self.flags.iter().any(|(given, _)| given.get_id() == arg.get_id()))
                .filter_map(|arg| arg.get_long().map(|long| Candidate { value: format!("--{long}"), description: summary(arg.get_help()) }))
                .collect()
        } else {
            Vec::new()
        };
        let first = self.positionals.is_empty();
        let type_and_name = |allowed, repeat| Want::TypeAndName { allowed, repeat, prefix: prefix.clone(), before: required.clone() };
        let only_first = |want: Want| if first { want } else { Want::Words(required.clone(), directive::NO_FILE_COMP) };
        match self.path.join(" ").as_str() {
            "get" | "describe" | "delete" | "edit" | "label" | "annotate" | "patch" | "wait" => type_and_name(None, true),
            "scale" => type_and_name(Some(SCALABLE), true),
            "expose" => type_and_name(Some(EXPOSABLE), true),
            "rollout status" => type_and_name(Some(ROLLABLE), false),
            "rollout history" | "rollout undo" | "rollout restart" => type_and_name(Some(ROLLABLE), true),
            "rollout pause" | "rollout resume" => type_and_name(Some(PAUSABLE), true),
            "set image" => type_and_name(Some(WITH_IMAGES), false),
            "taint" => type_and_name(Some(TAINTABLE), true),
            "explain" => only_first(Want::Types { prefix }),
            "logs" | "exec" | "attach" => only_first(Want::PodOrType { prefix }),
            "port-forward" => match self.positionals.first() {
                None => Want::PodOrType { prefix },
                Some(target) => Want::Ports { target: target.clone(), prefix },
            },
            "cordon" | "uncordon" | "drain" | "top node" => only_first(Want::Names { resource: "nodes", prefix }),
            "top pod" => only_first(Want::Names { resource: "pods", prefix }),
            "config use-context" => only_first(Want::Contexts { prefix }),
            _ => {
                // A positional argument with a fixed set of values (`completion SHELL`).
                let next = self.command.get_arguments().filter(|arg| arg.is_positional()).nth(self.positionals.len());
                match next.and_then(|arg| possible_values(arg, current)) {
                    Some(values) => Want::Words(required.into_iter().chain(values).collect(), directive::NO_FILE_COMP),
                    None if required.is_empty() => Want::Words(Vec::new(), 0),
                    None => Want::Words(required, directive::NO_FILE_COMP),
                }
            }
        }
    }
}

/// The values clap knows for `arg` that start with `prefix`; None for a free value.
fn possible_values(arg: &Arg, prefix: &str) -> Option<Vec<Candidate>> {
    let values = arg.get_possible_values();
    if values.is_empty() {
        return None;
    }
    let visible = values.iter().filter(|value| !value.is_hide_set() && value.get_name().starts_with(prefix));
    Some(visible.map(|value| Candidate { value: value.get_name().to_string(), description: summary(value.get_help()) }).collect())
}

/// The `words` that start with `prefix`.
pub fn matching<'w>(words: impl IntoIterator<Item = &'w str>, prefix: &str) -> Vec<Candidate> {
    words.into_iter().filter(|word| word.starts_with(prefix)).map(Candidate::plain).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Command {
        let mut root = <crate::Config as clap::CommandFactory>::command();
        root.build();
        root
    }

    fn want(words: &[&str]) -> Want {
        let root = root();
        let (current, before) = words.split_last().unwrap();
        let before: Vec<String> = before.iter().map(|word| word.to_string()).collect();
        Line::parse(&root, &before).want(current)
    }

    fn values(want: Want) -> Vec<String> {
        match want {
            Want::Words(candidates, _) => candidates.into_iter().map(|candidate| candidate.value).collect(),
            other => panic!("not words: {other:?}"),
        }
    }

    #[test]
    fn subcommands_and_flags_come_from_the_command_tree() {
        assert_eq!(values(want(&["rollout", "re"])), ["restart", "resume"]);
        assert!(values(want(&[""])).contains(&"get".to_string()));
        assert_eq!(values(want(&["get", "--sel"])), ["--selector"]);
        let delete = values(want(&["delete", "-"]));
        assert!(delete.contains(&"-l".to_string()) && delete.contains(&"--namespace".to_string()), "{delete:?}");
        // A flag given once is not offered again; a repeatable one is.
        assert!(!values(want(&["get", "-o", "yaml", "--ou"])).contains(&"--output".to_string()));
        assert_eq!(values(want(&["completion", ""])), ["bash", "zsh", "fish"]);
        assert_eq!(values(want(&["get", "-o", "j"])), ["json", "jsonpath", "jsonpath-as-json", "jsonpath-file"]);
        assert_eq!(values(want(&["get", "--output=ya"])), ["yaml"]);
        // Free values and file names are left to the shell.
        assert_eq!(want(&["apply", "-f", ""]), Want::Words(Vec::new(), 0));
        assert_eq!(want(&["exec", "web", "--", "l"]), Want::Words(Vec::new(), 0));
    }

    #[test]
    fn arguments_are_read_as_the_command_reads_them() {
        assert_eq!(want(&["-n", "", ]), Want::Names { resource: "namespaces", prefix: String::new() });
        assert_eq!(want(&["get", "--namespace=ku"]), Want::Names { resource: "namespaces", prefix: "ku".into() });
        assert_eq!(want(&["--context", "x", "get", "pods", "-n", "demo", "w"]), Want::TypeAndName { allowed: None, repeat: true, prefix: "w".into(), before: vec![] });
        assert_eq!(want(&["exec", "web-1", "-itc", "s"]), Want::Containers { pod: "web-1".into(), prefix: "s".into() });
        assert_eq!(want(&["logs", "-c", ""]), Want::Words(Vec::new(), directive::NO_FILE_COMP));
        assert_eq!(want(&["config", "use-context", ""]), Want::Contexts { prefix: String::new() });
        assert_eq!(want(&["cordon", "node-1", ""]), Want::Words(Vec::new(), directive::NO_FILE_COMP));
        let root = root();
        let words: Vec<String> = ["--kubeconfig", "k", "-n", "demo", "get", "--context=c", "pods"].iter().map(|word| word.to_string()).collect();
        let line = Line::parse(&root, &words);
        assert_eq!(line.global_words, ["--kubeconfig", "k", "-n", "demo", "--context=c"]);
        assert_eq!((line.path.as_slice(), line.positionals.as_slice()), (&["get"][..], &["pods".to_string()][..]));
    }

    #[test]
    fn required_flags_come_first_on_an_empty_word() {
        match want(&["scale", ""]) {
            Want::TypeAndName { before, .. } => assert_eq!(before.iter().map(|flag| flag.value.as_str()).collect::<Vec<_>>(), ["--replicas"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cluster_and_user_flags_complete_from_the_kubeconfig() {
        let mut root = Command::new("tool")
            .arg(Arg::new("cluster").long("cluster").global(true))
            .arg(Arg::new("user").long("user").global(true))
            .subcommand(Command::new("get"));
        root.build();
        let line = Line::parse(&root, &["get".to_string(), "--cluster".to_string()]);
        assert_eq!(line.want("te"), Want::Clusters { prefix: "te".into() });
        let line = Line::parse(&root, &[]);
        assert_eq!(line.want("--user=a"), Want::Users { prefix: "a".into() });
    }
}
