#!/usr/bin/env python3
"""Load a `deno task export` result into PyTorch and compute its logits (tests/export_test.ts).

    python3 tools/torch_export_check.py --export DIR --images tiles.u8 --out logits.f32

DIR holds model.safetensors and preprocessing.json. tiles.u8 is N x 32 x 32 x 3 uint8 (HWC, RGB, already
resized); they are normalized as preprocessing.json says ((x / 255 - mean) / std, NCHW). The network is
torchvision's ResNet layout (torchvision.models.resnetNN when the width is 64, else the same modules built
from torchvision's BasicBlock/Bottleneck), loaded with load_state_dict(strict=True). When the export says
padding "same", every stride-2 conv and the max-pool get TensorFlow-style padding (see same_padding below):
that is what the project's network computes. Writes N x classes float32 logits (little-endian) and prints
a JSON line. Needs Debian's python3-torch and python3-torchvision (or pip's torch). No safetensors package
needed: the file is read with struct + json.
"""

import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    state = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=DTYPES[info["dtype"]])
        state[name] = t.reshape(info["shape"]).clone()
    return state


class SamePad(torch.nn.Module):
    """TensorFlow 'same' padding for a k x k window of stride s: total max((ceil(n/s)-1)*s + k - n, 0), the
    odd pixel at the bottom/right."""

    def __init__(self, kernel, stride, value=0.0):
        super().__init__()
        self.kernel, self.stride, self.value = kernel, stride, value

    def forward(self, x):
        h, w = x.shape[-2:]
        ph = max((math.ceil(h / self.stride) - 1) * self.stride + self.kernel - h, 0)
        pw = max((math.ceil(w / self.stride) - 1) * self.stride + self.kernel - w, 0)
        return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=self.value)


def same_padding(model):
    """Give a torchvision ResNet TensorFlow-style 'same' padding where it differs from torch's: stride-2
    convs larger than 1 x 1 and the stem's max-pool (padded with -inf). Stride-1 3 x 3 convs pad 1 on every
    side in both frameworks and are left alone."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Conv2d) and child.stride[0] > 1 and child.kernel_size[0] > 1:
                child.padding = (0, 0)
                setattr(parent, name, torch.nn.Sequential(SamePad(child.kernel_size[0], child.stride[0]), child))
            elif isinstance(child, torch.nn.MaxPool2d):
                k, s = child.kernel_size, child.stride
                child.padding = 0
                setattr(parent, name, torch.nn.Sequential(SamePad(k, s, float("-inf")), child))
    return model


class ResNet(torchvision.models.ResNet):
    """torchvision's ResNet with another base width (torchvision fixes it at 64); same module names."""

    def __init__(self, block, layers, width, num_classes):
        torch.nn.Module.__init__(self)
        self._norm_layer = torch.nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = torch.nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(width)
        self.relu = torch.nn.ReLU(inplace=True)
        self.maxpool = torch.nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = torch.nn.AdaptiveAvgPool2d((1, 1))
        self.fc = torch.nn.Linear(width * 8 * block.expansion, num_classes)


def build(pre):
    spec = pre["spec"]
    if pre.get("torchvisionBuilder"):
        model = getattr(torchvision.models, pre["arch"])(num_classes=pre["numClasses"])
    else:
        block = Bottleneck if spec["block"] == "bottleneck" else BasicBlock
        model = ResNet(block, spec["layers"], spec["width"], pre["numClasses"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", required=True, help="folder with model.safetensors and preprocessing.json")
    parser.add_argument("--images", required=True, help="N x 32 x 32 x 3 uint8 tiles")
    parser.add_argument("--out", required=True, help="logits, float32 LE")
    parser.add_argument("--padding", choices=["export", "torch"], default="export",
                        help="'torch' keeps torchvision's own padding (to show it differs)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    with open(os.path.join(args.export, "preprocessing.json")) as f:
        pre = json.load(f)
    model = build(pre)
    missing = model.load_state_dict(load_safetensors(os.path.join(args.export, "model.safetensors")), strict=True)
    if pre["padding"] == "same" and args.padding == "export":
        same_padding(model)
    model.eval()
    size = pre["inputSize"]
    with open(args.images, "rb") as f:
        raw = f.read()
    n = len(raw) // (size * size * 3)
    x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(n, size, size, 3).permute(0, 3, 1, 2).float()
    x = x * pre["scale"]
    mean = torch.tensor(pre["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(pre["std"]).view(1, 3, 1, 1)
    x = (x - mean) / std
    with torch.no_grad():
        logits = model(x)
    with open(args.out, "wb") as f:
        f.write(logits.contiguous().numpy().astype("<f4").tobytes())
    print(json.dumps({"images": n, "logitsShape": list(logits.shape), "scale": float(logits.abs().max()),
                      "strict": str(missing), "torch": torch.__version__}), file=sys.stdout)


if __name__ == "__main__":
    main()
