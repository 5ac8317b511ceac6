"""Event handlers (DynamoDB Streams, SQS, S3): parse the event, call one service function."""
