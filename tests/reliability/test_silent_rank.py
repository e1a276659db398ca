"""A silent or dead distributed peer is named, instead of an anonymous backend timeout.

Two gloo processes with a 2-second collective timeout: rank 1 stops making progress (it
sleeps past the timeout), rank 0's collective fails and its error names rank 1, its last
completed step and the key to raise; rank 1, once awake, finds rank 0 gone and says so.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out: str) -> None:
    import os

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2"
    )
    from ffseg.engine.distributed import (
        PeerFailureError,
        RankProgress,
        all_ranks_true,
        cleanup_distributed,
        init_distributed,
    )

    info = init_distributed("cpu", timeout_s=2)
    progress = RankProgress(info, timeout_s=2)
    progress.publish(3, force=True)
    all_ranks_true(torch.tensor(True))  # both ranks reached step 3
    message = ""
    try:
        with progress.watch():
            if rank == 1:
                time.sleep(6)  # frozen: misses rank 0's collective
            else:
                progress.publish(4, force=True)
            all_ranks_true(torch.tensor(True))
    except PeerFailureError as exc:
        message = str(exc)
    Path(out, f"rank{rank}.json").write_text(json.dumps({"message": message}))
    if rank == 1:
        cleanup_distributed()


def test_silent_rank_is_named(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    waited = json.loads((tmp_path / "rank0.json").read_text())["message"]
    assert "rank 1 (last completed step: iteration 3" in waited, waited
    assert "train.dist_timeout_s=2 s" in waited and "went silent" in waited
    assert "ffseg train --resume" in waited
    woke = json.loads((tmp_path / "rank1.json").read_text())["message"]
    assert woke.startswith("rank 1 (at iteration 3)") or "rank 0" in woke, woke
    assert "rank 0" in woke or "store is unreachable" in woke, woke
