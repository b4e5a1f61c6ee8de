"""Organisations and accounts: departments (部门) as a tree, people with roles, sessions and API tokens."""
