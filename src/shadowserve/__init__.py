"""shadowserve: self-hosted shadow testing for ML models, speaking SageMaker's APIs."""

__version__ = "0.1.0"
