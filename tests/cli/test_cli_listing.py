"""``ffseg list`` answers from the model index: no torch import, no model built."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ffseg.model_index import INDEX_FILE, filter_names, load_index
from ffseg.models import list_models, model_index


def test_index_file_matches_the_registry() -> None:
    stored = json.loads(INDEX_FILE.read_text())["models"]
    assert stored == model_index(), "model_index.json is stale: run python scripts/gen_model_zoo.py"


@pytest.mark.parametrize("pattern", ["", "ffnet*mobile", "ddrnet*", "*pre_down", "nothing*"])
def test_index_filters_like_the_registry(pattern: str) -> None:
    assert filter_names(load_index(), pattern, ["*_train"]) == list_models(
        pattern, exclude_filters=["*_train"]
    )


def test_list_needs_no_torch() -> None:
    code = (
        "import sys\n"
        "from ffseg.cli import main\n"
        "rc = main(['list', 'ffnet40s*'])\n"
        "print('torch imported' if 'torch' in sys.modules else 'torch not imported')\n"
        "sys.exit(rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "ffnet40s_bbb_mobile" in out.stdout
    assert out.stdout.rstrip().endswith("torch not imported"), out.stdout
