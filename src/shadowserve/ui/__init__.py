"""The web dashboard: static pages under /ui/ reading the JSON APIs (no build step)."""
