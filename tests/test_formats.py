"""Binary and text formats read right on hand-written files; YFCC converts end to end from tiny files."""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from datasets.formats import (FormatError, read_ibin, read_label_lines, read_pair_ground_truth, read_spmat,
                              read_vectors, write_ibin, write_spmat, write_vectors)
from harness.dataset import Csr, Dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_hand_written_files(tmp_path):
    (tmp_path / "a.fbin").write_bytes(struct.pack("<ii", 2, 3) + struct.pack("<6f", 1, 2, 3, 4, 5, 6))
    assert read_vectors(str(tmp_path / "a.fbin")).tolist() == [[1, 2, 3], [4, 5, 6]]
    (tmp_path / "a.u8bin").write_bytes(struct.pack("<ii", 1, 4) + bytes([0, 7, 255, 3]))
    assert read_vectors(str(tmp_path / "a.u8bin")).tolist() == [[0, 7, 255, 3]]
    (tmp_path / "a.fvecs").write_bytes(struct.pack("<i2f", 2, 0.5, 1.5) + struct.pack("<i2f", 2, 2.5, 3.5))
    assert read_vectors(str(tmp_path / "a.fvecs")).tolist() == [[0.5, 1.5], [2.5, 3.5]]
    (tmp_path / "a.bin").write_bytes(struct.pack("<II", 1, 2) + struct.pack("<2f", 9, 8))
    assert read_vectors(str(tmp_path / "a.bin")).tolist() == [[9, 8]]
    # .spmat: 2 rows, 5 columns, 3 entries: row 0 = {1, 4}, row 1 = {2}
    (tmp_path / "a.spmat").write_bytes(struct.pack("<3q", 2, 5, 3) + struct.pack("<3q", 0, 2, 3)
                                       + struct.pack("<3i", 1, 4, 2) + struct.pack("<3f", 1, 1, 1))
    csr = read_spmat(str(tmp_path / "a.spmat"))
    assert [list(r) for r in csr.rows()] == [[1, 4], [2]] and len(csr.vocabulary) == 5
    (tmp_path / "gt.ibin").write_bytes(struct.pack("<ii", 1, 2) + struct.pack("<2i", 7, 3) + struct.pack("<2f", .5, 1))
    ids, dist = read_ibin(str(tmp_path / "gt.ibin"))
    assert ids.tolist() == [[7, 3]] and dist.tolist() == [[.5, 1]]
    (tmp_path / "labels.txt").write_text("1,2\n\n3\n")
    assert [list(r) for r in read_label_lines(str(tmp_path / "labels.txt")).rows()] == [[1, 2], [], [3]]
    (tmp_path / "gt.bin").write_bytes(struct.pack("<IfIf", 4, .25, 9, .5))
    ids, dist = read_pair_ground_truth(str(tmp_path / "gt.bin"), 1)
    assert ids.tolist() == [[4, 9]] and dist.tolist() == [[.25, .5]]


def test_round_trips_and_truncation(tmp_path):
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    for ext in (".fbin", ".fvecs", ".bin"):
        write_vectors(str(tmp_path / f"x{ext}"), X)
        assert np.array_equal(read_vectors(str(tmp_path / f"x{ext}")), X)
    ids, dist = np.arange(6).reshape(2, 3), np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    write_ibin(str(tmp_path / "gt.ibin"), ids, dist)
    got_ids, got_dist = read_ibin(str(tmp_path / "gt.ibin"))
    assert np.array_equal(got_ids, ids) and np.array_equal(got_dist, dist)
    data = (tmp_path / "x.fbin").read_bytes()
    (tmp_path / "cut.fbin").write_bytes(data[:-4])
    with pytest.raises(FormatError, match="cut.fbin: 64 bytes, but its header promises 68"):
        read_vectors(str(tmp_path / "cut.fbin"))
    (tmp_path / "bad.txt").write_text("1,x\n")
    with pytest.raises(FormatError, match="bad.txt:1"):
        read_label_lines(str(tmp_path / "bad.txt"))


def write_tiny_yfcc(directory, n=3000, nq=300, d=8, vocabulary=60, seed=0):
    """Tiny files in exactly the track's formats: uint8 vectors, tag CSR matrices."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    write_vectors(str(directory / "base.10M.u8bin"), rng.integers(0, 256, (n, d)).astype(np.uint8))
    write_vectors(str(directory / "query.public.100K.u8bin"), rng.integers(0, 256, (nq, d)).astype(np.uint8))
    weights = 1 / np.arange(1, vocabulary + 1)
    base = [rng.choice(vocabulary, rng.integers(1, 8), replace=False, p=weights / weights.sum()) for _ in range(n)]
    write_spmat(str(directory / "base.metadata.10M.spmat"), Csr.from_rows(base), vocabulary)
    queries = []  # 1 or 2 tags, taken from a random base item as the track's are from real photos
    for i in range(nq):
        item = base[rng.integers(n)]
        queries.append(rng.choice(item, min(len(item), 1 + i % 2), replace=False))
    write_spmat(str(directory / "query.metadata.public.100K.spmat"), Csr.from_rows(queries), vocabulary)
    return queries


def test_yfcc_converts_from_the_track_formats_and_runs(tmp_path):
    queries = write_tiny_yfcc(tmp_path / "raw" / "yfcc")
    env = dict(os.environ, FILTERBENCH_RAW=str(tmp_path / "raw"), FILTERBENCH_DATA=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "run.py", "--local", "--dataset", "yfcc", "--algorithm", "bruteforce",
                           "--runs", "1", "--results", str(tmp_path / "results")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ds = Dataset(tmp_path / "data" / "yfcc.hdf5")
    assert ds.n == 3000 and ds.d == 8 and ds.nq == 300 and len(ds.labels.vocabulary) == 60
    assert set(ds.scenarios) == {"containment", "overlap", "equality", "fixed_equality"}
    kept = [i for i in range(ds.nq) if list(ds.scenarios["containment"].operands[i]) == sorted(queries[i])]
    assert len(kept) > ds.nq // 2  # the track's own tags, except where fewer than 10 vectors pass
    assert "bruteforce" in proc.stdout and "<0.9" not in proc.stdout.split("bruteforce")[-1].splitlines()[0]


def test_fanns_release_and_generic_imports_run(tmp_path):
    from datasets.formats import write_label_lines
    rng = np.random.default_rng(3)
    base = rng.normal(size=(1500, 6)).astype(np.float32)
    labels = Csr.from_rows([rng.choice(12, rng.integers(1, 4), replace=False) for _ in range(1500)])
    release = tmp_path / "release"
    release.mkdir()
    write_vectors(str(release / "base.fvecs"), base)
    write_vectors(str(release / "query.fvecs"), rng.normal(size=(40, 6)).astype(np.float32))
    write_label_lines(str(release / "label_base.txt"), labels)
    for word in ("and", "or", "equal"):
        write_label_lines(str(release / f"X_query_{word}.txt"), Csr.from_rows([labels.row(i) for i in range(40)]))
    np.save(tmp_path / "generic.npy", base)
    env = dict(os.environ, FILTERBENCH_DATA=str(tmp_path / "data"))
    for name, extra in [("fanns", ["--base", str(release / "base.fvecs"), "--queries", str(release / "query.fvecs"),
                                   "--fanns-dir", str(release)]),
                        ("generic", ["--base", str(tmp_path / "generic.npy"), "--holdout", "50"])]:
        proc = subprocess.run([sys.executable, "-m", "datasets", "import", name, "--base-labels",
                               str(release / "label_base.txt"), *extra], capture_output=True, text=True, cwd=ROOT, env=env)
        assert proc.returncode == 0, proc.stderr
        ds = Dataset(tmp_path / "data" / f"{name}.hdf5")
        assert set(ds.scenarios) == {"containment", "overlap", "equality", "fixed_equality"}
        run = subprocess.run([sys.executable, "run.py", "--local", "--dataset", name, "--algorithm", "bruteforce",
                              "--runs", "1", "--results", str(tmp_path / "results")],
                             capture_output=True, text=True, cwd=ROOT, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
    fanns = Dataset(tmp_path / "data" / "fanns.hdf5")
    kept = sum(list(fanns.scenarios["equality"].operands[i]) == sorted(labels.row(i)) for i in range(40))
    assert kept > 0 and fanns.nq == 40 and fanns.n == 1500  # the release's own query label sets, where >= 10 pass
    bad = subprocess.run([sys.executable, "-m", "datasets", "import", "x", "--base", str(tmp_path / "generic.npy"),
                          "--base-labels", str(release / "X_query_and.txt"), "--holdout", "5"],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert bad.returncode == 2 and "40 label lines for 1500 vectors" in bad.stderr


def test_idx_reader_and_fashion_mnist_pixels(tmp_path):
    import gzip
    from datasets import fashion_mnist
    header = bytes([0, 0, 0x08, 3]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    with gzip.open(tmp_path / "x-idx3-ubyte.gz", "wb") as f:
        f.write(header + bytes(range(12)))
    assert fashion_mnist.read_idx(str(tmp_path / "x-idx3-ubyte.gz")).tolist() == [[[0, 1, 2], [3, 4, 5]],
                                                                                [[6, 7, 8], [9, 10, 11]]]
    if not os.path.exists(fashion_mnist.DIRECTORY):
        if os.environ.get("CI"):
            pytest.fail("CI must build fashion-mnist-784: apt-get install dataset-fashion-mnist")
        pytest.skip("no dataset-fashion-mnist package")
    env = dict(os.environ, FILTERBENCH_DATA=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "run.py", "--local", "--dataset", "fashion-mnist-784-xs", "--algorithm",
                           "bruteforce", "--scenario", "unfiltered", "-k", "5", "--runs", "1",
                           "--results", str(tmp_path / "results")], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ds = Dataset(tmp_path / "data" / "fashion-mnist-784-xs.hdf5")
    assert ds.d == 784 and ds.single_label_classes() is not None and len(ds.labels.vocabulary) == 10
    from harness.export import collect
    [row] = collect(str(tmp_path / "results"), "fashion-mnist-784-xs",
                    datasets_lookup=lambda name: str(tmp_path / "data" / f"{name}.hdf5"))
    assert row["recall"] == 1.0 and 0.5 < row["label_precision"] <= 1
