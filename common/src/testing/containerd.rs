//! A private containerd for the kubelet's tests: its own root, state, sockets, runc root and CNI
//! config dir in a short temp dir, with the test images (`localhost/pause:local`,
//! `localhost/busybox:local`) imported, and a teardown that removes everything it and its pods
//! put on the host (shims, containers, mounts, cgroups, the pod network) even after containerd
//! died, or after the test process that started it was killed outright.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;

use super::{HarnessError, Process, send_signal};

/// The CRI plugin's containerd namespace, where the kubelet's pods and the test images live.
const NAMESPACE: &str = "k8s.io";
const CNI_BIN_DIR: &str = "/usr/lib/cni";
/// Where libcni keeps each attachment's ADD (its config and result) until the DEL; containerd
/// 1.6 has no setting for it.
const CNI_CACHE_DIR: &str = "/var/lib/cni/results";
/// Where containerd 1.6's runc shim puts its sockets, whatever the config says.
const SHIM_SOCKET_DIR: &str = "/run/containerd/s";
/// Instance dirs live in `/tmp` rather than `$TMPDIR`, which may be long: a unix socket's path
/// has at most 107 bytes, and the deepest here is `<dir>/containerd.sock.ttrpc`.
const TEMP_PARENT: &str = "/tmp";
const DIR_PREFIX: &str = "ktest-containerd-";
/// How many instances can run at once on one host: each gets a /24 of 10.250.0.0/16.
const SLOTS: u32 = 256;
/// How long teardown waits for killed processes to go and for cgroups to empty.
const TEARDOWN_PATIENCE: Duration = Duration::from_secs(5);

/// A containerd (the system's, or `$CONTAINERD_BIN`) with everything private to this instance,
/// its CRI plugin configured as the kubelet's tests need it: pods' cgroups under
/// [`cgroup_root`](Self::cgroup_root) (cgroupfs driver), the sandbox image
/// `localhost/pause:local`, the CNI config read from [`cni_conf_dir`](Self::cni_conf_dir), which
/// the kubelet under test writes. Logs at `$CONTAINERD_LOG_LEVEL` (default `info`).
///
/// Dropping it stops containerd and removes everything it and its pods put on the host, even if
/// it was killed with pods running: shims and containers, mounts, cgroups, the pods' network
/// (CNI DEL from libcni's cache), the bridge, the dir. What a test process killed outright
/// (timeout, ^C) left is removed by the next `start` on the host.
pub struct Containerd {
    process: Process,
    footprint: Footprint,
    // Dropped after the teardown in `drop`, which removes the dir itself; then the slot goes.
    _dir: tempfile::TempDir,
    slot: Slot,
}

impl Containerd {
    /// Builds the test images (once per process), starts containerd, waits until it answers, and
    /// imports the images into the `k8s.io` namespace.
    pub fn start() -> Result<Self, HarnessError> {
        let images = test_images()?;
        let slot = Slot::claim()?;
        let dir = tempfile::Builder::new().prefix(&format!("{DIR_PREFIX}{}-", slot.index)).tempdir_in(TEMP_PARENT)?;
        let footprint = Footprint::of(dir.path())
            .ok_or_else(|| io::Error::other(format!("unexpected temp dir name {}", dir.path().display())))?;
        for sub_dir in ["root", "state", "tmp", "cni/net.d"] {
            std::fs::create_dir_all(dir.path().join(sub_dir))?;
        }
        std::fs::write(footprint.config(), footprint.config_toml())?;
        let mut containerd =
            Self { process: Process::new(dir.path().join("containerd.log")), footprint, _dir: dir, slot };
        containerd.start_again()?;
        let images = images.to_string_lossy();
        containerd.ctr(&["images", "import", "--snapshotter", "overlayfs", &images])?;
        Ok(containerd)
    }

    /// The CRI (and containerd API) socket.
    pub fn socket(&self) -> PathBuf {
        self.footprint.socket()
    }

    /// The socket as a kubelet's `--container-runtime-endpoint`:
    /// `unix:///tmp/ktest-containerd-<slot>-<random>/containerd.sock`.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The instance's dir, holding everything containerd writes.
    pub fn dir(&self) -> &Path {
        &self.footprint.dir
    }

    /// Where the CRI plugin looks for the CNI network config (it takes the first by name).
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.footprint.dir.join("cni/net.d")
    }

    /// The CNI plugin binaries the CRI plugin runs.
    pub fn cni_bin_dir(&self) -> &'static Path {
        Path::new(CNI_BIN_DIR)
    }

    /// The runc root that containers run with (the shim adds the namespace), for
    /// `ctr run --runc-root`.
    pub fn runc_root(&self) -> PathBuf {
        self.footprint.runc_root()
    }

    /// The cgroup parent under which the kubelet under test is to put its pods, e.g.
    /// `/ktest-7-Ab3dE9`; unique to the instance and removed with it.
    pub fn cgroup_root(&self) -> &str {
        &self.footprint.cgroup_root
    }

    /// The pod CIDR for this instance's CNI bridge, e.g. `10.250.7.0/24`: no other instance on
    /// the host, in this process or another, has it while this one lives.
    pub fn pod_cidr(&self) -> String {
        format!("10.250.{}.0/24", self.slot.index)
    }

    /// The name for this instance's CNI bridge, e.g. `ktest7`: unique on the host like the pod
    /// CIDR, and deleted with the instance.
    pub fn bridge_name(&self) -> &str {
        &self.footprint.bridge
    }

    pub fn log_path(&self) -> PathBuf {
        self.process.log.clone()
    }

    /// containerd's log so far, every run of it.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.process.log).unwrap_or_default()
    }

    /// containerd's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Kills containerd with SIGKILL, as a crash would; its shims and their containers keep
    /// running, and [`start_again`](Self::start_again) adopts them.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts containerd again on the same dir and config (after `kill`), waits until it answers.
    pub fn start_again(&mut self) -> Result<(), HarnessError> {
        let program = std::env::var("CONTAINERD_BIN").unwrap_or_else(|_| "containerd".into());
        let level = std::env::var("CONTAINERD_LOG_LEVEL").unwrap_or_else(|_| "info".into());
        let mut command = Command::new(program);
        command.arg("--config").arg(self.footprint.config()).arg("--log-level").arg(level);
        let socket = self.socket();
        self.process.start(command, || ctr_answers(&socket))
    }

    /// Runs `ctr` on this instance, in the `k8s.io` namespace, and returns its stdout.
    pub fn ctr(&self, args: &[&str]) -> Result<String, HarnessError> {
        let mut command = Command::new("ctr");
        command.arg("--address").arg(self.socket()).args(["--namespace", NAMESPACE]).args(args);
        run(&mut command)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.process.terminate(TEARDOWN_PATIENCE);
        report(&self.footprint.dir, self.footprint.remove());
    }
}

/// Whether containerd answers on `socket`.
fn ctr_answers(socket: &Path) -> bool {
    Command::new("ctr")
        .arg("--address")
        .arg(socket)
        .arg("version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// An instance's hold on its slot (its pod CIDR and bridge name) on this host: an abstract unix
/// socket, bound for as long as the instance lives. The kernel releases it however the process
/// ends, so a slot that can be claimed has no live holder, and whatever an earlier holder left
/// can go.
struct Slot {
    index: u32,
    _claim: UnixListener,
}

impl Slot {
    /// Claims a free slot, after removing what dead test processes left in any free slot.
    fn claim() -> Result<Self, HarnessError> {
        remove_leftovers();
        // Starting points spread over processes and over the instances of one, so that claims
        // seldom meet; the bind decides.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let start = std::process::id().wrapping_mul(37).wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
        for offset in 0..SLOTS {
            let index = start.wrapping_add(offset) % SLOTS;
            if let Some(slot) = Self::try_claim(index)? {
                // A bridge with the slot's name is a dead holder's.
                if let Err(err) = delete_link(&bridge_name(index)) {
                    eprintln!("containerd harness: {err}");
                }
                return Ok(slot);
            }
        }
        Err(io::Error::other(format!("all {SLOTS} containerd test slots are taken")).into())
    }

    /// The slot if no one holds it.
    fn try_claim(index: u32) -> Result<Option<Self>, HarnessError> {
        let address = SocketAddr::from_abstract_name(format!("ktest-containerd-slot-{index}"))?;
        match UnixListener::bind_addr(&address) {
            Ok(claim) => Ok(Some(Self { index, _claim: claim })),
            Err(err) if err.kind() == io::ErrorKind::AddrInUse => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}

/// Tears down the instances whose test process died without their `Drop` (a test binary killed
/// by a timeout or ^C): their dirs are still there but no one holds their slot. Each is removed
/// while holding its slot, so that no new instance takes the slot meanwhile.
fn remove_leftovers() {
    let Ok(entries) = std::fs::read_dir(TEMP_PARENT) else { return };
    for entry in entries.flatten().filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir())) {
        let Some(footprint) = Footprint::of(&entry.path()) else { continue };
        let Ok(Some(_slot)) = Slot::try_claim(footprint.slot) else { continue };
        eprintln!("containerd harness: removing what a dead test process left in {}", footprint.dir.display());
        report(&footprint.dir, footprint.remove());
    }
}

/// Prints what teardown could not remove: in a `Drop` there is no one to return it to.
fn report(dir: &Path, problems: Vec<String>) {
    for problem in problems {
        eprintln!("containerd harness: {}: {problem}", dir.display());
    }
}

fn bridge_name(slot: u32) -> String {
    format!("ktest{slot}")
}

/// Everything an instance can leave on the host, all named after its dir
/// (`/tmp/ktest-containerd-<slot>-<random>`), so that what a dead test process left can be found
/// again.
#[derive(Debug)]
struct Footprint {
    dir: PathBuf,
    slot: u32,
    cgroup_root: String,
    bridge: String,
}

impl Footprint {
    fn of(dir: &Path) -> Option<Self> {
        let name = dir.file_name()?.to_str()?;
        let (slot, random) = name.strip_prefix(DIR_PREFIX)?.split_once('-')?;
        let slot: u32 = slot.parse().ok()?;
        if random.is_empty() || !random.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return None;
        }
        Some(Self {
            dir: dir.to_path_buf(),
            slot,
            cgroup_root: format!("/ktest-{slot}-{random}"),
            bridge: bridge_name(slot),
        })
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    fn runc_root(&self) -> PathBuf {
        self.dir.join("runc")
    }

    /// containerd's config: every path in the dir, the CRI plugin as the kubelet expects it.
    fn config_toml(&self) -> String {
        let dir = self.dir.display();
        // restrict_oom_score_adj: without CAP_SYS_RESOURCE (as in many CI sandboxes) runc cannot
        // lower a container's oom_score_adj below its own and fails with "can't get final child's
        // PID from pipe".
        format!(
            r#"version = 2
root = "{dir}/root"
state = "{dir}/state"
temp = "{dir}/tmp"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "{dir}/containerd.sock"

[ttrpc]
  address = "{dir}/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{dir}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:local"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{dir}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{dir}/cni/net.d"
    max_conf_num = 1
"#
        )
    }

    /// Removes everything the instance put on the host, whether containerd stopped cleanly, was
    /// killed with its pods running, or never ran; containerd itself must be stopped already.
    /// Returns what could not be removed. In order: the containers (`runc kill`), the shims
    /// (by their `-address <socket>`), the containers' state (`runc delete --force`), any process
    /// left in the cgroups, the pods' networks (CNI DEL, as containerd would have done: host-local
    /// leases, iptables rules), the mounts (rootfs, shm, netns), the cgroups, the bridge, the shims'
    /// sockets, and the dir.
    fn remove(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let containers = self.runc_containers();
        let shim_sockets = self.shim_sockets();
        let mut sandbox_ids: BTreeSet<String> = self.cri_sandboxes();
        sandbox_ids.extend(containers.iter().map(|(_, id)| id.clone()));

        for (root, id) in &containers {
            let _ = runc(root, &["kill", "--all", id, "KILL"]);
        }
        kill_until_gone("shims", || self.processes(), &mut problems);
        for (root, id) in &containers {
            if let Err(err) = runc(root, &["delete", "--force", id]) {
                problems.push(err.to_string());
            }
        }
        kill_until_gone("processes in the cgroups", || self.cgroup_processes(), &mut problems);
        delete_cni_networks(&sandbox_ids, &mut problems);
        self.unmount_all(&mut problems);
        self.remove_cgroups(&mut problems);
        if let Err(err) = delete_link(&self.bridge) {
            problems.push(err.to_string());
        }
        for socket in shim_sockets {
            let _ = std::fs::remove_file(socket);
        }
        if let Err(err) = std::fs::remove_dir_all(&self.dir)
            && err.kind() != io::ErrorKind::NotFound
        {
            problems.push(format!("removing the dir: {err}"));
        }
        problems
    }

    /// (runc root, container id) of every container runc knows under the instance's runc root,
    /// one root per containerd namespace.
    fn runc_containers(&self) -> Vec<(PathBuf, String)> {
        let mut containers = Vec::new();
        for namespace_root in sub_dirs(&self.runc_root()) {
            for container in sub_dirs(&namespace_root) {
                if let Some(id) = container.file_name().and_then(|name| name.to_str()) {
                    containers.push((namespace_root.clone(), id.to_string()));
                }
            }
        }
        containers
    }

    /// The ids of the CRI plugin's pod sandboxes, stopped or running.
    fn cri_sandboxes(&self) -> BTreeSet<String> {
        ["root", "state"]
            .iter()
            .flat_map(|top| sub_dirs(&self.dir.join(top).join("io.containerd.grpc.v1.cri/sandboxes")))
            .filter_map(|sandbox| Some(sandbox.file_name()?.to_str()?.to_string()))
            .collect()
    }

    /// The shims' sockets, which their tasks' bundles record (`unix:///run/containerd/s/<hash>`);
    /// a killed shim leaves its socket behind.
    fn shim_sockets(&self) -> Vec<PathBuf> {
        sub_dirs(&self.dir.join("state/io.containerd.runtime.v2.task"))
            .iter()
            .flat_map(|namespace| sub_dirs(namespace))
            .filter_map(|bundle| std::fs::read_to_string(bundle.join("address")).ok())
            .filter_map(|address| address.trim().strip_prefix("unix://").map(PathBuf::from))
            .filter(|socket| socket.starts_with(SHIM_SOCKET_DIR))
            .collect()
    }

    /// Processes whose command line names this instance: its shims (`-address <socket>`), and a
    /// containerd whose test process died before it could stop it (`--config <config>`).
    fn processes(&self) -> Vec<u32> {
        let socket = self.socket();
        let config = self.config();
        processes_where(|args| {
            args.windows(2).any(|pair| {
                (pair[0] == "-address" && Path::new(&pair[1]) == socket)
                    || (pair[0] == "--config" && Path::new(&pair[1]) == config)
            })
        })
    }

    /// The instance's cgroup tree in each hierarchy: `/sys/fs/cgroup/<controller>/<root>` (v1),
    /// `/sys/fs/cgroup/<root>` (v2).
    fn cgroup_trees(&self) -> Vec<PathBuf> {
        let relative = self.cgroup_root.trim_start_matches('/');
        let top = Path::new("/sys/fs/cgroup");
        std::iter::once(top.to_path_buf())
            .chain(sub_dirs(top))
            .map(|hierarchy| hierarchy.join(relative))
            .filter(|tree| tree.is_dir())
            .collect()
    }

    fn cgroup_processes(&self) -> Vec<u32> {
        let mut pids = BTreeSet::new();
        for tree in self.cgroup_trees() {
            for cgroup in cgroup_tree_depth_first(&tree) {
                let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
                pids.extend(procs.lines().filter_map(|line| line.trim().parse::<u32>().ok()));
            }
        }
        pids.into_iter().collect()
    }

    /// Removes the cgroup trees, children first; a cgroup whose last task is still exiting
    /// refuses for a moment (EBUSY), so it retries for a while.
    fn remove_cgroups(&self, problems: &mut Vec<String>) {
        let started = Instant::now();
        loop {
            let mut refused = Vec::new();
            for tree in self.cgroup_trees() {
                for cgroup in cgroup_tree_depth_first(&tree) {
                    if let Err(err) = std::fs::remove_dir(&cgroup)
                        && err.kind() != io::ErrorKind::NotFound
                    {
                        refused.push(format!("{}: {err}", cgroup.display()));
                    }
                }
            }
            if refused.is_empty() {
                return;
            }
            if started.elapsed() > TEARDOWN_PATIENCE {
                problems.push(format!("cgroups left: {}", refused.join(", ")));
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Unmounts everything mounted in the dir (the containers' rootfs, the sandboxes' shm and
    /// netns), deepest first; lazily, so that a mount still busy goes once it is not.
    fn unmount_all(&self, problems: &mut Vec<String>) {
        for _ in 0..5 {
            let mut mounts = mounts_under(&self.dir);
            if mounts.is_empty() {
                return;
            }
            mounts.sort_by_key(|mount| (Reverse(mount.components().count()), mount.clone()));
            mounts.dedup();
            for mount in &mounts {
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(mount)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let left = mounts_under(&self.dir);
        if !left.is_empty() {
            problems.push(format!("mounts left: {left:?}"));
        }
    }
}

/// SIGKILLs the processes `find` finds until it finds none, or reports them after a while.
fn kill_until_gone(what: &str, find: impl Fn() -> Vec<u32>, problems: &mut Vec<String>) {
    let started = Instant::now();
    loop {
        let pids = find();
        if pids.is_empty() {
            return;
        }
        if started.elapsed() > TEARDOWN_PATIENCE {
            problems.push(format!("{what} still running: {pids:?}"));
            return;
        }
        send_signal("KILL", &pids);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The processes (other than this one) whose command line matches; zombies have none.
fn processes_where(matches: impl Fn(&[String]) -> bool) -> Vec<u32> {
    let own = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
            let args: Vec<String> = cmdline
                .split(|&byte| byte == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            matches(&args)
        })
        .collect()
}

/// The directories in `dir`, none if it cannot be read.
fn sub_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| entry.path())
        .collect()
}

/// A cgroup and all below it, children before parents.
fn cgroup_tree_depth_first(cgroup: &Path) -> Vec<PathBuf> {
    let mut order = Vec::new();
    for child in sub_dirs(cgroup) {
        order.extend(cgroup_tree_depth_first(&child));
    }
    order.push(cgroup.to_path_buf());
    order
}

/// The mount points at or below `dir`, from this process's mount table (containerd and its
/// shims share the mount namespace).
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mount_field(field)))
        .filter(|mount| mount.starts_with(dir))
        .collect()
}

/// Undoes the kernel's octal escapes (`\040` for a space) in a mountinfo field.
fn unescape_mount_field(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = bytes
            .get(index + 1..index + 4)
            .filter(|digits| bytes[index] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match escape {
            Some(digits) => {
                out.push(digits.iter().fold(0u8, |value, digit| value.wrapping_mul(8).wrapping_add(digit - b'0')));
                index += 4;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn runc(root: &Path, args: &[&str]) -> Result<String, HarnessError> {
    run(Command::new("runc").arg("--root").arg(root).args(args))
}

/// Deletes a network link if it exists.
fn delete_link(name: &str) -> Result<(), HarnessError> {
    if Path::new("/sys/class/net").join(name).exists() {
        run(Command::new("ip").args(["link", "del", name]))?;
    }
    Ok(())
}

/// Runs a command to its end: its stdout if it succeeds, else an error carrying its output.
fn run(command: &mut Command) -> Result<String, HarnessError> {
    let described = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let output = command.stdin(Stdio::null()).output().map_err(|source| HarnessError::Spawn {
        program: command.get_program().to_string_lossy().into_owned(),
        source,
    })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(HarnessError::Command {
        command: described,
        status: output.status.to_string(),
        output: format!("{}{}", String::from_utf8_lossy(&output.stderr), String::from_utf8_lossy(&output.stdout))
            .trim()
            .to_string(),
    })
}

/// Undoes the pod networks of the instance's sandboxes, from libcni's cache of their ADDs, when
/// containerd did not (it was killed with pods running, or shut down without the kubelet
/// stopping them): without the DEL, host-local's IP leases and the bridge's and portmap's
/// iptables rules (a hostPort's DNAT among them) would outlive the test.
fn delete_cni_networks(sandbox_ids: &BTreeSet<String>, problems: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(CNI_CACHE_DIR) else { return };
    for entry in entries.flatten() {
        // Cache files are named <network>-<container id>-<interface>.
        let name = entry.file_name().to_string_lossy().into_owned();
        if !sandbox_ids.iter().any(|id| name.contains(&format!("-{id}-"))) {
            continue;
        }
        if let Err(problem) = delete_cni_network(&entry.path(), sandbox_ids) {
            problems.push(format!("CNI DEL from {}: {problem}", entry.path().display()));
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

/// What libcni's `DelNetworkList` does with a cached attachment: each plugin of the list in
/// reverse order, given the list's name and version, the ADD's result as `prevResult` (from
/// CNI 0.4.0 on), and the runtime config for the capabilities it declares.
fn delete_cni_network(cache_path: &Path, sandbox_ids: &BTreeSet<String>) -> Result<(), String> {
    use serde_json::{Map, Value};
    let text = std::fs::read(cache_path).map_err(|err| err.to_string())?;
    let cache: Value = serde_json::from_slice(&text).map_err(|err| err.to_string())?;
    let container_id = cache["containerId"].as_str().unwrap_or_default();
    if !sandbox_ids.contains(container_id) {
        return Ok(());
    }
    let config = base64::engine::general_purpose::STANDARD
        .decode(cache["config"].as_str().unwrap_or_default())
        .map_err(|err| format!("config: {err}"))?;
    let list: Value = serde_json::from_slice(&config).map_err(|err| format!("config: {err}"))?;
    let version = list["cniVersion"].as_str().unwrap_or("0.1.0");
    // A single-plugin .conf is a list of one.
    let plugins = match list["plugins"].as_array() {
        Some(plugins) => plugins.clone(),
        None => vec![list.clone()],
    };
    // The netns is still mounted here, so the plugins can remove the pod's interface too.
    let netns = cache["result"]["interfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|interface| interface["sandbox"].as_str())
        .find(|path| Path::new(path).exists())
        .unwrap_or_default();
    let cni_args = cache["cniArgs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| Some(format!("{}={}", pair[0].as_str()?, pair[1].as_str()?)))
        .collect::<Vec<_>>()
        .join(";");
    for plugin in plugins.iter().rev() {
        let Value::Object(mut plugin_config) = plugin.clone() else { continue };
        let plugin_type = plugin["type"].as_str().unwrap_or_default().to_string();
        plugin_config.insert("name".into(), list["name"].clone());
        plugin_config.insert("cniVersion".into(), Value::from(version));
        if version_at_least(version, [0, 4, 0]) && !cache["result"].is_null() {
            plugin_config.insert("prevResult".into(), cache["result"].clone());
        }
        let runtime_config: Map<String, Value> = plugin["capabilities"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, enabled)| enabled.as_bool() == Some(true))
            .filter_map(|(capability, _)| {
                let argument = &cache["capabilityArgs"][capability];
                (!argument.is_null()).then(|| (capability.clone(), argument.clone()))
            })
            .collect();
        if !runtime_config.is_empty() {
            plugin_config.insert("runtimeConfig".into(), Value::Object(runtime_config));
        }
        let stdin = serde_json::to_vec(&Value::Object(plugin_config)).map_err(|err| err.to_string())?;
        let mut child = Command::new(Path::new(CNI_BIN_DIR).join(&plugin_type))
            .env("CNI_COMMAND", "DEL")
            .env("CNI_CONTAINERID", container_id)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", cache["ifName"].as_str().unwrap_or("eth0"))
            .env("CNI_ARGS", &cni_args)
            .env("CNI_PATH", CNI_BIN_DIR)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("{plugin_type}: {err}"))?;
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(&stdin).map_err(|err| format!("{plugin_type}: {err}"))?;
        }
        let output = child.wait_with_output().map_err(|err| format!("{plugin_type}: {err}"))?;
        if !output.status.success() {
            // A plugin reports its error as JSON on stdout.
            return Err(format!(
                "{plugin_type}: {} {}",
                String::from_utf8_lossy(&output.stdout).trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// Whether a CNI version (`0.3.1`, `1.0.0`) is at least `minimum`.
fn version_at_least(version: &str, minimum: [u32; 3]) -> bool {
    let mut parts = version.split('.').map(|part| part.parse::<u32>().unwrap_or(0));
    let parsed = [parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0)];
    parsed >= minimum
}

/// The docker-archive holding both test images, built by `scripts/build-test-images.sh` once per
/// process (and only when its inputs changed since the last build, which the script decides).
fn test_images() -> Result<PathBuf, HarnessError> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(|| build_test_images().map_err(|err| err.to_string())).clone().map_err(HarnessError::Images)
}

fn build_test_images() -> Result<PathBuf, HarnessError> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-test-images.sh");
    // Beside the test binaries (target/<profile>/), as `workspace_binary` finds binaries, so
    // that `cargo clean` takes it too.
    let out_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("test-images")))
        .unwrap_or_else(|| PathBuf::from("/var/tmp/ktest-images"));
    let stdout = run(Command::new("bash").arg(script).arg(out_dir))?;
    Ok(PathBuf::from(stdout.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footprint_is_named_after_the_dir() {
        let footprint = Footprint::of(Path::new("/tmp/ktest-containerd-42-Ab3dE9")).expect("a harness dir name");
        assert_eq!(footprint.cgroup_root, "/ktest-42-Ab3dE9");
        assert_eq!(footprint.bridge, "ktest42");
        assert_eq!(footprint.socket(), Path::new("/tmp/ktest-containerd-42-Ab3dE9/containerd.sock"));
        assert!(Footprint::of(Path::new("/tmp/ktest-containerd-x-Ab3dE9")).is_none());
        assert!(Footprint::of(Path::new("/tmp/other-1-Ab3dE9")).is_none());
        assert!(Footprint::of(Path::new("/tmp/ktest-containerd-1-Ab3.E9")).is_none());
    }

    #[test]
    fn longest_socket_path_fits() {
        let footprint = Footprint::of(Path::new("/tmp/ktest-containerd-255-Ab3dE9")).expect("a harness dir name");
        assert!(footprint.dir.join("containerd.sock.ttrpc").as_os_str().len() < 108);
        assert!(footprint.bridge.len() <= 15);
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mount_field(r"/tmp/a\040b\134c"), r"/tmp/a b\c");
        assert_eq!(unescape_mount_field(r"/tmp/plain"), "/tmp/plain");
        assert_eq!(unescape_mount_field(r"/tmp/trailing\04"), r"/tmp/trailing\04");
    }

    #[test]
    fn cni_versions() {
        assert!(version_at_least("0.4.0", [0, 4, 0]));
        assert!(version_at_least("1.0.0", [0, 4, 0]));
        assert!(!version_at_least("0.3.1", [0, 4, 0]));
    }
}
