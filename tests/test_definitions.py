"""Plugin configs: grids expand as cartesian products, constraints skip and count, errors name file and key."""
import textwrap

import pytest

from harness.definitions import ConfigError, MAX_DEFAULT_BUILDS, expand, load_all, load_config, select


def write(tmp_path, text, plugin="toy"):
    folder = tmp_path / plugin
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yml"
    path.write_text(textwrap.dedent(text))
    return str(path)


TOY = """
    module: toy.module
    algorithms:
      toy:
        class: Toy
        args: {mode: fast}
        scenarios: [containment]
        runs:
          smoke: {build: {M: 4}, query: {ef: 8}}
          grid:
            build: {M: [4, 8, 16], L: [8, 32]}
            query: {ef: [10, 20]}
            constraints: ["L >= 2 * M", "ef >= M"]
          big: {opt_in: true, build: {M: [1, 2]}}
    """


def test_grid_is_the_cartesian_product_and_constraints_skip_and_count(tmp_path):
    [cfg] = load_config(write(tmp_path, TOY))
    defs, skipped = expand(cfg, cfg.groups["grid"], dimension=16)
    builds = [(d.build_args["M"], d.build_args["L"]) for d in defs]
    assert builds == [(4, 8), (4, 32), (8, 32), (16, 32)]  # (8, 8), (16, 8) violate L >= 2M
    assert [d.query_args for d in defs if d.build_args["M"] == 16] == [[{"ef": 20}]]  # ef=10 < M
    assert skipped == 2 * 2 + 1  # two builds × two query settings, plus one query setting
    assert defs[0].build_args["mode"] == "fast"  # fixed constructor args are part of every build
    assert defs[0].run_name({"ef": 10}) == "L=8_M=4_mode=fast__ef=10"


def test_selection_by_plugin_algorithm_group_and_qualified_group(tmp_path):
    write(tmp_path, TOY)
    configs = load_all(str(tmp_path))
    groups = lambda sel: [g.name for _, g in select(configs, sel)]
    assert groups(["toy"]) == ["grid"]                # defaults: neither smoke nor opt-in
    assert groups(["smoke"]) == ["smoke"]
    assert groups(["toy/big"]) == ["big"]
    assert groups([]) == ["grid"]
    with pytest.raises(ConfigError, match="--algorithm nope"):
        select(configs, ["nope"])


@pytest.mark.parametrize("text, where", [
    ("module: m\nalgorithms: {a: {class: A, runs: {smoke: {}}}\n", "not valid YAML"),
    ("module: m\nalgorithm: {}\n", "algorithm: unknown key"),
    ("algorithms: {a: {class: A, runs: {smoke: {}}}}\n", ".module: missing"),
    ("module: m\nalgorithms: {a: {class: A, runs: {other: {}}}}\n", "algorithms.a.runs.smoke: missing"),
    ("module: m\nalgorithms: {a: {class: A, runs: {smoke: {bild: {}}}}}\n", "algorithms.a.runs.smoke.bild: unknown key"),
    ("module: m\nalgorithms: {a: {class: A, scenarios: [contains], runs: {smoke: {}}}}\n", "algorithms.a.scenarios: 'contains'"),
    ("module: m\nalgorithms: {a: {class: A, runs: {smoke: {build: {M: []}}}}}\n", "algorithms.a.runs.smoke.build.M: empty"),
    ("module: m\nalgorithms: {a: {class: A, runs: {smoke: {build: {M: 2}, constraints: ['M <']}}}}\n",
     "algorithms.a.runs.smoke.constraints[0]: 'M <' is not a valid expression"),
    ("module: m\nalgorithms: {a: {class: A, runs: {smoke: {build: {M: 2}, constraints: ['K > 1']}}}}\n",
     "uses 'K', which is no build or query argument"),
    ("module: m\nalgorithms: {a: {class: A, runs: {smoke: {constraints: ['__import__(1)']}}}}\n", "uses '__import__'"),
])
def test_malformed_configs_name_file_and_key(tmp_path, text, where):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert path in str(e.value) and where in str(e.value)


def test_every_plugin_loads_has_smoke_and_small_default_groups():
    configs = load_all()
    assert {"bruteforce", "faiss-flat", "faiss-hnsw", "faiss-hnsw-bitmap", "faiss-ivf", "faiss-ivf-bitmap",
            "faiss-pq", "faiss-lsh", "hnswlib", "hnswlib-post", "annoy"} <= set(configs)
    total = 0
    for cfg in configs.values():
        assert "smoke" in cfg.groups
        for dimension in (50, 192, 384):
            builds = sum(len(expand(cfg, g, dimension)[0]) for g in cfg.default_groups())
            assert builds <= MAX_DEFAULT_BUILDS, (cfg.name, dimension, builds)
            assert builds >= 1, (cfg.name, dimension)
        total += 1
    assert total == len(configs)
