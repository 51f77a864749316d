//! The interactive verbs, with kubectl's flags and messages: `exec`, `attach`, `port-forward`
//! and `cp` (tar over exec). They speak WebSocket to the apiserver (`v5.channel.k8s.io`, which
//! can say that stdin has ended; port-forward one connection per forwarded connection).

use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};

use futures::SinkExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, AttachedProcess, TerminalSize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::kubeconfig::client_and_namespace;
use crate::{Config, CtlError};
use crate::output::outln;

/// What exec and attach share: the pod, the container and the streams.
#[derive(Clone, Debug, clap::Args)]
pub struct AttachArgs {
    /// POD or pod/POD.
    pub pod: String,
    /// The container (default: the pod's default-container annotation, else its first).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Pass stdin to the container.
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Stdin is a TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Only print output from the remote session.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl exec web-0 -- ls /\n  ctl exec -it web-0 -c app -- sh\n  ctl exec pod/web-0 -n dev -- env")]
pub struct ExecArgs {
    #[command(flatten)]
    pub session: AttachArgs,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl port-forward web-0 8080:80\n  ctl port-forward pod/web-0 8080:80 9090\n  ctl port-forward web-0 :80 --address=0.0.0.0")]
pub struct PortForwardArgs {
    /// POD or pod/POD.
    pub pod: String,
    /// [LOCAL_PORT:]REMOTE_PORT, one or more (LOCAL_PORT 0 or empty: any free port).
    #[arg(required = true)]
    pub ports: Vec<String>,
    /// Addresses to listen on, comma-separated (localhost: 127.0.0.1 and ::1).
    #[arg(long, value_delimiter = ',', default_value = "localhost")]
    pub address: Vec<String>,
}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl cp web-0:/var/log/app.log app.log\n  ctl cp ./config web-0:/etc/app -c app\n  ctl cp dev/web-0:/tmp/dump.sql dump.sql")]
pub struct CpArgs {
    /// A local path, or [NAMESPACE/]POD:PATH.
    pub source: String,
    /// A local path, or [NAMESPACE/]POD:PATH.
    pub destination: String,
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Do not keep the files' owners and permissions when copying into the container.
    #[arg(long)]
    pub no_preserve: bool,
}

/// A pod's name as given: `web` or `pod/web` (or `pods/web`, `po/web`).
fn pod_name(given: &str) -> Result<String, CtlError> {
    match given.split_once('/') {
        None => Ok(given.to_string()),
        Some(("pod" | "pods" | "po", name)) if !name.is_empty() => Ok(name.to_string()),
        Some(_) => Err(CtlError::Usage(format!("{given:?}: only pods can be named here (POD or pod/POD)"))),
    }
}

/// The pod, checked as kubectl checks it, and the container to use.
async fn running_pod(pods: &Api<Pod>, name: &str, container: Option<&str>, verb: &str) -> Result<String, CtlError> {
    let pod = pods.get(name).await.map_err(CtlError::from_kube)?;
    let phase = pod.status.as_ref().and_then(|status| status.phase.clone()).unwrap_or_default();
    if phase == "Succeeded" || phase == "Failed" {
        return Err(CtlError::Usage(format!("cannot {verb} a container in a completed pod; current phase is {phase}")));
    }
    if let Some(container) = container {
        return Ok(container.to_string());
    }
    let annotated = pod.metadata.annotations.as_ref().and_then(|annotations| annotations.get("kubectl.kubernetes.io/default-container")).cloned();
    let containers: Vec<String> = pod.spec.iter().flat_map(|spec| spec.containers.iter().map(|c| c.name.clone())).collect();
    match annotated.filter(|name| containers.contains(name)) {
        Some(name) => Ok(name),
        None => containers.first().cloned().ok_or_else(|| CtlError::Usage(format!("pod {name} has no containers"))),
    }
}

/// The local terminal in raw mode while a TTY session runs; restored when dropped.
struct RawTerminal(Option<rustix::termios::Termios>);

impl RawTerminal {
    fn enable() -> Self {
        let stdin = std::io::stdin();
        let Ok(saved) = rustix::termios::tcgetattr(&stdin) else { return Self(None) };
        let mut raw = saved.clone();
        raw.make_raw();
        if rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw).is_err() {
            return Self(None);
        }
        Self(Some(saved))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = rustix::termios::tcsetattr(std::io::stdin(), rustix::termios::OptionalActions::Now, saved);
        }
    }
}

fn terminal_size() -> Option<TerminalSize> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    (size.ws_col > 0 && size.ws_row > 0).then_some(TerminalSize { width: size.ws_col, height: size.ws_row })
}

pub async fn exec(config: &Config, args: &ExecArgs) -> Result<(), CtlError> {
    connect(config, &args.session, Some(&args.command)).await
}

pub async fn attach(config: &Config, args: &AttachArgs) -> Result<(), CtlError> {
    connect(config, args, None).await
}

/// An exec of `command`, or an attach without one.
async fn connect(config: &Config, args: &AttachArgs, command: Option<&[String]>) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    let name = pod_name(&args.pod)?;
    let verb = if command.is_some() { "exec into" } else { "attach to" };
    let container = running_pod(&pods, &name, args.container.as_deref(), verb).await?;
    let tty = tty_wanted(args.tty, args.stdin, args.quiet);
    let params = AttachParams { container: Some(container), stdin: args.stdin, stdout: true, stderr: !tty, tty, ..AttachParams::default() };
    let process = match command {
        Some(command) => pods.exec(&name, command.to_vec(), &params).await,
        None => {
            if !args.quiet {
                eprintln!("If you don't see a command prompt, try pressing enter.");
            }
            pods.attach(&name, &params).await
        }
    };
    session(process.map_err(CtlError::from_kube)?, args.stdin, tty).await
}

/// A TTY only when asked for and stdin is one (kubectl's warning otherwise).
fn tty_wanted(asked: bool, stdin: bool, quiet: bool) -> bool {
    if !asked {
        return false;
    }
    if stdin && std::io::stdin().is_terminal() {
        return true;
    }
    if !quiet {
        eprintln!("Unable to use a TTY - input is not a terminal or the right kind of file");
    }
    false
}

/// Copies the local streams to and from the remote process until it ends; its exit code
/// becomes ours (as `command terminated with exit code N`).
async fn session(mut process: AttachedProcess, stdin: bool, tty: bool) -> Result<(), CtlError> {
    let _raw = tty.then(RawTerminal::enable);
    if let (true, Some(mut sizes)) = (tty, process.terminal_size()) {
        tokio::spawn(async move {
            let Ok(mut changes) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) else { return };
            loop {
                if let Some(size) = terminal_size() {
                    if sizes.send(size).await.is_err() {
                        return;
                    }
                }
                if changes.recv().await.is_none() {
                    return;
                }
            }
        });
    }
    if let (true, Some(mut remote)) = (stdin, process.stdin()) {
        // Ends when local stdin does; dropping the writer closes the remote stdin.
        tokio::spawn(async move {
            let mut local = tokio::io::stdin();
            let mut buffer = vec![0u8; 32 * 1024];
            while let Ok(read) = local.read(&mut buffer).await {
                if read == 0 || remote.write_all(&buffer[..read]).await.is_err() || remote.flush().await.is_err() {
                    break;
                }
            }
            let _ = remote.shutdown().await;
        });
    }
    let status = process.take_status();
    let out = copy_out(process.stdout(), tokio::io::stdout());
    let err = copy_out(process.stderr(), tokio::io::stderr());
    let _ = tokio::join!(out, err);
    let status = match status {
        Some(status) => status.await,
        None => None,
    };
    drop(_raw);
    match status {
        Some(status) if status.status.as_deref() == Some("Failure") => {
            let code = status
                .details
                .as_ref()
                .and_then(|details| details.causes.as_ref())
                .into_iter()
                .flatten()
                .find(|cause| cause.reason.as_deref() == Some("ExitCode"))
                .and_then(|cause| cause.message.as_deref()?.parse::<i32>().ok());
            match code {
                Some(code) => Err(CtlError::Exit(code)),
                None => Err(CtlError::Usage(status.message.unwrap_or_else(|| "the remote command failed".into()))),
            }
        }
        _ => Ok(()),
    }
}

async fn copy_out(from: Option<impl tokio::io::AsyncRead + Unpin>, mut to: impl tokio::io::AsyncWrite + Unpin) {
    let Some(mut from) = from else { return };
    let mut buffer = vec![0u8; 32 * 1024];
    while let Ok(read) = from.read(&mut buffer).await {
        if read == 0 || to.write_all(&buffer[..read]).await.is_err() || to.flush().await.is_err() {
            return;
        }
    }
}

/// `[LOCAL:]REMOTE` as (local, remote); local 0 means any free port.
fn port_pair(text: &str) -> Result<(u16, u16), CtlError> {
    let bad = || CtlError::Usage(format!("invalid port specification {text:?}: expected [LOCAL_PORT:]REMOTE_PORT"));
    let (local, remote) = text.split_once(':').unwrap_or((text, text));
    let remote: u16 = remote.parse().ok().filter(|port| *port > 0).ok_or_else(bad)?;
    let local: u16 = if local.is_empty() { 0 } else { local.parse().map_err(|_| bad())? };
    Ok((local, remote))
}

pub async fn port_forward(config: &Config, args: &PortForwardArgs) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    let name = pod_name(&args.pod)?;
    running_pod(&pods, &name, None, "forward ports of").await?;
    let pairs = args.ports.iter().map(|text| port_pair(text)).collect::<Result<Vec<_>, _>>()?;
    let addresses: Vec<String> = args.address.iter().flat_map(|address| if address == "localhost" { vec!["127.0.0.1".to_string(), "::1".to_string()] } else { vec![address.clone()] }).collect();
    let mut tasks = Vec::new();
    for (local, remote) in pairs {
        let mut port = local;
        for address in &addresses {
            let listener = match tokio::net::TcpListener::bind((address.as_str(), port)).await {
                Ok(listener) => listener,
                // localhost's IPv6 half is optional, as for kubectl.
                Err(_) if address == "::1" && args.address.iter().any(|a| a == "localhost") => continue,
                Err(err) => return Err(CtlError::Usage(format!("unable to listen on {address}:{port}: {err}"))),
            };
            let bound = listener.local_addr().map_err(CtlError::Output)?;
            port = bound.port();
            let shown = if bound.is_ipv6() { format!("[{}]:{}", bound.ip(), bound.port()) } else { bound.to_string() };
            outln!("Forwarding from {shown} -> {remote}")?;
            tasks.push(tokio::spawn(accept(listener, pods.clone(), name.clone(), remote)));
        }
    }
    let _ = futures::future::select_all(tasks).await;
    Err(CtlError::Usage("lost connection to pod".into()))
}

/// Each connection to a local port gets its own forward to the pod's port, so that a refused
/// connection fails alone and the others go on.
async fn accept(listener: tokio::net::TcpListener, pods: Api<Pod>, name: String, remote: u16) {
    while let Ok((mut local, _)) = listener.accept().await {
        let (pods, name) = (pods.clone(), name.clone());
        tokio::spawn(async move {
            // A closed stdout must not stop the forwarding it reports on.
            let _ = outln!("Handling connection for {remote}");
            let mut forwarder = match pods.portforward(&name, &[remote]).await {
                Ok(forwarder) => forwarder,
                Err(err) => {
                    eprintln!("error forwarding port {remote} to pod {name}: {err}");
                    return;
                }
            };
            let (Some(mut upstream), Some(error)) = (forwarder.take_stream(remote), forwarder.take_error(remote)) else { return };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut local, &mut upstream) => {}
                message = error => {
                    if let Some(message) = message {
                        eprintln!("error: an error occurred forwarding {remote}: {message}");
                    }
                }
            }
            drop(upstream);
            let _ = forwarder.join().await;
        });
    }
}

/// `[NAMESPACE/]POD:PATH` as (namespace, pod, path); None for a local path.
fn remote_path(text: &str) -> Option<(Option<String>, String, String)> {
    let (pod, path) = text.split_once(':')?;
    if pod.is_empty() || pod.contains(std::path::MAIN_SEPARATOR) && !pod.contains('/') {
        return None;
    }
    match pod.split_once('/') {
        Some((namespace, pod)) => Some((Some(namespace.to_string()), pod.to_string(), path.to_string())),
        None => Some((None, pod.to_string(), path.to_string())),
    }
}

pub async fn cp(config: &Config, args: &CpArgs) -> Result<(), CtlError> {
    match (remote_path(&args.source), remote_path(&args.destination)) {
        (None, Some((namespace, pod, path))) => copy_to(config, args, namespace, &pod, &path).await,
        (Some((namespace, pod, path)), None) => copy_from(config, args, namespace, &pod, &path).await,
        _ => Err(CtlError::Usage("one of source or destination must be a local file, and the other [NAMESPACE/]POD:PATH".into())),
    }
}

async fn pods_in(config: &Config, namespace: Option<String>) -> Result<Api<Pod>, CtlError> {
    let (client, default) = client_and_namespace(config).await?;
    Ok(Api::namespaced(client, &namespace.unwrap_or(default)))
}

/// Runs `command` in the container with `input` (if any) on stdin; returns stdout, or the
/// failure with the container's stderr.
async fn run(pods: &Api<Pod>, pod: &str, container: &str, command: Vec<String>, input: Option<Vec<u8>>) -> Result<Vec<u8>, CtlError> {
    let params = AttachParams { container: Some(container.to_string()), stdin: input.is_some(), stdout: true, stderr: true, ..AttachParams::default() };
    let mut process = pods.exec(pod, command, &params).await.map_err(CtlError::from_kube)?;
    if let (Some(input), Some(mut stdin)) = (input, process.stdin()) {
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
    }
    let status = process.take_status();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (mut stdout, mut stderr) = (process.stdout(), process.stderr());
    let read_out = async {
        if let Some(stdout) = stdout.as_mut() {
            let _ = stdout.read_to_end(&mut out).await;
        }
    };
    let read_err = async {
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.read_to_end(&mut err).await;
        }
    };
    tokio::join!(read_out, read_err);
    let status = match status {
        Some(status) => status.await,
        None => None,
    };
    if let Some(status) = status.filter(|status| status.status.as_deref() == Some("Failure")) {
        let said = String::from_utf8_lossy(&err).trim().to_string();
        let message = status.message.unwrap_or_default();
        return Err(CtlError::Usage(if said.is_empty() { message } else { format!("{message}: {said}") }));
    }
    Ok(out)
}

async fn copy_to(config: &Config, args: &CpArgs, namespace: Option<String>, pod: &str, path: &str) -> Result<(), CtlError> {
    let source = Path::new(&args.source);
    if std::fs::symlink_metadata(source).is_err() {
        return Err(CtlError::Usage(format!("{} doesn't exist in local filesystem", args.source)));
    }
    let pods = pods_in(config, namespace).await?;
    let container = running_pod(&pods, pod, args.container.as_deref(), "exec into").await?;
    // Into a directory that exists: under the source's name, as cp does.
    let mut destination = path.trim_end_matches('/').to_string();
    if destination.is_empty() {
        destination = "/".into();
    }
    if run(&pods, pod, &container, vec!["test".into(), "-d".into(), destination.clone()], None).await.is_ok() {
        let base = source.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        destination = format!("{}/{base}", destination.trim_end_matches('/'));
    }
    let (dir, base) = match destination.rsplit_once('/') {
        Some((dir, base)) => (if dir.is_empty() { "/".to_string() } else { dir.to_string() }, base.to_string()),
        None => (String::new(), destination.clone()),
    };
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let added = if source.is_dir() { builder.append_dir_all(&base, source) } else { builder.append_path_with_name(source, &base) };
    added.map_err(|err| CtlError::Usage(format!("cannot read {}: {err}", args.source)))?;
    let archive = builder.into_inner().map_err(|err| CtlError::Usage(format!("cannot build the archive: {err}")))?;
    let mut command: Vec<String> = vec!["tar".into()];
    if args.no_preserve {
        command.extend(["--no-same-permissions".into(), "--no-same-owner".into()]);
    }
    command.extend(["-xmf".into(), "-".into()]);
    if !dir.is_empty() {
        command.extend(["-C".into(), dir]);
    }
    run(&pods, pod, &container, command, Some(archive)).await.map(drop)
}

async fn copy_from(config: &Config, args: &CpArgs, namespace: Option<String>, pod: &str, path: &str) -> Result<(), CtlError> {
    let pods = pods_in(config, namespace).await?;
    let container = running_pod(&pods, pod, args.container.as_deref(), "exec into").await?;
    let archive = run(&pods, pod, &container, vec!["tar".into(), "cf".into(), "-".into(), path.to_string()], None).await?;
    // Members are named as tar stored them: the path without its leading slash.
    let prefix = clean(path.trim_start_matches('/'));
    let destination = PathBuf::from(&args.destination);
    let mut entries = tar::Archive::new(archive.as_slice());
    let mut count = 0;
    for entry in entries.entries().map_err(|err| CtlError::Usage(format!("tar contents corrupted: {err}")))? {
        let mut entry = entry.map_err(|err| CtlError::Usage(format!("tar contents corrupted: {err}")))?;
        let name = clean(&entry.path().map_err(|err| CtlError::Usage(format!("tar contents corrupted: {err}")))?.to_string_lossy());
        let Ok(relative) = name.strip_prefix(&prefix) else {
            return Err(CtlError::Usage("tar contents corrupted".into()));
        };
        // A single file is the destination itself; a directory's members go under it.
        let target = if relative.as_os_str().is_empty() { destination.clone() } else { destination.join(relative) };
        // Nothing outside the destination, and no links (kubectl skips them too).
        if relative.components().any(|part| matches!(part, Component::ParentDir | Component::RootDir)) || entry.header().entry_type().is_symlink() || entry.header().entry_type().is_hard_link() {
            eprintln!("warning: skipping {}: outside the destination or a link", name.display());
            continue;
        }
        if let Some(parent) = target.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| CtlError::Usage(format!("cannot create {}: {err}", parent.display())))?;
        }
        entry.unpack(&target).map_err(|err| CtlError::Usage(format!("cannot write {}: {err}", target.display())))?;
        count += 1;
    }
    if count == 0 {
        return Err(CtlError::Usage(format!("{path}: nothing was copied")));
    }
    Ok(())
}

/// A relative path without `.` parts or trailing slashes.
fn clean(path: &str) -> PathBuf {
    Path::new(path).components().filter(|part| !matches!(part, Component::CurDir)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_paths_read_as_kubectl_reads_them() {
        assert_eq!(port_pair("8080").unwrap(), (8080, 8080));
        assert_eq!(port_pair("9000:80").unwrap(), (9000, 80));
        assert_eq!(port_pair(":80").unwrap(), (0, 80));
        assert!(port_pair("http").is_err());
        assert!(port_pair("80:0").is_err());
        assert_eq!(remote_path("web:/tmp/x"), Some((None, "web".into(), "/tmp/x".into())));
        assert_eq!(remote_path("demo/web:/tmp/x"), Some((Some("demo".into()), "web".into(), "/tmp/x".into())));
        assert_eq!(remote_path("/tmp/local"), None);
        assert_eq!(pod_name("pod/web").unwrap(), "web");
        assert!(pod_name("deployment/web").is_err());
        assert_eq!(clean("tmp/./dir/"), PathBuf::from("tmp/dir"));
    }
}
