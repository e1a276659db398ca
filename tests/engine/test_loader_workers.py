"""``data.workers: auto``: loader processes only where the cores leave room for them."""

from __future__ import annotations

import pytest

from ffseg.config import ConfigError, load_config
from ffseg.engine.data import loader_workers


@pytest.mark.parametrize(("cores", "expected"), [(1, 0), (2, 0), (4, 1), (8, 2), (16, 4), (64, 4)])
def test_auto_workers_by_core_count(cores: int, expected: int) -> None:
    assert loader_workers("auto", cores) == expected


def test_a_number_is_kept() -> None:
    assert loader_workers(3, cores=2) == 3 and loader_workers(0, cores=64) == 0


def test_recipes_accept_auto_and_refuse_other_words() -> None:
    assert load_config("camvid_15min_cpu").data.workers == "auto"
    assert load_config("demo", ["data.workers=auto"]).data.workers == "auto"
    with pytest.raises(ConfigError, match=r"data\.workers.*'many' is not one of auto"):
        load_config("demo", ["data.workers=many"])
    with pytest.raises(ConfigError, match="an integer >= 0, or auto"):
        load_config("demo", ["data.workers=-2"])
