"""What the loaders need from a workspace: the HF-cache and TORCH_HOME views, the shell lines that point the
loaders at them, and the smoke check that proves a model starts."""
