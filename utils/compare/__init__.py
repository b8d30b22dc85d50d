"""Notebook 05: the QA cards, the capstone's custom model and prompts, and the side-by-side measurements."""
