"""Shared fixtures: organizations, users, API clients. Simulator fixtures live in tests/fixtures_simulator.py."""
