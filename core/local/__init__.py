"""The disk layer: the workspace's folders and what they hold. It never talks to the network."""
