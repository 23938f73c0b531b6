"""Test doubles for pulumi-fwcluster: a local emulator of the Fireworks clusters API."""
