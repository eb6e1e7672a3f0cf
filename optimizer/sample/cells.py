"""Geometry of the synthetic townships: seed points, clipped Voronoi cells, adjacency, grid.

Everything here works in the metric working CRS (``WORK_CRS``) except :func:`snap`, which
works on the output grid in degrees.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse import coo_matrix

from optimizer.sample.formats import GRID_DEG

__all__ = ["adjacency", "polygonal", "random_point_in", "seed_points", "snap", "voronoi_cells"]


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygon parts of a geometry.

    Parameters
    ----------
    geom
        Any shapely geometry with at least one polygon part.

    Returns
    -------
    shapely.Geometry
        The geometry itself if it is a (multi)polygon, else its polygon parts.
    """
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return geom
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon)]
    return shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]


def _throw(
    rng: np.random.Generator,
    candidates: np.ndarray,
    placed: np.ndarray,
    n: int,
    dmin: float,
) -> np.ndarray:
    """Accept up to ``n`` candidates keeping ``dmin`` from each other and from ``placed``."""
    accepted: list[np.ndarray] = []
    pts = placed.copy()
    for c in candidates:
        if len(accepted) == n:
            break
        if len(pts) == 0 or np.min(np.hypot(*(pts - c).T)) >= dmin:
            accepted.append(c)
            pts = np.vstack([pts, c[None, :]]) if len(pts) else c[None, :]
    return np.array(accepted).reshape(-1, 2)


def seed_points(
    rng: np.random.Generator,
    poly: shapely.Geometry,
    seat: np.ndarray,
    n_street: int,
    n_rural: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the seed points: 街道 clustered around the county seat, the others spread out.

    Parameters
    ----------
    rng
        The county's random stream.
    poly
        The county polygon (metric CRS).
    seat
        The county seat ``(x, y)``, inside ``poly``.
    n_street, n_rural
        Number of 街道 points and of 镇/乡 points.

    Returns
    -------
    street, rural : numpy.ndarray
        ``(n_street, 2)`` and ``(n_rural, 2)`` points inside ``poly``. In a county that is all
        街道 the 街道 points are spread uniformly.
    """
    minx, miny, maxx, maxy = poly.bounds
    area = poly.area
    n = n_street + n_rural

    def uniform(k: int) -> np.ndarray:
        out = np.empty((0, 2))
        while len(out) < k:
            xy = rng.uniform([minx, miny], [maxx, maxy], size=(4 * k + 64, 2))
            out = np.vstack([out, xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]])
        return out[:k]

    street = np.empty((0, 2))
    if n_street:
        if n_rural == 0:
            dmin = 0.6 * np.sqrt(area / n)
            street = _fill(rng, lambda k: uniform(k), np.empty((0, 2)), n_street, dmin)
        else:
            sigma = min(1500.0 * np.sqrt(n_street), 0.25 * np.sqrt(area))

            def cluster(k: int) -> np.ndarray:
                out = np.empty((0, 2))
                while len(out) < k:
                    xy = seat + rng.normal(0.0, sigma, size=(4 * k + 64, 2))
                    out = np.vstack([out, xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]])
                return out[:k]

            street = _fill(
                rng, cluster, np.empty((0, 2)), n_street, 0.9 * sigma / np.sqrt(n_street)
            )
    rural = np.empty((0, 2))
    if n_rural:
        dmin = 0.6 * np.sqrt(area / n)
        rural = _fill(rng, uniform, street, n_rural, dmin)
    return street, rural


def _fill(rng: np.random.Generator, sampler, placed: np.ndarray, n: int, dmin: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Dart-throw ``n`` points from ``sampler``, relaxing the spacing until they fit."""
    for _ in range(30):
        got = _throw(rng, sampler(40 * n + 100), placed, n, dmin)
        if len(got) == n:
            return got
        dmin *= 0.8
    return np.asarray(sampler(n))


def voronoi_cells(poly: shapely.Geometry, pts: np.ndarray) -> np.ndarray:
    """Return the Voronoi cells of ``pts`` clipped to ``poly``, one piece each where possible.

    Parameters
    ----------
    poly
        The county polygon (metric CRS).
    pts
        ``(n, 2)`` seed points inside ``poly``.

    Returns
    -------
    numpy.ndarray
        ``n`` polygons (object array) in the order of ``pts``. A piece cut off by a concave
        outline goes to the neighbouring cell it shares the longest border with.
    """
    mp = shapely.multipoints(pts)
    env = shapely.box(*poly.buffer(1000.0).bounds)
    if len(pts) == 1:
        cells = np.array([poly])
    else:
        vor = shapely.voronoi_polygons(mp, extend_to=env, ordered=True)
        cells = shapely.intersection(np.asarray(shapely.get_parts(vor)), poly)
    cells = np.array([polygonal(c) for c in cells], dtype=object)
    # give stray pieces (cut off by a concave county outline) to the neighbour they touch most
    pt_geoms = shapely.points(pts)
    for i, cell in enumerate(cells):
        if not isinstance(cell, shapely.MultiPolygon):
            continue
        parts = list(shapely.get_parts(cell))
        keep = int(np.argmin([p.distance(pt_geoms[i]) for p in parts]))
        main = parts[keep]
        for j, piece in enumerate(parts):
            if j == keep:
                continue
            best, best_len = -1, 0.0
            for k, other in enumerate(cells):
                if k == i or not other.intersects(piece):
                    continue
                shared = shapely.intersection(other.boundary, piece.boundary).length
                if shared > best_len:
                    best, best_len = k, shared
            if best >= 0 and best_len > 1.0:
                cells[best] = polygonal(shapely.union(cells[best], piece))
            else:
                main = shapely.union(main, piece)
        cells[i] = polygonal(main)
    return cells


def adjacency(cells: np.ndarray, pts: np.ndarray) -> coo_matrix:
    """Return the cell adjacency graph, weighted by the distance between the seed points.

    Parameters
    ----------
    cells
        Polygons from :func:`voronoi_cells`.
    pts
        Their seed points.

    Returns
    -------
    scipy.sparse.coo_matrix
        Symmetric ``(n, n)`` matrix with an edge between cells sharing more than 1 m of border.
    """
    tree = shapely.STRtree(cells)
    i, j = tree.query(cells, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if len(i):
        shared = shapely.length(
            shapely.intersection(shapely.boundary(cells[i]), shapely.boundary(cells[j]))
        )
        i, j = i[shared > 1.0], j[shared > 1.0]
    w = np.hypot(*(pts[i] - pts[j]).T) + 1e-3
    n = len(cells)
    return coo_matrix((np.r_[w, w], (np.r_[i, j], np.r_[j, i])), shape=(n, n))


def snap(geom: shapely.Geometry) -> shapely.Geometry:
    """Snap a polygon to the output grid, repairing it first when GEOS needs that.

    Parameters
    ----------
    geom
        A polygon in the output CRS (degrees).

    Returns
    -------
    shapely.Geometry
        The polygonal part of ``geom`` on the ``GRID_DEG`` grid.
    """
    try:
        out = shapely.set_precision(geom, GRID_DEG)
    except shapely.errors.GEOSException:
        out = shapely.set_precision(shapely.make_valid(geom).buffer(0), GRID_DEG)
    return polygonal(out)


def random_point_in(rng: np.random.Generator, poly: shapely.Geometry) -> shapely.Point:
    """Draw a point inside ``poly``, preferably 50 m or more from its edge.

    Parameters
    ----------
    rng
        The county's random stream (two uniforms per try, up to 1,000 tries).
    poly
        A polygon (metric CRS).

    Returns
    -------
    shapely.Point
        The point, or a representative point of ``poly`` if no try hit it.
    """
    minx, miny, maxx, maxy = poly.bounds
    inner = poly.buffer(-50.0)
    target = inner if not inner.is_empty else poly
    for _ in range(1000):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(target, x, y):
            return shapely.Point(x, y)
    return poly.representative_point()
