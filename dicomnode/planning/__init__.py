"""Re-planning a processed study: planner inputs from raw text, plan preview, new versions.

Shared by ``dicomnode plan`` (offline, on a result folder) and the dashboard's planner form
(on a finished job's result folder).
"""
