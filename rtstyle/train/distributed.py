"""Multi-process training through torch.distributed, as launched by ``torchrun``.

``torchrun --nproc_per_node N -m rtstyle train ...`` sets RANK, WORLD_SIZE and LOCAL_RANK; a
plain ``rtstyle train`` is a world of one and never touches torch.distributed. NCCL is used on
CUDA, gloo on CPU.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import ConfigError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def from_env() -> World:
    """The process's place in a torchrun launch (a world of one without torchrun)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as e:
        raise ConfigError(f"invalid torchrun environment: {e}") from e
    return World(rank, size, local)


def device_for(world: World, device: torch.device) -> torch.device:
    """One GPU per process: cuda:LOCAL_RANK when training on CUDA with several processes."""
    if world.distributed and device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"process {world.local_rank} has no GPU: only "
                              f"{torch.cuda.device_count()} visible")
        return torch.device("cuda", world.local_rank)
    return device


def init(world: World, device: torch.device) -> None:
    if world.distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))


def shutdown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def mean(world: World, values: torch.Tensor) -> torch.Tensor:
    """Average a small tensor over all processes (NaN anywhere stays NaN everywhere)."""
    if world.distributed:
        values = values.clone()
        dist.all_reduce(values)
        values /= world.size
    return values
