"""Who is calling: AWS Signature Version 4 checked against a shared-credentials file."""
