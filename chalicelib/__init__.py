"""Runtime code of the operator platform: domain, services, adapters and the HTTP layer."""
