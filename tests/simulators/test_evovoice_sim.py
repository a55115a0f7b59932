"""Test the EvoVoice simulator over real HTTP on loopback."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from simulators.data import (
    EVOVOICE_ACCOUNTS,
    EVOVOICE_NO_ROLE_USER,
    EVOVOICE_SERVICE_USER,
    ai_minutes,
    days_between,
    evovoice_expected,
    evovoice_seconds,
    synthetic_customer_id,
)

TODAY = date(2026, 6, 10)  # frozen so default-range tests never straddle midnight
TIMEOUT = 30
HOSTILE_PAIRS = [
    (account, customer) for account, ids in EVOVOICE_ACCOUNTS.items() for customer in ids
]


@pytest.fixture
def admin(http, sims):
    """Return a session logged in as the service user."""
    assert login(http, sims).status_code == 200
    return http


def login(http, sims, user=EVOVOICE_SERVICE_USER, **overrides):
    body = {"provider": "credentials", "userName": user[0], "password": user[1]}
    body["rememberMe"] = True
    body.update(overrides)
    return http.post(sims.evovoice_url + "/auth/credentials", json=body, timeout=TIMEOUT)


def ai_usage(http, sims, method="GET", suffix="", auth=None, **params):
    """Call /ai/usage: GET sends query parameters, other verbs a JSON body."""
    url = sims.evovoice_url + "/ai/usage" + suffix
    if method == "GET":
        return http.get(url, params=params, auth=auth, timeout=TIMEOUT)
    return http.request(method, url, json=params, auth=auth, timeout=TIMEOUT)


def expected(start, end, **filters):
    return evovoice_expected(start, end, today=TODAY, **filters)


def assert_empty(response, status: int) -> None:
    assert response.status_code == status
    assert response.content == b""


# --- dataset -------------------------------------------------------------------------


def test_dataset_has_hostile_ids():
    assert len(EVOVOICE_ACCOUNTS) >= 5
    assert all(2 <= len(customers) <= 6 for customers in EVOVOICE_ACCOUNTS.values())
    every_id = " ".join([*EVOVOICE_ACCOUNTS, *(c for _, c in HOSTILE_PAIRS)])
    for needle in ("</script><script>alert(1)</script>", '"', "'", "&", "<b>bold</b>", "東京"):
        assert needle in every_id
    customers = [customer for _, customer in HOSTILE_PAIRS]
    assert len(customers) == len(set(customers))  # customer ids are unique across accounts


def test_ai_minutes_rounds_half_up():
    assert [ai_minutes(s) for s in (0, 29, 30, 89, 90, 150)] == [0, 0, 1, 1, 2, 3]


def test_synthetic_closed_form_matches_daily_seconds():
    start, end = date(2026, 5, 1), date(2026, 5, 20)
    for index in (1, 2, 7, 99_999):
        customer = synthetic_customer_id(index)
        body = expected(start, end, customer_id=customer, extra_customers=100_000)
        (entry,) = body["accountUsage"]
        seconds = sum(
            evovoice_seconds(entry["accountId"], customer, day) for day in days_between(start, end)
        )
        assert entry["aiMinutes"] == ai_minutes(seconds)


# --- auth ----------------------------------------------------------------------------


def test_login_sets_session_cookies(http, sims):
    response = login(http, sims)
    assert response.status_code == 200
    body = response.json()
    assert body["userName"] == EVOVOICE_SERVICE_USER[0]
    assert body["displayName"]
    assert body["sessionId"] == response.cookies["ss-id"]
    assert response.cookies["ss-pid"]
    set_cookies = response.raw.headers.getlist("Set-Cookie")
    for name in ("ss-id", "ss-pid"):
        (header,) = [h for h in set_cookies if h.startswith(name + "=")]
        assert "HttpOnly" in header
        assert "Path=/" in header
    assert ai_usage(http, sims).status_code == 200


def test_form_encoded_login(http, sims):
    data = {"userName": EVOVOICE_SERVICE_USER[0], "password": EVOVOICE_SERVICE_USER[1]}
    response = http.post(sims.evovoice_url + "/auth/credentials", data=data, timeout=TIMEOUT)
    assert response.status_code == 200
    assert ai_usage(http, sims).status_code == 200


@pytest.mark.parametrize(
    "user",
    [
        (EVOVOICE_SERVICE_USER[0], "wrong"),
        ("nobody@demo.invalid", EVOVOICE_SERVICE_USER[1]),
        (EVOVOICE_SERVICE_USER[0], ""),
    ],
)
def test_failed_login_is_401_with_response_status(http, sims, user):
    response = login(http, sims, user=user)
    assert response.status_code == 401
    assert response.json() == {
        "responseStatus": {"errorCode": "Unauthorized", "message": "Invalid UserName or Password"}
    }
    assert "ss-id" not in response.cookies


def test_no_credentials_is_empty_401_with_challenge(http, sims):
    response = ai_usage(http, sims)
    assert_empty(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_basic_auth(http, sims):
    assert ai_usage(http, sims, auth=EVOVOICE_SERVICE_USER).status_code == 200
    bad = ai_usage(http, sims, auth=(EVOVOICE_SERVICE_USER[0], "wrong"))
    assert_empty(bad, 401)
    assert "WWW-Authenticate" in bad.headers


def test_user_without_role_gets_empty_403(http, sims):
    assert_empty(ai_usage(http, sims, auth=EVOVOICE_NO_ROLE_USER), 403)
    assert login(http, sims, user=EVOVOICE_NO_ROLE_USER).status_code == 200
    assert_empty(ai_usage(http, sims), 403)


def test_expired_sessions_need_a_new_login(admin, sims):
    assert ai_usage(admin, sims).status_code == 200
    sims.state.expire_evovoice_sessions()
    assert_empty(ai_usage(admin, sims), 401)
    assert login(admin, sims).status_code == 200
    assert ai_usage(admin, sims).status_code == 200


def test_expire_sessions_over_http(admin, sims):
    assert admin.delete(sims.base_url + "/_sim/sessions", timeout=TIMEOUT).status_code == 204
    assert ai_usage(admin, sims).status_code == 401


def test_logout_ends_the_session(admin, sims):
    assert admin.post(sims.evovoice_url + "/auth/logout", timeout=TIMEOUT).status_code == 200
    assert ai_usage(admin, sims).status_code == 401


def test_forged_session_cookie_is_401(http, sims):
    http.cookies.set("ss-id", "forged")
    assert_empty(ai_usage(http, sims), 401)


# --- parameters and bodies -------------------------------------------------------------


def test_every_verb_and_format_answers_the_same_json(admin, sims):
    params = {"accountId": "acct-northwind", "startDate": "2026-05-01", "endDate": "2026-05-31"}
    want = expected(date(2026, 5, 1), date(2026, 5, 31), account_id="acct-northwind")
    answers = [
        ai_usage(admin, sims, **params),
        ai_usage(admin, sims, "POST", **params),
        ai_usage(admin, sims, "PUT", **params),
        ai_usage(admin, sims, suffix=".json", **params),
        ai_usage(admin, sims, "POST", suffix=".json", **params),
        ai_usage(admin, sims, format="json", **params),
        admin.get(
            sims.evovoice_url + "/ai/usage",
            params=params,
            headers={"Accept": "application/json"},
            timeout=TIMEOUT,
        ),
    ]
    for response in answers:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json() == want


def test_body_wins_over_query_and_names_are_case_insensitive(admin, sims):
    url = sims.evovoice_url + "/ai/usage"
    response = admin.post(
        url,
        params={"accountId": "acct-northwind"},
        json={"AccountID": "acct-quiet", "STARTDATE": "2026-06-01", "endDate": None},
        timeout=TIMEOUT,
    )
    assert response.json() == expected(date(2026, 6, 1), TODAY, account_id="acct-quiet")
    call = sims.state.calls(path="/ai/usage")[-1]
    assert call["body"] == {"AccountID": "acct-quiet", "STARTDATE": "2026-06-01", "endDate": None}
    assert call["query"] == {"accountId": "acct-northwind"}


def test_defaults_are_thirty_days_back_from_today(admin, sims):
    assert ai_usage(admin, sims).json() == expected(TODAY - timedelta(days=30), TODAY)


def test_end_date_is_inclusive(admin, sims):
    day = date(2026, 6, 2)
    body = ai_usage(admin, sims, startDate=day, endDate=day).json()
    seconds = sum(
        evovoice_seconds("acct-northwind", c, day) for c in EVOVOICE_ACCOUNTS["acct-northwind"]
    )
    assert seconds > 0
    assert body["accountUsage"][0] == {
        "accountId": "acct-northwind",
        "aiMinutes": ai_minutes(seconds),
    }


def test_date_time_parameters_count_as_their_date(admin, sims):
    body = ai_usage(
        admin, sims, startDate="2026-06-02T00:00:00Z", endDate="2026-06-03T12:00:00.0000000+00:00"
    ).json()
    assert body == expected(date(2026, 6, 2), date(2026, 6, 3))


def test_future_days_have_no_usage(admin, sims):
    body = ai_usage(admin, sims, startDate=TODAY + timedelta(days=1), endDate="2026-12-31").json()
    assert body["customerUsage"] == []
    assert {entry["aiMinutes"] for entry in body["accountUsage"]} == {0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"startDate": "06/01/2026"}, "startDate"),
        ({"startDate": "2026-02-30"}, "startDate"),
        ({"endDate": "soon"}, "endDate"),
        ({"startDate": "2026-06-05", "endDate": "2026-06-04"}, "startDate"),
    ],
)
def test_bad_dates_are_400_argument_exceptions(admin, sims, params, field):
    for method in ("GET", "POST"):
        response = ai_usage(admin, sims, method, **params)
        assert response.status_code == 400
        status = response.json()["responseStatus"]
        assert status["errorCode"] == "ArgumentException"
        assert status["message"]
        (error,) = status["errors"]
        assert (error["errorCode"], error["fieldName"]) == ("ArgumentException", field)


def test_unparsable_json_body_is_400(admin, sims):
    response = admin.post(
        sims.evovoice_url + "/ai/usage",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert response.json()["responseStatus"]["errorCode"] == "SerializationException"


# --- numbers -------------------------------------------------------------------------


def test_per_call_rounding_matches_oracle_and_differs_from_daily_sums(admin, sims):
    start, end = date(2026, 5, 1), date(2026, 5, 14)
    whole = ai_usage(admin, sims, startDate=start, endDate=end).json()
    assert whole == expected(start, end)
    daily_sums: dict[str, int] = {}
    for day in days_between(start, end):
        body = ai_usage(admin, sims, "POST", startDate=str(day), endDate=str(day)).json()
        assert body == expected(day, day)
        for entry in body["accountUsage"]:
            daily_sums[entry["accountId"]] = (
                daily_sums.get(entry["accountId"], 0) + entry["aiMinutes"]
            )
    whole_by_account = {entry["accountId"]: entry["aiMinutes"] for entry in whole["accountUsage"]}
    assert set(daily_sums) == set(whole_by_account)
    assert any(daily_sums[a] != whole_by_account[a] for a in whole_by_account)


def test_account_minutes_round_the_summed_seconds(admin, sims):
    start, end = date(2026, 6, 1), date(2026, 6, 7)
    body = ai_usage(admin, sims, startDate=start, endDate=end).json()
    for entry in body["accountUsage"]:
        seconds = sum(
            evovoice_seconds(entry["accountId"], customer, day)
            for customer in EVOVOICE_ACCOUNTS[entry["accountId"]]
            for day in days_between(start, end)
        )
        assert entry["aiMinutes"] == ai_minutes(seconds)


def test_account_filter(admin, sims):
    account = "zürich-東京-Ωmega"
    body = ai_usage(admin, sims, accountId=account, startDate="2026-06-01").json()
    assert [entry["accountId"] for entry in body["accountUsage"]] == [account]
    assert {entry["accountId"] for entry in body["customerUsage"]} == {account}
    unknown = ai_usage(admin, sims, accountId="acct-nope").json()
    assert unknown == {"accountUsage": [], "customerUsage": []}


def test_customer_filter_narrows_account_usage_too(admin, sims):
    start, end = date(2026, 5, 1), date(2026, 5, 31)
    customer = "cust-bravo"
    body = ai_usage(admin, sims, customerId=customer, startDate=start, endDate=end).json()
    seconds = sum(evovoice_seconds("acct-northwind", customer, d) for d in days_between(start, end))
    minutes = ai_minutes(seconds)
    assert body == {
        "accountUsage": [{"accountId": "acct-northwind", "aiMinutes": minutes}],
        "customerUsage": [
            {"accountId": "acct-northwind", "customerId": customer, "aiMinutes": minutes}
        ],
    }
    elsewhere = ai_usage(admin, sims, accountId="acct-quiet", customerId=customer).json()
    assert elsewhere == {"accountUsage": [], "customerUsage": []}


def test_zero_customers_are_omitted_but_accounts_stay(admin, sims):
    quiet_days = [
        day
        for day in days_between(date(2026, 5, 1), TODAY)
        if not any(evovoice_seconds("acct-quiet", c, day) for c in EVOVOICE_ACCOUNTS["acct-quiet"])
    ]
    assert quiet_days
    day = quiet_days[0]
    body = ai_usage(admin, sims, startDate=day, endDate=day).json()
    assert {"accountId": "acct-quiet", "aiMinutes": 0} in body["accountUsage"]
    assert all(entry["accountId"] != "acct-quiet" for entry in body["customerUsage"])
    month = ai_usage(admin, sims, startDate="2026-05-01", endDate="2026-05-31").json()
    listed = {entry["customerId"] for entry in month["customerUsage"]}
    assert "cust-idle" not in listed
    assert "cust-sparse" in listed


@pytest.mark.parametrize(("account", "customer"), HOSTILE_PAIRS)
def test_hostile_ids_round_trip_exactly(admin, sims, account, customer):
    want = expected(date(2026, 5, 1), date(2026, 5, 31), account_id=account, customer_id=customer)
    params = {"accountId": account, "customerId": customer}
    params.update(startDate="2026-05-01", endDate="2026-05-31")
    for method in ("GET", "POST"):
        body = ai_usage(admin, sims, method, **params).json()
        assert body == want
        assert [entry["accountId"] for entry in body["accountUsage"]] == [account]
        assert [entry["customerId"] for entry in body["customerUsage"]] in ([customer], [])
    get = sims.state.calls(path="/ai/usage")[0]
    assert get["query"]["accountId"] == account
    assert get["query"]["customerId"] == customer


def test_extra_customers_at_scale(admin, sims):
    sims.state.extra_customers = 100_000
    start, end = date(2026, 5, 11), TODAY
    body = ai_usage(admin, sims, startDate=start, endDate=end).json()
    want = expected(start, end, extra_customers=100_000)
    assert body == want
    synthetic = [e for e in body["customerUsage"] if e["customerId"].startswith("cust-0")]
    assert 80_000 < len(synthetic) < 100_000  # one synthetic customer in ten has no usage
    assert len(body["accountUsage"]) == len(EVOVOICE_ACCOUNTS)
    single = ai_usage(admin, sims, customerId=synthetic_customer_id(100_000)).json()
    assert len(single["accountUsage"]) == 1


# --- faults and log --------------------------------------------------------------------

FAULT_EXPECTATIONS = {  # kind: (status, content type prefix or None for an empty body)
    "500": (500, "application/json"),
    "502": (502, "application/json"),
    "503": (503, "application/json"),
    "429": (429, "application/json"),
    "404": (404, "application/json"),
    "401": (401, None),
    "403": (403, None),
    "html": (502, "text/html"),
    "malformed": (200, "application/json"),
    "wrong-shape": (200, "application/json"),
}


@pytest.mark.parametrize("kind", sorted(FAULT_EXPECTATIONS))
def test_fault_kinds(admin, sims, kind):
    status, content_type = FAULT_EXPECTATIONS[kind]
    sims.state.add_fault("evovoice", kind, times=1)
    response = ai_usage(admin, sims)
    assert response.status_code == status
    if content_type is None:
        assert response.content == b""
    else:
        assert response.headers["Content-Type"].startswith(content_type)
    if kind in ("500", "502", "503", "429", "404"):
        assert response.json()["responseStatus"]["errorCode"]
    if kind == "401":
        assert "WWW-Authenticate" in response.headers
    if kind == "malformed":
        with pytest.raises(ValueError):
            response.json()
    if kind == "wrong-shape":
        assert response.json() == {"items": []}
    assert ai_usage(admin, sims).status_code == 200


def test_faults_skip_login_and_honour_times(http, sims):
    sims.state.add_fault("evovoice", "503", times=2, retry_after=4)
    assert login(http, sims).status_code == 200
    first = ai_usage(http, sims)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "4")
    assert ai_usage(http, sims).status_code == 503
    assert ai_usage(http, sims).status_code == 200


def test_timeout_fault_then_normal_answer(admin, sims):
    sims.state.add_fault("evovoice", "timeout", times=1, hang_seconds=0.2)
    assert ai_usage(admin, sims).status_code == 200


def test_isnotai_faults_do_not_touch_evovoice(admin, sims):
    sims.state.add_fault("isnotai", "500")
    assert ai_usage(admin, sims).status_code == 200


def test_call_log_never_holds_passwords(admin, sims):
    ai_usage(admin, sims, "POST", accountId="acct-quiet")
    login_call, usage_call = sims.state.calls(target="evovoice")
    assert (login_call["path"], login_call["status"], login_call["body"]) == (
        "/auth/credentials",
        200,
        None,
    )
    assert login_call["identity"] == EVOVOICE_SERVICE_USER[0]
    assert EVOVOICE_SERVICE_USER[1] not in repr(sims.state.calls())
    assert (usage_call["method"], usage_call["body"]) == ("POST", {"accountId": "acct-quiet"})


# --- switches for the docs' open points ---------------------------------------------------

EVOVOICE_SWITCHES = {
    "evovoice_end_date": "exclusive",
    "evovoice_verbs": "post-405",
    "evovoice_idle": "omitted",
    "evovoice_zero_customers": "listed",
    "evovoice_auth": "basic-only",
    "evovoice_session_uses": 3,
}


def test_switches_are_set_over_http_and_reset(http, sims):
    url = sims.base_url + "/_sim/settings"
    assert http.put(url, json=EVOVOICE_SWITCHES, timeout=TIMEOUT).status_code == 200
    shown = http.get(url, timeout=TIMEOUT).json()
    assert {name: shown[name] for name in EVOVOICE_SWITCHES} == EVOVOICE_SWITCHES
    bad = http.put(url, json={"evovoice_verbs": "put"}, timeout=TIMEOUT)
    assert bad.status_code == 400
    assert "evovoice_verbs" in bad.json()["error"]
    assert http.post(sims.base_url + "/_sim/reset", timeout=TIMEOUT).status_code in (200, 204)
    shown = http.get(url, timeout=TIMEOUT).json()
    assert shown["evovoice_end_date"] == "inclusive"
    assert shown["evovoice_verbs"] == "all"
    assert shown["evovoice_idle"] == "zeros"
    assert shown["evovoice_zero_customers"] == "omitted"
    assert shown["evovoice_auth"] == "sessions"
    assert shown["evovoice_session_uses"] == 0


def test_exclusive_end_date_leaves_the_end_day_out(admin, sims):
    sims.state.update(evovoice_end_date="exclusive")
    day = date(2026, 6, 2)
    after = day + timedelta(days=1)
    assert ai_usage(admin, sims, startDate=day, endDate=after).json() == expected(day, day)
    empty = ai_usage(admin, sims, startDate=day, endDate=day).json()
    assert empty == expected(day, day - timedelta(days=1))
    assert empty["customerUsage"] == []


@pytest.mark.parametrize(("verbs", "status"), [("post-404", 404), ("post-405", 405)])
def test_post_only_refuses_other_verbs(admin, sims, verbs, status):
    sims.state.update(evovoice_verbs=verbs)
    params = {"startDate": "2026-06-01", "endDate": "2026-06-02"}
    assert ai_usage(admin, sims, **params).status_code == status
    assert ai_usage(admin, sims, "PUT", **params).status_code == status
    posted = ai_usage(admin, sims, "POST", **params)
    assert posted.json() == expected(date(2026, 6, 1), date(2026, 6, 2))


def test_idle_omitted_answers_an_empty_object(admin, sims):
    sims.state.update(evovoice_idle="omitted")
    future = TODAY + timedelta(days=5)
    assert ai_usage(admin, sims, startDate=future, endDate=future).json() == {}
    busy = ai_usage(admin, sims, startDate="2026-06-01", endDate="2026-06-07").json()
    assert busy == expected(date(2026, 6, 1), date(2026, 6, 7), idle="omitted")


def test_zero_customers_listed_with_zero(admin, sims):
    params = {"accountId": "acct-quiet", "startDate": "2026-06-01", "endDate": "2026-06-07"}
    assert "cust-idle" not in {
        c["customerId"] for c in ai_usage(admin, sims, **params).json()["customerUsage"]
    }
    sims.state.update(evovoice_zero_customers="listed")
    body = ai_usage(admin, sims, **params).json()
    assert {"accountId": "acct-quiet", "customerId": "cust-idle", "aiMinutes": 0} in body[
        "customerUsage"
    ]


def test_basic_only_has_no_credentials_provider(http, sims):
    sims.state.update(evovoice_auth="basic-only")
    refused = login(http, sims)
    assert refused.status_code == 404
    assert "ss-id" not in refused.cookies
    assert ai_usage(http, sims, auth=EVOVOICE_SERVICE_USER).status_code == 200


def test_sessions_end_after_their_uses(admin, sims):
    sims.state.update(evovoice_session_uses=2)
    assert [ai_usage(admin, sims).status_code for _ in range(3)] == [200, 200, 401]
    assert login(admin, sims).status_code == 200
    assert ai_usage(admin, sims).status_code == 200
