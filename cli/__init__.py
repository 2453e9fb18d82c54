"""The command line: validates arguments and prints; ``core`` does the work."""
