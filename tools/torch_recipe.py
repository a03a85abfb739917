"""PyTorch peer of the project's training recipe, for checking what a preset can learn.

Same data (first N train records of data_batch_1..5, first M of test_batch), same augmentation (RandomCrop 32
with 4 px zero padding, horizontal flip p=0.5, /255, the tutorial's mean/std), the same network as
lib/resnet.ts (ImageNet stem at 32x32, TensorFlow 'same' padding, torchvision-style blocks, conv weights
Normal(0, 0.02), down-sample BN gamma Normal(1, 0.02), head U(+-1/sqrt(fan_in))), softmax cross-entropy,
SGD momentum 0.9 and the per-epoch cosine lr (constant within an epoch), on 2 CPU threads, from scratch.

    /usr/bin/python3 tools/torch_recipe.py --arch resnet18 --width 32 --train-limit 8000 --epochs 2 \
        --batch-size 64 --lr-max 0.01 --lr-min 1e-4 --json /tmp/r.json
"""
import argparse
import io
import json
import math
import tarfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SPECS = {  # block, stages, width: RESNET_SPECS of lib/resnet.ts
    "resnet18": ("basic", [2, 2, 2, 2], 64),
    "resnet34": ("basic", [3, 4, 6, 3], 64),
    "resnet50": ("bottleneck", [3, 4, 6, 3], 64),
    "resnet101": ("bottleneck", [3, 4, 23, 3], 64),
    "resnet152": ("bottleneck", [3, 8, 36, 3], 64),
    "tiny": ("bottleneck", [1, 1, 1, 1], 8),
}
MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2023, 0.1994, 0.2010]
RECORD = 3073


def same_pad(x, k, s, value=0.0):
    """TensorFlow 'same' padding: the odd extra row/column goes at the bottom/right."""
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=value)


class Conv(nn.Conv2d):
    def __init__(self, cin, cout, k, s):
        super().__init__(cin, cout, k, s, padding=0, bias=False)
        nn.init.normal_(self.weight, 0.0, 0.02)

    def forward(self, x):
        return super().forward(x if self.kernel_size[0] == 1 else same_pad(x, self.kernel_size[0], self.stride[0]))


def bn(c, gamma_normal=False):
    b = nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)
    if gamma_normal:
        nn.init.normal_(b.weight, 1.0, 0.02)
    return b


class Block(nn.Module):
    def __init__(self, kind, cin, channel, stride, down):
        super().__init__()
        out = channel * (4 if kind == "bottleneck" else 1)
        if kind == "bottleneck":  # 1x1 -> 3x3 (stride) -> 1x1 (x4)
            self.body = nn.Sequential(Conv(cin, channel, 1, 1), bn(channel), nn.ReLU(),
                                      Conv(channel, channel, 3, stride), bn(channel), nn.ReLU(),
                                      Conv(channel, out, 1, 1), bn(out))
        else:  # 3x3 (stride) -> 3x3
            self.body = nn.Sequential(Conv(cin, channel, 3, stride), bn(channel), nn.ReLU(),
                                      Conv(channel, channel, 3, 1), bn(channel))
        self.down = nn.Sequential(Conv(cin, out, 1, stride), bn(out, True)) if down else nn.Identity()

    def forward(self, x):
        return F.relu(self.body(x) + self.down(x))


class ResNet(nn.Module):
    def __init__(self, arch, width=None, num_classes=10):
        super().__init__()
        kind, stages, w = SPECS[arch]
        w = width or w
        self.stem = nn.Sequential(Conv(3, w, 7, 2), bn(w), nn.ReLU())
        blocks, cin, exp = [], w, 4 if kind == "bottleneck" else 1
        for si, n in enumerate(stages):
            channel = w * 2 ** si
            for i in range(n):
                stride = (1 if si == 0 else 2) if i == 0 else 1
                blocks.append(Block(kind, cin, channel, stride, i == 0 and (stride != 1 or cin != channel * exp)))
                cin = channel * exp
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, num_classes)
        bound = 1 / math.sqrt(cin)
        nn.init.uniform_(self.fc.weight, -bound, bound)
        nn.init.uniform_(self.fc.bias, -bound, bound)

    def forward(self, x):
        x = self.stem(x)
        x = F.max_pool2d(same_pad(x, 3, 2, value=-math.inf), 3, 2)
        x = self.blocks(x)
        return self.fc(x.mean((2, 3)))


def read_cifar(path, train_limit, test_limit):
    """uint8 NCHW images and int64 labels: train = data_batch_1..5 in order, test = test_batch."""
    with tarfile.open(path) as tar:
        files = {m.name.split("/")[-1]: m for m in tar.getmembers()}
        read = lambda name: np.frombuffer(tar.extractfile(files[name]).read(), np.uint8).reshape(-1, RECORD)
        train = np.concatenate([read(f"data_batch_{i}.bin") for i in range(1, 6)])[:train_limit]
        test = read("test_batch.bin")[:test_limit]
    split = lambda r: (torch.from_numpy(r[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(r[:, 0].astype(np.int64)))
    return split(train), split(test)


def normalize(x_uint8):
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x_uint8.float() / 255 - mean) / std


def cosine_lr(epoch, lr_max, lr_min, decay_epochs):
    e = min(epoch, decay_epochs)
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * e / decay_epochs))


def evaluate(model, x, y, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(normalize(x[i:i + batch])).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/data/cifar-10-binary.tar.gz")
    p.add_argument("--arch", default="resnet18", choices=SPECS)
    p.add_argument("--width", type=int, default=None, help="base width (default: the arch's own)")
    p.add_argument("--train-limit", type=int, default=8000)
    p.add_argument("--test-limit", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--decay-epochs", type=int, default=None, help="default: --epochs")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr-max", type=float, default=1e-3)
    p.add_argument("--lr-min", type=float, default=1e-5)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--crop-padding", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None, help="write the summary here")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    (xtr, ytr), (xte, yte) = read_cifar(a.data, a.train_limit, a.test_limit)
    model = ResNet(a.arch, a.width)
    params = sum(q.numel() for q in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=a.lr_max, momentum=a.momentum)
    pad = a.crop_padding
    padded = F.pad(xtr, (pad, pad, pad, pad))  # zero fill on the uint8 image, as RandomCrop(fill=0)
    n = len(xtr)
    print(f"{a.arch} width {a.width or SPECS[a.arch][2]}: {params:,} params; {n} train, {len(xte)} test images")
    history, start = [], time.perf_counter()
    for epoch in range(a.epochs):
        lr = cosine_lr(epoch, a.lr_max, a.lr_min, a.decay_epochs or a.epochs)
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        t0, losses = time.perf_counter(), []
        order = torch.randperm(n)
        cy, cx = torch.randint(0, 2 * pad + 1, (n,)), torch.randint(0, 2 * pad + 1, (n,))
        flip = torch.rand(n) < 0.5
        for i in range(0, n, a.batch_size):
            idx = order[i:i + a.batch_size].tolist()
            xb = torch.stack([padded[j, :, cy[j]:cy[j] + 32, cx[j]:cx[j] + 32] for j in idx])
            f = flip[idx]
            xb[f] = xb[f].flip(3)
            loss = F.cross_entropy(model(normalize(xb)), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        train_s = time.perf_counter() - t0
        acc = evaluate(model, xte, yte)
        rec = {"epoch": epoch + 1, "lr": lr, "meanLoss": sum(losses) / len(losses), "testAccuracy": acc,
               "trainSeconds": round(train_s, 1), "imagesPerSecond": round(n / train_s, 1),
               "seconds": round(time.perf_counter() - t0, 1)}
        history.append(rec)
        print(f"epoch {epoch + 1}/{a.epochs} lr {lr:.2e} loss {rec['meanLoss']:.4f} "
              f"test acc {acc:.4f} ({rec['seconds']} s, {rec['imagesPerSecond']} img/s)", flush=True)
    summary = {"config": vars(a), "params": params, "epochs": history, "finalAccuracy": history[-1]["testAccuracy"],
               "bestAccuracy": max(h["testAccuracy"] for h in history), "seconds": round(time.perf_counter() - start, 1)}
    print(json.dumps(summary))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
