"""What several discrete parts cost per critic step: one factorised critic (a trunk, a head per
part; HybridSAC's) against one discrete critic per part (own trunk and target each).

    python benchmarks/discrete_parts_cost.py                 # parts 1, 2, 4; batch 256; 1 thread

Times the discrete critics' share of a critic step - the double-DQN loss of every part on one
batch (online and target forwards at s', online at s), its backward and one Adam step - on
latents of the default width, and counts the parameters. Writes
``benchmarks/results/discrete_parts_cost.md`` (included by docs/research/discrete-sac.md).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import RESULTS, machine, record_rows  # noqa: E402
from rllib_sac_hybrid.networks import DiscreteCritic  # noqa: E402

TABLE = RESULTS / "discrete_parts_cost.md"


def double_dqn_loss(online: list[DiscreteCritic], target: list[DiscreteCritic], latent, next_latent, chosen, reward):
    """Every part's double-DQN loss; ``online`` / ``target`` hold one critic (factorised) or one per part."""
    if len(online) == 1:
        q_now = online[0].split_parts(online[0](latent))
        with torch.no_grad():
            best = [q.argmax(-1, keepdim=True) for q in online[0].split_parts(online[0](next_latent))]
            q_next = target[0].split_parts(target[0](next_latent))
    else:
        q_now = [critic(latent) for critic in online]
        with torch.no_grad():
            best = [critic(next_latent).argmax(-1, keepdim=True) for critic in online]
            q_next = [critic(next_latent) for critic in target]
    loss = 0.0
    for p, (q, b, t) in enumerate(zip(q_now, best, q_next)):
        y = reward + 0.97 * t.gather(-1, b).squeeze(-1)
        loss = loss + (q.gather(-1, chosen[:, p : p + 1]).squeeze(-1) - y).pow(2).mean()
    return loss


def measure(parts: int, factorised: bool, batch: int, latent_dim: int, repeats: int) -> dict:
    torch.manual_seed(0)
    sizes = [3] * parts
    if factorised:
        online = [DiscreteCritic(latent_dim, sizes, (64, 64))]
    else:
        online = [DiscreteCritic(latent_dim, 3, (64, 64)) for _ in range(parts)]
    target = [copy.deepcopy(c).requires_grad_(False) for c in online]
    optimizer = torch.optim.Adam([p for c in online for p in c.parameters()], lr=3e-4)
    latent, next_latent = torch.randn(batch, latent_dim), torch.randn(batch, latent_dim)
    chosen = torch.randint(0, 3, (batch, parts))
    reward = torch.randn(batch)

    def step() -> None:
        loss = double_dqn_loss(online, target, latent, next_latent, chosen, reward)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(20):
        step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    seconds = (time.perf_counter() - start) / repeats
    return {
        "parts": parts,
        "critic": "factorised (one trunk, a head per part)" if factorised else "one critic per part",
        "ms_per_step": round(seconds * 1e3, 3),
        "parameters": sum(p.numel() for c in online for p in c.parameters()),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--latent-dim", type=int, default=64, help="the encoder's output width it reads")
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [measure(p, f, args.batch, args.latent_dim, args.repeats) for p in args.parts for f in (True, False)
            if p > 1 or f]  # fmt: skip
    lines = [
        "<!-- Written by benchmarks/discrete_parts_cost.py; do not edit. -->",
        "",
        f"Batch {args.batch}, latent width {args.latent_dim}, (64, 64) trunks, 3 choices per part, "
        f"{args.threads} torch thread(s), {machine()['cpu']}:",
        "",
        "| parts | discrete critic | ms per critic step (loss, backward, Adam) | parameters |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['parts']} | {r['critic']} | {r['ms_per_step']:.2f} | {r['parameters']:,} |" for r in rows]
    TABLE.write_text("\n".join(lines) + "\n")
    record_rows("discrete_parts_cost", "discrete-critic", rows, ("parts", "critic"), vars(args))
    print("\n".join(lines[4:]))
    return rows


if __name__ == "__main__":
    main()
