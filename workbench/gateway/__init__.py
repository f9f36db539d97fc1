"""The provider gateway: the one path by which the workbench calls an AI provider (request
checks, the streamed chat turn, settlement, the model catalogue, keys and the providers)."""
