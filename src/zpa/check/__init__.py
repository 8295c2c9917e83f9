"""`zpa check`: replay each role's prompt headless against probe tasks and
temptations, and report pass rates per role (see runner.py), plus a static
layer that needs no API (static.py)."""
