//! The rules `mlgate runner check` applies when a job starts: every GPU free of uncorrectable
//! ECC errors, the kernel module and the management library on the same driver version, no
//! leftover processes holding more GPU memory than allowed, and enough free disk.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use super::Snapshot;

/// Limits of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most MiB other processes may hold on one GPU when the job starts.
    pub max_foreign_mib: u64,
    /// The least free disk, in bytes, under the work directory.
    pub min_free_disk: u64,
}

/// The host facts besides the GPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// The kernel module's version (`/proc/driver/nvidia/version`), when readable.
    pub kernel_driver: Option<String>,
    /// Free bytes under the work directory, when known.
    pub free_disk: Option<u64>,
}

/// One rule's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule (`ecc`, `driver`, `foreign_memory`, `disk`).
    pub check: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was seen.
    pub message: String,
}

/// Applies every rule.
pub fn check(snapshot: &Snapshot, host: &Host, limits: Limits) -> Vec<Finding> {
    let mut findings = Vec::new();
    for gpu in &snapshot.gpus {
        let errors = gpu.ecc_uncorrected.unwrap_or(0);
        findings.push(Finding {
            check: "ecc",
            ok: errors == 0,
            message: match gpu.ecc_uncorrected {
                Some(n) => format!(
                    "GPU {} ({}): {n} uncorrectable ECC errors",
                    gpu.index, gpu.name
                ),
                None => format!("GPU {} ({}): no ECC reporting", gpu.index, gpu.name),
            },
        });
    }
    findings.push(driver_finding(snapshot, host));
    for gpu in &snapshot.gpus {
        let held: Vec<_> = snapshot
            .processes
            .iter()
            .filter(|p| p.gpu_uuid == gpu.uuid)
            .collect();
        let mib: u64 = held.iter().filter_map(|p| p.used_mib).sum();
        let pids: Vec<String> = held
            .iter()
            .map(|p| format!("{} ({})", p.pid, p.name))
            .collect();
        findings.push(Finding {
            check: "foreign_memory",
            ok: mib <= limits.max_foreign_mib,
            message: if held.is_empty() {
                format!("GPU {}: no process holds memory", gpu.index)
            } else {
                format!(
                    "GPU {}: {mib} MiB held by {} (limit {} MiB)",
                    gpu.index,
                    pids.join(", "),
                    limits.max_foreign_mib
                )
            },
        });
    }
    findings.push(match host.free_disk {
        Some(free) => Finding {
            check: "disk",
            ok: free >= limits.min_free_disk,
            message: format!(
                "{:.1} GiB free (at least {:.1} GiB)",
                gib(free),
                gib(limits.min_free_disk)
            ),
        },
        None => Finding {
            check: "disk",
            ok: false,
            message: "free disk space could not be read".into(),
        },
    });
    findings
}

/// Bytes as GiB.
fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0 * 1024.0)
}

/// The kernel module and every GPU's library report one driver version.
fn driver_finding(snapshot: &Snapshot, host: &Host) -> Finding {
    let mut versions: Vec<&str> = snapshot
        .gpus
        .iter()
        .map(|g| g.driver_version.as_str())
        .collect();
    versions.sort_unstable();
    versions.dedup();
    let library = versions.join(", ");
    match (&host.kernel_driver, versions.as_slice()) {
        (_, many) if many.len() > 1 => Finding {
            check: "driver",
            ok: false,
            message: format!("GPUs report different driver versions: {library}"),
        },
        (Some(kernel), [one]) if kernel != one => Finding {
            check: "driver",
            ok: false,
            message: format!(
                "driver/library version mismatch: kernel module {kernel}, library {one} (reboot or reload the module)"
            ),
        },
        (Some(kernel), _) => Finding {
            check: "driver",
            ok: true,
            message: format!("driver {kernel} (kernel module and library agree)"),
        },
        (None, _) => Finding {
            check: "driver",
            ok: true,
            message: format!("driver {library} (kernel module version not readable)"),
        },
    }
}

/// The version in `/proc/driver/nvidia/version`'s first line
/// (`NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build ...`).
pub fn parse_kernel_driver(text: &str) -> Option<String> {
    let line = text.lines().next()?;
    line.split_whitespace()
        .find(|w| w.contains('.') && w.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(str::to_string)
}

/// Reads the host facts: the kernel module's version and the free space under `work_dir`
/// (`df -Pk`, which every Linux and macOS runner has), or under its nearest existing parent.
pub fn read_host(work_dir: &Path) -> Host {
    let kernel_driver = std::fs::read_to_string("/proc/driver/nvidia/version")
        .ok()
        .as_deref()
        .and_then(parse_kernel_driver);
    // A runner creates its work directory with its first job: until then, its parent's disk.
    let existing = work_dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(work_dir);
    let free_disk = Command::new("df")
        .arg("-Pk")
        .arg(if existing.as_os_str().is_empty() {
            Path::new(".")
        } else {
            existing
        })
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| parse_df(&String::from_utf8_lossy(&o.stdout)));
    Host {
        kernel_driver,
        free_disk,
    }
}

/// Free bytes from `df -Pk` output (the fourth column of the second line, in KiB).
pub fn parse_df(text: &str) -> Option<u64> {
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::super::smi::{parse_gpus, parse_processes};
    use super::*;

    /// The H100 fixtures, idle or busy.
    fn h100(busy: bool) -> Snapshot {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpu");
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        let (gpus, apps) = if busy {
            ("query-gpu-busy-noheader-nounits.csv", "query-apps-busy.csv")
        } else {
            ("query-gpu.csv", "query-apps.csv")
        };
        Snapshot {
            source: "nvidia-smi".into(),
            cuda_version: Some("13.0".into()),
            gpus: parse_gpus(&read(gpus)).unwrap(),
            processes: parse_processes(&read(apps)).unwrap(),
        }
    }

    const LIMITS: Limits = Limits {
        max_foreign_mib: 1024,
        min_free_disk: 10 * 1024 * 1024 * 1024,
    };

    fn healthy_host() -> Host {
        Host {
            kernel_driver: Some("580.159.04".into()),
            free_disk: Some(100 * 1024 * 1024 * 1024),
        }
    }

    fn failed(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().filter(|f| !f.ok).map(|f| f.check).collect()
    }

    #[test]
    fn an_idle_h100_passes_and_a_busy_one_fails_on_the_foreign_process() {
        assert!(failed(&check(&h100(false), &healthy_host(), LIMITS)).is_empty());
        let busy = check(&h100(true), &healthy_host(), LIMITS);
        assert_eq!(failed(&busy), ["foreign_memory"]);
        let finding = busy.iter().find(|f| !f.ok).unwrap();
        assert!(
            finding.message.contains("4614 MiB held by 479 (python3)"),
            "{finding:?}"
        );
        let lenient = Limits {
            max_foreign_mib: 8192,
            ..LIMITS
        };
        assert!(failed(&check(&h100(true), &healthy_host(), lenient)).is_empty());
    }

    #[test]
    fn ecc_driver_mismatch_and_disk_fail() {
        let mut snapshot = h100(false);
        snapshot.gpus[0].ecc_uncorrected = Some(3);
        let host = Host {
            kernel_driver: Some("575.57.08".into()),
            free_disk: Some(1024),
        };
        assert_eq!(
            failed(&check(&snapshot, &host, LIMITS)),
            ["ecc", "driver", "disk"]
        );
    }

    #[test]
    fn host_facts_parse() {
        let proc_version = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (dvs-builder@U22-I3-AF03-09-1)  Thu Nov 13 2025\nGCC version: gcc 12\n";
        assert_eq!(
            parse_kernel_driver(proc_version).as_deref(),
            Some("580.159.04")
        );
        let df = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/sda1       263174212 190123456  59647172      77% /\n";
        assert_eq!(parse_df(df), Some(59_647_172 * 1024));
        assert_eq!(parse_df("garbage"), None);
    }
}
