"""Trains the fashion study's ResNet on Fashion-MNIST and writes the embeddings of all 70,000 images.

Runs inside the trainer image (install/trainer.Dockerfile: Debian's torch 1.13 + torchvision 0.14);
datasets/fashion_mnist.py starts it. It imports nothing of the harness. The recipe is the study's:
Adam at lr 1e-3, ReduceLROnPlateau (factor 0.1, after 2 epochs without improvement) on validation
loss, gradient clipping at norm 1.0, early stopping after `patience` (3) epochs without
improvement, the best checkpoint kept. The images stay 28x28 with torchvision's own stem (the
study resized to 224 on a GPU; that is 64 times the compute), one input channel. 10% of the
training images (seeded) are the validation set.

Writes to --out: train.npy (60,000 x D) and test.npy (10,000 x D) float32 embeddings from the layer
before the classifier (D = 512 for ResNet-18, 2048 for ResNet-50), best.pt, and report.json with
per-epoch loss, accuracy, macro precision, recall and F1, and the test set's at the end.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's training pixels / 255


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def model(arch):
    net = getattr(torchvision.models, arch)(weights=None, num_classes=10)
    net.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)  # grey images
    return net


def tensor(images):
    return (torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1) - MEAN) / STD


def scores(confusion):
    """Accuracy and macro precision / recall / F1 from a 10 x 10 confusion matrix (rows: truth)."""
    tp = np.diag(confusion).astype(float)
    precision = tp / np.maximum(confusion.sum(0), 1)
    recall = tp / np.maximum(confusion.sum(1), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return {"accuracy": float(tp.sum() / confusion.sum()), "precision": float(precision.mean()),
            "recall": float(recall.mean()), "f1": float(f1.mean())}


def evaluate(net, x, y, batch_size):
    net.eval()
    confusion, loss = np.zeros((10, 10), dtype=np.int64), 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = net(x[i:i + batch_size])
            loss += F.cross_entropy(out, y[i:i + batch_size], reduction="sum").item()
            np.add.at(confusion, (y[i:i + batch_size].numpy(), out.argmax(1).numpy()), 1)
    return {"loss": loss / len(x), **scores(confusion)}


def embed(net, x, batch_size):
    """The input of the classifier (after global average pooling) for every image."""
    net.eval()
    head, net.fc = net.fc, torch.nn.Identity()
    with torch.no_grad():
        out = torch.cat([net(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    net.fc = head
    return out.numpy().astype(np.float32)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True, help="directory of the Fashion-MNIST idx files")
    p.add_argument("--out", required=True)
    p.add_argument("--arch", default="resnet18", choices=("resnet18", "resnet50"))
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--limit", type=int, help="train on this many training images (a quick test)")
    p.add_argument("--max-batches", type=int, help="batches per epoch at most (a quick test)")
    p.add_argument("--weights", help="a state_dict to start from instead of random weights")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)

    train_images = read_idx(os.path.join(args.source, "train-images-idx3-ubyte.gz"))
    train_labels = read_idx(os.path.join(args.source, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    test_images = read_idx(os.path.join(args.source, "t10k-images-idx3-ubyte.gz"))
    test_labels = read_idx(os.path.join(args.source, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    order = rng.permutation(len(train_images))
    n_val = len(order) // 10
    val, fit = order[:n_val], order[n_val:]
    if args.limit:
        fit, val = fit[:args.limit], val[:max(args.limit // 9, 100)]
    x_fit, y_fit = tensor(train_images[fit]), torch.from_numpy(train_labels[fit])
    x_val, y_val = tensor(train_images[val]), torch.from_numpy(train_labels[val])

    net = model(args.arch)
    if args.weights:
        net.load_state_dict(torch.load(args.weights, map_location="cpu"))
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    # The rate drops after 2 epochs without a better validation loss, so the early stop (after
    # `patience`) comes after at least one epoch at the lower rate.
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1,
                                                           patience=max(args.patience - 2, 0))
    report = {"arch": args.arch, "weights": args.weights or "random (trained from scratch)",
              "seed": args.seed, "train_images": len(fit), "validation_images": len(val),
              "torch": torch.__version__, "torchvision": torchvision.__version__, "epochs": []}
    best, stale = float("inf"), 0
    best_path = os.path.join(args.out, "best.pt")
    for epoch in range(1, args.max_epochs + 1):
        start = time.time()
        net.train()
        perm = torch.from_numpy(rng.permutation(len(x_fit)))
        batches = range(0, len(perm), args.batch_size)
        if args.max_batches:
            batches = list(batches)[:args.max_batches]
        loss_sum, seen, correct = 0.0, 0, 0
        for i in batches:
            idx = perm[i:i + args.batch_size]
            x, y = x_fit[idx], y_fit[idx]
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)  # random horizontal flips
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            optimizer.zero_grad()
            out = net(x)
            loss = F.cross_entropy(out, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0)
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
            correct += (out.argmax(1) == y).sum().item()
        validation = evaluate(net, x_val, y_val, 512)
        scheduler.step(validation["loss"])
        row = {"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
               **{f"val_{k}": v for k, v in validation.items()}, "lr": optimizer.param_groups[0]["lr"],
               "seconds": round(time.time() - start, 1)}
        report["epochs"].append(row)
        print(f"epoch {epoch}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f} | validation "
              f"loss {validation['loss']:.4f} acc {validation['accuracy']:.4f} P {validation['precision']:.4f} "
              f"R {validation['recall']:.4f} F1 {validation['f1']:.4f} | {row['seconds']} s", flush=True)
        if validation["loss"] < best:
            best, stale = validation["loss"], 0
            torch.save(net.state_dict(), best_path)
            report["best_epoch"] = epoch
        else:
            stale += 1
            if stale >= args.patience:
                print(f"early stop: {stale} epochs without a better validation loss", flush=True)
                break
    net.load_state_dict(torch.load(best_path, map_location="cpu"))
    report["test"] = evaluate(net, tensor(test_images), torch.from_numpy(test_labels), 512)
    print(f"best epoch {report['best_epoch']}; test accuracy {report['test']['accuracy']:.4f} "
          f"F1 {report['test']['f1']:.4f}", flush=True)
    np.save(os.path.join(args.out, "train.npy"), embed(net, tensor(train_images), 512))
    np.save(os.path.join(args.out, "test.npy"), embed(net, tensor(test_images), 512))
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
