"""The Chalice application: routes only (the work happens in chalicelib/)."""

from chalice.app import Chalice

from chalicelib.api import accounts, admin, auth, openapi
from chalicelib.console import views as console

app = Chalice(app_name="pgsm-operator")
API_PREFIX = "/api/v1"

for blueprint in (auth.bp, accounts.bp, admin.bp, openapi.bp):
    app.register_blueprint(blueprint, url_prefix=API_PREFIX)
app.register_blueprint(console.bp)
