"""Where the pages' files live: templates, own static files, npm packages."""

from __future__ import annotations

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PAGES_DIR / "templates"
STATIC_DIR = PAGES_DIR / "static"
NODE_MODULES = PAGES_DIR.parent / "node_modules"
