"""The end-to-end demo: synthetic traffic, sent over HTTP, then the pipeline and a report."""
