"""Names that become parts of paths: algorithms, run groups, datasets, workloads.

Results, logs and failure records live at results/<workload>/<scenario>/k=<k>/<algorithm>/..., so
every such name must be one plain path component: a name like `../../x` would write outside the
results directory. Each name is checked where it is read (config load, dataset load), with a
one-line error that says which name and where it came from.
"""
import re

# Letters, digits and . _ @ % + = , - ; starting with a letter or digit (so never "." or ".."
# and never a hidden file); '@' and '%' appear in workload names such as arxiv@25% or arxiv@q100.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@%+=,-]*")
MAX_LENGTH = 120


class UnsafeName(ValueError):
    """A name that cannot be one path component."""


def check_name(name, what):
    """Returns `name` if it is a safe path component, else raises UnsafeName naming `what`."""
    text = str(name)
    if len(text) > MAX_LENGTH or not SAFE_NAME.fullmatch(text):
        raise UnsafeName(f"{what} '{text}' is not a safe name: use at most {MAX_LENGTH} letters, digits and "
                         f"._@%+=,- starting with a letter or digit (it becomes a directory under the results)")
    return text
