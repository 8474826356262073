"""Fast tests of the evaluation sets: sets.tsv with its half column, the label files, and the seeded set rule.

The rule is run on a small synthetic manifest here; the real tier
(tests/real/test_eval_real.py) checks the committed sets.tsv against the data.
"""

from __future__ import annotations

import pytest

from reenactor.errors import InputError
from reenactor.eval import labels as L
from reenactor.eval import setrule as S
from reenactor.eval.sets import HALVES, SETS_FILE, EvalItem, load_sets, select

#: The 18 items of the first sets (they chose the defaults).
TUNED = {
    "mead_w009_surprised", "styletalk_furious2", "hdtf_katie_hill", "hdtf_radio34", "retalking_2_upper_body",
    "mead_m030_1080p", "grid_bbaf2n", "vox_lia_driving2", "mona_lisa__lp_d0", "paint1__hdtf_aoc", "art0_tall__lp_d3",
    "jolie_photo__retalking_1", "jake__mead_1080p", "art13__grid_swiz3n", "dylan_bw__mead_w011",
    "hathaway__hdtf_markey", "musk__styletalk_nice", "full3_art__lp_d12",
}


# ----------------------------------------------------------------- sets.tsv
def test_committed_sets_have_halves_and_keep_the_tuned_items_in_dev():
    items = load_sets()
    assert {it.half for it in items} == set(HALVES)
    by_name = {it.name: it for it in items}
    assert TUNED <= set(by_name)
    assert all(by_name[n].half == "dev" for n in TUNED)
    tuned = {it.name: it for it in S.load_tuned()}
    assert set(tuned) == TUNED
    for n, it in tuned.items():  # same files as when they tuned the defaults
        assert (by_name[n].portrait, by_name[n].driver) == (it.portrait, it.driver)
    assert sum(it.protocol == "cross" for it in items) >= 40 and sum(it.protocol == "self" for it in items) >= 20
    for protocol in ("self", "cross"):
        dev = select(items, protocol, half="dev")
        check = select(items, protocol, half="check")
        assert dev and check and abs(len(dev) - len(check)) <= max(3, len(dev + check) // 5)
    # the file is readable: a header comment naming the columns, one row per item
    text = SETS_FILE.read_text(encoding="utf-8")
    assert "# protocol\tname\tportrait\tdriver\thalf\twhy" in text
    assert text == S.render_sets(items)


def test_load_sets_parses_and_rejects_the_half_column(tmp_path):
    f = tmp_path / "sets.tsv"
    f.write_text("# c\nself\ta\t-\tvideos/x.mp4\tcheck\twhy a\ncross\tb\tportraits/p.png\tvideos/y.mp4\tdev\twhy b\n")
    items = load_sets(f)
    assert items == [EvalItem("self", "a", None, "videos/x.mp4", "why a", "check"), EvalItem("cross", "b", "portraits/p.png", "videos/y.mp4", "why b", "dev")]
    assert [it.name for it in select(items, "all", half="check")] == ["a"]
    assert [it.name for it in select(items, "cross", half="dev")] == ["b"]
    assert select(items, "cross", half="check") == []
    with pytest.raises(InputError):
        select(items, "all", ["a"], half="dev")  # a is in the other half
    with pytest.raises(InputError):
        select(items, "all", half="both")
    f.write_text("self\ta\t-\tvideos/x.mp4\ttuned\twhy\n")
    with pytest.raises(InputError, match="half"):
        load_sets(f)
    f.write_text("self\ta\t-\tvideos/x.mp4\twhy\n")  # the first format, 5 columns
    with pytest.raises(InputError, match="6 tab-separated"):
        load_sets(f)
    assert load_sets(f, default_half="dev")[0].half == "dev"


# ----------------------------------------------------------------- labels
def test_committed_labels_are_consistent():
    portraits = L.read_portrait_labels()
    clips = L.read_clip_labels()
    kinds = {k for lab in portraits.values() for k in lab.kinds}
    assert set(S.COVER_KINDS) <= kinds and {"negative", "multi_face"} <= kinds
    assert {c.kind for c in clips.values()} == set(L.CLIP_KINDS)
    assert all(f.startswith("portraits/") for f in portraits) and all(f.startswith("videos/") for f in clips)


def test_label_reader_rejects_unknown_and_inconsistent_tags(tmp_path):
    head = "file\tkinds\tface_frac\tchroma\tdlib_faces\tpipeline_faces\texclude\tnote\n"
    f = tmp_path / "p.tsv"
    f.write_text(head + "portraits/a.png\tphoto,small_face\t0.1\t50\t1\t1\t-\t\n")
    assert L.read_portrait_labels(f)["portraits/a.png"].kinds == ("photo", "small_face")
    f.write_text(head + "portraits/a.png\tphoto\t0.1\t50\t1\t1\t-\t\n")  # small face not tagged
    with pytest.raises(InputError, match="measured kinds"):
        L.read_portrait_labels(f)
    assert L.read_portrait_labels(f, strict=False)["portraits/a.png"].kinds == ("photo",)
    f.write_text(head + "portraits/a.png\tphoto,cat\t0.5\t50\t1\t1\t-\t\n")
    with pytest.raises(InputError, match="unknown kind"):
        L.read_portrait_labels(f)
    f.write_text(head + "portraits/a.png\tphoto,painting\t0.5\t50\t1\t1\t-\t\n")
    with pytest.raises(InputError, match="exactly one"):
        L.read_portrait_labels(f)
    assert L.clip_kind(0.2, 2.0) == "uncropped" and L.clip_kind(0.6, 0.9) == "translation" and L.clip_kind(0.6, 0.1) == "crop"


# ----------------------------------------------------------------- the rule on a synthetic data set
def _synthetic():
    manifest, portraits, clips = {}, {}, {}
    for src, n in (("srcA", 4), ("srcB", 2), ("srcC", 1)):
        for i in range(n):
            f = f"videos/{src}__clip{i}.mp4"
            manifest[f] = {"file": f, "identity": f"{src}_{i % 2}", "origin": f"owner/{src}@abc", "size": "256x256", "fps": "25.00", "audio": "no"}
            shift = 0.9 if i % 2 else 0.1
            clips[f] = L.ClipLabel(f, L.clip_kind(0.5 if i < 3 else 0.3, shift), 1.0, 0.5 if i < 3 else 0.3, shift, 1, 1)
    kinds = [("photo",), ("photo", "beard"), ("photo", "teeth"), ("painting",), ("painting", "glasses"), ("digital",),
             ("digital", "teeth"), ("photo", "small_face"), ("photo", "greyscale"), ("negative",), ("photo", "multi_face"),
             ("photo",), ("painting", "beard"), ("digital",)]
    for i, k in enumerate(kinds):
        f = f"portraits/p{i}.png"
        manifest[f] = {"file": f, "identity": f"person{i}", "origin": "owner/pics@abc", "size": "", "fps": "", "audio": ""}
        portraits[f] = L.PortraitLabel(f, k, 0.1 if "small_face" in k else 0.4, 0.0 if "greyscale" in k else 40.0,
                                       0 if "negative" in k else (2 if "multi_face" in k else 1), 2 if "multi_face" in k else 1)
    tuned = [
        EvalItem("self", "old_self", None, "videos/srcA__clip0.mp4", "tuned", "dev"),
        EvalItem("cross", "old_cross", "portraits/p0.png", "videos/srcA__clip1.mp4", "tuned", "dev"),
    ]
    return manifest, portraits, clips, tuned


def test_rule_is_deterministic_and_independent_of_input_order():
    manifest, portraits, clips, tuned = _synthetic()
    a = S.render_sets(S.build_sets(manifest, portraits, clips, tuned))
    b = S.render_sets(S.build_sets(dict(reversed(list(manifest.items()))), dict(reversed(list(portraits.items()))), clips, tuned))
    assert a == b
    assert S.key("x") == S.key("x") != S.key("y") and S.key("x") != S.key("x", seed=14)


def test_rule_covers_sources_and_kinds_and_keeps_tuned_items_in_dev():
    manifest, portraits, clips, tuned = _synthetic()
    items = S.build_sets(manifest, portraits, clips, tuned)
    by = {it.name: it for it in items}
    assert by["old_self"].half == "dev" and by["old_cross"].half == "dev"
    cross = [it for it in items if it.protocol == "cross"]
    selfs = [it for it in items if it.protocol == "self"]
    src = lambda it: S.source_of(manifest[it.driver]["origin"])  # noqa: E731
    # per source max(1, 3 - tuned) pairs: srcA 1 tuned + 2, srcB 3, srcC 3 (its one clip repeated)
    assert sorted(src(it) for it in cross) == ["srcA"] * 3 + ["srcB"] * 3 + ["srcC"] * 3
    new_portraits = [it.portrait for it in cross if it.name != "old_cross"]
    assert len(set(new_portraits)) == len(new_portraits) and "portraits/p0.png" not in new_portraits
    assert "portraits/p9.png" not in new_portraits and "portraits/p10.png" not in new_portraits  # negative, multi_face
    drawn = {k for p in new_portraits for k in portraits[p].kinds}
    assert set(S.COVER_KINDS) <= drawn
    assert all(manifest[it.portrait]["identity"] != manifest[it.driver]["identity"] for it in cross)
    # new cross pairs use the tuned clips only after the source's other clips
    assert [it.driver for it in cross if src(it) == "srcA" and it.name != "old_cross"] == sorted(
        ["videos/srcA__clip2.mp4", "videos/srcA__clip3.mp4"], key=S.key)
    # self: srcA 1 tuned + 1, srcB 2, srcC 1; never a tuned clip again
    assert sorted(src(it) for it in selfs) == ["srcA", "srcA", "srcB", "srcB", "srcC"]
    assert len({it.driver for it in selfs}) == len(selfs)
    # halves: every source with two or more items has both halves
    for s in ("srcA", "srcB", "srcC"):
        for group in (cross, selfs):
            halves = {it.half for it in group if src(it) == s}
            if sum(src(it) == s for it in group) >= 2:
                assert halves == {"dev", "check"}, (s, group[0].protocol)


def test_rule_rejects_unlabelled_files():
    manifest, portraits, clips, tuned = _synthetic()
    manifest["portraits/new.png"] = {"file": "portraits/new.png", "identity": "x", "origin": "o/p@c"}
    with pytest.raises(InputError, match="no row in portrait_kinds"):
        S.build_sets(manifest, portraits, clips, tuned)
    manifest, portraits, clips, tuned = _synthetic()
    del clips["videos/srcB__clip1.mp4"]
    with pytest.raises(InputError, match="driver_kinds"):
        S.build_sets(manifest, portraits, clips, tuned)


def test_short_names():
    assert S.short("videos/LIA__driving1.mp4") == "lia_driving1"
    assert S.short("videos/dreamtalk__W011_front_fear_level3_001.mp4") == "mead_w011_fear"
    assert S.short("videos/Thin-Plate-Spline-Motion-Model__driving.mp4") == "tpsmm_driving"
    assert S.source_of("OpenTalker/SadTalker@cd4c046") == "SadTalker"
