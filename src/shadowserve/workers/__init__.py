"""Model workers: separate processes speaking SageMaker's container contract, supervised."""
