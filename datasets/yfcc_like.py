"""yfcc-like: synthetic data in the shapes and the four file formats of the big-ann-benchmarks
NeurIPS'23 filter track's YFCC-10M, so that `yfcc` and `yfcc-10M` can be built and run at their
real scale where the real files cannot be downloaded. The real loader (datasets/yfcc.py) reads
what this writes; the generator's description travels in GENERATED.json beside the files, and the
yfcc builder puts it on the dataset's card: nothing built from these files passes for YFCC.

How it is drawn (seeded, in chunks of CHUNK rows, so 10M fits in a few GB):
- vectors: 192-d uint8. 1,024 centres ~ N(128, 32²) per coordinate, cluster sizes Zipf(0.5);
  a vector is its centre + N(0, 24²) noise, rounded and clipped to [0, 255].
- tags: vocabulary 200,386. Each vector draws 1 + Poisson(10.6) tags, deduplicated (about
  10.8 remain, as in the track): with probability 0.4 from its cluster's topic (64
  tags taken from the global law, Zipf(1) within the topic), else from the global law, Zipf-Mandelbrot
  (1/(rank + 3)) over the vocabulary in a seeded random order of tag ids. So tags are long-tailed and correlated
  with where a vector lies, as photo tags are with image embeddings.
- queries: like the track's, a photo's own tags: each query item is a fresh vector of a random
  base vector's cluster, and keeps 1 or 2 (half each) of that base vector's tags. Single frequent
  tags pass tens of percent of the base, rare tags and pairs a handful of vectors.
"""
import json
import os
import time

import numpy as np

from datasets.formats import write_spmat
from harness.dataset import Csr

D = 192
VOCABULARY = 200_386  # the track's
CLUSTERS = 1024
TAG_DRAWS = 10.6  # 1 + Poisson(10.6) draws leave about 10.8 distinct tags a vector
TOPIC_SHARE = 0.4
TOPIC_TAGS = 64
TAG_RANK_OFFSET = 3  # Zipf-Mandelbrot: the most frequent tag on about a fifth of the vectors, not half
CHUNK = 250_000
SIZES = {"1M": 1_000_000, "10M": 10_000_000}
FILES = ("base.10M.u8bin", "base.metadata.10M.spmat", "query.public.100K.u8bin", "query.metadata.public.100K.spmat")
DESCRIPTION = "GENERATED.json"


def _zipf_cdf(n, exponent, offset=0):
    weights = 1.0 / (np.arange(1, n + 1) + offset) ** exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


class _Law:
    """The seeded world every chunk draws from: centres, cluster sizes, tag laws, topics."""

    def __init__(self, rng):
        self.centres = rng.normal(128, 32, size=(CLUSTERS, D)).astype(np.float32)
        self.cluster_cdf = _zipf_cdf(CLUSTERS, 0.5)
        self.tag_of_rank = rng.permutation(VOCABULARY).astype(np.int32)
        self.tag_cdf = _zipf_cdf(VOCABULARY, 1.0, offset=TAG_RANK_OFFSET)
        self.topics = self.tag_of_rank[np.searchsorted(self.tag_cdf, rng.random((CLUSTERS, TOPIC_TAGS)))]
        self.topic_cdf = _zipf_cdf(TOPIC_TAGS, 1.0)

    def clusters(self, rng, n):
        return np.minimum(np.searchsorted(self.cluster_cdf, rng.random(n)), CLUSTERS - 1)

    def vectors(self, rng, clusters):
        X = self.centres[clusters] + rng.normal(0, 24, size=(len(clusters), D)).astype(np.float32)
        return np.clip(np.rint(X), 0, 255).astype(np.uint8)

    def tags(self, rng, clusters):
        """A Csr of each item's distinct tags (sorted), drawn as the module docstring says."""
        draws = 1 + rng.poisson(TAG_DRAWS, size=len(clusters))
        row = np.repeat(np.arange(len(clusters)), draws)
        from_topic = rng.random(len(row)) < TOPIC_SHARE
        tag = self.tag_of_rank[np.minimum(np.searchsorted(self.tag_cdf, rng.random(len(row))), VOCABULARY - 1)]
        rank = np.minimum(np.searchsorted(self.topic_cdf, rng.random(int(from_topic.sum()))), TOPIC_TAGS - 1)
        tag[from_topic] = self.topics[clusters[row[from_topic]], rank]
        key = np.unique(row.astype(np.int64) * VOCABULARY + tag)  # sorted: by row, then tag
        indptr = np.searchsorted(key // VOCABULARY, np.arange(len(clusters) + 1))
        return Csr(indptr.astype(np.int64), (key % VOCABULARY).astype(np.int32))


def base_chunks(law, rng, size):
    """The base drawn CHUNK rows at a time: (first row, clusters, uint8 vectors, Csr of tags)."""
    for c0 in range(0, size, CHUNK):
        clusters = law.clusters(rng, min(CHUNK, size - c0))
        yield c0, clusters, law.vectors(rng, clusters), law.tags(rng, clusters)


def _write_u8bin_header(f, n):
    np.array([n, D], dtype=np.int32).tofile(f)


def generate(directory, size, n_queries=100_000, seed=0, command=None, log=print):
    """Write the four track files for `size` base vectors (and n_queries queries) into directory,
    with GENERATED.json saying how they were drawn (command: the command line that asked for them).
    Returns that description."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    law = _Law(rng)
    query_sources = np.sort(rng.choice(size, n_queries, replace=n_queries > size))
    source_clusters, source_tags = [], []
    indptr_parts, index_parts, offset = [np.zeros(1, np.int64)], [], 0
    started = time.perf_counter()
    base_path = os.path.join(directory, FILES[0])
    with open(base_path + ".part", "wb") as vectors_file:
        _write_u8bin_header(vectors_file, size)
        for c0, clusters, vectors, tags in base_chunks(law, rng, size):
            c1 = c0 + len(clusters)
            vectors.tofile(vectors_file)
            indptr_parts.append(tags.indptr[1:] + offset)
            index_parts.append(tags.indices)
            offset += len(tags.indices)
            here = query_sources[(query_sources >= c0) & (query_sources < c1)] - c0
            source_clusters.append(clusters[here])
            source_tags += [tags.row(i) for i in here]
            elapsed = time.perf_counter() - started
            log(f"  yfcc-like: {c1:,} / {size:,} base vectors ({elapsed:.0f} s, about "
                f"{elapsed / c1 * (size - c1):.0f} s left)")
    os.replace(base_path + ".part", base_path)
    labels = Csr(np.concatenate(indptr_parts), np.concatenate(index_parts))
    write_spmat(os.path.join(directory, FILES[1]), labels, VOCABULARY)

    clusters = np.concatenate(source_clusters)
    order = rng.permutation(n_queries)  # query i keeps the tags of a random source, not of the i-th in id order
    query_tags = [rng.choice(source_tags[j], min(len(source_tags[j]), 1 + int(rng.random() < 0.5)), replace=False)
                  for j in order]
    clusters_of_queries = clusters[order]
    with open(os.path.join(directory, FILES[2]), "wb") as f:
        _write_u8bin_header(f, n_queries)
        law.vectors(rng, clusters_of_queries).tofile(f)
    write_spmat(os.path.join(directory, FILES[3]), Csr.from_rows(query_tags), VOCABULARY)

    frequency = np.bincount(labels.indices, minlength=VOCABULARY) / size
    description = {
        "generator": command or f"datasets.yfcc_like.generate(size={size}, n_queries={n_queries}, seed={seed})",
        "synthetic": "yes: no vector or tag comes from YFCC100M",
        "shapes": f"{size:,} x {D} uint8 base, {n_queries:,} queries, vocabulary {VOCABULARY:,}",
        "tags_per_vector": round(len(labels.indices) / size, 2),
        "most_frequent_tag_share": round(float(frequency.max()), 4),
        "tags_used": int((frequency > 0).sum()),
        "how": __doc__.split("How it is drawn", 1)[1].split("\n", 1)[1].strip(),
    }
    with open(os.path.join(directory, DESCRIPTION), "w") as f:
        json.dump(description, f, indent=1)
    log(f"  yfcc-like: {description['tags_per_vector']} tags a vector, the most frequent on "
        f"{100 * description['most_frequent_tag_share']:.1f}% of vectors, {description['tags_used']:,} tags used; "
        f"{time.perf_counter() - started:.0f} s")
    return description


def read_description(directory):
    """GENERATED.json of a directory this module wrote, or None for the track's own files."""
    path = os.path.join(directory, DESCRIPTION)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)
