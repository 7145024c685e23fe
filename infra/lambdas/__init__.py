"""Lambda functions of the CDK app, each packaged with exactly what it imports (see the component that ships it)."""
