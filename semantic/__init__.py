"""The semantic layer: metrics, dimensions and business rules, compiled to SQL with sqlglot."""
