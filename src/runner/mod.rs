//! The self-hosted GPU runner's host: what its GPUs report (`Snapshot`, from a [`GpuProbe`])
//! and the health rules `mlgate runner check` applies before a job (`health`).
//!
//! The probe is a trait so the rules are tested on fixtures captured from a real H100 and on
//! fakes. The shipped probe ([`HostProbe`]) asks NVML, loaded at run time ([`nvml`]), and falls
//! back to `nvidia-smi` ([`smi`]), so nothing GPU-related is needed to build mlgate or to run it
//! on a machine without a GPU. `cleanup` owns what a finished job leaves behind.

pub mod cleanup;
pub mod health;
pub mod nvml;
pub mod smi;

use serde::Serialize;

/// Layout version of `mlgate runner doctor --json`.
pub const SCHEMA_VERSION: u32 = 1;

/// One GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gpu {
    /// The driver's index.
    pub index: u32,
    /// The model (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// `GPU-...`.
    pub uuid: String,
    /// The driver version the management library reports.
    pub driver_version: String,
    /// Memory in MiB.
    pub memory_total_mib: u64,
    /// Used memory in MiB.
    pub memory_used_mib: u64,
    /// Free memory in MiB.
    pub memory_free_mib: u64,
    /// Degrees Celsius, when reported.
    pub temperature_c: Option<u64>,
    /// Percent, when reported.
    pub utilization_percent: Option<u64>,
    /// Uncorrectable ECC errors since the driver loaded; `None` without ECC.
    pub ecc_uncorrected: Option<u64>,
    /// The PCI bus id.
    pub pci_bus_id: String,
    /// `9.0`.
    pub compute_capability: String,
}

/// A process holding GPU memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuProcess {
    /// Its pid.
    pub pid: u32,
    /// Its name.
    pub name: String,
    /// MiB it holds, when reported.
    pub used_mib: Option<u64>,
    /// The GPU it holds memory on.
    pub gpu_uuid: String,
}

/// Everything the probe saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Where it came from (`nvidia-smi`).
    pub source: String,
    /// The CUDA version the driver supports, when reported.
    pub cuda_version: Option<String>,
    /// The GPUs.
    pub gpus: Vec<Gpu>,
    /// Processes holding GPU memory.
    pub processes: Vec<GpuProcess>,
}

impl Snapshot {
    /// `gpu-h100-80gb-hbm3`-style label of the first GPU's model, for runner labels.
    pub fn model_label(&self) -> Option<String> {
        let name = self.gpus.first()?.name.to_lowercase();
        let name = name.trim_start_matches("nvidia ");
        let label: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        Some(format!("gpu-{}", label.trim_matches('-')))
    }
}

/// Runner labels: `self-hosted, linux, x64, gpu`, plus the GPU model and `cuda-MAJOR` when
/// known.
pub fn default_labels(snapshot: Option<&Snapshot>) -> Vec<String> {
    let mut labels: Vec<String> = ["self-hosted", "linux", "x64", "gpu"]
        .map(String::from)
        .into();
    if let Some(snapshot) = snapshot {
        labels.extend(snapshot.model_label());
        if let Some(major) = snapshot
            .cuda_version
            .as_deref()
            .and_then(|v| v.split('.').next())
        {
            labels.push(format!("cuda-{major}"));
        }
    }
    labels
}

/// Reads the host's GPUs.
pub trait GpuProbe {
    /// The GPUs and their processes; `None` when the host has no GPU (or no driver).
    fn snapshot(&self) -> anyhow::Result<Option<Snapshot>>;
}

/// NVML first, `nvidia-smi` when NVML is not installed, finds no GPU or fails.
#[derive(Debug, Clone)]
pub struct HostProbe {
    /// The library probe.
    pub nvml: nvml::Nvml,
    /// The fallback.
    pub smi: smi::NvidiaSmi,
}

impl HostProbe {
    /// Both probes as the environment configures them (`MLGATE_NVML`, `MLGATE_NVIDIA_SMI`).
    pub fn from_env() -> HostProbe {
        HostProbe {
            nvml: nvml::Nvml::from_env(),
            smi: smi::NvidiaSmi::from_env(),
        }
    }
}

impl GpuProbe for HostProbe {
    fn snapshot(&self) -> anyhow::Result<Option<Snapshot>> {
        match self.nvml.snapshot() {
            Ok(Some(snapshot)) => Ok(Some(snapshot)),
            Ok(None) => self.smi.snapshot(),
            Err(nvml_error) => match self.smi.snapshot() {
                Ok(Some(snapshot)) => {
                    eprintln!("warning: {nvml_error:#}; using nvidia-smi instead");
                    Ok(Some(snapshot))
                }
                _ => Err(nvml_error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_labels_are_runner_label_safe() {
        let gpu = smi::parse_gpus(
            "0, NVIDIA H100 80GB HBM3, GPU-x, 580.1, 100, 0, 100, 30, 0, 0, 0:0, 9.0\n",
        )
        .unwrap();
        let snapshot = Snapshot {
            source: "test".into(),
            cuda_version: None,
            gpus: gpu,
            processes: Vec::new(),
        };
        assert_eq!(
            snapshot.model_label().as_deref(),
            Some("gpu-h100-80gb-hbm3")
        );
    }
}
