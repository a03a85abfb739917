#!/usr/bin/env python3
"""Make a PyTorch reference for the weight import test (tests/weight_import_test.ts).

For each --arch it builds a seeded, randomly initialized torchvision ResNet, randomizes every batch norm
(gamma, beta, and running statistics calibrated on random images then perturbed, so BN in eval mode really
uses them), saves the state dict as safetensors (written here with struct + json: the safetensors package
is not needed), and saves a fixed batch of random images (NHWC float32) with the model's eval-mode logits
and pooled features.

    python3 tools/make_torch_fixture.py --out DIR --arch resnet50:10 --arch resnet18:1000

writes DIR/<arch>/{weights.safetensors, input_nhwc.f32, logits.f32, features.f32, fixture.json}
(raw little-endian float32). Needs Debian's python3-torch and python3-torchvision (or pip's torch).

    python3 tools/make_torch_fixture.py --mixed tests/fixtures/mixed.safetensors

writes the small committed fixture of tests/safetensors_test.ts: one tensor of each of F32, F16, BF16, I64.
"""

import argparse
import json
import os
import struct
import sys

import torch
import torchvision

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def save_safetensors(state, path):
    """Write a state dict as safetensors: u64 LE header length, JSON header, raw LE tensor bytes."""
    header, blobs, offset = {}, [], 0
    for name, tensor in state.items():
        t = tensor.detach().contiguous().cpu()
        raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t  # numpy has no bfloat16
        array = raw.numpy()
        blob = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode("utf-8"))
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def randomize_batch_norms(model, generator, size):
    """Random gamma/beta; running stats from a calibration batch in train mode, then perturbed."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.copy_(torch.rand(bn.num_features, generator=generator) + 0.5)
            bn.bias.copy_(torch.randn(bn.num_features, generator=generator) * 0.2)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: one pass sets the batch's statistics
        model.train()
        model(torch.randn(8, 3, size, size, generator=generator))
        for bn in bns:
            std = bn.running_var.sqrt()
            bn.running_mean.add_(torch.randn(bn.num_features, generator=generator) * 0.2 * std)
            bn.running_var.mul_(torch.rand(bn.num_features, generator=generator) * 0.6 + 0.7)
            bn.momentum = 0.1
    model.eval()


def write_f32(path, tensor):
    with open(path, "wb") as f:
        f.write(tensor.detach().contiguous().cpu().numpy().astype("<f4").tobytes())


def make(arch, num_classes, out_dir, seed, batch, size):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = getattr(torchvision.models, arch)(num_classes=num_classes)
    randomize_batch_norms(model, generator, size)
    images = torch.randn(batch, 3, size, size, generator=generator)
    with torch.no_grad():
        trunk = torch.nn.Sequential(*list(model.children())[:-1])  # everything before fc
        features = torch.flatten(trunk(images), 1)
        logits = model(images)
    os.makedirs(out_dir, exist_ok=True)
    save_safetensors(model.state_dict(), os.path.join(out_dir, "weights.safetensors"))
    write_f32(os.path.join(out_dir, "input_nhwc.f32"), images.permute(0, 2, 3, 1))
    write_f32(os.path.join(out_dir, "logits.f32"), logits)
    write_f32(os.path.join(out_dir, "features.f32"), features)
    meta = {
        "arch": arch,
        "numClasses": num_classes,
        "seed": seed,
        "inputShape": [batch, size, size, 3],
        "logitsShape": list(logits.shape),
        "featuresShape": list(features.shape),
        "logitsScale": float(logits.abs().max()),
        "featuresScale": float(features.abs().max()),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    with open(os.path.join(out_dir, "fixture.json"), "w") as f:
        json.dump(meta, f, indent=2)
    return meta


def make_mixed(path):
    state = {
        "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4,
        "f16": torch.tensor([1.0, -2.5, 65504.0, 2.0**-24], dtype=torch.float16),
        "bf16": torch.tensor([[1.0, 3.140625, -0.0078125]], dtype=torch.bfloat16),
        "layer1.0.bn1.num_batches_tracked": torch.tensor(12345, dtype=torch.int64),
    }
    save_safetensors(state, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="output folder")
    parser.add_argument("--arch", action="append", default=[], help="ARCH:CLASSES, e.g. resnet50:10")
    parser.add_argument("--mixed", help="write the small mixed-dtype safetensors fixture to this path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.mixed:
        make_mixed(args.mixed)
    if args.arch and not args.out:
        parser.error("--arch needs --out")
    for spec in args.arch:
        arch, _, classes = spec.partition(":")
        meta = make(arch, int(classes or 1000), os.path.join(args.out, arch), args.seed, args.batch, args.size)
        print(json.dumps(meta), file=sys.stdout)


if __name__ == "__main__":
    main()
