"""The operator web console: server-rendered Jinja2 pages over the same services as the API."""
