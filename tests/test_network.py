"""Township adjacency, road layers, road graphs and travel times (optimizer.spatial.network)."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pyogrio
import pytest
from shapely.affinity import translate
from shapely.geometry import LineString, Point, box

from optimizer.errors import DataError
from optimizer.inputs import read_roads
from optimizer.inputs import reading as io
from optimizer.paths import sample_dir
from optimizer.sample import MOUNTAIN_PREFIXES, build_sample, write_sample
from optimizer.spatial import adjacency, network

UTM = "EPSG:32648"


#: Hand-made polygons are drawn at (0, 0) and moved to Sichuan (105 E, 29.8 N) in UTM 48N, so
#: that optimizer.inputs.geometry.projected_crs picks the same zone and coordinates stay readable.
X0, Y0 = 500_000.0, 3_300_000.0


def towns(rows: list[tuple[str, str, object]], *, shift: bool = True) -> gpd.GeoDataFrame:
    """Townships from (code, county_code, geometry) rows, in UTM 48N."""
    geoms = [translate(r[2], X0, Y0) if shift else r[2] for r in rows]
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "county_code": [r[1] for r in rows],
            "name": [f"T{r[0][-3:]}" for r in rows],
        },
        geometry=geoms,
        crs=UTM,
    )


def square(x: float, y: float, side: float = 1000.0) -> object:
    return box(x, y, x + side, y + side)


def check_adjacency_invariants(graph: nx.Graph) -> None:
    """Properties every adjacency graph has, checked from the graph alone."""
    assert list(graph.nodes) == sorted(graph.nodes)
    for a, b, d in graph.edges(data=True):
        assert d["kind"] in ("border", "gap", "island")
        same = graph.nodes[a]["county_code"] == graph.nodes[b]["county_code"]
        assert d["cross_county"] is (not same)
        if d["kind"] == "island":
            assert same and d["shared_m"] == 0.0 and d["gap_m"] >= 0.0
        else:
            assert d["shared_m"] > 0.0
    for county, parts in network.county_components(graph).items():
        assert len(parts) == 1, f"county {county} split into {parts}"


# --------------------------------------------------------------------------------------------
# adjacency


def test_grid_rook_adjacency_corner_contact_is_not_adjacent() -> None:
    # 3 x 3 grid; codes 510101100 + k, k = 3 * row + col
    rows = [
        (f"510101{100 + k}", "510101", square(1000 * (k % 3), 1000 * (k // 3))) for k in range(9)
    ]
    graph = network.township_adjacency(towns(rows))
    check_adjacency_invariants(graph)
    code = [r[0] for r in rows]
    expected = set()
    for k in range(9):
        if k % 3 < 2:
            expected.add((code[k], code[k + 1]))
        if k < 6:
            expected.add((code[k], code[k + 3]))
    assert set(graph.edges) == expected  # rook: 12 edges, no diagonal (point) contacts
    assert not graph.has_edge(code[0], code[4])
    for _, _, d in graph.edges(data=True):
        assert d["kind"] == "border" and d["gap_m"] == 0.0
        assert d["shared_m"] == pytest.approx(1000.0, abs=25.0)
    node = graph.nodes[code[4]]
    assert node["county_code"] == "510101" and node["name"] == "T104"
    assert node["x"] == pytest.approx(X0 + 1500.0) and node["y"] == pytest.approx(Y0 + 1500.0)
    assert graph.graph["crs"] == UTM


def test_gap_within_tolerance_is_adjacent_and_wide_gap_is_not() -> None:
    rows = [
        ("510101100", "510101", square(0, 0)),
        ("510101101", "510101", square(1020, 0)),  # 20 m gap: a digitising gap
        ("510102100", "510102", square(2520, 0)),  # 500 m from 510101101, other county
    ]
    graph = network.township_adjacency(towns(rows), tolerance_m=100.0)
    check_adjacency_invariants(graph)
    edge = graph.edges["510101100", "510101101"]
    assert edge["kind"] == "gap" and edge["gap_m"] == pytest.approx(20.0, abs=0.5)
    assert edge["shared_m"] == pytest.approx(1000.0, abs=25.0)
    assert not graph.has_edge("510101101", "510102100")
    # with a smaller tolerance the 20 m gap separates them: the county gets an island link
    strict = network.township_adjacency(towns(rows), tolerance_m=10.0)
    assert strict.edges["510101100", "510101101"]["kind"] == "island"
    assert strict.edges["510101100", "510101101"]["gap_m"] == pytest.approx(20.0, abs=0.5)


def test_overlap_sliver_is_border_and_cross_county_is_flagged() -> None:
    rows = [
        ("510101100", "510101", square(0, 0)),
        ("510102100", "510102", box(990, 0, 2000, 1000)),  # overlaps by 10 m
    ]
    graph = network.township_adjacency(towns(rows))
    check_adjacency_invariants(graph)
    edge = graph.edges["510101100", "510102100"]
    assert edge["kind"] == "border" and edge["cross_county"] is True


def test_island_links_to_nearest_township_of_its_county() -> None:
    rows = [
        ("510101100", "510101", square(0, 0)),
        ("510101101", "510101", square(1000, 0)),
        ("510101102", "510101", square(2000, 0)),
        ("510102100", "510102", box(0, 1000, 3000, 6000)),  # other county all around the north
        ("510101200", "510101", square(2500, 3000)),  # island inside 510102, 2 km from 102
    ]
    # cut the island out of the surrounding county (an enclave)
    gdf = towns(rows)
    gdf.loc[3, "geometry"] = gdf.geometry[3].difference(gdf.geometry[4].buffer(300))
    graph = network.township_adjacency(gdf)
    check_adjacency_invariants(graph)
    island = [(a, b, d) for a, b, d in graph.edges(data=True) if d["kind"] == "island"]
    assert len(island) == 1
    a, b, d = island[0]
    assert {a, b} == {"510101102", "510101200"}
    assert d["gap_m"] == pytest.approx(2000.0, abs=1.0)
    assert graph.graph["islands"] == 1
    raw = network.county_components(graph, include_islands=False)
    assert raw["510101"] == [["510101100", "510101101", "510101102"], ["510101200"]]
    assert network.county_components(graph)["510101"] == [
        ["510101100", "510101101", "510101102", "510101200"]
    ]
    # the enclave is not adjacent to the county around it (300 m moat)
    assert not graph.has_edge("510101200", "510102100")


def test_tiny_data_cross_county_edges(tiny_townships: gpd.GeoDataFrame) -> None:
    tiny_townships["county_code"] = tiny_townships["code"].str[:6]
    graph = network.township_adjacency(tiny_townships)
    check_adjacency_invariants(graph)
    cross = sorted((a, b) for a, b, d in graph.edges(data=True) if d["cross_county"])
    # the counties meet along x = 104.15: 510122103|513222100 and 510122202|513222200... rows
    assert len(cross) == 2
    for a, b in cross:
        assert a.startswith("510122") and b.startswith("513222")
    assert graph.number_of_edges() == 2 * 7 + 2  # 3 x 2 grid per county: 7 rook edges


def test_adjacency_reports_bad_input_together() -> None:
    gdf = towns([("510101100", "510101", square(0, 0)), ("510101100", "510101", Point(0, 0))])
    gdf = gdf.drop(columns="name").set_crs(None, allow_override=True)
    with pytest.raises(DataError) as err:
        network.township_adjacency(gdf)
    text = str(err.value)
    assert "name" in text and "no CRS" in text


def test_bundled_sample_every_county_connected() -> None:
    inputs = io.load_inputs(sample_dir())
    graph = network.township_adjacency(inputs.townships)
    check_adjacency_invariants(graph)
    assert graph.number_of_nodes() == len(inputs.townships)
    assert any(d["cross_county"] for *_, d in graph.edges(data=True))


@pytest.fixture(scope="module")
def province() -> object:
    return build_sample("all", seed=2020)


def test_whole_province_adjacency(province) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    graph = network.township_adjacency(province.townships)
    seconds = time.perf_counter() - t0
    print(
        f"\nprovince adjacency: {graph.number_of_nodes():,} townships, "
        f"{graph.number_of_edges():,} edges, {graph.graph['islands']} island links, "
        f"{seconds:.2f} s"
    )
    assert graph.number_of_nodes() == 3101
    check_adjacency_invariants(graph)


# --------------------------------------------------------------------------------------------
# travel times


def roads_gdf(segments: list[tuple[tuple[float, float], tuple[float, float], float]]):  # type: ignore[no-untyped-def]
    return gpd.GeoDataFrame(
        {"class": None, "speed_kmh": [s for *_, s in segments]},
        geometry=[LineString([a, b]) for a, b, _ in segments],
        crs=UTM,
    )


SQUARE = [
    ((0, 0), (1000, 0), 60.0),  # 1 min per km
    ((1000, 0), (1000, 1000), 60.0),
    ((1000, 1000), (0, 1000), 60.0),
    ((0, 1000), (0, 0), 60.0),
]


def path_minutes(graph: nx.Graph, a: int, b: int) -> float:
    """Minutes along networkx's own shortest path, recomputed edge by edge."""
    path = nx.shortest_path(graph, a, b, weight="minutes")
    return sum(graph.edges[u, w]["minutes"] for u, w in zip(path, path[1:], strict=False))


def node_at(graph: nx.Graph, x: float, y: float) -> int:
    return next(n for n, d in graph.nodes(data=True) if (d["x"], d["y"]) == (x, y))


@pytest.mark.parametrize(("diagonal_kmh", "road_minutes"), [(6.0, 2.0), (120.0, 2**0.5 / 2)])
def test_travel_minutes_square_with_diagonal(diagonal_kmh: float, road_minutes: float) -> None:
    graph = network.road_graph(roads_gdf([*SQUARE, ((0, 0), (1000, 1000), diagonal_kmh)]), UTM)
    assert graph.number_of_nodes() == 4 and graph.number_of_edges() == 5
    diag = graph.edges[node_at(graph, 0, 0), node_at(graph, 1000, 1000)]
    assert diag["length_m"] == pytest.approx(1000 * 2**0.5)
    assert diag["minutes"] == pytest.approx(1000 * 2**0.5 / (diagonal_kmh * 1000 / 60))
    origins = np.array([[0.0, -100.0]])  # 100 m below A
    dests = np.array([[1000.0, 1000.0], [1000.0, 0.0]])  # C, B
    minutes, used = network.travel_minutes(
        graph, origins, dests, np.array([0, 0]), np.array([0, 1])
    )
    access = 100 * 1.3 / (15 * 1000 / 60)  # 0.52 min at 15 km/h with circuity 1.3
    assert used.tolist() == [True, True]
    assert minutes[0] == pytest.approx(access + road_minutes)
    assert minutes[1] == pytest.approx(access + 1.0)
    a, c = node_at(graph, 0, 0), node_at(graph, 1000, 1000)
    assert minutes[0] == pytest.approx(access + path_minutes(graph, a, c))


def test_lines_join_at_shared_vertices_on_the_grid() -> None:
    # the second line starts 0.3 m from the first one's end: one node on the 1 m grid
    roads = roads_gdf([((0, 0), (1000, 0), 60.0), ((1000.3, 0.2), (2000, 0), 60.0)])
    graph = network.road_graph(roads, UTM)
    assert nx.is_connected(graph) and graph.number_of_nodes() == 3
    # parallel duplicates keep the fastest
    graph = network.road_graph(
        roads_gdf([((0, 0), (1000, 0), 30.0), ((1000, 0), (0, 0), 60.0)]), UTM
    )
    assert graph.number_of_edges() == 1
    assert next(iter(graph.edges(data=True)))[2]["minutes"] == pytest.approx(1.0)


def test_disconnected_pairs_fall_back_to_straight_line() -> None:
    far = [((5000, 5000), (6000, 5000), 60.0)]
    graph = network.road_graph(roads_gdf([*SQUARE, *far]), UTM)
    origins = np.array([[5000.0, 5000.0], [0.0, 0.0]])
    dests = np.array([[1000.0, 1000.0]])
    po, pd_ = np.array([0, 1]), np.array([0, 0])
    minutes, used = network.travel_minutes(graph, origins, dests, po, pd_, snap="nearest")
    straight = network.straight_line_minutes(origins, dests, po, pd_, circuity=1.3, kmh=30.0)
    assert used.tolist() == [False, True]
    assert minutes[0] == pytest.approx(straight[0])
    assert minutes[0] == pytest.approx(np.hypot(4000, 4000) * 1.3 / 500.0)
    assert minutes[1] == pytest.approx(2.0)
    # snapping to the largest network instead: the origin walks to the square
    minutes, used = network.travel_minutes(graph, origins, dests, po, pd_)
    assert used.tolist() == [True, True]
    walk = np.hypot(4000, 4000) * 1.3 / 250.0
    assert minutes[0] == pytest.approx(walk)  # snapped onto C itself
    # too far from any road: fallback
    minutes, used = network.travel_minutes(graph, origins, dests, po, pd_, max_snap_m=1000.0)
    assert used.tolist() == [False, True]


def test_travel_is_restricted_to_the_county() -> None:
    # county 1 (south): A-B by a slow direct road; county 2 (north): a fast detour A-P-Q-B
    county1 = box(-500, -500, 3500, 1500)
    county2 = box(-500, 1500, 3500, 6000)
    t = towns([("510101100", "510101", county1), ("510102100", "510102", county2)], shift=False)
    segments = [
        ((0, 0), (3000, 0), 10.0),  # 18 min
        ((0, 0), (0, 4000), 120.0),  # 2 min
        ((0, 4000), (3000, 4000), 120.0),  # 1.5 min
        ((3000, 4000), (3000, 0), 120.0),  # 2 min
    ]
    graph = network.road_graph(roads_gdf(segments), UTM, townships=t)
    groups = graph.graph["group_nodes"]
    assert sorted(groups) == ["510101", "510102"]
    a, p = node_at(graph, 0, 0), node_at(graph, 0, 4000)
    assert graph.nodes[a]["group"] == "510101" and graph.nodes[p]["group"] == "510102"
    origins, dests = np.array([[0.0, 0.0]]), np.array([[3000.0, 0.0]])
    free, _ = network.travel_minutes(graph, origins, dests, np.array([0]), np.array([0]))
    assert free[0] == pytest.approx(5.5)
    county, used = network.travel_minutes(
        graph,
        origins,
        dests,
        np.array([0]),
        np.array([0]),
        groups_o=np.array(["510101"]),
        groups_d=np.array(["510101"]),
    )
    assert used[0] and county[0] == pytest.approx(18.0)
    # a group without roads falls back
    minutes, used = network.travel_minutes(
        graph, origins, dests, np.array([0]), np.array([0]), groups_d=np.array(["510199"])
    )
    assert not used[0]
    with pytest.raises(ValueError, match="no groups"):
        network.travel_minutes(
            network.road_graph(roads_gdf(segments), UTM),
            origins,
            dests,
            np.array([0]),
            np.array([0]),
            groups_d=np.array(["510101"]),
        )


# --------------------------------------------------------------------------------------------
# road layers


def chinese_roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "道路等级": ["国道", "县道", "乡道", "机耕道"],
            "设计速度": [None, None, 35.0, None],
        },
        geometry=[
            LineString([(102.0, 30.0), (102.1, 30.0)]),
            LineString([(102.1, 30.0), (102.1, 30.1)]),
            LineString([(102.1, 30.1), (102.0, 30.1)]),
            LineString([(102.0, 30.1), (102.0, 30.0)]),
        ],
        crs="EPSG:4490",
    )


def test_read_roads_chinese_classes_gpkg(tmp_path: Path) -> None:
    path = tmp_path / "roads.gpkg"
    chinese_roads().to_file(path)
    roads = read_roads(path)
    assert roads["class"].tolist() == ["国道", "县道", "乡道", "机耕道"]
    assert roads["speed_kmh"].tolist() == [60.0, 40.0, 35.0, 15.0]
    assert roads["speed_from"].tolist() == ["class", "class", "given", "class"]
    assert roads.crs.to_epsg() == 4326
    custom = read_roads(path, speeds={"国道": 80})
    assert custom["speed_kmh"].iloc[0] == 80.0


def test_read_roads_gbk_shapefile_without_cpg(tmp_path: Path) -> None:
    path = tmp_path / "roads.shp"
    chinese_roads().to_file(path, encoding="GBK")
    for extra in tmp_path.glob("roads.cpg"):
        extra.unlink()
    raw = (tmp_path / "roads.dbf").read_bytes()
    assert "国道".encode("gbk") in raw
    roads = read_roads(path)
    assert roads["class"].tolist() == ["国道", "县道", "乡道", "机耕道"]
    assert roads["speed_kmh"].tolist() == [60.0, 40.0, 35.0, 15.0]


def test_read_roads_lists_every_problem(tmp_path: Path) -> None:
    bad = gpd.GeoDataFrame(
        {"class": ["国道", "快速路", None, "县道"], "speed": [None, None, None, "fast"]},
        geometry=[
            LineString([(102.0, 30.0), (102.1, 30.0)]),
            LineString([(102.1, 30.0), (102.1, 30.1)]),
            LineString([(102.1, 30.1), (102.0, 30.1)]),
            Point(102.0, 30.0),
        ],
        crs=None,
    )
    path = tmp_path / "roads.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        bad.to_file(path)
    with pytest.raises(DataError) as err:
        read_roads(path)
    text = str(err.value)
    problems = err.value.problems
    assert len(problems) >= 5, text
    assert "no CRS" in text
    assert "must be lines" in text and "feature 4" in text
    assert "快速路" in text and "feature 2" in text
    assert "neither class nor speed_kmh in feature 3" in text
    assert "not a number" in text

    nothing = gpd.GeoDataFrame({"name": ["a"]}, geometry=[LineString([(0, 0), (1, 1)])], crs=4326)
    nothing.to_file(tmp_path / "plain.gpkg")
    with pytest.raises(DataError, match="no road class or speed column"):
        read_roads(tmp_path / "plain.gpkg")


def test_load_inputs_picks_up_roads(make_data_dir, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = make_data_dir("with_roads")
    inputs = io.load_inputs(folder)
    assert inputs.roads is None
    chinese_roads().to_file(folder / "roads.gpkg")
    inputs = io.load_inputs(folder)
    assert inputs.roads is not None and len(inputs.roads) == 4
    assert inputs.sources["roads"].endswith("roads.gpkg")
    bad = chinese_roads()
    bad["道路等级"] = "小路"
    bad["设计速度"] = None
    bad.to_file(tmp_path / "bad_roads.gpkg")
    with pytest.raises(DataError, match="unknown road class"):
        io.load_inputs(folder, roads=tmp_path / "bad_roads.gpkg")


# --------------------------------------------------------------------------------------------
# synthetic roads


def test_sample_roads_deterministic_labelled_and_connected(tmp_path: Path) -> None:
    a = write_sample(build_sample("5118", seed=3), tmp_path / "a")
    write_sample(build_sample("5118", seed=3), tmp_path / "b")
    assert (tmp_path / "a" / "roads.gpkg") in a
    for name in ("roads.gpkg", "townships.gpkg", "README.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert pyogrio.list_layers(tmp_path / "a" / "roads.gpkg")[0][0] == "roads"
    info = pyogrio.read_info(tmp_path / "a" / "roads.gpkg")
    assert info["crs"] == "EPSG:4490"
    roads = read_roads(tmp_path / "a" / "roads.gpkg")
    raw = gpd.read_file(tmp_path / "a" / "roads.gpkg")
    assert list(raw.columns) == ["class", "speed_kmh", "source", "geometry"]
    assert raw["source"].str.startswith("synthetic").all()
    assert set(raw["class"]) <= {"国道", "省道", "县道", "乡道"}
    assert "5118".startswith(MOUNTAIN_PREFIXES)
    factor = raw["speed_kmh"] / raw["class"].map({"国道": 60, "省道": 50, "县道": 40, "乡道": 30})
    assert np.allclose(factor, 0.65, atol=0.01)
    assert "SYNTHETIC" in (tmp_path / "a" / "README.md").read_text(encoding="utf-8")

    townships = io.load_inputs(tmp_path / "a").townships
    graph = network.road_graph(roads, network.township_adjacency(townships).graph["crs"])
    assert nx.is_connected(graph)


def test_bundled_sample_travel_times_by_road() -> None:
    inputs = io.load_inputs(sample_dir())
    assert inputs.roads is not None
    adj = network.township_adjacency(inputs.townships)
    graph = network.road_graph(inputs.roads, adj.graph["crs"], townships=inputs.townships)
    codes = list(adj.nodes)
    oxy = np.array([[adj.nodes[c]["x"], adj.nodes[c]["y"]] for c in codes])
    gro = np.array([adj.nodes[c]["county_code"] for c in codes], dtype=object)
    fac = inputs.facilities[inputs.facilities["type"] == "police_station"].reset_index(drop=True)
    pts = gpd.GeoSeries(gpd.points_from_xy(fac["lon"], fac["lat"]), crs=4326).to_crs(
        adj.graph["crs"]
    )
    dxy = np.column_stack([pts.x, pts.y])
    grd = fac["county_code"].to_numpy(dtype=object)
    po, pd_ = (
        np.concatenate(x)
        for x in zip(
            *[
                (
                    np.repeat(np.flatnonzero(gro == c), int((grd == c).sum())),
                    np.tile(np.flatnonzero(grd == c), int((gro == c).sum())),
                )
                for c in sorted(set(gro))
            ],
            strict=True,
        )
    )
    t0 = time.perf_counter()
    minutes, used = network.travel_minutes(graph, oxy, dxy, po, pd_, groups_o=gro, groups_d=grd)
    print(f"\nsample travel times: {len(po):,} pairs in {time.perf_counter() - t0:.2f} s")
    assert np.all(np.isfinite(minutes)) and np.all(minutes >= 0)
    assert used.mean() > 0.9
    # a station's own township seat is reached faster than the county's farthest seat
    assert np.median(minutes[used]) < np.max(minutes[used])


def test_corner_across_small_gap_is_not_adjacent() -> None:
    rows = [
        ("510101100", "510101", square(0, 0)),
        ("510102100", "510102", square(1020, 1020)),  # diagonal, corners 28 m apart
    ]
    graph = network.township_adjacency(towns(rows))
    assert graph.number_of_edges() == 0


def test_whole_province_travel_times(province) -> None:  # type: ignore[no-untyped-def]
    adj = network.township_adjacency(province.townships)
    t0 = time.perf_counter()
    graph = network.road_graph(province.roads, adj.graph["crs"], townships=province.townships)
    built = time.perf_counter() - t0
    codes = list(adj.nodes)
    oxy = np.array([[adj.nodes[c]["x"], adj.nodes[c]["y"]] for c in codes])
    gro = np.array([adj.nodes[c]["county_code"] for c in codes], dtype=object)
    fac = province.facilities[province.facilities["type"] == "police_station"]
    pts = gpd.GeoSeries(gpd.points_from_xy(fac["lon"], fac["lat"]), crs=4326)
    pts = pts.to_crs(adj.graph["crs"])
    dxy = np.column_stack([pts.x, pts.y])
    grd = fac["county_code"].to_numpy(dtype=object)
    po_list, pd_list = [], []
    for c in sorted(set(gro)):
        oi, di = np.flatnonzero(gro == c), np.flatnonzero(grd == c)
        po_list.append(np.repeat(oi, len(di)))
        pd_list.append(np.tile(di, len(oi)))
    po, pd_ = np.concatenate(po_list), np.concatenate(pd_list)
    t0 = time.perf_counter()
    minutes, used = network.travel_minutes(graph, oxy, dxy, po, pd_, groups_o=gro, groups_d=grd)
    seconds = time.perf_counter() - t0
    print(
        f"\nprovince roads: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} "
        f"edges in {built:.2f} s; travel times for {len(po):,} pairs in {seconds:.2f} s, "
        f"{used.mean():.1%} by road"
    )
    assert np.all(np.isfinite(minutes)) and used.mean() > 0.95


def test_network_module_keeps_the_adjacency_functions():
    """Adjacency lives in spatial.adjacency; spatial.network still exposes it unchanged."""
    assert network.township_adjacency is adjacency.township_adjacency
    assert network.county_components is adjacency.county_components
    assert set(network.__all__) == {
        "assign_node_groups",
        "county_components",
        "road_graph",
        "straight_line_minutes",
        "township_adjacency",
        "travel_minutes",
    }
