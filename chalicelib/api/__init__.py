"""The HTTP layer: Chalice blueprints that parse, call one service function and map domain errors."""
