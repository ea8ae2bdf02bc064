"""`python -m bench.threads`: ONNX Runtime intra-op threads for the 200-tree forest, and what they cost the loop.

For each thread count, a model thread calls the compiled forest in a loop (batches of 1, 64 and 1024 rows)
while an asyncio loop on the main thread measures how late its 1 ms timers fire: the loop's share of the
core. Both pinned to the same two CPUs the service would have. Counts are interleaved A B A B and the
medians printed (this machine's speed drifts).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

import numpy as np

from bench.models import bench_frame, estimators
from service.onnx_convert import Form, convert
from service.schema import ColumnSpec, InputSchema

THREADS = (1, 2, 0)
"""0 is ONNX Runtime's default: one thread per core."""
BATCHES = (1, 64, 1024)


def session(threads: int, model: bytes):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def call_ms(sess, x: np.ndarray, seconds: float = 1.0) -> float:  # type: ignore[no-untyped-def]
    name = sess.get_inputs()[0].name
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        sess.run(None, {name: x})
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def loop_lag_ms(sess, x: np.ndarray, seconds: float = 1.0) -> float:  # type: ignore[no-untyped-def]
    """Median lateness of a 1 ms asyncio timer while the model thread predicts non-stop."""
    name = sess.get_inputs()[0].name
    stop = threading.Event()

    def model_thread() -> None:
        while not stop.is_set():
            sess.run(None, {name: x})

    async def timers() -> list[float]:
        lags = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - start - 0.001)
        return lags

    worker = threading.Thread(target=model_thread, daemon=True)
    worker.start()
    try:
        lags = asyncio.run(timers())
    finally:
        stop.set()
        worker.join()
    return statistics.median(lags) * 1000


def main() -> None:
    frame = bench_frame()
    features = frame.drop(columns=["target"])
    forest = estimators()["forest"][1]
    forest.fit(features, frame["target"])  # type: ignore[attr-defined]
    schema = InputSchema(tuple(ColumnSpec(str(c), "double") for c in features.columns))
    model = convert(forest, schema, Form("array", np.float32))
    rows = np.resize(features.to_numpy(np.float32), (max(BATCHES), features.shape[1]))
    sessions = {t: session(t, model) for t in THREADS}
    results: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for _ in range(3):
        for batch in BATCHES:
            for threads in THREADS:
                x = rows[:batch]
                results.setdefault((threads, batch), []).append(
                    (call_ms(sessions[threads], x), loop_lag_ms(sessions[threads], x))
                )
    print("| intra-op threads | rows | call ms (median) | 1 ms timer lateness ms (median) |")
    print("|---|---|---|---|")
    for batch in BATCHES:
        for threads in THREADS:
            samples = results[(threads, batch)]
            call = statistics.median(s[0] for s in samples)
            lag = statistics.median(s[1] for s in samples)
            print(f"| {threads or 'default'} | {batch} | {call:.3f} | {lag:.3f} |")


if __name__ == "__main__":
    main()
