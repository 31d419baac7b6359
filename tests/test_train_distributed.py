"""Data parallel training: two CPU processes (Gloo) through the same Trainer end with the same weights."""
import os
import socket

import torch
import torch.multiprocessing as mp

from astroflow.train.tasks import Reconstructor
from astroflow.train.trainer import TrainConfig, Trainer
from test_train import easy_survey, pretraining, tiny_encoder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, workdir: str, out: str) -> None:
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    model = Reconstructor(tiny_encoder())
    config = TrainConfig(max_steps=4, batch_size=8, warmup_steps=1, eval_every=2, checkpoint_every=2, patience=0)
    Trainer(config, workdir).fit(model, pretraining(easy_survey(10)))
    torch.save(model.state_dict(), f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_two_ranks_train_in_step(tmp_path):
    mp.spawn(_rank, args=(_free_port(), str(tmp_path / "work"), str(tmp_path)), nprocs=2)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.load(tmp_path / "work" / "last.pt", weights_only=True)["step"] == 4
