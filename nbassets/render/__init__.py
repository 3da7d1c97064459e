"""What people see: summaries, previews, magic displays, diff views, lineage drawing, CLI text."""
