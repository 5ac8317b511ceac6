"""The Chalice application: routes and event handlers only (the work happens in chalicelib/)."""

import logging
import os
from typing import Any

from chalice.app import Chalice, DynamoDBEvent, SQSEvent

from chalicelib.api import accounts, activation, admin, auth, calls, http, imports, mobile, openapi, sip_lockout
from chalicelib.console import views as console
from chalicelib.handlers import imports as import_handlers
from chalicelib.handlers import sip_events, sms, streams
from chalicelib.handlers.batch import BatchResponse, each_message

app = Chalice(app_name="pgsm-operator")

# These libraries dump whole requests at DEBUG (SMS texts with links, SIP passwords in answers): they stay at
# INFO whatever the app's own level, so that debugging the app never writes secrets to the logs.
for noisy in ("botocore", "boto3", "urllib3", "pynamodb", "opensearch", "twilio"):
    logging.getLogger(noisy).setLevel(logging.INFO)
API_PREFIX = "/api/v1"

app.api.binary_types.append("multipart/form-data")  # uploads reach the handler as raw bytes
for blueprint in (auth.bp, accounts.bp, activation.bp, admin.bp, calls.bp, imports.bp, openapi.bp, sip_lockout.bp):
    app.register_blueprint(blueprint, url_prefix=API_PREFIX)
app.register_blueprint(console.bp)
app.register_blueprint(mobile.bp)  # /m/...: the links phones receive, kept short for SMS
http.refuse_other_methods(app)  # after every route: the methods a path lacks answer 405 problem+json

# The deployment passes the stream's ARN; the local stack's event bridge calls the handler directly.
ACCOUNTS_STREAM_ARN = os.environ.get(
    "ACCOUNTS_STREAM_ARN", "arn:aws:dynamodb:eu-west-1:000000000000:table/local-accounts/stream/local"
)


@app.on_dynamodb_record(stream_arn=ACCOUNTS_STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON")
def index_accounts(event: DynamoDBEvent) -> BatchResponse:
    return streams.index_account_records(event)


SMS_QUEUE_NAME = os.environ.get("SMS_QUEUE_NAME", "local-sms")


@app.on_sqs_message(queue=SMS_QUEUE_NAME, batch_size=1)
def send_sms(event: SQSEvent) -> BatchResponse:
    return each_message(event, sms.deliver_record, ordered=True)  # FIFO


SIP_EVENTS_QUEUE_NAME = os.environ.get("SIP_EVENTS_QUEUE_NAME", "local-sip-events")


@app.on_sqs_message(queue=SIP_EVENTS_QUEUE_NAME, batch_size=10)
def record_sip_events(event: SQSEvent) -> BatchResponse:
    return each_message(event, sip_events.record_record)


IMPORT_QUEUE_NAME = os.environ.get("IMPORT_QUEUE_NAME", "local-imports")


@app.on_sqs_message(queue=IMPORT_QUEUE_NAME, batch_size=1)
def run_import_chunk(event: SQSEvent) -> BatchResponse:
    return each_message(event, import_handlers.run_record)


@app.lambda_function(name="import_object_created")
def import_object_created(event: dict[str, Any], context: Any) -> list[str]:
    """S3 ObjectCreated on the drop folder (imports/<group>/<file>.csv); infra/ wires the notification."""
    return import_handlers.object_created(event)
