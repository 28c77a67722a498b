"""Request and response models of the JSON API, one module per resource (XIn / XPatch / XOut)."""
