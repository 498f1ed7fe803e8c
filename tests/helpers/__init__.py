"""Helpers shared by the test modules: tiny models, job files, a headless browser, a local Ray cluster.

Test modules import them from here (``from tests.helpers import tinymodels``), never from one another.
"""
