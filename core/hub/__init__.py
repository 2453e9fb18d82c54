"""The network layer: everything that talks to the Hub, through huggingface_hub."""
