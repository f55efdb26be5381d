"""Plugin configs: grids expand as cartesian products, constraints skip and count, errors name file and key."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

from harness.definitions import ConfigError, MAX_DEFAULT_BUILDS, expand, load_all, load_config, select

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TOY_MODULE = """
    from algorithms.base import FilteredANN


    class Toy(FilteredANN):
        def __init__(self, distance, mode="fast", M=4, L=8):
            super().__init__(distance)

        def set_query_arguments(self, ef=8):
            self.ef = ef
    """


def write(tmp_path, text, plugin="toy", module=TOY_MODULE):
    """A plugin folder tmp_path/plugins/<plugin>/ (importable as plugins.<plugin>.module)."""
    folder = tmp_path / "plugins" / plugin
    folder.mkdir(parents=True, exist_ok=True)
    (tmp_path / "plugins" / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    (folder / "module.py").write_text(textwrap.dedent(module))
    path = folder / "config.yml"
    path.write_text(textwrap.dedent(text))
    return str(path)


TOY = """
    module: plugins.toy.module
    algorithms:
      toy:
        class: Toy
        args: {mode: fast}
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
    configs = load_all(str(tmp_path / "plugins"))
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
    ("module: m\nalgorithms: {a: {class: A, scenarios: [containment], runs: {smoke: {}}}}\n",
     "algorithms.a.scenarios: the plugin's class declares this now (predicates = ... in A); remove it here"),
    ("module: m\nalgorithms: {a: {class: A, runs: {smoke: {build: {M: []}}}}}\n", "algorithms.a.runs.smoke.build.M: empty"),
    ("module: m\nalgorithms: {a: {class: A, runs: {smoke: {build: {M: 2}, constraints: ['M <']}}}}\n",
     "algorithms.a.runs.smoke.constraints[0]: 'M <' is not a valid expression"),
    ("module: m\nalgorithms: {a: {class: A, runs: {smoke: {build: {M: 2}, constraints: ['K > 1']}}}}\n",
     "uses 'K', which is no build or query argument"),
    ("module: m\nalgorithms: {a: {class: A, runs: {smoke: {constraints: ['__import__(1)']}}}}\n", "may only call min, max, abs"),
    ("module: m\ndocker_only: yes please\nalgorithms: {a: {class: A, runs: {smoke: {}}}}\n",
     "docker_only: expected true or false, got 'yes please'"),
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


# --- Config edge cases: each mistake is one line naming the file and key, at load -----------------

@pytest.mark.parametrize("constraint, message", [
    ("M < 9**9**9", "too large to evaluate"),
    ("M < 2 ** 100000", "too large to evaluate"),
    ("mode > 3", "compares 'fast' with 3: a string with a number"),
    ("mode * 1000000000 > 1", "does arithmetic on 'fast'"),
    ("M / 0 > 1", "division by zero"),
])
def test_constraints_are_evaluated_safely_with_bounded_cost(tmp_path, constraint, message):
    text = TOY.replace('constraints: ["L >= 2 * M", "ef >= M"]', f'constraints: ["{constraint}"]')
    path = write(tmp_path, text)
    start = time.time()
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert time.time() - start < 2
    assert path in str(e.value) and "runs.grid.constraints" in str(e.value) and message in str(e.value)
    assert len(str(e.value).splitlines()) == 1


def test_constraints_on_the_dimension_are_checked_when_it_is_known(tmp_path):
    text = TOY.replace('constraints: ["L >= 2 * M", "ef >= M"]', 'constraints: ["dimension ** dimension > M"]')
    [cfg] = load_config(write(tmp_path, text))
    with pytest.raises(ConfigError, match="too large to evaluate"):
        expand(cfg, cfg.groups["grid"], dimension=384)


@pytest.mark.parametrize("edit, where", [
    (("build: {M: [4, 8, 16], L: [8, 32]}", "build: {M: [4, 8, 16], L: [8, 32], efConstruction: [10]}"),
     "runs.grid.build.efConstruction: Toy.__init__ takes no argument 'efConstruction' (it takes: mode, M, L)"),
    (("query: {ef: [10, 20]}", "query: {ef: [10, 20], efSearch: [5]}"),
     "runs.grid.query.efSearch: Toy.set_query_arguments takes no argument 'efSearch' (it takes: ef)"),
    (("args: {mode: fast}", "args: {mode: fast, typo: 1}"), "args.typo: Toy.__init__ takes no argument 'typo'"),
])
def test_arguments_are_checked_against_the_plugin_class_at_load(tmp_path, edit, where):
    path = write(tmp_path, TOY.replace(*edit))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(path) and where in str(e.value)


def test_arguments_are_read_from_base_classes_and_kwargs_leave_them_open(tmp_path):
    derived = TOY_MODULE + """

    class Derived(Toy):
        pass


    class Open(FilteredANN):
        def __init__(self, distance, **anything):
            super().__init__(distance)
    """
    text = """
    module: plugins.toy.module
    algorithms:
      derived: {class: Derived, runs: {smoke: {build: {M: 4}, query: {ef: 1}}}}
      open: {class: Open, runs: {smoke: {build: {whatever: 1}}}}
    """
    assert [c.name for c in load_config(write(tmp_path, text, module=derived))] == ["derived", "open"]
    bad = text.replace("query: {ef: 1}", "query: {nprobe: 1}")
    with pytest.raises(ConfigError, match="Derived.set_query_arguments takes no argument 'nprobe'"):
        load_config(write(tmp_path, bad, module=derived))


def test_every_plugin_names_its_arguments():
    # No plugin class takes **kwargs, so every config of the project is checked.
    from harness.definitions import _method_parameters, _search_roots
    for cfg in load_all().values():
        for method in ("__init__", "set_query_arguments"):
            names, open_ended = _method_parameters(cfg.module, cfg.cls, method, _search_roots(cfg.path))
            assert not open_ended, (cfg.name, method)


@pytest.mark.parametrize("name, where", [("../../../../x", "algorithms.../../../../x"), ("a/b", "algorithms.a/b"),
                                         (".hidden", "algorithms..hidden")])
def test_names_that_are_not_one_path_component_are_refused(tmp_path, name, where):
    text = TOY.replace("  toy:\n", f"  '{name}':\n")
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    assert where in str(e.value) and "is not a safe name" in str(e.value)


def test_group_names_are_checked_too(tmp_path):
    with pytest.raises(ConfigError, match=r"runs\.\.\./x: run group name '\.\./x' is not a safe name"):
        load_config(write(tmp_path, TOY.replace("big: {opt_in", "'../x': {opt_in")))


def test_missing_module_and_missing_plugin_directory(tmp_path):
    with pytest.raises(ConfigError, match="module: 'plugins.toy.nope' is no Python file"):
        load_config(write(tmp_path, TOY.replace("plugins.toy.module", "plugins.toy.nope")))
    for args, message in [(["--plugins", str(tmp_path / "nonexistent")], "no such plugin directory"),
                          (["--plugins", str(tmp_path / "plugins" / "toy")], "holds no plugin folder")]:
        proc = subprocess.run([sys.executable, "run.py", "--local", *args], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_what_a_plugin_answers_is_read_from_its_class(tmp_path):
    module = TOY_MODULE + """

    class Ranges(Toy):
        predicates = ("range", "unfiltered")
        builds_on_attribute = True
        uses_filter_map = False


    class Typo(Toy):
        predicates = ("ranges",)
    """
    text = """
    module: plugins.toy.module
    algorithms:
      toy: {class: Toy, runs: {smoke: {}}}
      ranges: {class: Ranges, runs: {smoke: {}}}
    """
    toy, ranges = load_config(write(tmp_path, text, module=module))
    assert (toy.predicates, toy.builds_on_attribute, toy.uses_filter_map) == ("all", False, True)  # FilteredANN's
    assert (ranges.predicates, ranges.builds_on_attribute, ranges.uses_filter_map) == (["range", "unfiltered"], True,
                                                                                        False)
    assert toy.answers({"kind": "and", "parts": [{"kind": "range"}, {"kind": "equality"}]})
    assert ranges.answers({"kind": "range"}) and ranges.answers(None)
    assert not ranges.answers({"kind": "and", "parts": [{"kind": "range"}, {"kind": "equality"}]})
    with pytest.raises(ConfigError, match=r"Typo.predicates is \('ranges',\): \"all\" or a tuple of and, containment"):
        load_config(write(tmp_path, text.replace("Ranges", "Typo"), module=module))


def test_a_database_plugin_gets_every_attribute_in_one_build_and_its_defaults_are_read(tmp_path):
    module = TOY_MODULE + """

    class Rows(Toy):
        builds_on_attribute = "all"

        def __init__(self, distance, index="hnsw", m=16):
            super().__init__(distance)

        def set_query_arguments(self, ef_search=40, iterative_scan="off"):
            pass


    class Wrong(Toy):
        builds_on_attribute = "every"
    """
    text = """
    module: plugins.toy.module
    database: true
    algorithms:
      rows: {class: Rows, runs: {smoke: {}}}
    """
    (rows,) = load_config(write(tmp_path, text, module=module))
    assert rows.builds_on_attribute == "all" and rows.database
    assert rows.defaults == {"index": "hnsw", "m": 16, "ef_search": 40, "iterative_scan": "off"}
    with pytest.raises(ConfigError, match=r"Wrong.builds_on_attribute is 'every': True, False or \"all\""):
        load_config(write(tmp_path, text.replace("Rows", "Wrong"), module=module))
    from harness.worker import fit_groups
    from harness.definitions import expand
    (defn,), _ = expand(rows, rows.groups["smoke"], 8)

    class Dataset:
        attributes = {"labels": "L", "year": "Y"}
    todo = [{"scenario": "containment"}, {"scenario": "range"}, {"scenario": "unfiltered"}]
    assert fit_groups(defn, Dataset(), todo) == [({"labels": "L", "year": "Y"}, todo)]  # one build, whole rows
