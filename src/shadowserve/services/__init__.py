"""Control-plane use cases: one function per SageMaker operation, plus the reconciler."""
