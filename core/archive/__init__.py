"""Archives a publisher ships (tar, tar.gz, zip): extracted streamed and safely into a repo's folder, with a
manifest of every extracted file's sha256 for an offline verify."""
