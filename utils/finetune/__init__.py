"""Notebook 03: the feedback-triage task and LoRA fine-tuning."""
