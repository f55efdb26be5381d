"""yfcc / yfcc-10M: the big-ann-benchmarks NeurIPS'23 filter track's YFCC-10M data.

10,000,000 CLIP vectors (192-d, uint8, euclidean) with their tags (vocabulary 200,386) as labels,
and 100,000 queries with 1 or 2 tags that must all be present. `yfcc` is a seeded random
1,000,000-vector subset (as in the FANNS paper), `yfcc-10M` the whole set. The track's own query
tags are kept as the containment workload; ground truth is computed here for the base in use
(the track's GT.public.ibin holds only for the whole 10M). Its queries carry no tags of their own
beyond the filter, so overlap uses the track's tags too and equality takes the label sets of
random base vectors; fixed-length labels are generated (F=4 × V=3).

Files (from the track's download directory, see ../shared/docs/anchors.md), read from --source DIR:
    base.10M.u8bin  base.metadata.10M.spmat  query.public.100K.u8bin  query.metadata.public.100K.spmat
"""
import json
import os

import numpy as np

from datasets.formats import read_spmat, read_vectors
from datasets.workloads import (FIXED_LABELS_ABOUT, LABEL_SCENARIOS, SYNTHETIC_ATTRIBUTES, SYNTHETIC_FIXED, build_arrays,
                                fixed_length_labels, label_attributes)
from datasets.yfcc_like import read_description
from harness.dataset import Csr

FILES = {"base": "base.10M.u8bin", "base_labels": "base.metadata.10M.spmat",
         "queries": "query.public.100K.u8bin", "query_labels": "query.metadata.public.100K.spmat"}
SIZES = {"base.10M.u8bin": "1.92 GB", "base.metadata.10M.spmat": "946 MB", "query.public.100K.u8bin": "19.2 MB",
         "query.metadata.public.100K.spmat": "about 2 MB"}
URL = "https://dl.fbaipublicfiles.com/billion-scale-ann-benchmarks/yfcc100M/"


class MissingSource(Exception):
    pass


def source_files(source):
    missing = [name for name in FILES.values() if not os.path.exists(os.path.join(source, name))]
    if missing:
        listed = ", ".join(f"{name} ({SIZES[name]})" for name in missing)
        raise MissingSource(f"the YFCC-10M files are not in {source}: {listed}. This machine cannot reach {URL}: "
                            f"download them there on another machine, copy them into DIR/yfcc/")
    return {key: os.path.join(source, name) for key, name in FILES.items()}


def build(source, base_size=1_000_000, n_queries=10_000, seed=0, log=print):
    files = source_files(source)
    rng = np.random.default_rng(seed)
    vectors = read_vectors(files["base"])
    labels = read_spmat(files["base_labels"])
    queries = read_vectors(files["queries"])
    query_tags = read_spmat(files["query_labels"])
    if len(labels) != len(vectors) or len(query_tags) != len(queries):
        raise MissingSource(f"{source}: {len(vectors)} base vectors but {len(labels)} label rows, or "
                            f"{len(queries)} queries but {len(query_tags)} query label rows")
    n = len(vectors) if base_size is None or base_size >= len(vectors) else base_size
    base_ids = np.sort(rng.choice(len(vectors), n, replace=False)) if n < len(vectors) else np.arange(n)
    query_ids = np.sort(rng.choice(len(queries), min(n_queries, len(queries)), replace=False))
    log(f"  yfcc: {n:,} of {len(vectors):,} base vectors, {len(query_ids):,} of {len(queries):,} queries")
    vocabulary = labels.vocabulary
    tags = [query_tags.row(i) for i in query_ids]
    all_labels = labels.take(base_ids).concat(Csr.from_rows(tags))
    all_labels.vocabulary = vocabulary
    fixed = fixed_length_labels(n + len(query_ids), rng)
    attributes, query_attributes = label_attributes(all_labels, fixed, np.arange(n), np.arange(n, n + len(query_ids)))
    arrays, stats = build_arrays(
        np.asarray(vectors[base_ids]), np.asarray(queries[query_ids]), "euclidean", attributes, query_attributes,
        LABEL_SCENARIOS, rng, log=log, given={"containment": tags, "overlap": tags})
    attrs = {"distance": "euclidean", "dimension": vectors.shape[1], "point_type": "uint8", "seed": seed,
             "source": "big-ann-benchmarks NeurIPS'23 filter track, YFCC-10M (CLIP embeddings of YFCC100M images)",
             "license": "YFCC100M: Creative Commons licences of the individual images; see the track's terms", **stats,
             **SYNTHETIC_FIXED}
    generated = read_description(source)
    if generated is not None:  # files of `python -m datasets yfcc-like`: the card must say so
        attrs["source"] = (f"SYNTHETIC, not YFCC: files in the track's formats drawn by `{generated['generator']}` "
                           f"({generated['shapes']}; {generated['how']})")
        attrs["license"] = "none needed: synthetic data drawn by FilterBench"
        attrs[SYNTHETIC_ATTRIBUTES] = json.dumps({"labels": "tags drawn at random, Zipf-distributed and correlated with "
                                                            "vector clusters (datasets/yfcc_like.py)",
                                                  "fixed": FIXED_LABELS_ABOUT})
    return attrs, arrays
