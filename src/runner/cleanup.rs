//! `mlgate runner cleanup`, the job-completed hook: which leftover processes to end and which
//! old workspaces to trim, and doing it.
//!
//! A process is ended only when all of these hold: it holds a GPU device node open or mapped
//! (`/dev/nvidia*`), its real and effective user is the runner's own, it is not mlgate or one of
//! its ancestors (the runner and its worker that run the hook), it does not belong to a job that
//! is still running (a descendant of a `Runner.Worker` that is not our ancestor, which is how a
//! host timer firing mid-job stays harmless), and it is not a known system daemon. Signals go
//! through a pidfd opened after the process was re-identified by its start time, so a recycled
//! pid is never signalled.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The process that runs a job's steps.
const JOB_WORKER: &str = "Runner.Worker";

/// Daemons that hold GPU devices on purpose; never ended, whoever runs them.
const SYSTEM_DAEMONS: &[&str] = &[
    "Xorg",
    "Xwayland",
    "gnome-shell",
    "nvidia-persiste",
    "nv-hostengine",
    "nvidia-smi",
    "dcgm-exporter",
    "nvidia-fabricma",
];

/// One process as `/proc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its real user.
    pub uid: u32,
    /// Its effective user.
    pub euid: u32,
    /// Its command name (`comm`, at most 15 bytes).
    pub name: String,
    /// Clock ticks after boot at which it started; with the pid, its identity.
    pub start_time: u64,
    /// The GPU device nodes it holds open or mapped; empty when none, or when unreadable.
    pub devices: Vec<String>,
}

/// Why a process holding a GPU device is left running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spared {
    /// Another user's.
    OtherUser,
    /// mlgate itself or a process it runs under.
    Ancestor,
    /// A job still running on this host (pid of its `Runner.Worker`).
    RunningJob(u32),
    /// A system daemon that holds GPUs by design.
    SystemDaemon,
}

impl std::fmt::Display for Spared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Spared::OtherUser => f.write_str("another user's"),
            Spared::Ancestor => f.write_str("runs this hook"),
            Spared::RunningJob(worker) => {
                write!(f, "part of a running job (Runner.Worker {worker})")
            }
            Spared::SystemDaemon => f.write_str("a system daemon"),
        }
    }
}

/// The processes to end and those spared.
#[derive(Debug, Default)]
pub struct ProcessPlan<'a> {
    /// Leftovers of the runner's user.
    pub end: Vec<&'a Process>,
    /// Processes holding GPU devices that stay, and why.
    pub spared: Vec<(&'a Process, Spared)>,
}

/// Decides, for every process holding a GPU device, whether to end it.
pub fn plan_processes(processes: &[Process], me: u32, uid: u32) -> ProcessPlan<'_> {
    let by_pid: HashMap<u32, &Process> = processes.iter().map(|p| (p.pid, p)).collect();
    let ancestors = ancestors_of(me, &by_pid);
    let mut plan = ProcessPlan::default();
    for process in processes.iter().filter(|p| !p.devices.is_empty()) {
        let spared = if process.uid != uid || process.euid != uid {
            Some(Spared::OtherUser)
        } else if ancestors.contains(&process.pid) {
            Some(Spared::Ancestor)
        } else if SYSTEM_DAEMONS.contains(&process.name.as_str()) {
            Some(Spared::SystemDaemon)
        } else {
            running_job(process, &by_pid, &ancestors).map(Spared::RunningJob)
        };
        match spared {
            Some(reason) => plan.spared.push((process, reason)),
            None => plan.end.push(process),
        }
    }
    plan
}

/// `pid` and every process above it.
fn ancestors_of(pid: u32, by_pid: &HashMap<u32, &Process>) -> HashSet<u32> {
    let mut seen = HashSet::from([pid]);
    let mut current = pid;
    while let Some(parent) = by_pid.get(&current).map(|p| p.ppid) {
        if parent == 0 || !seen.insert(parent) {
            break;
        }
        current = parent;
    }
    seen
}

/// The `Runner.Worker` above `process` that is not running this hook, if any.
fn running_job(
    process: &Process,
    by_pid: &HashMap<u32, &Process>,
    ancestors: &HashSet<u32>,
) -> Option<u32> {
    let mut seen = HashSet::new();
    let mut current = by_pid.get(&process.ppid).copied();
    while let Some(p) = current {
        if !seen.insert(p.pid) {
            return None;
        }
        if p.name == JOB_WORKER && !ancestors.contains(&p.pid) {
            return Some(p.pid);
        }
        current = by_pid.get(&p.ppid).copied();
    }
    None
}

/// Every process under `proc_root`, with the device nodes starting with `device_prefix` it
/// holds. Processes that vanish while being read are skipped; another user's file descriptors
/// are unreadable, which leaves its `devices` empty (it is never ended anyway).
pub fn scan(proc_root: &Path, device_prefix: &str) -> io::Result<Vec<Process>> {
    let mut processes = Vec::new();
    for entry in std::fs::read_dir(proc_root)? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(process) = read_process(&entry.path(), pid, device_prefix) {
            processes.push(process);
        }
    }
    processes.sort_by_key(|p| p.pid);
    Ok(processes)
}

/// One `/proc/PID`, or `None` when it is gone or malformed.
fn read_process(dir: &Path, pid: u32, device_prefix: &str) -> Option<Process> {
    let stat = parse_stat(&std::fs::read_to_string(dir.join("stat")).ok()?)?;
    let (uid, euid) = parse_uids(&std::fs::read_to_string(dir.join("status")).ok()?)?;
    Some(Process {
        pid,
        ppid: stat.ppid,
        uid,
        euid,
        name: stat.name,
        start_time: stat.start_time,
        devices: held_devices(dir, device_prefix),
    })
}

/// The fields of `/proc/PID/stat` we use.
#[derive(Debug, PartialEq, Eq)]
pub struct Stat {
    /// `comm`.
    pub name: String,
    /// Field 4.
    pub ppid: u32,
    /// Field 22.
    pub start_time: u64,
}

/// Parses `/proc/PID/stat`; `comm` may hold spaces and parentheses, so it ends at the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    // After `comm`: state (3), ppid (4), ..., starttime (22).
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    Some(Stat {
        name,
        ppid: rest.get(1)?.parse().ok()?,
        start_time: rest.get(19)?.parse().ok()?,
    })
}

/// The real and effective uid from `/proc/PID/status`'s `Uid:` line.
pub fn parse_uids(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    let mut ids = line.split_whitespace().map(|id| id.parse::<u32>().ok());
    Some((ids.next()??, ids.next()??))
}

/// The device nodes a process holds through a file descriptor or a mapping.
fn held_devices(dir: &Path, prefix: &str) -> Vec<String> {
    let mut devices: Vec<String> = std::fs::read_dir(dir.join("fd"))
        .into_iter()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| target.to_str().map(str::to_string))
        .filter(|target| target.starts_with(prefix))
        .collect();
    if let Ok(maps) = std::fs::read_to_string(dir.join("maps")) {
        devices.extend(
            maps.lines()
                .filter_map(|line| line.split_whitespace().nth(5))
                .filter(|path| path.starts_with(prefix))
                .map(str::to_string),
        );
    }
    devices.sort();
    devices.dedup();
    devices
}

/// The real uid of the calling process (the owner of `/proc/self`'s status, read not assumed).
pub fn own_uid(proc_root: &Path) -> io::Result<u32> {
    let status = std::fs::read_to_string(proc_root.join("self/status"))?;
    parse_uids(&status)
        .map(|(uid, _)| uid)
        .ok_or_else(|| io::Error::other("no Uid line in /proc/self/status"))
}

/// How ending one process went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited after SIGTERM.
    Terminated,
    /// It ignored SIGTERM for the grace period and was killed.
    Killed,
    /// It had already exited, or its pid now names another process.
    Gone,
    /// It is still there after SIGKILL (stuck in the kernel, typically in the driver).
    Stuck,
}

/// Ends one process: SIGTERM, `grace` to exit, then SIGKILL.
pub fn end_process(proc_root: &Path, process: &Process, grace: Duration) -> io::Result<Ended> {
    let Some(pidfd) = open_same_process(proc_root, process)? else {
        return Ok(Ended::Gone);
    };
    if !signal(&pidfd, libc::SIGTERM)? {
        return Ok(Ended::Gone);
    }
    if exited_within(&pidfd, grace)? {
        return Ok(Ended::Terminated);
    }
    if !signal(&pidfd, libc::SIGKILL)? {
        return Ok(Ended::Terminated);
    }
    Ok(if exited_within(&pidfd, Duration::from_secs(5))? {
        Ended::Killed
    } else {
        Ended::Stuck
    })
}

/// A pidfd for `process`, checked after opening to still be the process that was scanned.
fn open_same_process(proc_root: &Path, process: &Process) -> io::Result<Option<OwnedFd>> {
    let pid = libc::pid_t::try_from(process.pid).map_err(io::Error::other)?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ESRCH) => Ok(None),
            _ => Err(err),
        };
    }
    // SAFETY: the descriptor was just returned by the kernel and is owned by nobody else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let now = std::fs::read_to_string(proc_root.join(process.pid.to_string()).join("stat"))
        .ok()
        .as_deref()
        .and_then(parse_stat);
    Ok(match now {
        Some(stat) if stat.start_time == process.start_time => Some(pidfd),
        _ => None,
    })
}

/// Sends `signal` through the pidfd; `false` when the process has already exited.
fn signal(pidfd: &OwnedFd, signal: i32) -> io::Result<bool> {
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ESRCH) => Ok(false),
        _ => Err(err),
    }
}

/// Whether the process behind the pidfd exits within `timeout` (a pidfd polls readable then).
fn exited_within(pidfd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    let mut poll = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    loop {
        // SAFETY: one valid pollfd, for the duration of the call.
        let rc = unsafe { libc::poll(&mut poll, 1, millis) };
        if rc >= 0 {
            return Ok(rc > 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// A workspace to trim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleWorkspace {
    /// `WORK/REPO`; its contents go, the directory stays for the runner to reuse.
    pub path: PathBuf,
    /// When a job last touched it.
    pub last_used: SystemTime,
    /// Bytes it holds.
    pub bytes: u64,
}

/// Why a directory cannot be trimmed.
#[derive(Debug, thiserror::Error)]
pub enum TrimError {
    /// It does not look like a runner's work directory.
    #[error(
        "`{0}` is not a runner work directory (no `_temp`, `_actions`, `_tool` or `_PipelineMapping` in it); pass the runner's `_work`"
    )]
    NotAWorkDir(PathBuf),
    /// It could not be read.
    #[error("cannot read `{path}`: {source}")]
    Unreadable {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The repository workspaces under the runner's `work` directory that no job used for `keep`,
/// except `current` (the job that just ran). The runner's own directories (`_actions`, `_tool`,
/// `_temp`, ...) are never touched: the runner empties `_temp` itself when a job starts.
pub fn stale_workspaces(
    work: &Path,
    current: Option<&Path>,
    keep: Duration,
    now: SystemTime,
) -> Result<Vec<StaleWorkspace>, TrimError> {
    let unreadable = |source| TrimError::Unreadable {
        path: work.to_path_buf(),
        source,
    };
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(work)
        .map_err(unreadable)?
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    let runner_dirs = ["_temp", "_actions", "_tool", "_PipelineMapping"];
    if !entries
        .iter()
        .any(|e| runner_dirs.iter().any(|d| e.file_name() == *d))
    {
        return Err(TrimError::NotAWorkDir(work.to_path_buf()));
    }
    let current = current.and_then(|c| std::fs::canonicalize(c).ok());
    let mut stale = Vec::new();
    for entry in entries {
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || entry.file_name().to_string_lossy().starts_with('_') {
            continue;
        }
        if current.is_some() && std::fs::canonicalize(&path).ok() == current {
            continue;
        }
        let last_used = last_used(&path);
        if now.duration_since(last_used).unwrap_or_default() >= keep {
            stale.push(StaleWorkspace {
                bytes: size_of(&path),
                path,
                last_used,
            });
        }
    }
    stale.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(stale)
}

/// The newest modification time of a workspace and its immediate entries (a checkout touches
/// `REPO/REPO`; a job's outputs land one level down).
fn last_used(dir: &Path) -> SystemTime {
    let modified = |p: &Path| {
        std::fs::symlink_metadata(p)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| modified(&e.path()))
        .fold(modified(dir), SystemTime::max)
}

/// Bytes under `path`, not following symbolic links.
fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.size();
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| size_of(&e.path()))
        .sum()
}

/// Empties a workspace, keeping the directory (std's `remove_dir_all` does not follow links).
pub fn trim(workspace: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(workspace)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, ppid: u32, uid: u32, name: &str, gpu: bool) -> Process {
        Process {
            pid,
            ppid,
            uid,
            euid: uid,
            name: name.into(),
            start_time: u64::from(pid) * 10,
            devices: if gpu {
                vec!["/dev/nvidia0".into(), "/dev/nvidiactl".into()]
            } else {
                Vec::new()
            },
        }
    }

    fn pids<'a>(list: impl IntoIterator<Item = &'a Process>) -> Vec<u32> {
        list.into_iter().map(|p| p.pid).collect()
    }

    /// A host: systemd (1) runs the listener (100) as uid 1001; its worker (110) runs the
    /// completed hook (120) which runs mlgate (130). A step's orphan (200) and a forgotten
    /// dataloader (210, under 200) hold the GPU; so do another user's trainer (300), Xorg (400,
    /// root) and a second runner's live job (500 worker, 510 trainer).
    fn host() -> Vec<Process> {
        vec![
            process(1, 0, 0, "systemd", false),
            process(100, 1, 1001, "Runner.Listene", false),
            process(110, 100, 1001, "Runner.Worker", true),
            process(120, 110, 1001, "bash", false),
            process(130, 120, 1001, "mlgate", true),
            process(200, 1, 1001, "python3", true),
            process(210, 200, 1001, "pt_data_worker", true),
            process(220, 1, 1001, "sleep", false),
            process(300, 1, 1002, "python3", true),
            process(400, 1, 0, "Xorg", true),
            process(500, 1, 1001, "Runner.Worker", false),
            process(510, 500, 1001, "python3", true),
            process(600, 1, 1001, "nvidia-smi", true),
        ]
    }

    #[test]
    fn only_the_runner_users_leftovers_are_ended() {
        let host = host();
        let plan = plan_processes(&host, 130, 1001);
        assert_eq!(pids(plan.end.iter().copied()), [200, 210]);
        let spared: Vec<(u32, Spared)> = plan.spared.iter().map(|(p, s)| (p.pid, *s)).collect();
        assert_eq!(
            spared,
            [
                (110, Spared::Ancestor),
                (130, Spared::Ancestor),
                (300, Spared::OtherUser),
                (400, Spared::OtherUser),
                (510, Spared::RunningJob(500)),
                (600, Spared::SystemDaemon),
            ]
        );
    }

    #[test]
    fn a_setuid_process_counts_as_another_users() {
        let mut host = host();
        host[5].euid = 0;
        let plan = plan_processes(&host, 130, 1001);
        assert_eq!(pids(plan.end.iter().copied()), [210]);
    }

    #[test]
    fn a_parent_cycle_does_not_hang() {
        let host = vec![process(10, 11, 1, "a", true), process(11, 10, 1, "b", true)];
        let plan = plan_processes(&host, 99, 1);
        assert_eq!(pids(plan.end.iter().copied()), [10, 11]);
    }

    #[test]
    fn stat_lines_parse_with_hostile_names() {
        let line = "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                name: "a) b (c)".into(),
                ppid: 17,
                start_time: 987_654,
            })
        );
        assert_eq!(parse_stat("4242 (x"), None);
        assert_eq!(parse_stat("4242 (x) S"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn uid_lines_parse() {
        let status = "Name:\tbash\nUid:\t1001\t1002\t1001\t1001\nGid:\t1\t1\t1\t1\n";
        assert_eq!(parse_uids(status), Some((1001, 1002)));
        assert_eq!(parse_uids("Name: x\n"), None);
        assert_eq!(parse_uids("Uid:\tx\t1\n"), None);
    }

    #[test]
    fn this_process_is_scanned_with_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let device = dir.path().join("nvidia0");
        std::fs::write(&device, b"").unwrap();
        let _held = std::fs::File::open(&device).unwrap();
        let prefix = dir.path().join("nvidia").display().to_string();
        let processes = scan(Path::new("/proc"), &prefix).unwrap();
        let me = processes
            .iter()
            .find(|p| p.pid == std::process::id())
            .unwrap();
        assert_eq!(me.devices, [device.display().to_string()]);
        assert_eq!(me.uid, own_uid(Path::new("/proc")).unwrap());
    }

    #[test]
    fn old_workspaces_are_trimmed_and_the_runners_own_and_the_current_kept() {
        let work = tempfile::tempdir().unwrap();
        for dir in [
            "_temp",
            "_actions/x",
            "old/old",
            "current/current",
            "fresh/fresh",
        ] {
            std::fs::create_dir_all(work.path().join(dir)).unwrap();
        }
        std::fs::write(work.path().join("old/old/data.csv"), vec![b'x'; 1000]).unwrap();
        std::fs::write(work.path().join("loose-file"), b"x").unwrap();
        let now = SystemTime::now() + Duration::from_secs(3600);
        let stale = stale_workspaces(
            work.path(),
            Some(&work.path().join("current")),
            Duration::from_secs(1800),
            now,
        )
        .unwrap();
        let names: Vec<_> = stale.iter().map(|s| s.path.file_name().unwrap()).collect();
        assert_eq!(names, ["fresh", "old"]);
        assert_eq!(stale[1].bytes, 1000);
        let kept = stale_workspaces(work.path(), None, Duration::from_secs(7200), now).unwrap();
        assert!(kept.is_empty());
        trim(&stale[1].path).unwrap();
        assert!(work.path().join("old").is_dir());
        assert_eq!(
            std::fs::read_dir(work.path().join("old")).unwrap().count(),
            0
        );
        assert!(work.path().join("_actions/x").is_dir());
    }

    #[test]
    fn a_directory_that_is_not_a_work_directory_is_refused() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("projects")).unwrap();
        let err = stale_workspaces(home.path(), None, Duration::ZERO, SystemTime::now());
        assert!(matches!(err, Err(TrimError::NotAWorkDir(_))), "{err:?}");
    }
}
