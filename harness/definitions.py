"""Plugin configs (algorithms/<folder>/config.yml) and their expansion into runs.

    module: algorithms.faiss.module        # where the classes live
    packages: [faiss-cpu]                  # installed in its image (versions from requirements.txt),
                                           # and recorded with every result
    native: false                          # true: uses the extension compiled from native/
    docker_only: false                     # true: its packages cannot share the harness's environment
                                           # (pinned in its own requirements.txt): never run with --local
    database: false                        # true: a vector database (an engine the plugin starts),
                                           # which the site compares with the best library
    algorithms:
      faiss-hnsw:                          # the name results and the leaderboard show
        class: FaissHNSW
        args: {filtering: post}            # fixed constructor arguments
        description: ...
        distances: [euclidean, angular, ip]
        exact: false                       # true: an exact method; recall below 0.999 is a harness defect
        runs:                              # run groups; `smoke` (CI) and `opt_in: true` ones run only when named
          smoke: {build: {M: [16]}, query: {efSearch: [64]}}
          default:
            build: {M: [16, 32], efConstruction: [40, 200]}       # cartesian product
            query: {efSearch: [16, 32, 64, 128]}
            constraints: ["efConstruction >= M"]     # skipped and counted when false; may use `dimension`
          picked:
            build: [{M: 16, efConstruction: 40}, {M: 32, efConstruction: 200}]   # or a list of builds

`--algorithm X` selects: a plugin folder, an algorithm, a run group name (in any algorithm), or
`algorithm/group`. A plugin folder or algorithm means its default groups (its smoke group when
it has no other).

What a plugin answers is said once, in its class (algorithms.base.FilteredANN): `predicates`
(the predicate kinds, or "all" for plugins that work from the filter map), `builds_on_attribute`,
`uses_filter_map` and `fixed_length_labels`; they are read from its source here, never repeated in
the config.

Checked at load, each with a one-line error naming the file and the key: names (they become
paths), build and query arguments against the parameters of the plugin class's `__init__` and
`set_query_arguments` (read from its source, so the host needs none of the plugin's packages),
and constraints, which are evaluated by a small interpreter of arithmetic and comparisons with
bounded cost (no `9**9**9`, no comparing a string with a number).
"""
import ast
import glob
import hashlib
import itertools
import json
import operator
import os
import re
from dataclasses import dataclass, field

import yaml

from harness.dataset import DISTANCES
from harness.names import UnsafeName, check_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALGORITHMS_DIR = os.path.join(ROOT, "algorithms")
MAX_DEFAULT_BUILDS = 15

_TOP_KEYS = {"module", "native", "packages", "docker_only", "database", "algorithms"}
_ALGO_KEYS = {"class", "args", "description", "distances", "exact", "runs"}
# Keys that the plugin's class declares now (algorithms.base.FilteredANN); a config that still has
# one is told where it went.
_MOVED_KEYS = {"scenarios": "predicates", "label_aware": "builds_on_attribute", "uses_filter_map": "uses_filter_map"}
_CLASS_DECLARATIONS = {"predicates": "all", "builds_on_attribute": False, "uses_filter_map": True,
                       "fixed_length_labels": False}
ALL_ATTRIBUTES = "all"  # builds_on_attribute = "all": fit() gets every attribute, in one build
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
    predicates: object     # "all", or the list of predicate kinds the class answers
    distances: list
    builds_on_attribute: object = False  # True, False or "all" (ALL_ATTRIBUTES)
    uses_filter_map: bool = True
    exact: bool = False
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
    builds: list      # the build argument sets: a grid's cartesian product, or listed one by one
    query: dict       # a grid of query arguments
    constraints: list
    opt_in: bool

    @property
    def build_keys(self):
        return sorted({key for b in self.builds for key in b})


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
    distances: list
    predicates: object = "all"        # from the class: "all", or the predicate kinds it answers
    builds_on_attribute: object = False  # from the class: fit() gets the attribute its predicate reads
                                         # (True), or every attribute at once ("all")
    uses_filter_map: bool = True       # from the class: it filters with the harness's filter map
    fixed_length_labels: bool = False  # from the class: label predicates only on fixed-length attributes
    exact: bool = False
    docker_only: bool = False          # its packages cannot share the harness's environment: no --local
    database: bool = False             # a vector database: the site compares it with the best library
    defaults: dict = field(default_factory=dict)  # the class's own defaults of build and query arguments
    groups: dict = field(default_factory=dict)

    def answers(self, spec, fixed_length=None):
        """Whether the class answers a scenario's predicate (every kind it uses, for composites);
        "unfiltered" (spec None) is answered by every plugin that works from the filter map.
        fixed_length: the dataset's attributes whose items all carry the same number of labels
        (what a `fixed_length_labels` class needs; None: not checked)."""
        from harness.predicates import part_attributes, part_kinds
        if self.fixed_length_labels and fixed_length is not None and spec is not None \
                and not part_attributes(spec) <= set(fixed_length):
            return False
        if self.predicates == "all":
            return True
        return ({"unfiltered"} if spec is None else part_kinds(spec)) <= set(self.predicates)

    def default_groups(self):
        """Groups run unless others are named: all but `smoke` and opt-in ones (smoke if none)."""
        groups = [g for g in self.groups.values() if not g.opt_in and g.name != "smoke"]
        return groups or [self.groups["smoke"]]


def _check_flag(value, where):
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


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


def _check_builds(value, where):
    """Build argument sets: a mapping is a grid (its cartesian product), a list of mappings lists them."""
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where}: empty list of builds")
        return [{k: v[0] for k, v in _check_grid(b, f"{where}[{i}]", scalars=True).items()} for i, b in enumerate(value)]
    return _grid(_check_grid(value, where))


def _check_grid(value, where, scalars=False):
    grid = _check_mapping(value or {}, where)
    out = {}
    for key, values in grid.items():
        if scalars and isinstance(values, list):
            raise ConfigError(f"{where}.{key}: one value per listed build, not a list")
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ConfigError(f"{where}.{key}: empty list of values")
        for v in values:
            if not isinstance(v, (int, float, str, bool)):
                raise ConfigError(f"{where}.{key}: values must be numbers, strings or booleans, got {v!r}")
        out[str(key)] = values
    return out


class ConstraintError(ValueError):
    """A constraint that cannot be evaluated for some argument values."""


_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
               ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_COMPARISONS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
                ast.Eq: operator.eq, ast.NotEq: operator.ne}
_MAX_EXPONENT = 64       # 2**64 and the like are fine; 9**9**9 would take hours
_MAX_MAGNITUDE = 1e300   # no argument or intermediate value is larger


def _number(value, expr):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConstraintError(f"'{expr}' does arithmetic on {value!r}, which is not a number")
    return value


def _evaluate(node, values, expr):
    """The value of a constraint's expression tree: numbers, strings and booleans, arithmetic on
    numbers, comparisons of like with like, `and`/`or`/`not`, min/max/abs. Bounded cost."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, values, expr)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp):
        left = _number(_evaluate(node.left, values, expr), expr)
        right = _number(_evaluate(node.right, values, expr), expr)
        if isinstance(node.op, ast.Pow) and (abs(right) > _MAX_EXPONENT or abs(left) > 2 ** 32):
            raise ConstraintError(f"'{expr}' raises {left} to the power {right}: too large to evaluate")
        try:
            result = _ARITHMETIC[type(node.op)](left, right)
        except (ZeroDivisionError, OverflowError) as e:
            raise ConstraintError(f"'{expr}': {e}") from None
        if isinstance(result, complex) or abs(result) > _MAX_MAGNITUDE:
            raise ConstraintError(f"'{expr}' gives a value out of range ({str(result)[:40]})")
        return result
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, values, expr)
        if isinstance(node.op, ast.Not):
            return not value
        value = _number(value, expr)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BoolOp):
        results = (_evaluate(v, values, expr) for v in node.values)
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values, expr)
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, values, expr)
            if isinstance(left, str) != isinstance(right, str):
                raise ConstraintError(f"'{expr}' compares {left!r} with {right!r}: a string with a number")
            if not _COMPARISONS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Call):
        args = [_number(_evaluate(a, values, expr), expr) for a in node.args]
        return _SAFE_FUNCTIONS[node.func.id](*args)
    raise ConstraintError(f"'{expr}' uses {type(node).__name__}, which constraints do not support")


_ALLOWED_NODES = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
                  ast.Call, ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, *_ARITHMETIC, *_COMPARISONS)


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
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _SAFE_FUNCTIONS
                                                   and not node.keywords):
                raise ConfigError(f"{where}[{i}]: '{expr}' may only call {', '.join(_SAFE_FUNCTIONS)}")
            if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool)):
                raise ConfigError(f"{where}[{i}]: '{expr}' uses the constant {node.value!r}")
            if not isinstance(node, _ALLOWED_NODES):
                raise ConfigError(f"{where}[{i}]: '{expr}' may only compare arguments with arithmetic "
                                  f"({type(node).__name__} is not allowed)")
    return constraints


# --- The parameters a plugin class accepts, read from its source --------------------------------

def _module_file(module, search_roots):
    for root in search_roots:
        base = os.path.join(root, *module.split("."))
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(candidate):
                return candidate
    return None


def _parse(path):
    """A module's syntax tree; a syntax error is the plugin's one-line ConfigError."""
    try:
        with open(path) as f:
            return ast.parse(f.read(), filename=path)
    except SyntaxError as e:
        raise ConfigError(f"{path}:{e.lineno}: not valid Python ({e.msg})") from None


def _defines(module, name, search_roots):
    """Whether a module's source defines or imports `name` at its top level (True when that
    cannot be told: a star import, or no source here)."""
    path = _module_file(module, search_roots)
    if path is None:
        return True
    for node in _parse(path).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                alias.name == "*" or (alias.asname or alias.name.split(".")[0]) == name for alias in node.names):
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
    return False


def _from_class(module, cls, find, search_roots, seen=None):
    """What find(class node) returns for `cls` in `module` or, where it returns None, for its
    base classes, followed through the module's imports; None when the class cannot be found in
    source here (a base class from an installed library)."""
    seen = seen or set()
    if (module, cls) in seen:
        return None
    seen.add((module, cls))
    path = _module_file(module, search_roots)
    if path is None:
        return None
    tree = _parse(path)
    imported = {}  # local name -> (module, name)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                imported[alias.asname or alias.name] = (node.module, alias.name)
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    if cls not in classes:
        return _from_class(*imported[cls], find, search_roots, seen) if cls in imported else None
    found = find(classes[cls])
    if found is not None:
        return found
    for base in classes[cls].bases:
        if isinstance(base, ast.Name):
            where = (module, base.id) if base.id in classes else imported.get(base.id)
            found = _from_class(*where, find, search_roots, seen) if where else None
            if found is not None:
                return found
    return None


def _method_parameters(module, cls, method, search_roots):
    """(parameter names, takes **kwargs) of `cls.method`; None when it cannot be read (then the
    arguments cannot be checked)."""
    def find(node):
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == method:
                args = item.args
                return [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs][1:], args.kwarg is not None
        return None
    return _from_class(module, cls, find, search_roots)


def _method_defaults(module, cls, method, search_roots):
    """{parameter: its default} of `cls.method` where the default is a literal (what a user who
    sets nothing gets: the site flags an engine whose defaults return too little)."""
    def find(node):
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == method:
                args = item.args
                positional = args.posonlyargs + args.args
                pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
                pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
                out = {}
                for arg, default in pairs:
                    try:
                        out[arg.arg] = ast.literal_eval(default)
                    except ValueError:
                        pass
                return out
        return None
    return _from_class(module, cls, find, search_roots)


def _class_declaration(module, cls, name, search_roots):
    """The literal value a class (or a base) assigns to `name` in its body, e.g. predicates = (...)."""
    def find(node):
        for item in node.body:
            if isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in item.targets):
                return (ast.literal_eval(item.value),)
        return None
    found = _from_class(module, cls, find, search_roots)
    return found[0] if found else _CLASS_DECLARATIONS[name]


def _check_arguments(cfg, search_roots):
    """Every build argument (fixed `args` and grids) is a parameter of the class's __init__, every
    query argument one of its set_query_arguments, unless the method takes **kwargs."""
    where = f"{cfg.path}: algorithms.{cfg.name}"
    if not _defines(cfg.module, cfg.cls, search_roots):
        raise ConfigError(f"{where}.class: module {cfg.module} defines no class '{cfg.cls}'")
    for method, section, extra in (("__init__", "build", cfg.args), ("set_query_arguments", "query", {})):
        found = _method_parameters(cfg.module, cfg.cls, method, search_roots)
        if found is None:
            if _module_file(cfg.module, search_roots) is None:
                raise ConfigError(f"{cfg.path}: module: '{cfg.module}' is no Python file under "
                                  f"{' or '.join(search_roots)}")
            continue
        names, open_ended = found
        accepted = [n for n in names if not (method == "__init__" and n == "distance")]
        if open_ended:
            continue
        for key in extra:
            if key not in accepted:
                raise ConfigError(f"{where}.args.{key}: {cfg.cls}.__init__ takes no argument '{key}' "
                                  f"(it takes: {', '.join(accepted) or 'none'})")
        for gname, group in cfg.groups.items():
            for key in (group.build_keys if section == "build" else group.query):
                if key not in accepted:
                    raise ConfigError(f"{where}.runs.{gname}.{section}.{key}: {cfg.cls}.{method} takes no argument "
                                      f"'{key}' (it takes: {', '.join(accepted) or 'none'})")


def _read_declarations(cfg, search_roots):
    """What the class says it answers (predicates, builds_on_attribute, uses_filter_map,
    fixed_length_labels)."""
    from harness.predicates import kind_names
    for name in _CLASS_DECLARATIONS:
        try:
            value = _class_declaration(cfg.module, cfg.cls, name, search_roots)
        except ValueError:
            raise ConfigError(f"{cfg.path}: algorithms.{cfg.name}: {cfg.cls}.{name} must be a literal") from None
        setattr(cfg, name, value)
    known = set(kind_names()) | {"unfiltered"}
    if cfg.predicates != "all" and (not isinstance(cfg.predicates, (tuple, list))
                                    or not set(cfg.predicates) <= known):
        raise ConfigError(f"{cfg.path}: algorithms.{cfg.name}: {cfg.cls}.predicates is {cfg.predicates!r}: \"all\" "
                          f"or a tuple of {', '.join(sorted(known))}")
    cfg.predicates = cfg.predicates if cfg.predicates == "all" else list(cfg.predicates)
    if cfg.builds_on_attribute not in (True, False, ALL_ATTRIBUTES):
        raise ConfigError(f"{cfg.path}: algorithms.{cfg.name}: {cfg.cls}.builds_on_attribute is "
                          f"{cfg.builds_on_attribute!r}: True, False or \"{ALL_ATTRIBUTES}\"")


def _search_roots(path):
    """Where a plugin's module is imported from: the repository root, and the directory that
    holds its plugins folder (for plugins outside algorithms/)."""
    return list(dict.fromkeys([ROOT, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(path))))]))


def _check_key_is_text(key, parent, what):
    """A name written as a YAML key must read as text: YAML makes `123` a number and `null`,
    `~` or `yes` something else, which would become the directory "123", "None" or "True"."""
    if not isinstance(key, str):
        written = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
        kind = "no value" if key is None else "a boolean" if isinstance(key, bool) else "a number"
        raise ConfigError(f"{parent}.{written}: the {what} {written} reads as {kind} in YAML, not as a name: give a "
                          f"name that says what it is")


def load_config(path):
    """All algorithms of one config.yml, validated."""
    plugin = os.path.basename(os.path.dirname(os.path.abspath(path)))
    try:
        check_name(plugin, "plugin folder")
    except UnsafeName as e:
        raise ConfigError(f"{path}: {e}") from None
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
        _check_key_is_text(name, f"{path}: algorithms", "algorithm name")
        where = f"{path}: algorithms.{name}"
        try:
            check_name(name, "algorithm name")
        except UnsafeName as e:
            raise ConfigError(f"{where}: {e}") from None
        for key in _MOVED_KEYS:
            if isinstance(spec, dict) and key in spec:
                raise ConfigError(f"{where}.{key}: the plugin's class declares this now "
                                  f"({_MOVED_KEYS[key]} = ... in {spec.get('class', 'its class')}); remove it here")
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
            distances=_check_list(spec.get("distances", list(DISTANCES)), f"{where}.distances", DISTANCES),
            exact=bool(spec.get("exact", False)),
            docker_only=_check_flag(raw.get("docker_only", False), f"{path}: docker_only"),
            database=_check_flag(raw.get("database", False), f"{path}: database"),
        )
        for gname, group in runs.items():
            _check_key_is_text(gname, f"{where}.runs", "run group name")
            gwhere = f"{where}.runs.{gname}"
            try:
                check_name(gname, "run group name")
            except UnsafeName as e:
                raise ConfigError(f"{gwhere}: {e}") from None
            group = _check_mapping(group or {}, gwhere, _GROUP_KEYS)
            builds = _check_builds(group.get("build"), f"{gwhere}.build")
            query = _check_grid(group.get("query"), f"{gwhere}.query")
            names = {key for b in builds for key in b} | set(query) | set(cfg.args) | {"dimension"}
            cfg.groups[str(gname)] = Group(str(gname), builds, query,
                                           _check_constraints(group.get("constraints"), f"{gwhere}.constraints", names),
                                           bool(group.get("opt_in", False)))
            if not any("dimension" in c for c in cfg.groups[str(gname)].constraints):
                expand(cfg, cfg.groups[str(gname)], None)  # evaluates every constraint now: errors at load
        _check_arguments(cfg, _search_roots(path))
        _read_declarations(cfg, _search_roots(path))
        cfg.defaults = {**(_method_defaults(cfg.module, cfg.cls, "__init__", _search_roots(path)) or {}),
                        **(_method_defaults(cfg.module, cfg.cls, "set_query_arguments", _search_roots(path)) or {}),
                        **cfg.args}
        configs.append(cfg)
    return configs


def load_all(directory=ALGORITHMS_DIR, broken=None):
    """Every algorithm of every plugin folder, by name. A plugin whose config or module is
    malformed raises its ConfigError, or with `broken` (a list) is left out and its error
    appended there, so that the others can still be listed."""
    if not os.path.isdir(directory):
        raise ConfigError(f"{directory}: no such plugin directory")
    paths = sorted(glob.glob(os.path.join(directory, "*", "config.yml")))
    if not paths:
        raise ConfigError(f"{directory}: holds no plugin folder (<name>/config.yml)")
    out = {}
    for path in paths:
        try:
            configs = load_config(path)
        except ConfigError as e:
            if broken is None:
                raise
            broken.append(str(e))
            continue
        for cfg in configs:
            if cfg.name in out:
                raise ConfigError(f"{path}: algorithm '{cfg.name}' is also declared in {out[cfg.name].path}")
            out[cfg.name] = cfg
    return out


def _holds(constraints, values, where):
    for expr in constraints:
        try:
            if not _evaluate(ast.parse(expr, mode="eval"), values, expr):
                return False
        except ConstraintError as e:
            raise ConfigError(f"{where}: {e}") from None
    return True


def _grid(grid):
    keys = sorted(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def expand(cfg, group, dimension):
    """The definitions of one run group for data of this dimension (constraints may name
    `dimension`), and the number of combinations its constraints skipped."""
    definitions, skipped = [], 0
    where = f"{cfg.path}: algorithms.{cfg.name}.runs.{group.name}.constraints"
    for build in group.builds:
        build_args = {**cfg.args, **build}
        queries = [q for q in _grid(group.query)
                   if _holds(group.constraints, {"dimension": dimension, **build_args, **q}, where)]
        n_queries = len(_grid(group.query))
        if not queries:
            skipped += n_queries
            continue
        skipped += n_queries - len(queries)
        definitions.append(Definition(
            algorithm=cfg.name, plugin=cfg.plugin, plugin_dir=os.path.dirname(cfg.path), group=group.name, module=cfg.module, cls=cfg.cls,
            image=cfg.image, packages=list(cfg.packages), build_args=build_args, query_args=queries,
            predicates=cfg.predicates, distances=list(cfg.distances), builds_on_attribute=cfg.builds_on_attribute,
            uses_filter_map=cfg.uses_filter_map, exact=cfg.exact, skipped_queries=n_queries - len(queries)))
    return definitions, skipped


def select(configs, selectors, tuned=None):
    """The (config, group) pairs that `--algorithm` selectors name; all defaults when none.
    tuned(algorithm) -> Group or None: the group `algorithm/tuned` that harness.tune wrote."""
    if not selectors:
        return [(c, g) for c in configs.values() for g in c.default_groups()]
    chosen = []
    for sel in selectors:
        found = []
        if "/" in sel:
            algo, _, gname = sel.partition("/")
            if algo in configs and gname in configs[algo].groups:
                found = [(configs[algo], configs[algo].groups[gname])]
            elif algo in configs and gname == "tuned":
                group = tuned(algo) if tuned else None
                if group is None:
                    raise ConfigError(f"--algorithm {sel}: no tuned group for this dataset yet: run "
                                      f"python -m harness.tune --algorithm {algo} --dataset DATASET first")
                found = [(configs[algo], group)]
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
