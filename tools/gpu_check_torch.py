"""PyTorch peer of the GPU check (tools/gpu_check.ts): torchvision ResNet50 (10 classes, ImageNet stem)
on 32x32 inputs, SGD lr 1e-3 momentum 0.9, the same network and batch sizes as the throughput bench;
median step time after warm-up steps. On CUDA it times plain fp32 (TF32 off, like WebGPU's f32) and
PyTorch's default (cuDNN may use TF32).

    python3 tools/gpu_check_torch.py --device cuda --batches 64,256 --steps 5 --json out.json
    python3 tools/gpu_check_torch.py --device cpu --batches 2 --steps 1 --arch resnet50   # rehearsal
"""
import argparse
import json
import statistics
import time

import torch
import torchvision


def bench(arch, device, batch, steps, tf32):
    if device == "cuda":
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=10).to(device)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.arange(batch, device=device) % 10
    times, losses = [], []
    for i in range(steps + 2):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - start)
    med = statistics.median(times)
    return {"batch": batch, "tf32": tf32, "medianSeconds": med, "imagesPerSecond": batch / med,
            "seconds": times, "losses": losses}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--batches", default="64,256")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--json")
    a = p.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but torch.cuda.is_available() is False")
    if a.device == "cpu":
        torch.set_num_threads(2)
    rows = []
    for batch in [int(b) for b in a.batches.split(",")]:
        for tf32 in ([False, True] if a.device == "cuda" else [False]):
            r = bench(a.arch, a.device, batch, a.steps, tf32)
            rows.append(r)
            print(f"torch {torch.__version__} {a.arch} {a.device} batch {batch} tf32 {tf32}: "
                  f"median step {r['medianSeconds']:.4f} s, {r['imagesPerSecond']:.1f} img/s", flush=True)
    out = {"torch": torch.__version__, "device": a.device, "arch": a.arch,
           "gpu": torch.cuda.get_device_name(0) if a.device == "cuda" else None, "rows": rows}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
