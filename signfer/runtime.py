"""ONNX Runtime settings shared by every network signfer runs on the CPU (MTCNN, the classifiers)."""

from __future__ import annotations


def cpu_session_options(threads: int | None = None):
    """``onnxruntime.SessionOptions`` for small networks on a shared CPU.

    ``threads`` intra-op threads (None: ONNX Runtime's choice, the physical cores), one inter-op
    thread, full graph optimisation and no busy-waiting between runs: the CPU is shared with
    decoding, detection and preprocessing, and spinning made batch-16 runs ~1.7x slower here.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts
