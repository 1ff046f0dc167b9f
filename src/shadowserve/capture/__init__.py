"""Data capture in SageMaker's format: JSON Lines records, batched into S3 or the local store."""
