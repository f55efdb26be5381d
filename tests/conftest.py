import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """Datasets built once per test session, outside the user's data/ cache."""
    path = tmp_path_factory.mktemp("data")
    os.environ["FILTERBENCH_DATA"] = str(path)
    return path


@pytest.fixture(scope="session")
def xxs(data_dir):
    from datasets import build_dataset
    return build_dataset("random-filter-xxs", log=lambda m: None)


@pytest.fixture(scope="session")
def small(data_dir):
    from datasets import build_dataset
    return build_dataset("random-filter-s", log=lambda m: None)


@pytest.fixture(scope="session")
def xs(data_dir):
    from datasets import build_dataset
    return build_dataset("random-filter-xs", log=lambda m: None)
