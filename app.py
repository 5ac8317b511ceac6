"""The Chalice application: routes and event handlers only (the work happens in chalicelib/)."""

import os

from chalice.app import Chalice, DynamoDBEvent

from chalicelib.api import accounts, admin, auth, openapi
from chalicelib.console import views as console
from chalicelib.handlers import streams

app = Chalice(app_name="pgsm-operator")
API_PREFIX = "/api/v1"

for blueprint in (auth.bp, accounts.bp, admin.bp, openapi.bp):
    app.register_blueprint(blueprint, url_prefix=API_PREFIX)
app.register_blueprint(console.bp)

# The deployment passes the stream's ARN; the local stack's event bridge calls the handler directly.
ACCOUNTS_STREAM_ARN = os.environ.get(
    "ACCOUNTS_STREAM_ARN", "arn:aws:dynamodb:eu-west-1:000000000000:table/local-accounts/stream/local"
)


@app.on_dynamodb_record(stream_arn=ACCOUNTS_STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON")
def index_accounts(event: DynamoDBEvent) -> None:
    streams.index_account_records(event)
