"""Runnable examples the guides show; tests import them so they stay true."""
