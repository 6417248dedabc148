"""Shared fixtures: helpers that feed bytes in every chunking, free loopback ports."""
