"""A plan's files: plan.json, tables, workbook, GeoPackage, maps and charts."""

from optimizer.outputs.files import write_plan

__all__ = ["write_plan"]
