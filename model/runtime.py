"""Where and how training runs: the backend Keras was loaded on, its distribution (a
tf.distribute strategy, or keras.distribution.DataParallel under JAX) and the speed settings
that suit the device found (XLA, steps per execution, mixed precision, data on the device).

"auto" settings resolve per backend and device.
- TensorFlow on a GPU: XLA, 32 steps per execution, mixed precision (bfloat16 from compute
  capability 8.0, else float16 with loss scaling) and the dataset on the device; on CPU,
  bfloat16 mixed precision where the processor has bfloat16 instructions (AVX512_BF16 or AMX,
  which oneDNN uses) and the dataset in memory, without XLA (slower there).
- JAX: always jitted with the dataset on the device; on a GPU 32 steps per host call and
  bfloat16 from compute capability 8.0; on CPU float32 and one step per call (XLA:CPU is
  slower in bfloat16 and inside loops, see the speed table in docs/results.md).
Every one can be set or switched off.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from fashiongan.errors import FashionGANError
from fashiongan.spec import MIXED_PRECISION, STRATEGIES, SWITCHES

GPU_STEPS_PER_EXECUTION = 32
JAX_CPU_STEPS_PER_EXECUTION = 1
# keras.distribution.initialize reads these; they name the cluster for --strategy multiworker on JAX
JAX_CLUSTER_ENV = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)


@dataclass
class Runtime:
    backend: str  # "tensorflow" or "jax"
    strategy: object  # tf.distribute.Strategy; keras.distribution.DataParallel or None under JAX
    strategy_name: str
    device: str  # "GPU" or "CPU"
    jit_compile: bool
    steps_per_execution: int
    mixed_precision: str | None  # a Keras dtype policy name, or None for float32
    device_data: bool
    replicas: int = 1
    worker_index: int = 0

    @property
    def is_chief(self) -> bool:
        return self.worker_index == 0

    def describe(self) -> str:
        return (
            f"Keras on {self.backend}, device {self.device}, "
            f"strategy {self.strategy_name} ({self.replicas} replica(s)), "
            f"XLA {'on' if self.jit_compile else 'off'}, {self.steps_per_execution} step(s) per execution, "
            f"mixed precision {self.mixed_precision or 'off'}, "
            f"data {'on the device' if self.device_data else 'through tf.data'}"
        )


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise FashionGANError(f"{name}: unknown {value!r}; choose from {', '.join(allowed)}")
    return value


def tf_config_task() -> tuple[str, int]:
    """This worker's task (type, index) from TF_CONFIG, checked as TensorFlow would need it: a
    JSON object whose cluster maps job names to address lists and whose task lies in one."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", ""))
    except ValueError as error:
        raise FashionGANError(f"TF_CONFIG is not JSON ({error})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    jobs_ok = (
        isinstance(cluster, dict)
        and cluster
        and all(
            isinstance(addresses, list) and addresses and all(isinstance(a, str) for a in addresses)
            for addresses in cluster.values()
        )
    )
    if not jobs_ok or not isinstance(cluster, dict):
        raise FashionGANError('TF_CONFIG needs a "cluster" of job names, each a list of "host:port" addresses')
    task = config.get("task", {})
    kind, index = (task.get("type", "worker"), task.get("index", 0)) if isinstance(task, dict) else (None, None)
    if (
        kind not in cluster
        or not isinstance(index, int)
        or isinstance(index, bool)
        or not 0 <= index < len(cluster[kind])
    ):
        raise FashionGANError(f"TF_CONFIG's \"task\" {task!r} is not one of its cluster's tasks")
    return str(kind), index


def jax_cluster() -> tuple[int, int]:
    """(number of processes, this process's id) from KERAS_DISTRIBUTION_*, checked."""
    missing = [name for name in JAX_CLUSTER_ENV if not os.environ.get(name)]
    if missing:
        needs = ", ".join(missing)
        raise FashionGANError(f"--strategy multiworker on JAX needs {needs} (see docs/distributed-and-gpu.md)")
    addresses, count, process = (os.environ[name].strip() for name in JAX_CLUSTER_ENV)
    if not count.isdigit() or int(count) < 1:
        raise FashionGANError(f"{JAX_CLUSTER_ENV[1]} must be a positive integer, got {count!r}")
    if not process.isdigit() or int(process) >= int(count):
        raise FashionGANError(f"{JAX_CLUSTER_ENV[2]} must be an integer from 0 to {int(count) - 1}, got {process!r}")
    if not all(address.strip() for address in addresses.split(",")):
        raise FashionGANError(f"{JAX_CLUSTER_ENV[0]} must be comma-separated host:port addresses, got {addresses!r}")
    return int(count), int(process)


def make_strategy(name: str):
    """The tf.distribute strategy for `name`; call it before any other TensorFlow work, as
    MultiWorkerMirroredStrategy must be created at program start."""
    import tensorflow as tf

    if name == "auto":
        if os.environ.get("TF_CONFIG"):
            name = "multiworker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "one"
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise FashionGANError("--strategy multiworker needs TF_CONFIG (the cluster and this worker's task)")
        tf_config_task()
        return tf.distribute.MultiWorkerMirroredStrategy(), name
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [device.name for device in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices), name
    return tf.distribute.get_strategy(), name


def resolve_runtime(
    strategy: str = "auto",
    xla: str = "auto",
    steps_per_execution: int | None = None,
    mixed_precision: str = "auto",
    device_data: str = "auto",
) -> Runtime:
    """The runtime for the backend Keras was loaded on."""
    import keras

    _choice(xla, SWITCHES, "--xla")
    _choice(device_data, SWITCHES, "--device-data")
    _choice(mixed_precision, MIXED_PRECISION, "--mixed-precision")
    _choice(strategy, STRATEGIES, "--strategy")
    if keras.backend.backend() == "jax":
        return _resolve_jax_runtime(strategy, xla, steps_per_execution, mixed_precision, device_data)
    if keras.backend.backend() != "tensorflow":
        raise FashionGANError(f"training runs on Keras' tensorflow or jax backend, not {keras.backend.backend()}")
    import tensorflow as tf

    distribution, strategy_name = make_strategy(strategy)
    gpus = tf.config.list_physical_devices("GPU")
    on_gpu = bool(gpus)
    if mixed_precision == "auto":
        mixed_precision = _gpu_mixed_precision(gpus) if on_gpu else ("bfloat16" if cpu_has_bfloat16() else "off")
    worker_index = 0
    if strategy_name == "multiworker":
        worker_index = tf_config_task()[1]
    return Runtime(
        backend="tensorflow",
        strategy=distribution,
        strategy_name=strategy_name,
        device="GPU" if on_gpu else "CPU",
        jit_compile=on_gpu if xla == "auto" else xla == "on",
        steps_per_execution=steps_per_execution or (GPU_STEPS_PER_EXECUTION if on_gpu else 1),
        mixed_precision=None if mixed_precision == "off" else f"mixed_{mixed_precision}",
        device_data=device_data != "off",
        replicas=distribution.num_replicas_in_sync,
        worker_index=worker_index,
    )


def _resolve_jax_runtime(strategy, xla, steps_per_execution, mixed_precision, device_data) -> Runtime:
    """JAX: one device, DataParallel over the local devices, or over every process's devices
    after keras.distribution.initialize (jax.distributed) for multiworker."""
    import keras

    if device_data == "off":
        raise FashionGANError("--device-data off feeds batches through tf.data, which the JAX backend does not use")
    if mixed_precision == "float16":
        raise FashionGANError("--mixed-precision float16 needs loss scaling, which only the TensorFlow path has; "
                              "use bfloat16 or off on JAX")  # fmt: skip
    if strategy == "auto" and os.environ.get(JAX_CLUSTER_ENV[0]):
        strategy = "multiworker"
    if strategy == "multiworker":
        jax_cluster()
        keras.distribution.initialize()
    import jax

    devices, local = jax.devices(), jax.local_devices()[0]
    on_gpu = local.platform == "gpu"
    if strategy == "auto":
        strategy = "mirrored" if len(devices) > 1 else "one"
    distribution = None
    if strategy != "one":
        distribution = keras.distribution.DataParallel(devices=devices)
    if mixed_precision == "auto":
        mixed_precision = "bfloat16" if on_gpu and _compute_capability(local) >= 8.0 else "off"
    return Runtime(
        backend="jax",
        strategy=distribution,
        strategy_name=strategy,
        device="GPU" if on_gpu else "CPU",
        jit_compile=xla != "off",
        steps_per_execution=steps_per_execution or (GPU_STEPS_PER_EXECUTION if on_gpu else JAX_CPU_STEPS_PER_EXECUTION),
        mixed_precision=None if mixed_precision == "off" else f"mixed_{mixed_precision}",
        device_data=True,
        replicas=len(devices) if distribution is not None else 1,
        worker_index=jax.process_index(),
    )


def _compute_capability(device) -> float:
    """A CUDA device's compute capability ("9.0"); 0 for other devices."""
    try:
        return float(getattr(device, "compute_capability", 0) or 0)
    except ValueError:
        return 0.0


def _gpu_mixed_precision(gpus) -> str:
    import tensorflow as tf

    capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
    return "bfloat16" if tuple(capability) >= (8, 0) else "float16"


def describe_hardware() -> str:
    """One line for benchmark reports: the GPUs by name, else the CPU model and usable cores."""
    import platform

    import keras

    if keras.backend.backend() == "jax":
        import jax

        gpus = [device for device in jax.devices() if device.platform == "gpu"]
        if gpus:
            return f"{len(gpus)}× {', '.join(sorted({gpu.device_kind for gpu in gpus}))}"
    else:
        import tensorflow as tf

        found = tf.config.list_physical_devices("GPU")
        if found:
            details = [tf.config.experimental.get_device_details(gpu).get("device_name", "GPU") for gpu in found]
            return f"{len(found)}× {', '.join(sorted(set(details)))}"
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    model = next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
        platform.processor() or "CPU",
    )
    return f"{len(os.sched_getaffinity(0))} CPU cores ({model}), no GPU"


def cpu_has_bfloat16() -> bool:
    """Whether this x86 processor has native bfloat16 arithmetic (Linux's /proc/cpuinfo flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
