"""Chunked readers: a file streamed in pieces of whole objects gives the catalogue (and the store) of reading it
whole, without ever holding the file whole; a file whose objects' rows are scattered is refused, named."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from astroflow.catalogue import concat
from astroflow.datasets import resolve
from astroflow.errors import InputError
from astroflow.ingest import ingest_shard
from astroflow.sources import formats
from astroflow.sources.formats import plasticc
from astroflow.store import LightCurveStore


def long_table(n_objects=60, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 60, n_objects)
    obj = np.repeat(np.arange(n_objects), sizes)
    return pd.DataFrame({"object_id": np.char.add("obj", obj.astype(str)),
                         "time": np.round(59000 + rng.uniform(0, 500, len(obj)), 4),
                         "band": np.where(rng.random(len(obj)) < 0.5, "g", "r"),
                         "value": np.round(rng.normal(18, 0.3, len(obj)), 4),
                         "error": np.round(rng.uniform(0.01, 0.1, len(obj)), 4),
                         "label": np.where(obj % 3, "RRab", "EB")})


def same_catalogue(a, b):
    pd.testing.assert_frame_equal(a.obs.reset_index(drop=True), b.obs.reset_index(drop=True))
    pd.testing.assert_frame_equal(a.objects.reset_index(drop=True), b.objects.reset_index(drop=True))


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_long_pieces_are_whole_objects_and_join_to_the_whole_file(tmp_path, suffix):
    path = tmp_path / f"lc.{suffix}"
    table = pa.Table.from_pandas(long_table(), preserve_index=False)
    pacsv.write_csv(table, path) if suffix == "csv" else pq.write_table(table, path, row_group_size=300)
    options = {"columns": {"label": "label"}, "bands": ["g", "r"]}
    pieces = list(formats.read_chunks("long", path, 400, **options))
    assert len(pieces) > 3
    ids = [set(p.objects["object_id"]) for p in pieces]
    assert sum(map(len, ids)) == len(set().union(*ids)) == 60  # no object split between pieces
    assert len(pieces[0].sources) == 1 and not any(p.sources for p in pieces[1:])  # the checksum once
    same_catalogue(concat(pieces), formats.read("long", path, **options))


def test_plasticc_pieces_join_to_the_whole_file(tmp_path):
    frame = long_table(40)
    lc = pd.DataFrame({"object_id": frame["object_id"].str[3:], "mjd": frame["time"],
                       "passband": np.where(frame["band"] == "g", 1, 2), "flux": frame["value"],
                       "flux_err": frame["error"], "detected": 1})
    lc.to_csv(tmp_path / "set.csv", index=False)
    meta = pd.DataFrame({"object_id": lc["object_id"].unique(), "ra": 1.0, "decl": 2.0, "hostgal_photoz": 0.1,
                         "target": 90})
    meta.to_csv(tmp_path / "set_metadata.csv", index=False)
    unit = plasticc.discover(tmp_path)[0]
    pieces = list(plasticc.read_chunks(unit, rows=250))
    assert len(pieces) > 3 and all((p.objects["label"] == "SNIa").all() for p in pieces)
    same_catalogue(concat(pieces), plasticc.read(unit))


def test_scattered_object_rows_are_refused_by_name(tmp_path):
    frame = long_table(30)
    frame = pd.concat([frame, frame[frame["object_id"] == "obj2"]])  # obj2 again at the end of the file
    frame.to_csv(tmp_path / "lc.csv", index=False)
    with pytest.raises(InputError, match=r"lc\.csv.*'obj2' are not all together"):
        list(formats.read_chunks("long", tmp_path / "lc.csv", 200, bands=["g", "r"]))


def test_chunked_ingest_writes_the_store_of_whole_file_ingest(tmp_path):
    long_table(80).to_csv(tmp_path / "lc.csv", index=False)
    stores = {}
    for name, chunk_rows in (("whole", None), ("chunked", 1000)):
        config = {"results": str(tmp_path / "results"), "datasets": {"mine": {
            "path": str(tmp_path / "lc.csv"), "format": "long", "chunk_rows": chunk_rows,
            "options": {"columns": {"label": "label"}, "bands": ["g", "r"]}}}}
        spec = resolve("mine", config, config["results"])
        ingest_shard(type(spec)(**spec.settings()), 0, tmp_path / f"{name}.zarr", tmp_path / f"{name}.qc.parquet")
        stores[name] = LightCurveStore(tmp_path / f"{name}.zarr")
    whole, chunked = stores["whole"].load(), stores["chunked"].load()
    for key in ("time", "value", "error", "band", "row_size", "label", "object_id"):
        np.testing.assert_array_equal(getattr(whole, key), getattr(chunked, key), err_msg=key)
    assert stores["whole"].class_names == stores["chunked"].class_names
    assert stores["chunked"].attrs["provenance"]["inputs"] == stores["whole"].attrs["provenance"]["inputs"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "whole.qc.parquet"),
                                  pd.read_parquet(tmp_path / "chunked.qc.parquet"))
    assert not list(tmp_path.glob(".*pieces*"))  # the pieces are gone
