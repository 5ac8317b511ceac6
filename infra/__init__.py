"""The AWS deployment as code (CDK v2): `cdk_app.py` is the entry point, `stack.py` the whole system."""
