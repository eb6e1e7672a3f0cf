"""Projection, seats, adjacency, distances and travel times, computed once per plan."""

from optimizer.spatial.geography import Geography, project, site_xy, township_edges

__all__ = ["Geography", "project", "site_xy", "township_edges"]
