"""Graph rewriting: the FunctionGraph and the passes that run on it."""
