"""Run by tests/test_distribute.py in a fresh process: TensorFlow's devices can only be set up
before it starts, and each MultiWorkerMirroredStrategy worker is its own process.

    python tests/workers/distributed_worker.py CONFIG_JSON [--logical-cpus N] [--resume]
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--logical-cpus", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    if args.logical_cpus:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus)

    import keras

    from fashiongan.model.train import TrainConfig, train

    run_dir = train(TrainConfig(**json.loads(args.config)), resume=args.resume, verbose=0)
    generator = keras.saving.load_model(run_dir / "generator.keras", safe_mode=True)
    weights = generator.get_weights()
    print(json.dumps({"run_dir": str(run_dir), "checksum": float(sum(float(abs(w).sum()) for w in weights))}))


if __name__ == "__main__":
    main()
