"""ESNet: the symmetric FCU layout (kernel sizes), the PFCU dilations and the parameter count."""

from __future__ import annotations

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.layers.asymmetric import FactorizedResidual
from ffseg.models.esnet import ParallelFCU


def _kernels(seq) -> list[int]:
    return [m.body[0].conv_v.kernel_size[0] for m in seq if isinstance(m, FactorizedResidual)]


def test_symmetric_kernels_dilations_and_params() -> None:
    model = ffseg.create_model("esnet")
    enc = model.encoder
    assert _kernels(enc.stage1) == [3, 3, 3] and _kernels(enc.stage2) == [5, 5]
    assert _kernels(model.decoder) == [5, 5, 3, 3]
    pfcus = [m for m in enc.stage3 if isinstance(m, ParallelFCU)]
    assert len(pfcus) == 3
    assert [b[0].conv_v.dilation[0] for b in pfcus[0].branches] == [2, 5, 9]
    assert abs(count_params(model) / 1.6e6 - 1) < 0.05  # paper: "nearly 1.6 M"
