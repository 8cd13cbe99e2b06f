"""The metrics API on its own, on a synthetic example (``make demo`` runs a whole audit).

Builds k = 5 noisy copies of a class-specific pattern for 200 images, flags some predictions as
wrong (their maps are unrelated noise), and prints MeGe, ReCo and ReCo_AUC.
"""

from __future__ import annotations

import torch

from auditkit.metrics import mege, pairwise_spearman_distance, reco, reco_auc


def main() -> None:
    gen = torch.Generator().manual_seed(0)
    n, k = 200, 5
    pattern = torch.rand(n, 1, 1, 8, 8, generator=gen)
    maps = pattern + 0.3 * torch.rand(n, k, 1, 8, 8, generator=gen)
    correct = torch.rand(n, k, generator=gen) > 0.1
    maps[~correct] = torch.rand(int((~correct).sum()), 1, 8, 8, generator=gen)
    dist = pairwise_spearman_distance(maps)
    both = correct.unsqueeze(2) & correct.unsqueeze(1)
    one = correct.unsqueeze(2) ^ correct.unsqueeze(1)
    off_diag = ~torch.eye(k, dtype=torch.bool)
    s_eq, s_neq = dist[both & off_diag], dist[one & off_diag]
    print("auditkit metrics on a synthetic example (not an audit)")
    print(f"|S=| = {s_eq.numel()}, |S!=| = {s_neq.numel()}")
    print(f"MeGe = {mege(s_eq):.3f}  ReCo = {reco(s_eq, s_neq):.3f}  ReCo_AUC = {reco_auc(s_eq, s_neq):.3f}")


if __name__ == "__main__":
    main()
