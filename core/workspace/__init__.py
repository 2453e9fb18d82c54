"""What a user does to a root beyond downloading: remove a repo, prune what no download uses."""
