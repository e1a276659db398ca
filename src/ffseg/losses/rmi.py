"""Region Mutual Information loss (Zhao et al., NeurIPS 2019), always computed in fp32.

For each class, every (pooled) pixel contributes two ``d = radius**2`` vectors: the one-hot
labels and the predicted probabilities of its ``radius x radius`` neighbourhood. With their
covariances ``S_Y``, ``S_P`` and cross-covariance ``S_YP``, the posterior covariance
``S_Y|P = S_Y - S_YP (S_P + eps I)^-1 S_YP^T`` bounds the mutual information from below by
``-1/2 log det S_Y|P`` (+ const); the loss is ``1/2 log det(S_Y|P + eps I) / d`` averaged over
batch and classes (it is negative when the prediction explains the labels well; only its
gradient matters). Ignored pixels are zeroed in both maps; inputs are pooled by ``pool`` first
to keep the cost small, as the paper does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.losses._utils import resize_logits

__all__ = ["RMILoss"]


class RMILoss(nn.Module):
    """RMI on softmax probabilities (autocast is disabled inside: the log-det needs fp32)."""

    def __init__(
        self, ignore_index: int = 255, radius: int = 3, pool: int = 4, eps: float = 5e-4
    ) -> None:
        super().__init__()
        if radius < 1 or pool < 1:
            raise ValueError(f"RMI radius and pool must be >= 1, got {radius}, {pool}")
        self.ignore_index = ignore_index
        self.radius = radius
        self.pool = pool
        self.eps = eps

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=logits.device.type, enabled=False):
            return self._rmi(logits.float(), target)

    def _rmi(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = resize_logits(logits, target.shape[-2:])
        b, c = logits.shape[:2]
        valid = (target != self.ignore_index).unsqueeze(1).float()
        safe = target.masked_fill(valid.squeeze(1) == 0, 0)
        labels = F.one_hot(safe, c).permute(0, 3, 1, 2).float() * valid
        probs = logits.softmax(1) * valid + 1e-6 * valid
        if self.pool > 1:
            labels = F.max_pool2d(labels, self.pool, self.pool)
            probs = F.avg_pool2d(probs, self.pool, self.pool)
        r = self.radius
        if min(labels.shape[-2:]) < r:
            return logits.sum() * 0.0
        d = r * r
        # (B, C*d, L) -> (B, C, d, L): each column is one neighbourhood vector
        y = F.unfold(labels, r).view(b, c, d, -1)
        p = F.unfold(probs, r).view(b, c, d, -1)
        n = y.shape[-1]
        y = y - y.mean(-1, keepdim=True)
        p = p - p.mean(-1, keepdim=True)
        eye = torch.eye(d, device=logits.device, dtype=torch.float32)
        s_y = y @ y.transpose(-1, -2) / n
        s_p = p @ p.transpose(-1, -2) / n + self.eps * eye
        s_yp = y @ p.transpose(-1, -2) / n
        # S_YP S_P^-1 S_YP^T via a solve (S_P is symmetric positive definite)
        cond = s_y - s_yp @ torch.linalg.solve(s_p, s_yp.transpose(-1, -2))
        cond = 0.5 * (cond + cond.transpose(-1, -2)) + self.eps * eye
        chol, info = torch.linalg.cholesky_ex(cond)
        if bool((info > 0).any()):  # numerically not PD: fall back to a slogdet
            logdet = torch.linalg.slogdet(cond).logabsdet
        else:
            logdet = 2.0 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return (0.5 * logdet / d).mean()
