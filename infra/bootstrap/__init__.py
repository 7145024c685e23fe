"""Instance boot path: runs on the EC2 instance from CloudFormation Init (standard library only)."""
