"""A process leaves its process group before it exits (gloo's threads otherwise can abort the exit)."""

import torch.distributed as dist

from tunesmith import distributed


def test_a_process_leaves_its_group_and_leaving_twice_does_nothing(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    assert dist.is_initialized()
    distributed.leave()
    assert not dist.is_initialized()
    distributed.leave()  # no group: nothing to leave
