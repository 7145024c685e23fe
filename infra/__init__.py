"""The CDK app of mcpstack: stage configs, the names other tools read, constructs, stacks and the instance bootstrap."""
