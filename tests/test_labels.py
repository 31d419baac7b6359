"""Labels for bring-your-own catalogues: id matching, class mapping by patterns, joins and the fixed split."""
import pandas as pd
import pytest

from astroflow.catalogue import Catalogue
from astroflow.errors import InputError
from astroflow.sources.labels import (
    apply_labels,
    apply_split,
    join_labels,
    load_labels,
    map_classes,
    normalise_ids,
    read_ids,
)

BTS_CLASSES = {"Ia": ["SN Ia*"], "II": ["SN II*"], "Ibc": ["SN Ib*", "SN Ic*"]}


def catalogue(ids):
    obs = pd.DataFrame({"object_id": [str(i) for i in ids], "time": 1.0, "band": "g", "value": 1.0, "error": 0.1})
    return Catalogue(obs=obs, objects=pd.DataFrame({"object_id": [str(i) for i in ids]}))


def test_ids_match_across_str_and_int():
    assert normalise_ids(["0042", " 42 ", "42.0", 42, "+7", "ZTF18a", "1e3"]).tolist() == \
        ["42", "42", "42", "42", "7", "ZTF18a", "1e3"]


def test_classes_by_patterns_in_order():
    raw = pd.Series(["SN Ia", "SN Ia-91T", "SN IIn", "SN Ib/c", "SN Ic-BL", "TDE", None])
    assert map_classes(raw, BTS_CLASSES, "Other").tolist() == ["Ia", "Ia", "II", "Ibc", "Ibc", "Other", pd.NA]
    assert map_classes(raw, BTS_CLASSES).isna().tolist() == [False] * 5 + [True, True]
    assert map_classes(raw, {"A": ["SN I*"], "B": ["SN Ia"]}).tolist()[:2] == ["A", "A"]  # first class wins
    assert map_classes(raw).tolist()[:2] == ["SN Ia", "SN Ia-91T"]


def test_join_reports_unlabelled(tmp_path, caplog):
    path = tmp_path / "labels.csv"
    path.write_text("id,type\n7,SN Ia\n0008,SN II\n9,\n99,SN Ia\n")
    cat = apply_labels(catalogue([7, 8, 9, 10]), path, "id", "type", BTS_CLASSES, "Other")
    assert cat.objects["label"].tolist()[:2] == ["Ia", "II"]
    assert cat.objects["label"].isna().tolist() == [False, False, True, True]
    assert "2 of 4 objects have no label" in caplog.text


def test_labels_from_parquet_and_conflicts(tmp_path):
    pd.DataFrame({"id": [1, 2], "cls": ["a", "b"]}).to_parquet(tmp_path / "l.parquet")
    assert load_labels(tmp_path / "l.parquet", "id", "cls").to_dict() == {"1": "a", "2": "b"}
    (tmp_path / "l.csv").write_text("id,cls\n1,a\n1,a\n01,b\n")
    with pytest.raises(InputError, match="'1' has more than one class"):
        load_labels(tmp_path / "l.csv", "id", "cls")
    with pytest.raises(InputError, match="missing column"):
        load_labels(tmp_path / "l.csv", "ZTFID", "cls")


def test_join_replaces_reader_labels():
    cat = catalogue(["a", "b"])
    cat.objects["label"] = pd.array(["x", "y"], dtype="string")
    joined = join_labels(cat, pd.Series({"b": "z"}))
    assert joined.objects["label"].isna().tolist() == [True, False] and joined.objects["label"].iloc[1] == "z"
    assert cat.objects["label"].tolist() == ["x", "y"]  # the input is left as it was


def test_fixed_split(tmp_path):
    path = tmp_path / "test_ids.txt"
    path.write_text("# held out\n0003\n\n5\nnot-here\n")
    assert read_ids(path) == {"3", "5", "not-here"}
    cat = apply_split(catalogue([1, 3, 5, 6]), path)
    assert cat.objects["split"].tolist() == ["train", "test", "test", "train"]
    with pytest.raises(InputError, match="no such file"):
        read_ids(tmp_path / "missing.txt")


@pytest.mark.realdata
def test_ztf_bts_catalogue_classes(realdata_dir):
    root = realdata_dir / "ztf_bts_antares"
    raw = load_labels(root / "ZTF_BTS_02_02__02_04_2021.csv", "ZTFID", "type")
    ids = [p.stem for p in (root / "light_curves").glob("*.csv")]
    classes = map_classes(raw, BTS_CLASSES, "Other")
    assert classes.reindex(ids).value_counts().to_dict() == {"Ia": 1998, "II": 479, "Ibc": 160, "Other": 73}
    assert len(read_ids(root / "test_ids.txt")) == 542
