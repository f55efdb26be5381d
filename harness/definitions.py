"""Plugin configs (algorithms/<folder>/config.yml) and their expansion into runs.

    module: algorithms.faiss.module        # where the classes live
    packages: [faiss-cpu]                  # installed in its image (versions from requirements.txt),
                                           # and recorded with every result
    native: false                          # true: uses the extension compiled from native/
    algorithms:
      faiss-hnsw:                          # the name results and the leaderboard show
        class: FaissHNSW
        args: {filtering: post}            # fixed constructor arguments
        description: ...
        scenarios: [containment, overlap, equality, fixed_equality]   # "unfiltered" always runs
        distances: [euclidean, angular, ip]
        label_aware: false                 # true: needs base labels to build, refitted per assignment
        uses_filter_map: true              # false: the plugin filters on its own labels
        runs:                              # run groups; `smoke` (CI) and `opt_in: true` ones run only when named
          smoke: {build: {M: [16]}, query: {efSearch: [64]}}
          default:
            build: {M: [16, 32], efConstruction: [40, 200]}       # cartesian product
            query: {efSearch: [16, 32, 64, 128]}
            constraints: ["efConstruction >= M"]     # skipped and counted when false; may use `dimension`

`--algorithm X` selects: a plugin folder, an algorithm, a run group name (in any algorithm), or
`algorithm/group`. A plugin folder or algorithm means its default groups (its smoke group when
it has no other).
"""
import ast
import glob
import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass, field

import yaml

from harness.dataset import DISTANCES
from harness.filters import SCENARIOS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALGORITHMS_DIR = os.path.join(ROOT, "algorithms")
MAX_DEFAULT_BUILDS = 15

_TOP_KEYS = {"module", "native", "packages", "algorithms"}
_ALGO_KEYS = {"class", "args", "description", "scenarios", "distances", "label_aware", "uses_filter_map", "runs"}
_GROUP_KEYS = {"build", "query", "constraints", "opt_in"}
_SAFE_FUNCTIONS = {"min": min, "max": max, "abs": abs}


class ConfigError(Exception):
    """A malformed plugin config; the message names the file and the key."""


@dataclass
class Definition:
    """One build configuration of one algorithm, with the query-argument sets to run on it."""
    algorithm: str
    plugin: str            # the plugin's folder name
    plugin_dir: str        # its path
    group: str
    module: str
    cls: str
    image: str
    packages: list
    build_args: dict
    query_args: list
    scenarios: list
    distances: list
    label_aware: bool = False
    uses_filter_map: bool = True
    skipped_queries: int = 0  # query-arg sets dropped by constraints

    @property
    def build_name(self):
        return args_name(self.build_args) or "default"

    def run_name(self, query_args):
        return f"{self.build_name}__{args_name(query_args) or 'default'}"

    def to_json(self):
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


def args_name(args):
    """A file-name-safe, readable name for an argument set, e.g. M=16_efConstruction=40."""
    parts = [f"{k}={args[k]}" for k in sorted(args)]
    name = re.sub(r"[^A-Za-z0-9=._,+-]", "-", "_".join(parts))
    return name if len(name) <= 120 else name[:100] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]


@dataclass
class Group:
    name: str
    build: dict
    query: dict
    constraints: list
    opt_in: bool


@dataclass
class AlgorithmConfig:
    name: str
    plugin: str
    path: str
    module: str
    cls: str
    image: str
    packages: list
    args: dict
    description: str
    scenarios: list
    distances: list
    label_aware: bool
    uses_filter_map: bool
    groups: dict = field(default_factory=dict)

    def default_groups(self):
        """Groups run unless others are named: all but `smoke` and opt-in ones (smoke if none)."""
        groups = [g for g in self.groups.values() if not g.opt_in and g.name != "smoke"]
        return groups or [self.groups["smoke"]]


def _check_mapping(value, where, allowed=None, required=()):
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    if allowed is not None:
        for key in value:
            if key not in allowed:
                raise ConfigError(f"{where}.{key}: unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in required:
        if key not in value:
            raise ConfigError(f"{where}.{key}: missing")
    return value


def _check_list(value, where, choices=None):
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
    if choices is not None:
        for v in value:
            if v not in choices:
                raise ConfigError(f"{where}: '{v}' is not one of {', '.join(choices)}")
    return value


def _check_grid(value, where):
    grid = _check_mapping(value or {}, where)
    out = {}
    for key, values in grid.items():
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ConfigError(f"{where}.{key}: empty list of values")
        for v in values:
            if not isinstance(v, (int, float, str, bool)):
                raise ConfigError(f"{where}.{key}: values must be numbers, strings or booleans, got {v!r}")
        out[str(key)] = values
    return out


def _check_constraints(value, where, names):
    constraints = _check_list(value or [], where)
    for i, expr in enumerate(constraints):
        if not isinstance(expr, str):
            raise ConfigError(f"{where}[{i}]: expected an expression string, got {expr!r}")
        try:
            tree = ast.parse(expr, mode="eval")
        except SyntaxError as e:
            raise ConfigError(f"{where}[{i}]: '{expr}' is not a valid expression ({e.msg})") from None
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id not in names and node.id not in _SAFE_FUNCTIONS:
                raise ConfigError(f"{where}[{i}]: '{expr}' uses '{node.id}', which is no build or query argument")
            if isinstance(node, (ast.Attribute, ast.Lambda, ast.Subscript)):
                raise ConfigError(f"{where}[{i}]: '{expr}' may only compare arguments with arithmetic")
    return constraints


def load_config(path):
    """All algorithms of one config.yml, validated."""
    plugin = os.path.basename(os.path.dirname(path))
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    raw = _check_mapping(raw, path, _TOP_KEYS, required=("module", "algorithms"))
    algorithms = _check_mapping(raw["algorithms"], f"{path}: algorithms")
    if not algorithms:
        raise ConfigError(f"{path}: algorithms: declares no algorithm")
    configs = []
    for name, spec in algorithms.items():
        where = f"{path}: algorithms.{name}"
        spec = _check_mapping(spec, where, _ALGO_KEYS, required=("class", "runs"))
        runs = _check_mapping(spec["runs"], f"{where}.runs")
        if "smoke" not in runs:
            raise ConfigError(f"{where}.runs.smoke: missing (every plugin has a small smoke group that CI runs)")
        cfg = AlgorithmConfig(
            name=str(name), plugin=plugin, path=path, module=str(raw["module"]), cls=str(spec["class"]),
            image=f"filterbench-{plugin}",  # built by `python -m install` from the folder
            packages=_check_list(raw.get("packages", []), f"{path}: packages"),
            args=_check_mapping(spec.get("args", {}), f"{where}.args"),
            description=str(spec.get("description", "")),
            scenarios=_check_list(spec.get("scenarios", []), f"{where}.scenarios", SCENARIOS),
            distances=_check_list(spec.get("distances", list(DISTANCES)), f"{where}.distances", DISTANCES),
            label_aware=bool(spec.get("label_aware", False)),
            uses_filter_map=bool(spec.get("uses_filter_map", True)),
        )
        for gname, group in runs.items():
            gwhere = f"{where}.runs.{gname}"
            group = _check_mapping(group or {}, gwhere, _GROUP_KEYS)
            build = _check_grid(group.get("build"), f"{gwhere}.build")
            query = _check_grid(group.get("query"), f"{gwhere}.query")
            names = set(build) | set(query) | set(cfg.args) | {"dimension"}
            cfg.groups[str(gname)] = Group(str(gname), build, query,
                                           _check_constraints(group.get("constraints"), f"{gwhere}.constraints", names),
                                           bool(group.get("opt_in", False)))
        configs.append(cfg)
    return configs


def load_all(directory=ALGORITHMS_DIR):
    """Every algorithm of every plugin folder, by name."""
    out = {}
    for path in sorted(glob.glob(os.path.join(directory, "*", "config.yml"))):
        for cfg in load_config(path):
            if cfg.name in out:
                raise ConfigError(f"{path}: algorithm '{cfg.name}' is also declared in {out[cfg.name].path}")
            out[cfg.name] = cfg
    return out


def _holds(constraints, values):
    return all(bool(eval(expr, {"__builtins__": {}}, {**_SAFE_FUNCTIONS, **values})) for expr in constraints)


def _grid(grid):
    keys = sorted(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def expand(cfg, group, dimension):
    """The definitions of one run group for data of this dimension (constraints may name
    `dimension`), and the number of combinations its constraints skipped."""
    definitions, skipped = [], 0
    for build in _grid(group.build):
        build_args = {**cfg.args, **build}
        try:
            queries = [q for q in _grid(group.query)
                       if _holds(group.constraints, {"dimension": dimension, **build_args, **q})]
        except Exception as e:
            raise ConfigError(f"{cfg.path}: algorithms.{cfg.name}.runs.{group.name}.constraints: "
                              f"cannot evaluate for {build_args}: {e}") from None
        n_queries = len(_grid(group.query))
        if not queries:
            skipped += n_queries
            continue
        skipped += n_queries - len(queries)
        definitions.append(Definition(
            algorithm=cfg.name, plugin=cfg.plugin, plugin_dir=os.path.dirname(cfg.path), group=group.name, module=cfg.module, cls=cfg.cls,
            image=cfg.image, packages=list(cfg.packages), build_args=build_args, query_args=queries,
            scenarios=list(cfg.scenarios), distances=list(cfg.distances), label_aware=cfg.label_aware,
            uses_filter_map=cfg.uses_filter_map, skipped_queries=n_queries - len(queries)))
    return definitions, skipped


def select(configs, selectors):
    """The (config, group) pairs that `--algorithm` selectors name; all defaults when none."""
    if not selectors:
        return [(c, g) for c in configs.values() for g in c.default_groups()]
    chosen = []
    for sel in selectors:
        found = []
        if "/" in sel:
            algo, _, gname = sel.partition("/")
            if algo in configs and gname in configs[algo].groups:
                found = [(configs[algo], configs[algo].groups[gname])]
        elif sel in configs:
            found = [(configs[sel], g) for g in configs[sel].default_groups()]
        else:
            found = [(c, g) for c in configs.values() if c.plugin == sel for g in c.default_groups()]
            found = found or [(c, c.groups[sel]) for c in configs.values() if sel in c.groups]
        if not found:
            groups = sorted({g for c in configs.values() for g in c.groups})
            raise ConfigError(f"--algorithm {sel}: no plugin, algorithm or run group of that name "
                              f"(algorithms: {', '.join(configs)}; groups: {', '.join(groups)})")
        chosen += [pair for pair in found if pair not in chosen]
    return chosen
