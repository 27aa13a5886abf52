import pytest

from .reference import ALL_METHODS


@pytest.fixture(params=ALL_METHODS)
def method(request: pytest.FixtureRequest) -> str:
    return str(request.param)
