#!/usr/bin/python3
"""PyTorch DataLoader throughput on ImageNet's training transforms.

torchvision's ImageFolder (PIL decode) with Resize(256), RandomCrop(224),
RandomHorizontalFlip, ToTensor, Normalize, batches of 64, for each
--workers value: one warm-up epoch, then --epochs timed ones. The same steps
as the daemon's ImageRecordIter in bench/run_image_bench.sh, on the same JPEGs
written as files (bench/make_imagenet_like.py --files).

Needs Debian's python3-torch and python3-torchvision; when they are missing it
tries `ITERD_EXTRA_PACKAGES="python3-torch python3-torchvision"
tools/install_deps.sh` (with --install), and otherwise exits 3 with a message.
Prints `torch_w<N>_img_s=<images per second>` lines.

  /usr/bin/python3 bench/torch_dataloader_bench.py FILES_DIR [--workers 1,2]
"""

import argparse
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = [0.485, 0.456, 0.406]  # The same mean/std as 123.68/58.395 etc.
STD = [0.229, 0.224, 0.225]


def import_torch(install):
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        return True
    except ImportError as error:
        missing = str(error)
    if install:
        environment = dict(os.environ,
                           ITERD_EXTRA_PACKAGES="python3-torch python3-torchvision")
        result = subprocess.run(
            [os.path.join(REPO, "tools", "install_deps.sh")], env=environment,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if result.returncode == 0:
            return import_torch(install=False)
        missing += "; install_deps.sh failed: " + result.stderr.strip()[-300:]
    print("torch bench skipped: needs Debian's python3-torch and "
          "python3-torchvision (%s)" % missing, file=sys.stderr)
    return False


def measure(files_dir, workers, epochs, batch_size):
    import torch
    from torchvision import datasets, transforms

    transform = transforms.Compose([
        transforms.Resize(256),
        transforms.RandomCrop(224),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    dataset = datasets.ImageFolder(files_dir, transform=transform)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
        persistent_workers=True, prefetch_factor=2)
    images = 0
    for epoch in range(epochs + 1):  # Epoch 0 warms up (workers, page cache).
        if epoch == 1:
            start = time.perf_counter()
        for data, _ in loader:
            if epoch > 0:
                images += data.shape[0]
    return images / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files_dir")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--install", action="store_true",
                        help="install the Debian packages when missing")
    args = parser.parse_args()
    if not import_torch(args.install):
        return 3
    import torch
    # The main process only collects batches; one intra-op thread each keeps
    # the per-worker figures per core.
    torch.set_num_threads(1)
    for workers in [int(w) for w in args.workers.split(",")]:
        rate = measure(args.files_dir, workers, args.epochs, args.batch_size)
        print("torch_w%d_img_s=%.1f" % (workers, rate), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
