//! The GPUs through NVML (`libnvidia-ml.so.1`), loaded at run time so that neither building
//! mlgate nor running it on a host without a GPU needs anything from NVIDIA.
//!
//! Only the calls `doctor` and `check` need are bound, by their versioned names, with layouts
//! from NVIDIA's `nvml.h` (CUDA 12.9). Calls a driver lacks or does not support leave their
//! field unknown rather than failing the probe. Running processes come from `_v2` before `_v3`
//! because drivers 535.43-535.86 shipped `_v3` with a longer struct under the same name.

use std::ffi::{c_char, c_int, c_uint, c_ulonglong, c_void, CStr};
use std::path::{Path, PathBuf};

use libloading::Library;

use super::{Gpu, GpuProbe, GpuProcess, Snapshot};

/// `nvmlReturn_t`.
type Return = c_uint;
/// `nvmlDevice_t`, opaque.
type Device = *mut c_void;

const NVML_SUCCESS: Return = 0;
const NVML_ERROR_NOT_SUPPORTED: Return = 3;
const NVML_ERROR_INSUFFICIENT_SIZE: Return = 7;
const NVML_ERROR_DRIVER_NOT_LOADED: Return = 9;
const NVML_ERROR_LIBRARY_NOT_FOUND: Return = 12;
const NVML_ERROR_GPU_NOT_FOUND: Return = 28;
const NVML_TEMPERATURE_GPU: c_uint = 0;
const NVML_MEMORY_ERROR_TYPE_UNCORRECTED: c_uint = 1;
const NVML_VOLATILE_ECC: c_uint = 0;
/// `NVML_VALUE_NOT_AVAILABLE` (-1) in an unsigned 64-bit field.
const VALUE_NOT_AVAILABLE: u64 = u64::MAX;
/// `NVML_DEVICE_NAME_V2_BUFFER_SIZE`, `NVML_DEVICE_UUID_V2_BUFFER_SIZE`.
const NAME_BUFFER: usize = 96;
/// `NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE`.
const VERSION_BUFFER: usize = 80;
const MIB: u64 = 1024 * 1024;

/// `nvmlMemory_t`, in bytes.
#[repr(C)]
#[derive(Default)]
struct Memory {
    total: c_ulonglong,
    free: c_ulonglong,
    used: c_ulonglong,
}

/// `nvmlUtilization_t`, in percent.
#[repr(C)]
#[derive(Default)]
struct Utilization {
    gpu: c_uint,
    memory: c_uint,
}

/// `nvmlPciInfo_t` (68 bytes).
#[repr(C)]
struct PciInfo {
    bus_id_legacy: [c_char; 16],
    domain: c_uint,
    bus: c_uint,
    device: c_uint,
    pci_device_id: c_uint,
    pci_sub_system_id: c_uint,
    bus_id: [c_char; 32],
}

/// `nvmlProcessInfo_t` = `nvmlProcessInfo_v2_t` (24 bytes).
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct ProcessInfo {
    pid: c_uint,
    used_gpu_memory: c_ulonglong,
    gpu_instance_id: c_uint,
    compute_instance_id: c_uint,
}

type StringFn = unsafe extern "C" fn(*mut c_char, c_uint) -> Return;
type DeviceStringFn = unsafe extern "C" fn(Device, *mut c_char, c_uint) -> Return;
type ProcessesFn = unsafe extern "C" fn(Device, *mut c_uint, *mut ProcessInfo) -> Return;

/// The bound calls; the optional ones are missing from some drivers.
struct Api {
    init: unsafe extern "C" fn() -> Return,
    shutdown: unsafe extern "C" fn() -> Return,
    error_string: Option<unsafe extern "C" fn(Return) -> *const c_char>,
    driver_version: StringFn,
    cuda_version: Option<unsafe extern "C" fn(*mut c_int) -> Return>,
    count: unsafe extern "C" fn(*mut c_uint) -> Return,
    handle: unsafe extern "C" fn(c_uint, *mut Device) -> Return,
    name: DeviceStringFn,
    uuid: DeviceStringFn,
    memory: unsafe extern "C" fn(Device, *mut Memory) -> Return,
    pci: Option<unsafe extern "C" fn(Device, *mut PciInfo) -> Return>,
    temperature: Option<unsafe extern "C" fn(Device, c_uint, *mut c_uint) -> Return>,
    utilization: Option<unsafe extern "C" fn(Device, *mut Utilization) -> Return>,
    ecc: Option<unsafe extern "C" fn(Device, c_uint, c_uint, *mut c_ulonglong) -> Return>,
    compute_capability: Option<unsafe extern "C" fn(Device, *mut c_int, *mut c_int) -> Return>,
    processes: Option<ProcessesFn>,
    /// Keeps the function pointers above valid.
    _library: Library,
}

/// A failed NVML call.
#[derive(Debug, thiserror::Error)]
#[error("NVML `{function}` failed: {message} (code {code})")]
pub struct NvmlError {
    /// The call.
    pub function: &'static str,
    /// `nvmlReturn_t`.
    pub code: u32,
    /// `nvmlErrorString`, when the library has it.
    pub message: String,
}

impl Api {
    /// Opens the library and binds every call; `None` when it is not installed, or when this
    /// build cannot load it ([`LOADABLE`]).
    fn load(path: &Path) -> anyhow::Result<Option<Api>> {
        if !LOADABLE {
            return Ok(None);
        }
        // SAFETY: loading runs the library's initialisers; NVML's only set up its own state.
        let library = match unsafe { Library::new(path) } {
            Ok(library) => library,
            Err(_) => return Ok(None),
        };
        macro_rules! required {
            ($name:literal) => {
                // SAFETY: the symbol's type is its declaration in nvml.h.
                *unsafe { library.get($name) }.map_err(|e| {
                    anyhow::anyhow!(
                        "`{}` lacks `{}`: {e}",
                        path.display(),
                        String::from_utf8_lossy(&$name[..$name.len() - 1])
                    )
                })?
            };
        }
        macro_rules! optional {
            ($name:literal) => {
                // SAFETY: as above.
                unsafe { library.get($name) }.ok().map(|symbol| *symbol)
            };
        }
        Ok(Some(Api {
            init: required!(b"nvmlInit_v2\0"),
            shutdown: required!(b"nvmlShutdown\0"),
            error_string: optional!(b"nvmlErrorString\0"),
            driver_version: required!(b"nvmlSystemGetDriverVersion\0"),
            cuda_version: optional!(b"nvmlSystemGetCudaDriverVersion_v2\0")
                .or(optional!(b"nvmlSystemGetCudaDriverVersion\0")),
            count: required!(b"nvmlDeviceGetCount_v2\0"),
            handle: required!(b"nvmlDeviceGetHandleByIndex_v2\0"),
            name: required!(b"nvmlDeviceGetName\0"),
            uuid: required!(b"nvmlDeviceGetUUID\0"),
            memory: required!(b"nvmlDeviceGetMemoryInfo\0"),
            pci: optional!(b"nvmlDeviceGetPciInfo_v3\0"),
            temperature: optional!(b"nvmlDeviceGetTemperature\0"),
            utilization: optional!(b"nvmlDeviceGetUtilizationRates\0"),
            ecc: optional!(b"nvmlDeviceGetTotalEccErrors\0"),
            compute_capability: optional!(b"nvmlDeviceGetCudaComputeCapability\0"),
            processes: optional!(b"nvmlDeviceGetComputeRunningProcesses_v2\0")
                .or(optional!(b"nvmlDeviceGetComputeRunningProcesses_v3\0")),
            _library: library,
        }))
    }

    /// `Ok` on success, else the call's error.
    fn check(&self, function: &'static str, code: Return) -> Result<(), NvmlError> {
        if code == NVML_SUCCESS {
            return Ok(());
        }
        let message = self
            .error_string
            // SAFETY: nvmlErrorString returns a static NUL-terminated string or null.
            .map(|f| unsafe { f(code) })
            .filter(|p| !p.is_null())
            .map(|p| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unknown error".into());
        Err(NvmlError {
            function,
            code,
            message,
        })
    }

    /// A value a call may not support: `None` then, an error for anything else.
    fn supported<T>(
        &self,
        function: &'static str,
        code: Return,
        value: T,
    ) -> Result<Option<T>, NvmlError> {
        match code {
            NVML_SUCCESS => Ok(Some(value)),
            NVML_ERROR_NOT_SUPPORTED => Ok(None),
            _ => self.check(function, code).map(|()| None),
        }
    }

    /// Everything about the host, between `nvmlInit` and `nvmlShutdown`.
    fn snapshot(&self) -> Result<Option<Snapshot>, NvmlError> {
        // SAFETY: no arguments; reference-counted by NVML.
        match unsafe { (self.init)() } {
            NVML_ERROR_DRIVER_NOT_LOADED
            | NVML_ERROR_LIBRARY_NOT_FOUND
            | NVML_ERROR_GPU_NOT_FOUND => return Ok(None),
            code => self.check("nvmlInit_v2", code)?,
        }
        let result = self.read();
        // SAFETY: pairs the successful init above.
        unsafe { (self.shutdown)() };
        result
    }

    /// The snapshot, NVML initialised.
    fn read(&self) -> Result<Option<Snapshot>, NvmlError> {
        let driver_version =
            self.string("nvmlSystemGetDriverVersion", VERSION_BUFFER, |b, n| {
                // SAFETY: a buffer of `n` bytes.
                unsafe { (self.driver_version)(b, n) }
            })?;
        let mut count: c_uint = 0;
        // SAFETY: a valid out-pointer.
        self.check("nvmlDeviceGetCount_v2", unsafe { (self.count)(&mut count) })?;
        let mut gpus = Vec::new();
        let mut processes = Vec::new();
        for index in 0..count {
            let mut device: Device = std::ptr::null_mut();
            // SAFETY: a valid out-pointer; the handle lives until nvmlShutdown.
            self.check("nvmlDeviceGetHandleByIndex_v2", unsafe {
                (self.handle)(index, &mut device)
            })?;
            let gpu = self.gpu(index, device, &driver_version)?;
            processes.extend(self.processes(device, &gpu.uuid)?);
            gpus.push(gpu);
        }
        if gpus.is_empty() {
            return Ok(None);
        }
        Ok(Some(Snapshot {
            source: "nvml".into(),
            cuda_version: self.cuda_version()?,
            gpus,
            processes,
        }))
    }

    /// `12.4` from `12040`.
    fn cuda_version(&self) -> Result<Option<String>, NvmlError> {
        let Some(call) = self.cuda_version else {
            return Ok(None);
        };
        let mut version: c_int = 0;
        // SAFETY: a valid out-pointer.
        let code = unsafe { call(&mut version) };
        Ok(self
            .supported("nvmlSystemGetCudaDriverVersion", code, version)
            .unwrap_or(None)
            .filter(|v| *v > 0)
            .map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10)))
    }

    /// A NUL-terminated string from a call that fills a buffer.
    fn string(
        &self,
        function: &'static str,
        size: usize,
        call: impl FnOnce(*mut c_char, c_uint) -> Return,
    ) -> Result<String, NvmlError> {
        let mut buffer = vec![0 as c_char; size];
        self.check(function, call(buffer.as_mut_ptr(), size as c_uint))?;
        Ok(buffer_text(&buffer))
    }

    /// One GPU.
    fn gpu(&self, index: u32, device: Device, driver_version: &str) -> Result<Gpu, NvmlError> {
        // SAFETY (every call below): `device` is a live handle, each out-pointer valid and
        // each buffer as long as the length passed with it.
        let name = self.string("nvmlDeviceGetName", NAME_BUFFER, |b, n| unsafe {
            (self.name)(device, b, n)
        })?;
        let uuid = self.string("nvmlDeviceGetUUID", NAME_BUFFER, |b, n| unsafe {
            (self.uuid)(device, b, n)
        })?;
        let mut memory = Memory::default();
        self.check("nvmlDeviceGetMemoryInfo", unsafe {
            (self.memory)(device, &mut memory)
        })?;
        let temperature_c = match self.temperature {
            Some(call) => {
                let mut t: c_uint = 0;
                let code = unsafe { call(device, NVML_TEMPERATURE_GPU, &mut t) };
                self.supported("nvmlDeviceGetTemperature", code, u64::from(t))?
            }
            None => None,
        };
        let utilization_percent = match self.utilization {
            Some(call) => {
                let mut u = Utilization::default();
                let code = unsafe { call(device, &mut u) };
                let gpu = u.gpu;
                self.supported("nvmlDeviceGetUtilizationRates", code, u64::from(gpu))?
            }
            None => None,
        };
        let ecc_uncorrected = match self.ecc {
            Some(call) => {
                let mut n: c_ulonglong = 0;
                let code = unsafe {
                    call(
                        device,
                        NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
                        NVML_VOLATILE_ECC,
                        &mut n,
                    )
                };
                self.supported("nvmlDeviceGetTotalEccErrors", code, n)?
            }
            None => None,
        };
        let pci_bus_id = match self.pci {
            Some(call) => {
                let mut pci = PciInfo {
                    bus_id_legacy: [0; 16],
                    domain: 0,
                    bus: 0,
                    device: 0,
                    pci_device_id: 0,
                    pci_sub_system_id: 0,
                    bus_id: [0; 32],
                };
                let code = unsafe { call(device, &mut pci) };
                self.supported("nvmlDeviceGetPciInfo_v3", code, ())?
                    .map(|()| buffer_text(&pci.bus_id))
            }
            None => None,
        };
        let compute_capability = match self.compute_capability {
            Some(call) => {
                let (mut major, mut minor): (c_int, c_int) = (0, 0);
                let code = unsafe { call(device, &mut major, &mut minor) };
                self.supported("nvmlDeviceGetCudaComputeCapability", code, ())?
                    .map(|()| format!("{major}.{minor}"))
            }
            None => None,
        };
        Ok(Gpu {
            index,
            name,
            uuid,
            driver_version: driver_version.to_string(),
            memory_total_mib: memory.total / MIB,
            memory_used_mib: memory.used / MIB,
            memory_free_mib: memory.free / MIB,
            temperature_c,
            utilization_percent,
            ecc_uncorrected,
            pci_bus_id: pci_bus_id.unwrap_or_else(|| "-".into()),
            compute_capability: compute_capability.unwrap_or_else(|| "-".into()),
        })
    }

    /// The compute processes on one GPU; the list may grow between asking its size and
    /// reading it, so a too-small answer is retried with the size NVML reports.
    fn processes(&self, device: Device, uuid: &str) -> Result<Vec<GpuProcess>, NvmlError> {
        let Some(call) = self.processes else {
            return Ok(Vec::new());
        };
        let mut capacity: c_uint = 8;
        for _ in 0..4 {
            let mut infos = vec![ProcessInfo::default(); capacity as usize];
            let mut count = capacity;
            // SAFETY: `count` says how many entries `infos` holds.
            let code = unsafe { call(device, &mut count, infos.as_mut_ptr()) };
            match code {
                NVML_SUCCESS => {
                    infos.truncate((count as usize).min(infos.len()));
                    return Ok(infos.iter().map(|p| process(p, uuid)).collect());
                }
                NVML_ERROR_INSUFFICIENT_SIZE => capacity = count.max(capacity) + 8,
                NVML_ERROR_NOT_SUPPORTED => return Ok(Vec::new()),
                code => self.check("nvmlDeviceGetComputeRunningProcesses", code)?,
            }
        }
        Err(NvmlError {
            function: "nvmlDeviceGetComputeRunningProcesses",
            code: NVML_ERROR_INSUFFICIENT_SIZE,
            message: "the process list kept growing".into(),
        })
    }
}

/// One process, named from `/proc` as nvidia-smi does (`[Not Found]` in another namespace).
fn process(info: &ProcessInfo, uuid: &str) -> GpuProcess {
    let used = info.used_gpu_memory;
    GpuProcess {
        pid: info.pid,
        name: std::fs::read_to_string(format!("/proc/{}/comm", info.pid))
            .map(|n| n.trim_end().to_string())
            .unwrap_or_else(|_| "[Not Found]".into()),
        used_mib: (used != VALUE_NOT_AVAILABLE).then_some(used / MIB),
        gpu_uuid: uuid.to_string(),
    }
}

/// The text up to the first NUL (all of it when there is none).
fn buffer_text(buffer: &[c_char]) -> String {
    let bytes: Vec<u8> = buffer
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether this build can load NVML at all. A static musl binary (the released Linux builds)
/// has no dynamic loader: every `dlopen` fails, and only `nvidia-smi` can be read.
pub const LOADABLE: bool = !cfg!(all(target_env = "musl", target_feature = "crt-static"));

/// The NVML probe (`MLGATE_NVML` names another library file).
#[derive(Debug, Clone)]
pub struct Nvml {
    /// The library to open.
    pub library: PathBuf,
}

impl Nvml {
    /// `MLGATE_NVML`, else `libnvidia-ml.so.1` from the loader's search path.
    pub fn from_env() -> Nvml {
        Nvml {
            library: std::env::var_os("MLGATE_NVML")
                .map_or_else(|| PathBuf::from("libnvidia-ml.so.1"), PathBuf::from),
        }
    }

    /// Whether the library can be opened at all.
    pub fn is_installed(&self) -> bool {
        matches!(Api::load(&self.library), Ok(Some(_)))
    }
}

impl GpuProbe for Nvml {
    fn snapshot(&self) -> anyhow::Result<Option<Snapshot>> {
        match Api::load(&self.library)? {
            Some(api) => Ok(api.snapshot()?),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_nvml_h() {
        assert_eq!(std::mem::size_of::<Memory>(), 24);
        assert_eq!(std::mem::size_of::<Utilization>(), 8);
        assert_eq!(std::mem::size_of::<PciInfo>(), 68);
        assert_eq!(std::mem::size_of::<ProcessInfo>(), 24);
        assert_eq!(std::mem::offset_of!(ProcessInfo, used_gpu_memory), 8);
        assert_eq!(std::mem::offset_of!(PciInfo, bus_id), 36);
    }

    #[test]
    fn a_missing_library_is_no_gpu() {
        let probe = Nvml {
            library: PathBuf::from("/nonexistent/libnvidia-ml.so.1"),
        };
        assert!(!probe.is_installed());
        assert!(probe.snapshot().unwrap().is_none());
    }

    #[test]
    fn buffers_end_at_the_first_nul() {
        let buffer: Vec<c_char> = b"580.159.04\0junk".iter().map(|&b| b as c_char).collect();
        assert_eq!(buffer_text(&buffer), "580.159.04");
        let full: Vec<c_char> = b"abc".iter().map(|&b| b as c_char).collect();
        assert_eq!(buffer_text(&full), "abc");
    }
}
