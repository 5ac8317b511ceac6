"""The hostile suite (issue 14) uses the API tests' fixtures: a context per backend installed in the app."""

from tests.api.conftest import anonymous, api, backend_ctx, http_world

__all__ = ["anonymous", "api", "backend_ctx", "http_world"]
