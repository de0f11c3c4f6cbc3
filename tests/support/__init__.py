"""Test helpers shared by several test files (stand-ins for services that cannot run here)."""
