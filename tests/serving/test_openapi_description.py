"""The Swagger page opens on a short description, not the project README.

Without `description` in bentofile.yaml, `bentoml build` copies README.md into the bento and the OpenAPI
`info.description` becomes the whole guide (109 KB). The bento stage builds from this file.
"""

from __future__ import annotations

from bentoml._internal.bento.build_config import BentoBuildConfig

from ..conftest import REPO_ROOT


def test_the_bento_carries_a_short_description_of_the_api():
    with (REPO_ROOT / "bentofile.yaml").open() as handle:
        config = BentoBuildConfig.from_yaml(handle)
    description = config.description or ""
    assert 100 < len(description) < 2_000, "bentofile.yaml needs a short `description` for the Swagger page"
    assert "POST /classify" in description and "docs/" in description
