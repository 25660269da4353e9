"""Writes the PyTorch state_dict files that nabla's interop test reads.

A Sequential(Linear(64, 8), BatchNorm1d(8), ReLU, Linear(8, 10)), the shape of nabla's digits
MLP with a hidden layer of 8, trained for three SGD steps so that the running statistics and
`num_batches_tracked` (int64, 3) are not their initial values, saved with
`safetensors.torch.save_file(model.state_dict())` as PyTorch writes it, in four dtypes:

  mlp_f32.safetensors    float32 tensors, int64 num_batches_tracked
  mlp_f64.safetensors    model.double() after a fourth SGD step taken in float64 (in eval
                         mode, so the counter stays 3): float64 values that float32 rounds
  mlp_f16.safetensors    model.half()
  mlp_bf16.safetensors   model.bfloat16()

and probe.safetensors: an input `input` [4, 64] and, for each file, the eval-mode logits
`logits.<dtype>` [4, 10] of a float32 model holding that file's values converted to float32
(what nabla computes after converting on load).

Written with torch 2.15.0 (CPU), numpy and safetensors 0.8:
    python3 -m venv /work/venv
    /work/venv/bin/pip install torch==2.15.0 numpy safetensors
    /work/venv/bin/python testdata/torch/make_state_dict.py

`--check FILE` instead loads a model.safetensors written by nabla (from a run of the same
architecture) with `load_file` and `load_state_dict(strict=True)`, and prints its dtypes.
"""

import os
import sys

import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def mlp():
    return torch.nn.Sequential(
        torch.nn.Linear(64, 8),
        torch.nn.BatchNorm1d(8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 10),
    )


def check(path):
    state = load_file(path)
    model = mlp()
    model.load_state_dict(state, strict=True)
    for name, t in state.items():
        print(f"{name}: {t.dtype} {list(t.shape)}")
    print(f"{path}: loaded with strict=True")


def main():
    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        x = torch.randn(16, 64) * 2.0 + 0.5
        y = torch.randint(0, 10, (16,))
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert int(model[1].num_batches_tracked) == 3

    probe = {"input": (torch.randn(4, 64) * 2.0).contiguous()}
    variants = {
        "f32": lambda m: m.float(),
        "f64": lambda m: m.double(),
        "f16": lambda m: m.half(),
        "bf16": lambda m: m.bfloat16(),
    }
    for tag, convert in variants.items():
        copy = mlp()
        copy.load_state_dict(model.state_dict())
        copy = convert(copy)
        if tag == "f64":
            copy.eval()
            x = torch.randn(16, 64, dtype=torch.float64)
            y = torch.randint(0, 10, (16,))
            torch.nn.functional.cross_entropy(copy(x), y).backward()
            with torch.no_grad():
                for p in copy.parameters():
                    p -= 0.1 * p.grad
        state = {k: v.contiguous() for k, v in copy.state_dict().items()}
        assert state["1.num_batches_tracked"].dtype == torch.int64
        save_file(state, os.path.join(HERE, f"mlp_{tag}.safetensors"))
        # The reference: the stored values in float32, as nabla converts them.
        reference = mlp()
        reference.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
        reference.eval()
        with torch.no_grad():
            probe[f"logits.{tag}"] = reference(probe["input"]).contiguous()
    save_file(probe, os.path.join(HERE, "probe.safetensors"))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        main()
