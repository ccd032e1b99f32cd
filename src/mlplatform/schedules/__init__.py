"""Schedules: AWS schedule expressions, the local scheduler daemon, and its run history."""
