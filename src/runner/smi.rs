//! The GPUs as `nvidia-smi` reports them: its CSV queries (with or without the header and the
//! units) and the CUDA version from its banner, parsed without trusting column order, and the
//! probe that runs it.

use std::path::PathBuf;
use std::process::Command;

use super::{Gpu, GpuProbe, GpuProcess, Snapshot};

/// The `--query-gpu` fields, in the order asked.
pub const GPU_FIELDS: [&str; 12] = [
    "index",
    "name",
    "uuid",
    "driver_version",
    "memory.total",
    "memory.used",
    "memory.free",
    "temperature.gpu",
    "utilization.gpu",
    "ecc.errors.uncorrected.volatile.total",
    "pci.bus_id",
    "compute_cap",
];

/// The `--query-compute-apps` fields, in the order asked.
pub const APP_FIELDS: [&str; 4] = ["pid", "process_name", "used_memory", "gpu_uuid"];

/// A line that is not what the query asked for.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("nvidia-smi output, line {line}: {reason}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// The data lines of a CSV answer: the header (when present) skipped, fields trimmed.
fn rows(text: &str, fields: usize) -> Result<Vec<(usize, Vec<String>)>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (i == 0 && line.split(',').next().is_some_and(is_header_name)) {
            continue;
        }
        let cells: Vec<String> = line.split(',').map(|c| c.trim().to_string()).collect();
        // Names may contain commas; they are never the last fields, so join the extra ones
        // into the name column (index 1).
        let cells = if cells.len() > fields {
            let extra = cells.len() - fields;
            let mut joined = cells[..1].to_vec();
            joined.push(cells[1..=1 + extra].join(","));
            joined.extend_from_slice(&cells[2 + extra..]);
            joined
        } else {
            cells
        };
        if cells.len() != fields {
            return Err(ParseError {
                line: i + 1,
                reason: format!("{} fields, expected {fields}", cells.len()),
            });
        }
        out.push((i + 1, cells));
    }
    Ok(out)
}

/// Whether the first cell of a line is a header name rather than a value.
fn is_header_name(cell: &str) -> bool {
    matches!(cell.trim(), "index" | "pid")
}

/// A number with an optional unit (`81559 MiB`, `0 %`); `None` for `[N/A]` and the like.
fn number(cell: &str) -> Option<u64> {
    cell.split_whitespace().next()?.parse().ok()
}

/// A required number.
fn required(cell: &str, line: usize, field: &str) -> Result<u64, ParseError> {
    number(cell).ok_or_else(|| ParseError {
        line,
        reason: format!("`{field}` is `{cell}`, not a number"),
    })
}

/// Parses `nvidia-smi --query-gpu=<GPU_FIELDS> --format=csv[,noheader][,nounits]`.
pub fn parse_gpus(text: &str) -> Result<Vec<Gpu>, ParseError> {
    rows(text, GPU_FIELDS.len())?
        .into_iter()
        .map(|(line, c)| {
            Ok(Gpu {
                index: required(&c[0], line, "index")? as u32,
                name: c[1].clone(),
                uuid: c[2].clone(),
                driver_version: c[3].clone(),
                memory_total_mib: required(&c[4], line, "memory.total")?,
                memory_used_mib: required(&c[5], line, "memory.used")?,
                memory_free_mib: required(&c[6], line, "memory.free")?,
                temperature_c: number(&c[7]),
                utilization_percent: number(&c[8]),
                ecc_uncorrected: number(&c[9]),
                pci_bus_id: c[10].clone(),
                compute_capability: c[11].clone(),
            })
        })
        .collect()
}

/// Parses `nvidia-smi --query-compute-apps=<APP_FIELDS> --format=csv[,noheader][,nounits]`.
pub fn parse_processes(text: &str) -> Result<Vec<GpuProcess>, ParseError> {
    rows(text, APP_FIELDS.len())?
        .into_iter()
        .map(|(line, c)| {
            Ok(GpuProcess {
                pid: required(&c[0], line, "pid")? as u32,
                name: c[1].clone(),
                used_mib: number(&c[2]),
                gpu_uuid: c[3].clone(),
            })
        })
        .collect()
}

/// The `CUDA Version: 13.0` of plain `nvidia-smi`'s banner.
pub fn parse_cuda_version(banner: &str) -> Option<String> {
    let rest = banner.split("CUDA Version:").nth(1)?;
    let version = rest.split_whitespace().next()?;
    version
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.')
        .then(|| version.to_string())
}

/// Runs `nvidia-smi` (from `PATH`, or `MLGATE_NVIDIA_SMI`).
#[derive(Debug, Clone)]
pub struct NvidiaSmi {
    /// The program.
    pub program: PathBuf,
}

impl NvidiaSmi {
    /// `MLGATE_NVIDIA_SMI`, else `nvidia-smi` on `PATH`.
    pub fn from_env() -> NvidiaSmi {
        NvidiaSmi {
            program: std::env::var_os("MLGATE_NVIDIA_SMI")
                .map_or_else(|| PathBuf::from("nvidia-smi"), PathBuf::from),
        }
    }

    /// Runs it with `args`; `None` when it cannot be started (not installed).
    fn run(&self, args: &[String]) -> anyhow::Result<Option<String>> {
        let output = match Command::new(&self.program).args(args).output() {
            Ok(output) => output,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => anyhow::bail!("cannot run `{}`: {e}", self.program.display()),
        };
        if !output.status.success() {
            anyhow::bail!(
                "`{} {}` failed ({}): {}",
                self.program.display(),
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned()))
    }
}

impl GpuProbe for NvidiaSmi {
    fn snapshot(&self) -> anyhow::Result<Option<Snapshot>> {
        let query = |kind: &str, fields: &[&str]| {
            vec![
                format!("--query-{kind}={}", fields.join(",")),
                "--format=csv,noheader,nounits".to_string(),
            ]
        };
        let Some(gpus) = self.run(&query("gpu", &GPU_FIELDS))? else {
            return Ok(None);
        };
        let gpus = parse_gpus(&gpus)?;
        if gpus.is_empty() {
            return Ok(None);
        }
        let processes = match self.run(&query("compute-apps", &APP_FIELDS))? {
            Some(text) => parse_processes(&text)?,
            None => Vec::new(),
        };
        let cuda_version = self.run(&[])?.as_deref().and_then(parse_cuda_version);
        Ok(Some(Snapshot {
            source: "nvidia-smi".to_string(),
            cuda_version,
            gpus,
            processes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture captured on an H100 host.
    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/gpu")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn parses_the_h100_query_with_header_and_units() {
        let gpus = parse_gpus(&fixture("query-gpu.csv")).unwrap();
        assert_eq!(gpus.len(), 1);
        let gpu = &gpus[0];
        assert_eq!(gpu.name, "NVIDIA H100 80GB HBM3");
        assert_eq!(gpu.uuid, "GPU-e5e85b13-bd49-5804-e1ec-b700ef64ce65");
        assert_eq!(gpu.driver_version, "580.159.04");
        assert_eq!(
            (
                gpu.memory_total_mib,
                gpu.memory_used_mib,
                gpu.memory_free_mib
            ),
            (81559, 0, 81079)
        );
        assert_eq!(gpu.temperature_c, Some(38));
        assert_eq!(gpu.ecc_uncorrected, Some(0));
        assert_eq!(gpu.compute_capability, "9.0");
    }

    #[test]
    fn parses_the_busy_query_without_header_or_units_and_its_process() {
        let gpus = parse_gpus(&fixture("query-gpu-busy-noheader-nounits.csv")).unwrap();
        assert_eq!(gpus[0].memory_used_mib, 4623);
        assert!(parse_processes(&fixture("query-apps.csv"))
            .unwrap()
            .is_empty());
        let busy = parse_processes(&fixture("query-apps-busy.csv")).unwrap();
        assert_eq!(
            busy,
            [GpuProcess {
                pid: 479,
                name: "python3".into(),
                used_mib: Some(4614),
                gpu_uuid: "GPU-e5e85b13-bd49-5804-e1ec-b700ef64ce65".into(),
            }]
        );
    }

    #[test]
    fn cuda_version_comes_from_the_banner() {
        assert_eq!(
            parse_cuda_version(&fixture("nvidia-smi.txt")).as_deref(),
            Some("13.0")
        );
        assert_eq!(parse_cuda_version("no banner"), None);
    }

    #[test]
    fn odd_values_and_short_lines_are_errors_or_unknowns() {
        let na = "0, GPU, GPU-x, 1.0, 100, 10, 90, [N/A], [N/A], [N/A], 0:0, 8.0\n";
        let gpu = &parse_gpus(na).unwrap()[0];
        assert_eq!((gpu.temperature_c, gpu.ecc_uncorrected), (None, None));
        let comma = "0, Tesla, rev 2, GPU-x, 1.0, 100, 10, 90, 30, 0, 0, 0:0, 8.0\n";
        assert_eq!(parse_gpus(comma).unwrap()[0].name, "Tesla,rev 2");
        assert_eq!(
            parse_gpus("0, only, three\n").unwrap_err(),
            ParseError {
                line: 1,
                reason: "3 fields, expected 12".into()
            }
        );
        assert!(parse_gpus("x, a, b, c, 1, 2, 3, 4, 5, 6, 7, 8\n").is_err());
    }
}
