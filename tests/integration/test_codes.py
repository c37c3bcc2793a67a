"""Code lists (GET /api/v1/codes/...): the flat and two-level lists, regions, calendar."""

import json

import pytest

from helpers import assert_problem

FLAT_LISTS = ["domains", "org_types", "ip_types", "plan_sources", "refusal_grounds", "transfer_modes",
              "cooperation_modes", "pricing_modes", "maturity_stages"]
ALL_LISTS = ["contract_types"] + FLAT_LISTS


def _get_list(api, name):
    r = api.get(f"/api/v1/codes/{name}")
    assert r.status == 200, r
    assert r.headers["Content-Type"].split(";")[0].strip() == "application/json"
    b = r.body
    assert isinstance(b, dict), b
    return b


@pytest.mark.parametrize("name", ALL_LISTS)
def test_code_list_shape(api, name):
    b = _get_list(api, name)
    assert b.get("list") == name
    assert isinstance(b.get("label"), str) and b["label"], b
    items = b.get("items")
    assert isinstance(items, list) and items, f"{name}: no items"
    codes = set()
    for it in items:
        for k in ("code", "label", "label_en", "parent_code", "sort"):
            assert k in it, f"{name}: item without {k!r}: {it}"
        assert isinstance(it["code"], str) and it["code"], it
        assert isinstance(it["label"], str) and it["label"], it
        assert isinstance(it["label_en"], str), it
        assert it["parent_code"] is None or isinstance(it["parent_code"], str), it
        assert isinstance(it["sort"], int), it
        assert it["code"] not in codes, f"{name}: duplicate code {it['code']}"
        codes.add(it["code"])
    for it in items:
        if it["parent_code"] is not None:
            assert it["parent_code"] in codes, f"{name}: parent {it['parent_code']} of {it['code']} not listed"


def test_contract_types_two_levels(api):
    items = _get_list(api, "contract_types")["items"]
    top = [it for it in items if it["parent_code"] is None]
    assert len(top) == 5, [it["label"] for it in top]
    assert {it["label"] for it in top} == {"技术开发", "技术转让", "技术许可", "技术咨询", "技术服务"}
    by_code = {it["code"]: it for it in top}
    subs = [it for it in items if it["parent_code"] is not None]
    assert subs, "no subtypes"
    for it in subs:
        assert it["parent_code"] in by_code, f"subtype {it} hangs below a non-top item"
    for code, t in by_code.items():
        assert any(s["parent_code"] == code for s in subs), f"type {t['label']} has no subtypes"
    dev = next(c for c, t in by_code.items() if t["label"] == "技术开发")
    assert {s["label"] for s in subs if s["parent_code"] == dev} >= {"委托开发", "合作开发"}


def test_domains_has_the_eleven(api):
    items = _get_list(api, "domains")["items"]
    assert len(items) == 11
    labels = {it["label"] for it in items}
    assert {"电子信息", "航空航天", "核应用", "农业", "现代交通"} <= labels


def test_ip_types_and_plan_sources_counts(api):
    assert len(_get_list(api, "ip_types")["items"]) == 7
    assert len(_get_list(api, "plan_sources")["items"]) == 5


def test_org_types_codes(api):
    items = _get_list(api, "org_types")["items"]
    by = {it["code"]: it for it in items}
    for code in ("010", "021", "022", "100", "400", "900"):
        assert code in by, f"org type {code} missing"
    assert "高等院校" in by["022"]["label"]


@pytest.mark.parametrize("name", FLAT_LISTS)
def test_items_in_sort_order(api, name):
    items = [it for it in _get_list(api, name)["items"] if it["parent_code"] is None]
    sorts = [it["sort"] for it in items]
    assert sorts == sorted(sorts), f"{name}: top-level items not in sort order: {sorts}"


@pytest.mark.parametrize("name", ["no_such_list", "regionz", "CONTRACT_TYPES", "contract_types.json"])
def test_unknown_list_404(api, name):
    assert_problem(api.get(f"/api/v1/codes/{name}"), 404)


# ---------------------------------------------------------------- regions

def _region_label(it):
    return it.get("name") or it.get("label")


def test_regions_top_level_are_provinces(api):
    r = api.get("/api/v1/codes/regions")
    assert r.status == 200, r
    items = r.body["items"]
    assert 30 <= len(items) <= 40, len(items)
    codes = {it["code"]: it for it in items}
    assert "510000" in codes and _region_label(codes["510000"]) == "四川省"
    assert "110000" in codes
    for it in items:
        assert len(it["code"]) == 6 and it["code"].endswith("0000"), it
        if "level" in it:
            assert it["level"] == 1, it


def test_regions_children_of_bazhong(api):
    r = api.get("/api/v1/codes/regions", params={"parent": "511900"})
    assert r.status == 200, r
    items = r.body["items"]
    by = {it["code"]: it for it in items}
    assert "511902" in by and _region_label(by["511902"]) == "巴州区", items[:5]
    assert {"511903", "511921", "511922", "511923"} <= set(by)
    for it in items:
        assert it["code"].startswith("5119") and it["code"] != "511900", it
        if "parent_code" in it:
            assert it["parent_code"] == "511900", it
        if "level" in it:
            assert it["level"] == 3, it


def test_regions_children_of_province(api):
    r = api.get("/api/v1/codes/regions", params={"parent": "510000"})
    assert r.status == 200, r
    codes = {it["code"] for it in r.body["items"]}
    assert "511900" in codes and "510100" in codes
    assert "511902" not in codes, "grandchildren listed as children"


def test_region_detail_with_path(api):
    r = api.get("/api/v1/codes/regions/511900")
    assert r.status == 200, r
    b = r.body
    assert b["code"] == "511900"
    assert b["name"] == "巴中市"
    assert b["level"] == 2
    assert b["parent_code"] == "510000"
    path = b["path"]
    assert [p["code"] for p in path] == ["510000", "511900"], path
    assert [p["name"] for p in path] == ["四川省", "巴中市"], path


def test_region_detail_county_and_province(api):
    c = api.get("/api/v1/codes/regions/511902").body
    assert c["level"] == 3 and c["parent_code"] == "511900"
    assert [p["code"] for p in c["path"]] == ["510000", "511900", "511902"]
    p = api.get("/api/v1/codes/regions/510000").body
    assert p["level"] == 1 and p["parent_code"] is None
    assert [x["code"] for x in p["path"]] == ["510000"]


def test_region_unknown_404(api):
    assert_problem(api.get("/api/v1/codes/regions/999999"), 404)


@pytest.mark.parametrize("code", ["abc", "51190", "5119000", "51190x", "-11900"])
def test_region_malformed_code_4xx(api, code):
    r = api.get(f"/api/v1/codes/regions/{code}")
    assert 400 <= r.status < 500, r
    assert_problem(r, r.status)


@pytest.mark.parametrize("parent", ["abc", "51190", "' OR 1=1 --"])
def test_regions_malformed_parent_4xx(api, parent):
    r = api.get("/api/v1/codes/regions", params={"parent": parent})
    assert r.status in (400, 404, 422), r
    assert_problem(r, r.status)


# ---------------------------------------------------------------- calendar

def _day(it):
    return it.get("date") or it.get("day")


def test_calendar_2025_holidays_and_makeup_workdays(api):
    r = api.get("/api/v1/codes/calendar", params={"year": "2025"})
    assert r.status == 200, r
    items = r.body["items"]
    assert items, "empty calendar for 2025"
    by = {}
    for it in items:
        d = _day(it)
        assert isinstance(d, str), f"calendar item without a date: {it}"
        assert d.startswith("2025-"), f"item outside 2025: {it}"
        by[d] = it
    spring = by.get("2025-01-29")  # 春节 (正月初一)
    assert spring is not None, "2025-01-29 (春节) not in the calendar"
    assert "春节" in json.dumps(spring, ensure_ascii=False), spring
    makeup = by.get("2025-02-08")  # Saturday, 春节调休上班
    assert makeup is not None, "2025-02-08 (make-up workday) not in the calendar"
    assert {k: v for k, v in spring.items() if k not in ("date", "day", "name", "label")} != \
           {k: v for k, v in makeup.items() if k not in ("date", "day", "name", "label")}, \
        "a holiday and a make-up workday are indistinguishable"
    assert "2025-10-01" in by, "国庆节 missing"


@pytest.mark.parametrize("year", ["abc", "20x5", "2025.5", "99999999999"])
def test_calendar_bad_year_400(api, year):
    assert_problem(api.get("/api/v1/codes/calendar", params={"year": year}), 400)
