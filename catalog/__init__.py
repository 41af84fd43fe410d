"""The data catalog: sources, tables, columns and relationships, and the one place queries run."""
