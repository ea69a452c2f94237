"""Routing over HTTP: admins manage rules, any agency asks why, complaints follow the answer.

Real DOPA codes: Bangkok 10, เขตหนองจอก 1003 (tambons กระทุ่มราย 100301 and หนองจอก 100302),
เขตพระนคร 1001, Chiang Mai 50 / เมืองเชียงใหม่ 5001.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub import vocab
from tests.support.envelopes import traffy_complaint
from tests.support.tokens import bearer, expect_problem

RULES = "/v1/routing/rules"
EXPLAIN = "/v1/routing:explain"


def test_the_codes_used_here_are_real_dopa_codes():
    assert vocab.area("10").name_en == "Bangkok"  # type: ignore[union-attr]
    assert vocab.area("1003").name_th == "เขตหนองจอก"  # type: ignore[union-attr]
    assert vocab.area("100301").name_th == "กระทุ่มราย"  # type: ignore[union-attr]
    assert vocab.area("100302").parent == "1003"  # type: ignore[union-attr]
    assert vocab.area("1001").parent == "10"  # type: ignore[union-attr]
    assert vocab.area("5001").parent == "50"  # type: ignore[union-attr]


@pytest.fixture
def admin(agencies):
    return agencies.enrol("hub-admin", kind="hub", roles=["admin"], areas=[])


@pytest.fixture
def bangkok(agencies) -> dict[str, Any]:
    """A small Bangkok: province, amphoe and tambon offices, a category specialist, the
    Damrongdhama centre (general complaints only), a national ministry and a submit-only
    origin system."""
    return {
        "bma": agencies.enrol("bma", areas=["10"]),
        "nongchok": agencies.enrol("nongchok", areas=["1003"]),
        "krathum": agencies.enrol("krathum", areas=["100301"]),
        "mwa": agencies.enrol(
            "mwa", kind="state_enterprise", areas=["10"], categories=["water_supply"]
        ),
        "dc-10": agencies.enrol(
            "dc-10", kind="damrongdhama_centre", areas=["10"], categories=["general_complaint"]
        ),
        "moj": agencies.enrol("moj", kind="ministry", areas=["TH"], categories=["corruption"]),
        "roads": agencies.enrol("roads", kind="ministry", areas=[]),
        "traffy": agencies.enrol("traffy", roles=["submit"], areas=["10"]),
    }


def get(client, who, path: str, **params: Any):
    return client.get(path, params=params, headers=bearer(who.client.token()))


def post(client, who, path: str, body: Any):
    return client.post(path, json=body, headers=bearer(who.client.token()))


def delete(client, who, path: str):
    return client.delete(path, headers=bearer(who.client.token()))


def explain(client, who, area: str, category: str) -> dict[str, Any]:
    r = get(client, who, EXPLAIN, area=area, category=category)
    assert r.status_code == 200, r.text
    return r.json()


def order(decision: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["agency"], c["level"], c["source"]) for c in decision["candidates"]]


# --------------------------------------------------------------------------- rules CRUD


def test_admin_adds_lists_and_removes_rules(client, admin, bangkok):
    r = post(
        client,
        admin,
        RULES,
        {"area": "1003", "category": "road", "agency": "roads", "note": "ถนนในเขตหนองจอก"},
    )
    assert r.status_code == 201, r.text
    road = r.json()
    assert road["id"] >= 1
    assert (road["area"], road["category"], road["agency"], road["note"]) == (
        "1003",
        "road",
        "roads",
        "ถนนในเขตหนองจอก",
    )
    r = post(client, admin, RULES, {"area": "10", "agency": "bma"})
    assert r.status_code == 201
    anything = r.json()
    assert anything["category"] is None and anything["note"] is None

    listed = get(client, admin, RULES).json()["rules"]
    assert [x["id"] for x in listed] == [anything["id"], road["id"]]  # ordered by area
    assert get(client, admin, RULES, area="1003").json()["rules"] == [road]
    assert get(client, admin, RULES, agency="bma").json()["rules"] == [anything]
    assert get(client, admin, RULES, area="50").json()["rules"] == []

    r = delete(client, admin, f"{RULES}/{road['id']}")
    assert r.status_code == 200 and r.json() == road
    assert get(client, admin, RULES).json()["rules"] == [anything]
    expect_problem(delete(client, admin, f"{RULES}/{road['id']}"), 404, "not-found")


def test_rules_are_for_admins_only(client, admin, bangkok):
    bma = bangkok["bma"]
    rule = post(client, admin, RULES, {"area": "10", "agency": "bma"}).json()
    expect_problem(get(client, bma, RULES), 403, "forbidden")
    expect_problem(post(client, bma, RULES, {"area": "10", "agency": "roads"}), 403, "forbidden")
    expect_problem(delete(client, bma, f"{RULES}/{rule['id']}"), 403, "forbidden")
    expect_problem(client.get(RULES), 401)
    expect_problem(client.post(RULES, json={"area": "10", "agency": "bma"}), 401)
    assert [x["id"] for x in get(client, admin, RULES).json()["rules"]] == [rule["id"]]


@pytest.mark.parametrize(
    ("body", "status", "pointer"),
    [
        ({"area": "109999", "agency": "bma"}, 400, "/body/area"),  # well-formed, not DOPA
        ({"area": "99", "agency": "bma"}, 400, "/body/area"),
        ({"area": "10", "category": "no_such_category", "agency": "bma"}, 400, "/body/category"),
        ({"area": "1O", "agency": "bma"}, 400, None),  # letter O: the contract refuses it
    ],
)
def test_unknown_areas_and_categories_are_problems_with_pointers(
    client, admin, bangkok, body, status, pointer
):
    problem = expect_problem(post(client, admin, RULES, body), status)
    if pointer:
        assert pointer in {e["pointer"] for e in problem.get("errors", [])}, problem
    assert get(client, admin, RULES).json()["rules"] == []


def test_unknown_agency_is_not_found_and_duplicates_conflict(client, admin, bangkok):
    problem = expect_problem(
        post(client, admin, RULES, {"area": "10", "agency": "nobody"}), 404, "not-found"
    )
    assert "nobody" in problem["detail"]
    first = post(client, admin, RULES, {"area": "1003", "category": "road", "agency": "roads"})
    assert first.status_code == 201
    problem = expect_problem(
        post(client, admin, RULES, {"area": "1003", "category": "road", "agency": "roads"}),
        409,
        "conflict",
    )
    assert str(first.json()["id"]) in problem["detail"]
    # the any-category rule is a different rule, and is itself unique
    assert post(client, admin, RULES, {"area": "1003", "agency": "roads"}).status_code == 201
    expect_problem(post(client, admin, RULES, {"area": "1003", "agency": "roads"}), 409)
    assert len(get(client, admin, RULES).json()["rules"]) == 2


def test_explain_refuses_unknown_area_and_category_with_pointers(client, bangkok):
    bma = bangkok["bma"]
    p = expect_problem(get(client, bma, EXPLAIN, area="109999", category="road"), 400)
    assert [e["pointer"] for e in p["errors"]] == ["/query/area"]
    p = expect_problem(get(client, bma, EXPLAIN, area="10", category="nope"), 400)
    assert [e["pointer"] for e in p["errors"]] == ["/query/category"]
    expect_problem(get(client, bma, EXPLAIN, area="Bangkok", category="road"), 400)
    expect_problem(client.get(EXPLAIN, params={"area": "10", "category": "road"}), 401)


# --------------------------------------------------------------------------- ranking


def test_most_specific_area_wins_and_candidates_come_best_first(client, bangkok):
    bma = bangkok["bma"]
    d = explain(client, bma, "100301", "road")
    assert d["agency"] == "krathum"
    assert order(d) == [
        ("krathum", "tambon", "enrolment"),
        ("nongchok", "amphoe", "enrolment"),
        ("bma", "province", "enrolment"),
        ("dc-10", "fallback", "damrongdhama"),
    ]
    assert "100301" in d["reason"] and "tambon" in d["reason"]
    # the other tambon of the same amphoe falls to the amphoe office
    d = explain(client, bma, "100302", "road")
    assert d["agency"] == "nongchok"
    assert [c["agency"] for c in d["candidates"]][:2] == ["nongchok", "bma"]
    # another amphoe falls to the province
    assert explain(client, bma, "1001", "road")["agency"] == "bma"
    assert explain(client, bma, "10", "road")["agency"] == "bma"


def test_category_specific_beats_any_category_at_the_same_level(client, bangkok):
    bma = bangkok["bma"]
    d = explain(client, bma, "1001", "water_supply")
    assert d["agency"] == "mwa"
    assert order(d)[:2] == [("mwa", "province", "enrolment"), ("bma", "province", "enrolment")]
    assert d["candidates"][0]["category"] == "water_supply"
    assert d["candidates"][1]["category"] is None
    # ... but not over a more specific area: the tambon office still comes first
    d = explain(client, bma, "100301", "water_supply")
    assert [c["agency"] for c in d["candidates"]][:4] == ["krathum", "nongchok", "mwa", "bma"]
    # the Damrongdhama centre enrolled for general complaints is a real candidate for them
    d = explain(client, bma, "1001", "general_complaint")
    assert d["agency"] == "dc-10"
    assert order(d)[0] == ("dc-10", "province", "enrolment")


def test_a_national_enrolment_covers_every_province(client, bangkok):
    bma = bangkok["bma"]
    d = explain(client, bma, "5001", "corruption")
    assert d["agency"] == "moj"
    assert order(d) == [("moj", "national", "enrolment")]
    d = explain(client, bma, "100301", "corruption")
    assert d["agency"] == "krathum"  # a tambon office outranks a national ministry
    assert order(d)[-2:] == [
        ("moj", "national", "enrolment"),
        ("dc-10", "fallback", "damrongdhama"),
    ]


def test_rule_beats_enrolment_and_category_rule_beats_any_category_rule(client, admin, bangkok):
    bma = bangkok["bma"]
    # "roads" enrols nowhere; an any-category rule at the province ties with bma's
    # enrolment on level and category, and a rule outranks an enrolment
    rule = post(client, admin, RULES, {"area": "10", "agency": "roads"}).json()
    d = explain(client, bma, "1001", "waste")
    assert d["agency"] == "roads"
    assert order(d)[:2] == [("roads", "province", "rule"), ("bma", "province", "enrolment")]
    assert d["candidates"][0]["rule_id"] == rule["id"]
    assert d["candidates"][1]["rule_id"] is None
    assert f"routing rule {rule['id']}" in d["reason"]

    # a category rule for another agency beats the any-category rule
    specific = post(
        client, admin, RULES, {"area": "10", "category": "waste", "agency": "nongchok"}
    ).json()
    d = explain(client, bma, "1001", "waste")
    assert d["agency"] == "nongchok"
    assert d["candidates"][0] == {
        "agency": "nongchok",
        "area": "10",
        "category": "waste",
        "level": "province",
        "source": "rule",
        "rule_id": specific["id"],
    }
    # other categories are untouched by the category rule
    assert explain(client, bma, "1001", "road")["agency"] == "roads"
    # a rule at a province level never beats a tambon enrolment
    assert explain(client, bma, "100301", "waste")["agency"] == "krathum"
    # a tambon rule beats everything
    post(client, admin, RULES, {"area": "100301", "category": "waste", "agency": "roads"})
    assert explain(client, bma, "100301", "waste")["agency"] == "roads"


def test_fallback_is_the_provincial_damrongdhama_centre(client, agencies, bangkok):
    bma = bangkok["bma"]
    agencies.enrol("dc-50", kind="damrongdhama_centre", areas=["50"], categories=["help_request"])
    agencies.enrol("cm-office", areas=["50"], roles=["submit"])  # cannot receive
    d = explain(client, bma, "5001", "road")
    assert d["agency"] == "dc-50"
    assert order(d) == [("dc-50", "fallback", "damrongdhama")]
    assert d["candidates"][0]["area"] == "50"
    assert "Damrongdhama" in d["reason"]
    # no province, no centre: nobody, said plainly
    d = explain(client, bma, "TH", "road")
    assert d["agency"] is None and d["candidates"] == []
    assert d["reason"]


# --------------------------------------------------------------------------- real routing


def submit_road(traffy, n: int, ref: str) -> str:
    body = traffy_complaint(n)
    body["category"] = "road"
    body["origin"] = {"agency": "traffy", "system": "traffy_fondue", "ref": ref}
    body["id"] = f"traffy:{ref}"
    receipt = traffy.client.send("complaint.submit", body)
    assert receipt.case_id
    return receipt.case_id


def test_a_complaint_submitted_afterwards_follows_the_rule(client, admin, bangkok):
    traffy, roads, krathum = bangkok["traffy"], bangkok["roads"], bangkok["krathum"]
    assert traffy_complaint(0)["location"]["tambon_code"] == "100301"
    before = submit_road(traffy, 0, "R-1")
    case = get(client, krathum, f"/v1/cases/{before}").json()
    assert (case["owner"], case["status"]) == ("krathum", "offered")

    rule = post(client, admin, RULES, {"area": "100301", "category": "road", "agency": "roads"})
    rule_id = rule.json()["id"]
    after = submit_road(traffy, 0, "R-2")
    r = get(client, roads, f"/v1/cases/{after}")
    assert r.status_code == 200, r.text
    case = r.json()
    assert (case["owner"], case["status"]) == ("roads", "offered")
    assert case["handoffs"][0]["to"] == "roads"
    assert f"routing rule {rule_id}" in case["handoffs"][0]["reason"]
    assert {"agency": "roads", "role": "owner"} in case["parties"]
    # krathum is not on the new case at all
    expect_problem(get(client, krathum, f"/v1/cases/{after}"), 403, "forbidden")

    assert delete(client, admin, f"{RULES}/{rule_id}").status_code == 200
    again = submit_road(traffy, 0, "R-3")
    assert get(client, krathum, f"/v1/cases/{again}").json()["owner"] == "krathum"
