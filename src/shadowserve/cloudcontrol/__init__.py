"""The Cloud Control API: SageMaker resources as CloudFormation resource types."""
