"""Runs the pipeline on a study: the one door the node and the CLI use."""
