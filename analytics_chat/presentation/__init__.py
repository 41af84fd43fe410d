"""Turning a query result into something people look at: a chart, a sentence, an SVG/PNG/CSV."""
