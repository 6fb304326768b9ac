"""Corpus frames/s of ``signfer annotate-corpus`` with the local engine and with Ray, on the same clips.

Rows (each a fresh ``signfer annotate-corpus`` command into a fresh folder, timed from its start
to its end: process start-up and model loading included):

* ``local``: the local process pool, ``--workers W --threads 1``;
* ``ray (local Ray)``: ``--engine ray`` without ``--address``: the command starts a Ray on this
  machine and stops it at the end (Ray's start-up included);
* ``ray (2-node cluster)``: ``--engine ray --address`` on a cluster started beforehand with
  ``ray start --head`` + a second ``ray start --address`` (1 CPU each; cluster start-up not included).

Ray must not use any address but loopback here, so the script re-runs itself inside a private
network namespace (``unshare --net --pid``, only ``lo`` up; needs root) and refuses to start Ray
anywhere else. On a 2-core machine Ray cannot win: the figures show its overhead.

    python benchmarks/ray_scaling.py                         # 4 clips x 120 frames
    python benchmarks/ray_scaling.py --videos 8 --frames 300
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))
from annotate_scaling import make_corpus, run  # noqa: E402

from tests.scale import netns  # noqa: E402 - the tests' namespace launcher (process 1 that reaps Ray's daemons)

FLAG = "SIGNFER_BENCH_NETNS"


def ray_cli() -> list[str]:
    exe = Path(sys.executable).with_name("ray")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.exit(main())"]


def timed(listing: Path, out: Path, model: str, workers: int, extra: list[str], env: dict) -> dict:
    """``annotate_scaling.run`` (the same timed command and corpus-log figures) with one thread per worker."""
    return run(listing, out, workers, model, 1, tuple(extra), env=env)


def inside(args) -> int:
    if not netns.only_loopback():
        raise SystemExit("refusing to start Ray: this network namespace has interfaces besides loopback")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           **netns.RAY_ENV}  # a token of this run, not ~/.ray/auth_token
    rows = []
    with tempfile.TemporaryDirectory(prefix="/tmp/sfrb") as tmp:
        tmp = Path(tmp)
        env["RAY_TMPDIR"] = str(tmp / "rt")  # the local Ray's session files go with the benchmark's folder, not /tmp/ray
        listing = make_corpus(tmp / "corpus", args.videos, args.frames)
        timed(listing, tmp / "warm", args.model, 1, [], env)  # model files fetched / exported once
        rows.append({"engine": "local", "workers": args.workers, **timed(listing, tmp / "local", args.model, args.workers, [], env)})
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        common = ["--num-cpus", "1", "--num-gpus", "0", "--object-store-memory", str(80 * 2**20), "--disable-usage-stats"]
        try:
            t0 = time.perf_counter()
            for extra in (["--head", "--port", str(port), "--temp-dir", str(tmp / "r"), "--include-dashboard", "false"],
                          ["--address", f"127.0.0.1:{port}"]):
                proc = subprocess.run([*ray_cli(), "start", *extra, *common], capture_output=True, text=True, env=env, timeout=180)
                if proc.returncode != 0:
                    raise RuntimeError(f"ray start {' '.join(extra)} failed:\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
            start = time.perf_counter() - t0
            rows.append({"engine": f"ray (2-node cluster, started in {start:.1f} s beforehand)", "workers": 2,
                         **timed(listing, tmp / "ray_cluster", args.model, 2, ["--engine", "ray", "--address", f"127.0.0.1:{port}"], env)})
        finally:
            subprocess.run([*ray_cli(), "stop", "--force"], capture_output=True, env=env, timeout=120)
        rows.append({"engine": "ray (local Ray, start-up included)", "workers": args.workers,
                     **timed(listing, tmp / "ray_local", args.model, args.workers, ["--engine", "ray"], env)})
    print(f"\n{args.videos} videos x {args.frames} frames (360x300), model {args.model}, {os.cpu_count()} core(s), 1 thread per worker")
    print("| engine | workers | frames | seconds | frames/s | busy s per video | peak RSS per worker (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['engine']} | {r['workers']} | {r['frames']} | {r['seconds']:.1f} | {r['frames_per_s']:.1f} | "
              f"{r['busy_seconds_per_video']:.2f} | {r['peak_rss_mb_per_worker']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--workers", type=int, default=2, help="workers of the local engine and the local Ray (default: 2)")
    ap.add_argument("--model", default="fer2013")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if os.environ.get(FLAG) == "1":
        return inside(args)
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        raise SystemExit("needs unshare and ip (util-linux, iproute2) to run Ray inside a private network namespace")
    rest = list(argv if argv is not None else sys.argv[1:])
    cmd = netns.netns_command([sys.executable, str(Path(__file__).resolve()), *rest])
    return subprocess.run(cmd, env={**os.environ, FLAG: "1"}).returncode


if __name__ == "__main__":
    sys.exit(main())
