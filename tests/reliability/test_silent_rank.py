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
    assert "rank 1 (last recorded step: iteration 3" in waited, waited
    assert "train.dist_timeout_s=2 s" in waited and "went silent" in waited
    assert "ffseg train --resume" in waited
    woke = json.loads((tmp_path / "rank1.json").read_text())["message"]
    assert woke.startswith("rank 1 (at iteration 3)") or "rank 0" in woke, woke
    assert "rank 0" in woke or "store is unreachable" in woke, woke


def _training_worker(rank: int, port: int, out: str) -> None:
    import os

    torch.set_num_threads(1)
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2"
    )
    from ffseg.config import load_config
    from ffseg.engine.train import fit

    def freeze_rank1(state) -> None:
        if rank == 1 and state.iteration == 2:
            time.sleep(8)  # a frozen data loader, a stuck file system ...

    cfg = load_config(
        "demo",
        [
            "data.train_kwargs={n: 8, size: [48, 48], seed: 0}",
            "data.val_kwargs={n: 2, size: [48, 48], seed: 1}",
            "data.crop_size=[48, 48]",
            "data.scale_range=[1.0, 1.0]",
            "data.batch_size=2",
            "model.kwargs.backbone=resnet22s",
            "train.iters=4",
            "train.dist_timeout_s=3",
            "log.progress=false",
            "log.tensorboard=false",
            "log.overlays=0",
            f"train.output_dir={out}",
        ],
    )
    message = ""
    try:
        fit(cfg, on_step=freeze_rank1)
    except RuntimeError as exc:
        message = f"{type(exc).__name__}: {exc}"
    Path(out, f"fit{rank}.json").write_text(json.dumps({"message": message}))


def test_training_names_the_silent_rank(tmp_path: Path) -> None:
    mp.spawn(_training_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    waited = json.loads((tmp_path / "fit0.json").read_text())["message"]
    assert waited.startswith("PeerFailureError"), waited
    assert "rank 1 (last recorded step: iteration " in waited and "went silent" in waited, waited
