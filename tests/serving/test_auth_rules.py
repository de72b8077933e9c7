"""Which `bentoml serve` command lines may start without a token (the rule itself, no server)."""

from __future__ import annotations

import pytest

from oncofusion.errors import OncofusionError
from oncofusion.serving.auth import configured_token, require_token_off_loopback


@pytest.mark.parametrize(
    "argv",
    [
        ["bentoml", "serve", "oncofusion-variants:abc", "--host", "127.0.0.1"],
        ["python", "serve", "--host=::1"],
        ["bentoml", "serve", "x", "--host", "localhost"],
        ["oncofusion", "bento", "--params", "params.yaml"],  # bentoml build imports the service
        ["python", "-m", "_bentoml_impl.worker.service", "x", "--fd", "3"],  # a worker
    ],
)
def test_loopback_builds_and_workers_start_without_a_token(argv):
    require_token_off_loopback(argv, None)


@pytest.mark.parametrize(
    "argv",
    [
        ["bentoml", "serve", "oncofusion-classifier:abc"],  # BentoML's default host is 0.0.0.0
        ["bentoml", "serve", "x", "--host", "0.0.0.0"],
        ["bentoml", "serve", "x", "--host=10.1.2.3"],
    ],
)
def test_any_other_address_needs_a_token(argv):
    with pytest.raises(OncofusionError, match="without an API token the service only binds to loopback"):
        require_token_off_loopback(argv, None)
    require_token_off_loopback(argv, "a-token-of-sixteen-chars")  # with one it may


def test_a_short_or_unreadable_token_is_refused(tmp_path):
    with pytest.raises(OncofusionError, match="at least 16 characters"):
        configured_token({"ONCOFUSION_API_TOKEN": "short"})
    with pytest.raises(OncofusionError, match="cannot read the API token"):
        configured_token({"ONCOFUSION_API_TOKEN_FILE": str(tmp_path / "missing")})
    (tmp_path / "token").write_text("from-a-file-0123456789\n")
    assert (
        configured_token({"ONCOFUSION_API_TOKEN_FILE": str(tmp_path / "token")}) == "from-a-file-0123456789"
    )
    assert configured_token({}) is None
