"""Notebook 01: a situation, the transparent decision rule, what would flip it, the scenario gallery and the interactive panel."""
