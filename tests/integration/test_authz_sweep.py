"""Authorization sweep generated from api/openapi.yaml.

For EVERY operation marked `x-status: implemented` × every caller (anonymous, member, broker, reviewer,
officer, bureau, admin — the scoped roles once inside the object's organisation / office / region and
once outside it) the request is made against a suitable object belonging to organisation A, and:

* the status is one the spec lists for the operation, never 5xx;
* it follows the rule: anonymous → 401 unless the operation has `security: []`; a role the operation
  does not allow → 403; an object outside the caller's scope → 404 (unless the table says otherwise);
  otherwise the operation's success status;
* every refusal is problem+json, and a refused write changed nothing (row counts, max(updated_at),
  sum(version) and an md5 of the rows of the tables the operation touches, and the audit log).

The table below (SWEEP) says, per operationId, which roles may call it, which of them are scoped, how
to make the object and the body.  The roles are checked against the operation's "Roles:" sentence in
the spec where it has one.  An implemented operation missing from the table FAILS the sweep: a new
route must be added here.  Planned operations must answer 404 (the spec says the server does not serve
them yet), and every route the server registers (server/api/*.c) must be in the spec.
"""

import re
from pathlib import Path

import pytest

from helpers import assert_problem
from sweep_fixtures import *  # noqa: F401,F403
from sweep_fixtures import (CALLERS, OTHER_SCOPE, PDF, REPO, ROLE_OF, ROLES, V1, email, fill_path, fingerprint,
                            org_body, password, spec_ops, uniq)

pytestmark = pytest.mark.slow  # make test-fast leaves it out: a generated sweep of every route, ~1,300 cases

ALL = set(ROLES)
READERS = {"member", "broker", "officer", "bureau", "admin"}
C_TABLES = ["contracts", "contract_changes", "contract_payments", "contract_attachments", "registration_counters"]
ORG_TABLES = ["orgs", "invitations", "users"]


class Entry:
    """How to exercise one operation.

    allow     roles that may call it (ignored for public operations)
    scoped    roles whose access depends on the object's org / office / region: the *_b caller of
              such a role is out of scope and gets `other` (default 404)
    ok        the status of an allowed, in-scope call (default: the spec's only 2xx)
    setup     (world, caller) → dict of path parameters and anything the body needs
    body      (world, caller, ctx) → JSON body; `raw` (world, caller, ctx) → (bytes, content type)
    query     (world, caller, ctx) → query string without "?"
    tables    tables a refused call must leave unchanged
    """

    def __init__(self, allow=ALL, scoped=(), other=404, ok=None, setup=None, body=None, raw=None, query=None,
                 tables=(), other_by_role=None, ok_by_caller=None):
        self.allow = set(allow)
        self.scoped = set(scoped)
        self.other = other
        self.other_by_role = other_by_role or {}
        self.ok = ok
        self.ok_by_caller = ok_by_caller or {}
        self.setup = setup or (lambda w, c: {})
        self.body = body
        self.raw = raw
        self.query = query
        self.tables = list(tables)


# ---------------------------------------------------------------- object factories

def reg_contract(key, attachment=False):
    """A registered contract shared by the read-only cases (registered: every reader in scope sees it)."""
    return lambda w, c: w.shared(key, lambda: w.contract("registered", attachment=attachment))


def fresh_contract(state="draft", attachment=False, pending=None):
    return lambda w, c: w.contract(state, attachment=attachment, pending=pending)


def change_setup(kind):
    """amend / cancel: the officer decides on a pending request; the others make a request."""
    def setup(w, caller):
        if ROLE_OF[caller] == "officer":
            return w.contract("registered", pending=kind)
        return w.contract("registered")
    return setup


def change_body(kind):
    def body(w, caller, ctx):
        if ROLE_OF[caller] == "officer":
            return {"change_id": ctx["change_id"], "decision": "confirm", "note": "同意"}
        b = {"reason": "合同变更 " + uniq()}
        if kind == "amend":
            b["changes"] = {"title": "变更后的合同 " + uniq()}
        return b
    return body


def org_a(w, c):
    return {"id": w.org_a["id"], "org_id": w.org_a["id"]}


M_TABLES = ["results", "needs", "search_docs", "idempotency_keys", "notifications", "webhook_outbox"]
DRAFT_HIDDEN = {c: 404 for c in ("anon", "member_b", "broker_b", "officer_a", "officer_b", "bureau_a", "bureau_b")}
NOT_MINE = {c: 404 for c in CALLERS if c not in ("anon", "member_a")}
D_TABLES = ["inquiries", "inquiry_messages", "notices", "objections", "auctions", "bids", "notifications",
            "webhook_outbox", "results", "contracts"]
S_TABLES = ["subsidy_policies", "subsidy_runs", "subsidy_run_policies", "subsidy_awards", "subsidy_award_contracts"]


def policy_body(w):
    """A policy of org A's county paying sellers 1% of the contract amount of development contracts."""
    return {"name": "扫描补助政策 " + uniq(), "region_code": w.region, "valid_from_year": w.year,
            "valid_to_year": w.year + 1, "source": "扫描测试",
            "rules": {"lines": [{"label": "输出方：成交额的1%", "party": "seller", "base": "contract_amount",
                                 "contract_types": ["development"], "rate": {"flat_bp": 100}}],
                      "budget_fen": 100000000}}


def policy(w):
    def make():
        w.shared("reg", lambda: w.contract("registered"))  # something to compute a run from
        r = w.api.post(f"{V1}/subsidy-policies", json=policy_body(w), headers=w.h("admin"))
        assert r.status == 201, r
        return r.body["id"]
    return w.shared("policy", make)


R_TABLES = ["institution_recognitions", "broker_qualifications", "audit_log"]


def recognition_setup(w, c):
    """A fresh organisation of org A's county (each call enters a new recognition: no duplicate)."""
    from contract_fixtures import new_org as c_new_org
    return {"org": c_new_org(w.db, w.region, org_type="150", name="扫描示范机构 " + uniq())}


def recognition_body(w, c, x):
    return {"org_id": x["org"]["id"], "level": "city", "recognised_by": "扫描市科学技术局",
            "recognised_on": f"{w.year}-01-02", "document_no": "扫描〔" + uniq() + "〕号", "evidence": "扫描认定文件"}


def recognition(w, c):
    org = recognition_setup(w, c)["org"]
    r = w.api.post(f"{V1}/institution-recognitions", json=recognition_body(w, c, {"org": org}), headers=w.h("admin"))
    assert r.status == 201, r
    return {"id": r.body["id"]}


def qualification_body(w, c, x):
    return {"user_id": w.user("broker_a")["id"], "kind": "certification", "certificate_no": "扫描-" + uniq(),
            "issuer": "扫描技术市场协会", "obtained_on": f"{w.year}-01-02", "evidence": "扫描证书"}


def qualification(w, c):
    r = w.api.post(f"{V1}/broker-qualifications", json=qualification_body(w, c, {}), headers=w.h("admin"))
    assert r.status == 201, r
    return {"id": r.body["id"]}


def subsidy_run(w):
    def make():
        r = w.api.post(f"{V1}/subsidy-runs", json={"year": w.year, "policy_ids": [policy(w)]}, headers=w.h("admin"))
        assert r.status == 201, r
        return r.body["id"]
    return w.shared("run", make)


# ---------------------------------------------------------------- the table

SWEEP = {
    # operations (outside /api/v1)
    "getLivez": Entry(),
    "getReadyz": Entry(),
    "getMetrics": Entry(),
    "getOpenapiDocument": Entry(),
    "getDocs": Entry(),
    "getDocsAsset": Entry(setup=lambda w, c: {"file": "docs.js"}),
    # code lists
    "getCodeList": Entry(setup=lambda w, c: {"list": "domains"}),
    "listRegions": Entry(query=lambda w, c, x: "parent=510000"),
    "getRegion": Entry(setup=lambda w, c: {"code": "511900"}),
    "getCalendar": Entry(query=lambda w, c, x: "year=2025"),
    "listCodeLists": Entry(),
    # admin edits: a code of return_reasons, the calendar of a year nobody uses, a setting set to what it is
    "putCode": Entry(allow={"admin"}, setup=lambda w, c: {"list": "return_reasons", "code": "sweep_" + uniq()[-8:].replace("-", "_")},
                     body=lambda w, c, x: {"label": "扫描补正事项", "source": "扫描测试"}, tables=["codes"]),
    "putCalendar": Entry(allow={"admin"}, setup=lambda w, c: {"year": 2098},
                         body=lambda w, c, x: {"status": "provisional", "source": "扫描测试",
                                               "days": [{"day": "2098-01-01", "kind": "holiday", "name": "元旦"}]},
                         tables=["calendar_days", "calendar_years"]),
    "listSettings": Entry(allow={"admin"}),
    "putSetting": Entry(allow={"admin"}, setup=lambda w, c: {"key": "invitation_days"},
                        body=lambda w, c, x: {"value": 14, "source": "扫描测试"}, tables=["settings"]),
    # authentication (public: an Authorization header plays no part)
    "register": Entry(body=lambda w, c, x: {"email": email("reg"), "password": password(), "display_name": "注册者",
                                             "org": org_body(w.region)}, tables=ORG_TABLES),
    "login": Entry(body=lambda w, c, x: {"email": w.login_user["email"], "password": w.login_user["password"]}),
    "refreshTokens": Entry(body=lambda w, c, x: {"refresh_token": w.refresh_token()}),
    "logout": Entry(body=lambda w, c, x: {"refresh_token": w.refresh_token()}),
    # me
    "getMe": Entry(allow=ALL),
    # e-mail off, as it is: every role may, nothing else changes
    "updateMe": Entry(allow=ALL, body=lambda w, c, x: {"email_notifications": False}, tables=["users"]),
    # a wrong current password: every role gets 422 and nothing changes (a success would end the
    # caller's sessions halfway through the sweep)
    "changeMyPassword": Entry(allow=ALL, ok=422,
                              body=lambda w, c, x: {"current_password": "wrong-password-1", "new_password": password()},
                              tables=["users", "refresh_tokens"]),
    # organisations
    "listOrgs": Entry(allow=ALL),
    "listOrgDirectory": Entry(allow=ALL, query=lambda w, c, x: "q=" + w.org_a["name"][:4]),
    "createOrg": Entry(allow={"admin"}, body=lambda w, c, x: org_body(w.region), tables=ORG_TABLES),
    "getOrg": Entry(allow=ALL, scoped={"member", "broker"}, setup=org_a),
    "updateOrg": Entry(allow={"member", "admin"}, scoped={"member"}, setup=org_a,
                       body=lambda w, c, x: {"contact_name": "联系人 " + uniq()}, tables=ORG_TABLES),
    "verifyOrg": Entry(allow={"reviewer", "admin"}, setup=lambda w, c: {"id": w.pending_org()["id"]},
                       body=lambda w, c, x: {"decision": "verified", "note": "材料齐全"}, tables=ORG_TABLES),
    "createInvitation": Entry(allow={"member", "admin"}, scoped={"member"}, setup=org_a,
                              body=lambda w, c, x: {"role": "member", "max_uses": 1}, tables=ORG_TABLES),
    # users
    "listUsers": Entry(allow={"admin"}),
    "createUser": Entry(allow={"admin"}, body=lambda w, c, x: {"email": email("cu"), "password": password(),
                                                                 "role": "reviewer"}, tables=["users"]),
    "getUser": Entry(allow={"admin"}, setup=lambda w, c: {"id": w.target["id"]}),
    "updateUser": Entry(allow={"admin"}, setup=lambda w, c: {"id": w.target["id"]},
                        body=lambda w, c, x: {"display_name": "目标 " + uniq()}, tables=["users", "refresh_tokens"]),
    # registry offices
    "listOffices": Entry(),
    "createOffice": Entry(allow={"admin"}, body=lambda w, c, x: {"name": "登记处 " + uniq(),
                                                                   "region_code": w.free_region()},
                          tables=["registry_offices"]),
    "updateOffice": Entry(allow={"admin"}, setup=lambda w, c: {"id": w.office_spare["id"]},
                          body=lambda w, c, x: {"name": "扫描登记处备 " + uniq()}, tables=["registry_offices"]),
    # an office's seal image: an admin uploads it, the office's officers read it
    "getOfficeSeal": Entry(allow={"officer", "admin"}, scoped={"officer"},
                           setup=lambda w, c: w.shared("seal_a", lambda: seal_upload(w, w.office_a["id"]))),
    "putOfficeSeal": Entry(allow={"admin"}, setup=lambda w, c: {"id": w.office_spare["id"]},
                           raw=lambda w, c, x: (seal_png(), "image/png"), tables=["office_seals", "audit_log"]),
    "deleteOfficeSeal": Entry(allow={"admin"}, setup=lambda w, c: seal_upload(w, w.office_spare["id"]),
                              tables=["office_seals", "audit_log"]),
    # contracts
    "listContracts": Entry(allow=READERS),
    # a member of another org naming org A as seller is not a party: 403 (seller.org_id, not_a_party)
    "createContract": Entry(allow={"member", "admin"}, scoped={"member"}, other=403,
                            body=lambda w, c, x: w.contract_body(), tables=C_TABLES),
    "getContract": Entry(allow=READERS, scoped={"member", "broker", "officer", "bureau"}, setup=reg_contract("reg")),
    "updateContract": Entry(allow={"member", "admin"}, scoped={"member"}, setup=fresh_contract("draft"),
                            body=lambda w, c, x: {"title": "改过的合同 " + uniq()}, tables=C_TABLES),
    "deleteContract": Entry(allow={"member", "admin"}, scoped={"member"}, setup=fresh_contract("draft"),
                            tables=C_TABLES),
    "submitContract": Entry(allow={"member", "admin"}, scoped={"member"}, setup=fresh_contract("draft"),
                            tables=C_TABLES),
    "returnContract": Entry(allow={"officer", "admin"}, scoped={"officer"}, setup=fresh_contract("submitted"),
                            body=lambda w, c, x: {"reason": "请补正附件"}, tables=C_TABLES),
    "refuseContract": Entry(allow={"officer", "admin"}, scoped={"officer"}, setup=fresh_contract("submitted"),
                            body=lambda w, c, x: {"ground": w.refusal_ground, "detail": "不予登记"}, tables=C_TABLES),
    "registerContract": Entry(allow={"officer", "admin"}, scoped={"officer"}, setup=fresh_contract("submitted"),
                              body=lambda w, c, x: {"no_scan_reason": "扫描测试：未附扫描件"}, tables=C_TABLES),
    "amendContract": Entry(allow={"member", "officer", "admin"}, scoped={"member", "officer"},
                           setup=change_setup("amend"), body=change_body("amend"), tables=C_TABLES),
    "cancelContract": Entry(allow={"member", "officer", "admin"}, scoped={"member", "officer"},
                            setup=change_setup("cancel"), body=change_body("cancel"), tables=C_TABLES),
    "listPayments": Entry(allow=READERS, scoped={"member", "broker", "officer", "bureau"}, setup=reg_contract("reg")),
    "listContractChanges": Entry(allow=READERS, scoped={"member", "broker", "officer", "bureau"},
                                 setup=reg_contract("reg")),
    "createPayment": Entry(allow={"member", "officer", "admin"}, scoped={"member", "officer"},
                           setup=fresh_contract("registered"),
                           body=lambda w, c, x: {"amount_fen": 10000, "received_on": w_today(w), "note": "首期"},
                           tables=C_TABLES),
    "listAttachments": Entry(allow=READERS, scoped={"member", "broker", "officer", "bureau"},
                             setup=reg_contract("reg_att", attachment=True)),
    "createAttachment": Entry(allow={"member", "admin"}, scoped={"member"}, setup=fresh_contract("draft"),
                              query=lambda w, c, x: "filename=scan.pdf", raw=lambda w, c, x: (PDF, "application/pdf"),
                              tables=C_TABLES),
    "getAttachment": Entry(allow=READERS, scoped={"member", "broker", "officer", "bureau"},
                           setup=reg_contract("reg_att", attachment=True)),
    "deleteAttachment": Entry(allow={"member", "admin"}, scoped={"member"},
                              setup=fresh_contract("draft", attachment=True), tables=C_TABLES),
    "getContractCertificate": Entry(allow=READERS, scoped={"member", "broker", "officer", "bureau"},
                                    setup=lambda w, c: w.certificate()),
    "getContractRegistrationForm": Entry(allow=READERS, scoped={"member", "broker", "officer", "bureau"},
                                         setup=reg_contract("reg")),
    "verifyCertificate": Entry(body=lambda w, c, x: w.certificate()["certificate"]),
    "listCertificateKeys": Entry(),
    "getRegistrationFacts": Entry(setup=lambda w, c: {"registration_no": w.certificate()["registration_no"]}),
    "getRegistryQueue": Entry(allow={"officer", "admin"}),
    # statistics, targets, the annual export: region-scoped by query or body (a bureau naming a region
    # outside its subtree is 403 out_of_scope, not 404)
    "getContractStats": Entry(ok_by_caller={"bureau_b": 403}, query=lambda w, c, x: f"year={w.year}&region={w.region}"),
    "listTargets": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                         query=lambda w, c, x: f"year={w.year}&region={w.region}"),
    "putTarget": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                       body=lambda w, c, x: {"region_code": w.region, "year": w.year, "metric": "contracts",
                                             "target": 10 + len(c), "note": "计划 " + uniq()},
                       tables=["plan_targets"]),
    # the year-end close: a bureau closes a past year of its region (another bureau naming it is 403); only an
    # admin reopens.  The sweep's year and region, so nothing else is frozen.
    "listStatsCloses": Entry(allow={"bureau", "admin"}, query=lambda w, c, x: f"year={w.year - 1}"),
    "closeStatsYear": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                            setup=lambda w, c: {"reopen": w.reopen_closes(w.year - 1, w.region)},
                            body=lambda w, c, x: {"year": w.year - 1, "region_code": w.region, "note": "扫描结账"},
                            tables=["stats_closes", "stats_closed_figures"]),
    "reopenStatsYear": Entry(allow={"admin"}, setup=lambda w, c: {"id": w.stats_close(w.year - 2, w.region)},
                             body=lambda w, c, x: {"reason": "扫描重开"}, tables=["stats_closes"]),
    "listStatsAdjustments": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                                  query=lambda w, c, x: f"year={w.year - 1}&region={w.region}"),
    "getTargetProgress": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                               query=lambda w, c, x: f"year={w.year}&region={w.region}"),
    "getStatsFlows": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                           query=lambda w, c, x: f"year={w.year}&region={w.region}"),
    "listIndicators": Entry(),
    "listTargetActuals": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                               query=lambda w, c, x: f"year={w.year}&region={w.region}"),
    "putTargetActual": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                             body=lambda w, c, x: {"region_code": w.region, "year": w.year,
                                                   "indicator": "brokers_trained", "value": 1 + len(c),
                                                   "note": "填报 " + uniq(), "evidence": "文件 " + uniq()},
                             tables=["indicator_actuals"]),
    "exportAnnual": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                          query=lambda w, c, x: f"year={w.year}&region={w.region}&format=json"),
    # imports: officer A imports office A's numbers; officer B may not (every row is out of scope: 422)
    "importContracts": Entry(allow={"officer", "admin"}, scoped={"officer"}, other=422, ok=201,
                             raw=lambda w, c, x: import_file(w, c, x),
                             tables=C_TABLES + ["import_batches", "contract_stats"]),
    "listImports": Entry(allow={"officer", "admin"}),
    "getImportTemplate": Entry(allow={"officer", "admin"}),
    "exportNational": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                            query=lambda w, c, x: f"from={w.year}-01-01&to={w.year}-12-31&region={w.region}"),
    "getTaxRelief": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                          query=lambda w, c, x: f"year={w.year}&region={w.region}"),
    # subsidies: policies of org A's county; another bureau does not see them (404) and may not name
    # the county (403)
    "listSubsidyPolicies": Entry(allow={"bureau", "admin"}),
    "createSubsidyPolicy": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, other=403,
                                 body=lambda w, c, x: policy_body(w), tables=S_TABLES),
    "getSubsidyPolicy": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, setup=lambda w, c: {"id": policy(w)}),
    "updateSubsidyPolicy": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, setup=lambda w, c: {"id": policy(w)},
                                 body=lambda w, c, x: {"source": "来源 " + uniq()}, tables=S_TABLES),
    "listSubsidyRuns": Entry(allow={"bureau", "admin"}),
    "createSubsidyRun": Entry(allow={"bureau", "admin"}, scoped={"bureau"},
                              body=lambda w, c, x: {"year": w.year, "policy_ids": [policy(w)]}, tables=S_TABLES),
    "getSubsidyRun": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, setup=lambda w, c: {"id": subsidy_run(w)}),
    # registers of demonstration institutions and brokers (org A's county; bureau B is another province)
    "listInstitutionRecognitions": Entry(allow={"bureau", "admin"}),
    "createInstitutionRecognition": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, setup=recognition_setup,
                                          body=recognition_body, tables=R_TABLES),
    "withdrawInstitutionRecognition": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, setup=recognition,
                                            body=lambda w, c, x: {"reason": "扫描撤回"}, tables=R_TABLES),
    "listBrokerQualifications": Entry(allow={"bureau", "admin"}),
    "listBrokerRegister": Entry(allow={"bureau", "admin"}),
    "createBrokerQualification": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, body=qualification_body,
                                       tables=R_TABLES),
    "withdrawBrokerQualification": Entry(allow={"bureau", "admin"}, scoped={"bureau"}, setup=qualification,
                                         body=lambda w, c, x: {"reason": "扫描撤回"}, tables=R_TABLES),
    # marketplace listings: results held by / needs posted by org A.  A draft is seen by its own
    # organisation's members and brokers, reviewers and admins only (404 for everyone else).
    "listResults": Entry(),
    "createResult": Entry(allow={"member"}, body=lambda w, c, x: {"title": "扫描成果 " + uniq()}, tables=M_TABLES),
    "getResult": Entry(setup=lambda w, c: w.shared("draft_result", lambda: w.result(status="draft")),
                       ok_by_caller=DRAFT_HIDDEN),
    "updateResult": Entry(allow={"member", "admin"}, scoped={"member"}, setup=lambda w, c: w.result(status="draft"),
                          body=lambda w, c, x: {"title": "改过的成果 " + uniq()}, tables=M_TABLES),
    "deleteResult": Entry(allow={"member", "admin"}, scoped={"member"}, setup=lambda w, c: w.result(status="draft"),
                          tables=M_TABLES),
    "submitResult": Entry(allow={"member", "admin"}, scoped={"member"}, setup=lambda w, c: w.result(status="draft"),
                          tables=M_TABLES),
    "withdrawResult": Entry(allow={"member", "admin"}, scoped={"member"}, setup=lambda w, c: w.result(),
                            tables=M_TABLES),
    "approveResult": Entry(allow={"reviewer", "admin"}, setup=lambda w, c: w.result(status="submitted"),
                           tables=M_TABLES),
    "rejectResult": Entry(allow={"reviewer", "admin"}, setup=lambda w, c: w.result(status="submitted"),
                          body=lambda w, c, x: {"reason": "材料不全"}, tables=M_TABLES),
    "listNeeds": Entry(),
    "createNeed": Entry(allow={"member"}, body=lambda w, c, x: {"title": "扫描需求 " + uniq()}, tables=M_TABLES),
    "getNeed": Entry(setup=lambda w, c: w.shared("draft_need", lambda: w.need(status="draft")),
                     ok_by_caller=DRAFT_HIDDEN),
    "updateNeed": Entry(allow={"member", "admin"}, scoped={"member"}, setup=lambda w, c: w.need(status="draft"),
                        body=lambda w, c, x: {"title": "改过的需求 " + uniq()}, tables=M_TABLES),
    "deleteNeed": Entry(allow={"member", "admin"}, scoped={"member"}, setup=lambda w, c: w.need(status="draft"),
                        tables=M_TABLES),
    "submitNeed": Entry(allow={"member", "admin"}, scoped={"member"}, setup=lambda w, c: w.need(status="draft"),
                        tables=M_TABLES),
    "approveNeed": Entry(allow={"reviewer", "admin"}, setup=lambda w, c: w.need(status="submitted"),
                         tables=M_TABLES),
    "rejectNeed": Entry(allow={"reviewer", "admin"}, setup=lambda w, c: w.need(status="submitted"),
                        body=lambda w, c, x: {"reason": "预算不明确"}, tables=M_TABLES),
    "closeNeed": Entry(allow={"member", "admin"}, scoped={"member"}, setup=lambda w, c: w.need(),
                       body=lambda w, c, x: {"outcome": "closed", "reason": "不再需要"}, tables=M_TABLES),
    "search": Entry(query=lambda w, c, x: "q=" + "节水"),
    "matchNeed": Entry(allow={"member", "admin"}, scoped={"member"},
                       setup=lambda w, c: w.shared("draft_need", lambda: w.need(status="draft"))),
    "matchResult": Entry(allow={"member", "admin"}, scoped={"member"},
                         setup=lambda w, c: w.shared("draft_result", lambda: w.result(status="draft"))),
    # saved searches and notifications belong to a user (member_a's): anyone else gets 404
    "listSubscriptions": Entry(allow=ALL),
    "createSubscription": Entry(allow=ALL, body=lambda w, c, x: {"name": "订阅 " + uniq(), "q": "电池"},
                                tables=["subscriptions"]),
    "deleteSubscription": Entry(allow=ALL, setup=lambda w, c: w.subscription(), ok_by_caller=NOT_MINE,
                                tables=["subscriptions", "notifications"]),
    "listNotifications": Entry(allow=ALL),
    "countUnreadNotifications": Entry(allow=ALL),
    "readAllNotifications": Entry(allow=ALL, body=lambda w, c, x: {}, tables=["notifications"]),
    "readNotification": Entry(allow=ALL, setup=lambda w, c: w.shared("notification", w.notification),
                              ok_by_caller=NOT_MINE, tables=["notifications"]),
    "getWebhook": Entry(allow={"member"}),
    "rotateWebhookSecret": Entry(allow={"member"}, tables=["webhook_secrets"]),
    # marketplace deals: the objects belong to org A (A holds the result, A sells in the inquiry);
    # a result of the caller's own organisation cannot be asked about or bought (422 `own`) nor bid on (403)
    "listInquiries": Entry(allow={"member", "broker", "admin"}),
    "createInquiry": Entry(allow={"member"}, scoped={"member"}, other=201, ok_by_caller={"member_a": 422},
                           setup=lambda w, c: {"result_id": w.result()["id"]},
                           body=lambda w, c, x: {"result_id": x["result_id"], "message": "有意受让 " + uniq()},
                           tables=D_TABLES),
    "getInquiry": Entry(allow={"member", "broker", "admin"}, scoped={"member", "broker"},
                        setup=lambda w, c: w.shared("inquiry", w.inquiry)),
    "createInquiryMessage": Entry(allow={"member", "broker"}, scoped={"member", "broker"},
                                  setup=lambda w, c: w.shared("inquiry", w.inquiry),
                                  body=lambda w, c, x: {"body": "报价 " + uniq(), "price_fen": 4_000_000},
                                  tables=D_TABLES),
    "agreeInquiry": Entry(allow={"member"}, scoped={"member"}, setup=lambda w, c: w.inquiry(),
                          body=lambda w, c, x: {"price_fen": 4_500_000}, tables=D_TABLES),
    "declineInquiry": Entry(allow={"member"}, scoped={"member"}, setup=lambda w, c: w.inquiry(),
                            body=lambda w, c, x: {"reason": "价格不合适"}, tables=D_TABLES),
    # brokers by consent: org C (the buyer) named broker_b; org A (the seller) consents or refuses
    "nameInquiryBroker": Entry(allow={"member"}, scoped={"member"}, setup=lambda w, c: w.inquiry(),
                               body=lambda w, c, x: {"user_id": w.user("broker_b")["id"]}, tables=D_TABLES),
    "acceptInquiryBroker": Entry(allow={"member"}, scoped={"member"}, setup=lambda w, c: w.inquiry(broker="broker_b"),
                                 body=lambda w, c, x: {}, tables=D_TABLES),
    "removeInquiryBroker": Entry(allow={"member"}, scoped={"member"}, setup=lambda w, c: w.inquiry(broker="broker_b"),
                                 tables=D_TABLES),
    "listBrokers": Entry(allow={"member", "broker", "admin"}),
    "purchaseResult": Entry(allow={"member"}, scoped={"member"}, other=201, ok_by_caller={"member_a": 422},
                            setup=lambda w, c: {"id": w.result(pricing="listed", price=2_000_000)["id"]},
                            body=lambda w, c, x: {}, tables=D_TABLES),
    "listNotices": Entry(),
    "getNotice": Entry(setup=lambda w, c: w.shared("notice", w.notice)),
    "createObjection": Entry(setup=lambda w, c: w.shared("notice", w.notice),
                             body=lambda w, c, x: {"name": "异议人 " + c, "contact": "13900000000", "body": "请核实"},
                             tables=D_TABLES),
    "listObjections": Entry(allow={"member", "broker", "reviewer", "admin"}, scoped={"member", "broker"},
                            setup=lambda w, c: w.shared("notice", w.notice)),
    "decideObjection": Entry(allow={"reviewer", "admin"}, setup=lambda w, c: w.objection(),
                             body=lambda w, c, x: {"decision": "dismissed", "note": "理由不足"}, tables=D_TABLES),
    "openAuction": Entry(allow={"member", "admin"}, scoped={"member"}, setup=lambda w, c: w.auction(opened=False),
                         body=lambda w, c, x: w.auction_body(), tables=D_TABLES),
    "getAuction": Entry(setup=lambda w, c: w.shared("auction", w.auction)),
    "listAuctions": Entry(),
    "createBid": Entry(allow={"member"}, scoped={"member"}, other=201, ok_by_caller={"member_a": 403},
                       setup=lambda w, c: w.auction(), body=lambda w, c, x: {"amount_fen": 20_000}, tables=D_TABLES),
    "listBids": Entry(allow={"member", "admin"}, setup=lambda w, c: w.shared("auction", w.auction)),
    # audit ("not limited to the bureau's region")
    "listAudit": Entry(allow={"admin", "bureau"}, query=lambda w, c, x: f"entity=org&id={w.org_a['id']}"),
    "verifyAudit": Entry(allow={"admin", "bureau"}),
}


def seal_png(side=96):
    """A side×side red PNG (a stand-in for an office's seal)."""
    import struct
    import zlib
    raw = b"".join(b"\x00" + b"\xc8\x1e\x1e\xff" * side for _ in range(side))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def seal_upload(w, office_id):
    r = w.api.put(f"{V1}/offices/{office_id}/seal", data=seal_png(), headers={**w.h("admin"), "Content-Type": "image/png"})
    assert r.status == 200, r
    return {"id": office_id}


_IMPORT_SERIAL = [800000]


def import_file(w, caller, ctx):
    """A one-contract CSV of office A (last year), a new number each call."""
    _IMPORT_SERIAL[0] += 1
    y = w.year - 1
    head = "登记编号,合同名称,合同类别,卖方名称,卖方统一社会信用代码,卖方所在地区代码,买方名称,买方统一社会信用代码," \
           "买方所在地区代码,签订日期,登记日期,合同成交额（元）,技术交易额（元）,技术领域"
    row = f"{y}{w.office_a['region_code']}{_IMPORT_SERIAL[0]:06d},历史合同 {uniq()},委托开发,{w.org_a['name']}," \
          f"{w.org_a['credit_code']},{w.region},{w.org_b['name']},{w.org_b['credit_code']},{w.region}," \
          f"{y}-05-01,{y}-05-20,10000.00,9000,农业"
    return (head + "\r\n" + row + "\r\n").encode(), "text/csv"


def w_today(w):
    from contract_fixtures import today
    return today(w.db).isoformat()


def _path_ctx(ctx):
    """Path parameters from a setup result: contract objects carry id / aid."""
    return ctx


SPEC_OPS = {o.op_id: o for o in spec_ops("implemented")}
CASES = [(op_id, c) for op_id in sorted(SPEC_OPS) for c in CALLERS]


def expected(entry, so, caller):
    if so.public:
        return entry.ok_by_caller.get(caller, entry.ok or so.success_statuses()[0])
    if caller == "anon":
        return 401
    role = ROLE_OF[caller]
    if role not in entry.allow:
        return 403
    if caller in OTHER_SCOPE and role in entry.scoped:
        return entry.other_by_role.get(role, entry.other)
    if caller in entry.ok_by_caller:
        return entry.ok_by_caller[caller]
    if entry.ok is not None:
        return entry.ok
    ok = so.success_statuses()
    assert len(ok) == 1, f"{so.op_id}: several 2xx in the spec ({ok}); say which one in SWEEP"
    return ok[0]


def _roles_sentence(desc):
    """The roles named in the spec's "Roles: …" sentence (parentheses dropped), or None."""
    m = re.search(r"Roles:\s*(.+?)(?:\.\s|\.$)", desc, re.S)
    if not m:
        return None
    text = m.group(1)
    prev = None
    while prev != text:
        prev = text
        text = re.sub(r"\([^()]*\)", "", text)
    if re.search(r"\banyone\b|any signed-in user", text):
        return "any"
    return {r for r in ROLES if re.search(rf"\b{r}s?\b", text)}


# ---------------------------------------------------------------- coverage of the spec

def test_every_implemented_operation_is_in_the_sweep():
    missing = sorted(set(SPEC_OPS) - set(SWEEP))
    assert not missing, ("implemented operations the authorization sweep does not know how to exercise "
                         f"(add them to SWEEP in {Path(__file__).name}): {missing}")
    known = {o.op_id for o in spec_ops()}
    stale = sorted(set(SWEEP) - known)
    assert not stale, f"SWEEP entries for operations the spec does not have (renamed?): {stale}"


@pytest.mark.parametrize("op_id", sorted(SPEC_OPS))
def test_sweep_table_matches_the_spec_text(op_id):
    """The allowed roles of the table agree with the spec: its "Roles:" sentence, its security, and the
    statuses it lists (401 for secured, 403 when some role is refused, 404 for ids in the path)."""
    so = SPEC_OPS[op_id]
    entry = SWEEP.get(op_id)
    if entry is None:
        pytest.fail(f"{op_id} is implemented but not in SWEEP")
    if so.public:
        return
    assert "401" in so.responses, f"{op_id} needs a token but the spec lists no 401"
    if ALL - entry.allow:
        assert "403" in so.responses, f"{op_id} refuses {sorted(ALL - entry.allow)} but the spec lists no 403"
    if so.path_params and entry.scoped:
        assert "404" in so.responses, f"{op_id} is scoped by object but the spec lists no 404"
    named = _roles_sentence(so.description)
    if named is None:
        return  # amend / cancel describe the two forms in prose; the table is the reference
    if named == "any":
        assert entry.allow == ALL, f"{op_id}: the spec says any signed-in user, the table {sorted(entry.allow)}"
    else:
        assert named == entry.allow, \
            f"{op_id}: the spec's Roles sentence names {sorted(named)}, the sweep table {sorted(entry.allow)}"


# ---------------------------------------------------------------- the sweep

@pytest.mark.parametrize("op_id,caller", CASES, ids=[f"{o}-{c}" for o, c in CASES])
def test_authz(api, sdb, sworld, op_id, caller):
    so = SPEC_OPS[op_id]
    entry = SWEEP.get(op_id)
    if entry is None:
        pytest.fail(f"{so.method} {so.path} ({op_id}) is implemented in the spec but the sweep has no entry "
                    f"for it: add one to SWEEP in {Path(__file__).name}", pytrace=False)
    w = sworld
    ctx = entry.setup(w, caller) or {}
    path = fill_path(so.path, ctx)
    if entry.query:
        path += "?" + entry.query(w, caller, ctx)
    headers = dict(w.h(caller))
    kw = {}
    if entry.raw:
        data, ctype = entry.raw(w, caller, ctx)
        kw["data"] = data
        headers["Content-Type"] = ctype
    elif entry.body:
        kw["json"] = entry.body(w, caller, ctx)
    write = so.method != "GET"
    tables = entry.tables or []
    before = fingerprint(sdb, tables) if write else None
    r = api.request(so.method, path, headers=headers, **kw)
    want = expected(entry, so, caller)
    where = f"{so.method} {path} as {caller}"
    assert r.status < 500, f"{where}: server error {r!r}"
    assert str(r.status) in so.responses, \
        f"{where}: status {r.status} is not among the spec's responses {sorted(so.responses)}: {r!r}"
    assert r.status == want, f"{where}: expected {want}, got {r.status}: {r.content[:400]!r}"
    if r.status >= 400:
        assert_problem(r, r.status)
        if write:
            after = fingerprint(sdb, tables)
            assert after == before, f"{where} was refused ({r.status}) but changed the database:\n" + "\n".join(
                f"  {t}: {before.get(t)} → {after.get(t)}" for t in sorted(after) if after.get(t) != before.get(t))


# ---------------------------------------------------------------- planned operations and the route table

PLANNED = [o for o in spec_ops("planned")]


@pytest.mark.parametrize("so", PLANNED, ids=[o.op_id for o in PLANNED])
def test_planned_operation_is_not_served(api, sworld, so):
    """The spec: `x-status: planned` — the server does not serve it yet (it answers 404), for a
    signed-in admin as for anyone.  A route the server serves must be marked implemented (and then
    swept above)."""
    path = fill_path(so.path, {p["name"]: "1" for p in so.path_params})
    kw = {"json": {}} if so.method in ("POST", "PUT", "PATCH") else {}
    for caller in ("anon", "admin"):
        r = api.request(so.method, path, headers=sworld.h(caller), **kw)
        detail = r.body.get("detail") if isinstance(r.body, dict) else None
        assert r.status == 404 and detail == "no such resource", \
            (f"{so.method} {so.path} is `x-status: planned` but the server serves it "
             f"(as {caller}: {r.status} {r.content[:200]!r}); mark it implemented in api/openapi.yaml "
             f"and add it to SWEEP")


_ROUTE = re.compile(r'\{\s*HTTP_(GET|POST|PUT|PATCH|DELETE)\s*,\s*"([^"]+)"')


def server_routes():
    out = set()
    for f in sorted((REPO / "server").rglob("*.c")):
        for m in _ROUTE.finditer(f.read_text(errors="replace")):
            out.add((m.group(1), m.group(2)))
    return out


def test_every_server_route_is_in_the_spec():
    """Every route registered in server/**/*.c is an operation of the spec, so the sweep cannot miss it."""
    spec = {(o.method, o.path): o for o in spec_ops()}
    routes = server_routes()
    assert routes, "found no route tables under server/"
    missing = sorted(f"{m} {p}" for m, p in routes if (m, p) not in spec)
    assert not missing, f"routes the server registers but api/openapi.yaml does not describe: {missing}"
    planned = sorted(f"{m} {p}" for m, p in routes if (m, p) in spec and spec[(m, p)].status != "implemented")
    assert not planned, f"routes the server registers but the spec marks as planned: {planned}"
