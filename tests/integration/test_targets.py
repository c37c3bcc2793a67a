"""Plan targets for every indicator (issue 20, part 4): the code list of indicators, the actuals
the bureau enters (audited, history kept), cumulative targets over from_year…year, the seeded
targets of the five plans (/work/shared/seeds) with their progress, and refusals changing nothing.

Computed actuals come from contract_stats; the hand-worked cases add figures inside a transaction
that is rolled back (other modules share the database), so a figure is checked as baseline + the
hand-worked addition.  Entered actuals are this module's own: no other test enters any."""
import psycopg2
import pytest

from helpers import assert_problem

V1 = "/api/v1"


def q(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


@pytest.fixture(scope="module")
def db_module(pg, api):  # api: the server has migrated the database
    conn = psycopg2.connect(pg.dsn())
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def w(users, db_module):
    office = (q(db_module, "SELECT id FROM registry_offices WHERE active ORDER BY id LIMIT 1")
              or q(db_module, "INSERT INTO registry_offices (name, region_code) VALUES ('巴中市技术市场', '511900')"
                              " RETURNING id"))[0][0]
    return {
        "bz": users.create(role="bureau", region="511900"),       # 巴中市
        "bz_county": users.create(role="bureau", region="511902"),  # 巴州区, below 巴中
        "ys": users.create(role="bureau", region="410307"),       # 偃师区
        "admin": users.create(role="admin"),
        "reviewer": users.create(role="reviewer"),
        "officer": users.create(role="officer", office=office),
    }


def targets_of(db, region):
    return {(m, f, y): t for m, f, y, t in q(db, "SELECT metric, from_year, year, target FROM plan_targets"
                                                 " WHERE region_code = %s AND updated_by IS NULL", region)}


def test_seeded_targets_of_the_five_plans(db_module):
    bz = targets_of(db_module, "511900")
    # seeds/000 task list 2020–2025 (yearly)
    assert [bz[("contract_amount", y, y)] for y in range(2020, 2026)] == [
        2_0000_0000_00, 2_2000_0000_00, 2_4000_0000_00, 2_6000_0000_00, 2_8000_0000_00, 3_0000_0000_00]
    assert [bz[("results_transferred", y, y)] for y in range(2020, 2026)] == [30, 30, 30, 40, 40, 40]
    assert [bz[("demo_enterprises", y, y)] for y in range(2020, 2026)] == [4] * 6
    assert [bz[("brokers_trained", y, y)] for y in range(2020, 2026)] == [3, 3, 3, 3, 4, 4]
    assert [bz[("matchmaking_events", y, y)] for y in range(2020, 2026)] == [2, 2, 3, 3, 5, 5]
    assert [bz[("transfer_institutions", y, y)] for y in range(2021, 2026)] == [1, 1, 2, 2, 2]
    assert ("transfer_institutions", 2020, 2020) not in bz          # 2020: 建成分中心, no number
    assert [bz[("ip_pledge_financing", y, y)] for y in range(2022, 2026)] == [
        500_0000_00, 600_0000_00, 800_0000_00, 1000_0000_00]      # 500万 … 1000万元, in fen
    assert [bz[("fair_enterprises", y, y)] for y in range(2020, 2026)] == [10, 10, 15, 15, 20, 20]
    # seeds/001 action plan 2017: cumulative to 2020
    assert bz[("results_converted", 2017, 2020)] == 300 and bz[("transfer_talents", 2017, 2020)] == 500
    # seeds/002 偃师: 5亿 over 2021–2025; seeds/003 重庆: 500亿 over 2018–2020; seeds/004 岳阳 to 2020
    assert targets_of(db_module, "410307")[("contract_amount", 2021, 2025)] == 5_0000_0000_00
    cq = targets_of(db_module, "500000")
    assert cq[("contract_amount", 2018, 2020)] == 500_0000_0000_00 and cq[("demo_institutions", 2018, 2020)] == 30
    yy = targets_of(db_module, "430600")
    assert yy[("demo_institutions", 2017, 2020)] == 22 and yy[("transfer_talents", 2017, 2020)] == 50
    # every seeded row cites its plan and names an indicator of the list
    assert q(db_module, """SELECT count(*) FROM plan_targets t WHERE updated_by IS NULL
                           AND (source IS NULL OR NOT EXISTS (SELECT 1 FROM codes c
                                WHERE c.list = 'indicators' AND c.code = t.metric))""")[0][0] == 0
    assert q(db_module, "SELECT count(DISTINCT region_code) FROM plan_targets WHERE updated_by IS NULL"
                        " AND region_code IN ('511900', '410307', '500000', '430600')")[0][0] == 4


def progress(api, auth, region, year):
    r = api.get(f"{V1}/targets/progress?year={year}&region={region}", headers=auth)
    assert r.status == 200, r
    return r.body


def item(body, metric):
    return {i["metric"]: i for i in body["items"]}[metric]


def cumul(body, metric, from_year):
    return {(c["metric"], c["from_year"]): c for c in body["cumulative"]}[(metric, from_year)]


def put_actual(api, auth, region, year, indicator, value, note="据年度工作总结", evidence="巴科技〔2023〕12号"):
    return api.put(f"{V1}/targets/actuals", json={"region_code": region, "year": year, "indicator": indicator,
                                                   "value": value, "note": note, "evidence": evidence}, headers=auth)


def test_bazhong_entered_actuals_yearly_and_cumulative(api, users, w, db_module):
    a = users.auth(w["bz"])
    # yearly: 2023 brokers 2 of 3 → 0.6667; matchmaking 3 of 3 → 1.0
    assert put_actual(api, a, "511900", 2023, "brokers_trained", 2).status == 200
    r = put_actual(api, a, "511900", 2023, "matchmaking_events", 3, note="对接活动3场", evidence="活动通知及签到表")
    assert r.status == 200 and r.body["value"] == 3 and r.body["evidence"] == "活动通知及签到表"
    p = progress(api, a, "511900", 2023)
    b = item(p, "brokers_trained")
    assert (b["actual"], b["target"], b["share"], b["computed"], b["projection"]) == (2, 3, 0.6667, False, None)
    assert b["entry"]["note"] == "据年度工作总结" and b["label"] == "技术经纪人培养" and b["measure_word"] == "名"
    assert item(p, "matchmaking_events")["share"] == 1.0
    assert item(p, "demo_enterprises")["actual"] is None and item(p, "demo_enterprises")["target"] == 4
    assert item(p, "contract_amount")["computed"] is True and item(p, "contract_amount")["target"] == 2_6000_0000_00
    # ip pledge financing is an amount: 2023 target 600万元, actual 450万元 → 0.75
    assert put_actual(api, a, "511900", 2023, "ip_pledge_financing", 450_0000_00).status == 200
    ip = item(progress(api, a, "511900", 2023), "ip_pledge_financing")
    assert (ip["unit"], ip["actual"], ip["target"], ip["share"]) == ("fen", 450_0000_00, 600_0000_00, 0.75)
    # cumulative 2017–2020: 500 talents; 2017: 120, 2018: 150, 2020: 100 (2019 not entered)
    for y, v in ((2017, 120), (2018, 150), (2020, 100)):
        assert put_actual(api, a, "511900", y, "transfer_talents", v).status == 200
    c = cumul(progress(api, a, "511900", 2020), "transfer_talents", 2017)
    assert (c["actual"], c["target"], c["share"], c["complete"]) == (370, 500, 0.74, True)
    assert [(y["year"], y["actual"]) for y in c["years"]] == [(2017, 120), (2018, 150), (2019, None), (2020, 100)]
    c = cumul(progress(api, a, "511900", 2018), "transfer_talents", 2017)   # to date in 2018
    assert (c["actual"], c["share"], c["complete"]) == (270, 0.54, False)
    # the yearly 2020 target (10) is separate from the cumulative one
    assert item(progress(api, a, "511900", 2020), "transfer_talents")["target"] == 10
    # not in the span: no cumulative entry
    assert all(c["metric"] != "transfer_talents" for c in progress(api, a, "511900", 2021)["cumulative"])


def test_cumulative_computed_sums_years_and_reads_closed_years_frozen(db_module):
    """偃师 5亿 over 2021–2025 and 重庆 500亿 over 2018–2020, hand-worked on added figures."""
    conn = psycopg2.connect(db_module.dsn)
    try:
        cur = conn.cursor()

        def prog(region, year):
            cur.execute("SELECT targets_progress(%s, %s)", (region, year))
            return cur.fetchone()[0]

        def add(region, year, fen, n=1):
            cur.execute("""INSERT INTO contract_stats AS s (region_code, year, flow, dim, key, month, n, contract_fen,
                               technical_fen, received_fen) VALUES (%s, %s, 'out', 'total', '', 6, %s, %s, %s, 0)
                           ON CONFLICT (region_code, year, flow, dim, key, month) DO UPDATE SET n = s.n + excluded.n,
                               contract_fen = s.contract_fen + excluded.contract_fen,
                               technical_fen = s.technical_fen + excluded.technical_fen""",
                        (region, year, n, fen, fen * 9 // 10))

        base = cumul(prog("410307", 2025), "contract_amount", 2021)
        assert base["target"] == 5_0000_0000_00 and len(base["years"]) == 5
        add("410307", 2021, 1_0000_0000_00)        # 1亿
        add("410307", 2023, 1_5000_0000_00)        # 1.5亿
        c = cumul(prog("410307", 2025), "contract_amount", 2021)
        assert c["actual"] == base["actual"] + 2_5000_0000_00
        assert c["share"] == round(c["actual"] / 5_0000_0000_00, 4)
        assert c["actual"] == sum(y["actual"] for y in c["years"])
        mid = cumul(prog("410307", 2022), "contract_amount", 2021)   # to date: 2021–2022 only
        assert [y["year"] for y in mid["years"]] == [2021, 2022] and mid["complete"] is False

        # 重庆: 2019 closed with frozen figures of 150亿; a later live change of 2019 is not read
        before = {y["year"]: y["actual"] for y in cumul(prog("500000", 2020), "contract_amount", 2018)["years"]}
        add("500000", 2018, 100_0000_0000_00)
        cur.execute("SELECT (stats_close_for('500000', 2019)).id")
        if cur.fetchone()[0] is None:
            cur.execute("INSERT INTO stats_closes (year, region_code, note) VALUES (2019, '500000', '测试结账')"
                        " RETURNING id")
            close_id = cur.fetchone()[0]
            cur.execute("""INSERT INTO stats_closed_figures VALUES (%s, '500000', 'out', 'total', '', 12, 3,
                           1500000000000, 1400000000000, 0)""", (close_id,))
            frozen_2019 = 150_0000_0000_00
        else:
            frozen_2019 = before[2019]
        add("500000", 2019, 999_0000_0000_00)      # after the close: not read
        add("500000", 2020, 200_0000_0000_00)
        c = cumul(prog("500000", 2020), "contract_amount", 2018)
        got = {y["year"]: (y["actual"], y["closed"]) for y in c["years"]}
        assert got[2018] == (before[2018] + 100_0000_0000_00, False)
        assert got[2019] == (frozen_2019, True)
        assert got[2020] == (before[2020] + 200_0000_0000_00, False)
        assert c["actual"] == sum(v for v, _ in got.values()) and c["target"] == 500_0000_0000_00
        # 岳阳 has no computed cumulative target but its entered ones are listed with no actuals
        yy = cumul(prog("430600", 2019), "demo_institutions", 2017)
        assert (yy["target"], yy["computed"], yy["complete"]) == (22, False, False)
    finally:
        conn.rollback()
        conn.close()


def test_cumulative_target_put_and_listed_in_every_year_of_its_span(api, users, w, db_module):
    a = users.auth(w["ys"])
    audit = q(db_module, "SELECT count(*) FROM audit_log WHERE entity = 'target'")[0][0]
    r = api.put(f"{V1}/targets", json={"region_code": "410307", "from_year": 2022, "year": 2024,
                                       "metric": "brokers_trained", "target": 12, "note": "三年培养12名",
                                       "source": "偃师市测试方案"}, headers=a)
    assert r.status == 200, r
    assert (r.body["from_year"], r.body["year"], r.body["source"]) == (2022, 2024, "偃师市测试方案")
    assert q(db_module, "SELECT entity_id, action FROM audit_log WHERE entity = 'target' ORDER BY id DESC LIMIT 1")[0] \
        == ("410307/2022-2024/brokers_trained", "create")
    assert q(db_module, "SELECT count(*) FROM audit_log WHERE entity = 'target'")[0][0] == audit + 1
    for y in (2022, 2023, 2024):
        listed = api.get(f"{V1}/targets?year={y}&region=410307", headers=a).body["items"]
        assert any(t["metric"] == "brokers_trained" and t["from_year"] == 2022 for t in listed), y
    assert not any(t["metric"] == "brokers_trained" for t in
                   api.get(f"{V1}/targets?year=2025&region=410307", headers=a).body["items"])
    assert put_actual(api, a, "410307", 2022, "brokers_trained", 5, evidence="偃科〔2022〕5号").status == 200
    assert put_actual(api, a, "410307", 2023, "brokers_trained", 4, evidence="偃科〔2023〕7号").status == 200
    c = cumul(progress(api, a, "410307", 2024), "brokers_trained", 2022)
    assert (c["actual"], c["share"]) == (9, 0.75)


def test_actual_entry_is_audited_and_history_kept(api, users, w, db_module):
    a = users.auth(w["bz"])
    r1 = put_actual(api, a, "511902", 2024, "service_stations", 3, note="初报", evidence="巴州科〔2024〕1号")
    assert r1.status == 200 and str(r1.body["entered_by"]) == str(w["bz"]["id"])
    r2 = put_actual(api, users.auth(w["bz_county"]), "511902", 2024, "service_stations", 4, note="更正：4个",
                    evidence="巴州科〔2024〕9号")
    assert r2.status == 200 and r2.body["id"] > r1.body["id"]
    hist = api.get(f"{V1}/targets/actuals?year=2024&region=511902&indicator=service_stations", headers=a).body["items"]
    assert [(h["value"], h["note"]) for h in hist] == [(4, "更正：4个"), (3, "初报")]
    aud = q(db_module, "SELECT action, before->>'value', after->>'value', after->>'evidence' FROM audit_log"
                       " WHERE entity = 'target_actual' AND entity_id = '511902/2024/service_stations' ORDER BY id")
    assert aud == [("create", None, "3", "巴州科〔2024〕1号"), ("update", "3", "4", "巴州科〔2024〕9号")]
    assert item(progress(api, a, "511902", 2024), "service_stations")["actual"] == 4
    # 巴中 sees its counties' entries; the county does not see 巴中's
    assert api.get(f"{V1}/targets/actuals?year=2024&region=511900", headers=a).status == 200
    assert_problem(api.get(f"{V1}/targets/actuals?year=2024&region=511900",
                           headers=users.auth(w["bz_county"])), 403)


def test_refusals_change_nothing(api, users, w, db_module):
    a = users.auth(w["bz"])

    def state():
        return q(db_module, """SELECT (SELECT count(*) FROM indicator_actuals), (SELECT count(*) FROM plan_targets),
                                      (SELECT coalesce(sum(target), 0) FROM plan_targets),
                                      (SELECT count(*) FROM audit_log WHERE entity IN ('target', 'target_actual'))""")[0]

    before = state()
    good = {"region_code": "511900", "year": 2024, "indicator": "brokers_trained", "value": 1, "note": "说明",
            "evidence": "文件"}
    actual_cases = [
        ({**good, "region_code": "410307"}, a, 403, "region_code"),             # another region
        ({**good, "indicator": "happiness"}, a, 422, "indicator"),              # not in the list
        ({**good, "indicator": "contract_amount"}, a, 422, "indicator"),        # computed: not entered
        ({**good, "year": 1999}, a, 422, "year"),
        ({**good, "value": -1}, a, 422, "value"),
        ({**good, "note": "   "}, a, 422, "note"),
        ({k: v for k, v in good.items() if k != "evidence"}, a, 422, "evidence"),
        ({**good, "value": "1"}, a, 400, "value"),
        ({**good, "extra": 1}, a, 400, "extra"),
    ]
    for body, auth, status, field in actual_cases:
        p = assert_problem(api.put(f"{V1}/targets/actuals", json=body, headers=auth), status)
        assert p["errors"][0]["field"] == field, (body, p)
    for who in ("reviewer", "officer"):
        assert_problem(api.put(f"{V1}/targets/actuals", json=good, headers=users.auth(w[who])), 403)
        assert_problem(api.get(f"{V1}/targets/actuals?year=2024", headers=users.auth(w[who])), 403)
    assert_problem(api.put(f"{V1}/targets/actuals", json=good), 401)
    tgood = {"region_code": "511900", "from_year": 2021, "year": 2025, "metric": "brokers_trained", "target": 17}
    target_cases = [
        ({**tgood, "from_year": 2026}, 422, "from_year"),        # after year
        ({**tgood, "from_year": 2010}, 422, "from_year"),        # a span of more than 10 years
        ({**tgood, "metric": "happiness"}, 422, "metric"),
        ({**tgood, "region_code": "500000"}, 403, "region_code"),
        ({**tgood, "source": "源" * 501}, 422, "source"),
    ]
    for body, status, field in target_cases:
        p = assert_problem(api.put(f"{V1}/targets", json=body, headers=a), status)
        assert p["errors"][0]["field"] == field, (body, p)
    assert_problem(api.put(f"{V1}/targets", json=tgood, headers=users.auth(w["reviewer"])), 403)
    assert_problem(api.get(f"{V1}/targets/actuals?year=2024&indicator=Bad-Code", headers=a), 400)
    assert state() == before


def test_indicator_list_is_a_code_list(api, users, w):
    r = api.get(f"{V1}/codes/indicators", headers=users.auth(w["bz"]))
    assert r.status == 200, r
    codes = {c["code"]: c for c in r.body["items"]}
    assert {"contract_amount", "brokers_trained", "demo_enterprises", "transfer_institutions", "matchmaking_events",
            "ip_pledge_financing", "results_transferred"} <= set(codes)
    assert codes["brokers_trained"]["extra"]["computed"] is False and codes["contracts"]["extra"]["computed"] is True
    assert codes["ip_pledge_financing"]["extra"]["unit"] == "fen"
