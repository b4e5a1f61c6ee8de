"""Conditional opening (有条件开放): applications for conditional datasets, dataset keys, usage."""
