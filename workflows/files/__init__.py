"""Stored files: the content-addressed store, what an upload really is (file types),
the archive guard checked before any parser opens a .docx or .xlsx, and the parse itself run in
a child process within time and memory limits (isolated)."""
