"""What the rerun decision costs (``signfer/annotate/done.py``): the input fingerprint (size + SHA-256 of three
1 MiB samples) beside a whole-file SHA-256, per input size; and the decision for a corpus that is already done
(every input skipped: fingerprint + marker read + output hashes), per input. Files are random bytes in a temporary
folder (the page cache is warm after the first read: the times are CPU, not disk).

    python benchmarks/done_markers.py                      # inputs of 10, 100, 1000 MB; a 200-input corpus
    python benchmarks/done_markers.py --sizes 10,100 --corpus 50
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    from signfer.annotate.done import DoneMarkers, file_sha256, input_fingerprint

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,100,1000", help="input sizes in MB (default: %(default)s)")
    ap.add_argument("--corpus", type=int, default=200, help="inputs of the done corpus (default: %(default)s)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("| input MB | sampled fingerprint (ms) | whole-file SHA-256 (ms) |")
        print("|---:|---:|---:|")
        for mb in (int(x) for x in args.sizes.split(",")):
            f = tmp / f"in{mb}.bin"
            with open(f, "wb") as fh:
                for _ in range(mb):
                    fh.write(os.urandom(1 << 20))
            print(f"| {mb} | {1000 * _time(lambda: input_fingerprint(f)):.2f} | {1000 * _time(lambda: file_sha256(f)):.1f} |")
            f.unlink()
        out = tmp / "out"
        done = DoneMarkers(out, {"models": {"full": {"files": {"m.onnx": "0" * 64}}}, "options": {"smoothing": 3}})
        inputs = []
        for i in range(args.corpus):
            src = tmp / f"clip{i}.avi"
            src.write_bytes(os.urandom(5 << 20))  # a 5 MB video
            outs = []
            for ext, size in ((".csv", 200_000), (".json", 600_000), (".eaf", 150_000)):
                p = out / f"clip{i}{ext}"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(os.urandom(size))
                outs.append(p)
            done.mark(f"clip{i}", src, outs)
            inputs.append(src)
        seconds = _time(lambda: [done.decide(p.stem, p) for p in inputs], repeat=2)
        assert all(done.decide(p.stem, p).action == "skip" for p in inputs)
        print(f"\ndone corpus of {args.corpus} inputs (5 MB video, ~1 MB of outputs each): every input skipped in "
              f"{seconds:.2f} s ({1000 * seconds / args.corpus:.2f} ms per input)")


if __name__ == "__main__":
    main()
