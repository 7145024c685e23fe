"""The hostile-input suite's own answer checker: it reads what a server sent exactly as sent."""

from __future__ import annotations

import pytest

from tests.reliability.hostile import json_rpc_problems, response_json


def test_an_integer_id_beyond_64_bits_echoed_back_is_read_as_the_integer_it_is() -> None:
    body = response_json(b'{"jsonrpc":"2.0","id":99999999999999999999,"result":{}}')
    assert body["id"] == 99999999999999999999
    assert json_rpc_problems(body) == []


def test_a_float_id_is_still_a_problem() -> None:
    assert json_rpc_problems(response_json(b'{"jsonrpc":"2.0","id":1.5,"result":{}}')) == ["id of type float"]


@pytest.mark.parametrize("raw", [b'{"id": NaN}', b'{"id": Infinity}', b'{"id": 1', b'{"id": "\xff"}'])
def test_a_body_that_is_not_strict_json_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        response_json(raw)
