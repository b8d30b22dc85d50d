"""Notebook 04: documents and chunking, retrievers and their metrics, the RAG pipeline piece by piece, answer scoring."""
