"""Unit contacts that decide who hears of escalations, and the audit trail of every write."""

from __future__ import annotations

from tests.conftest import HOUSING, SHILING, Walker, error_of


def test_unit_contacts_are_validated_and_settable(walker: Walker) -> None:
    """E-mails with line breaks or several addresses are refused (no header injection); a
    robot webhook and its format can be set; the answer says only whether one is set."""
    url = f"/api/v1/units/{walker.world.units[HOUSING]}"
    h = walker.world.headers["housing"]
    for bad in ("a@b.cn\r\nBcc: x@y.cn", "a@b.cn, c@d.cn", "王科长 <a@b.cn>", "no-at-sign"):
        r = walker.client.patch(url, json={"contact_email": bad}, headers=h)
        assert r.status_code == 422, bad
        err = error_of(r)
        assert "联系人邮箱" in err["message"] and "contact_email" in err["message_en"]
    r = walker.client.patch(
        url,
        json={
            "contact_email": "zhujian@yanjiang.example",
            "webhook_url": "https://robot.example/send?key=SECRET",
            "webhook_format": "wecom",
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    unit = r.json()
    assert unit["contact_email"] == "zhujian@yanjiang.example"
    assert unit["has_webhook"] is True and unit["webhook_format"] == "wecom"
    assert "SECRET" not in r.text
    r = walker.client.patch(url, json={"webhook_format": "telegram"}, headers=h)
    assert r.status_code == 422 and "企业微信" in error_of(r)["message"]
    assert "wecom" in error_of(r)["message_en"]


def test_writes_that_are_not_moves_leave_an_audit_line(walker: Walker) -> None:
    """A unit's contact change and a campaign's rule change are in /audit with who, before
    and after; staff read only their unit's lines."""
    walker.client.patch(
        f"/api/v1/units/{walker.world.units[HOUSING]}",
        json={"head_email": "head@zhujian.example"},
        headers=walker.world.headers["housing"],
    )
    walker.client.patch(
        f"/api/v1/units/{walker.world.units[SHILING]}",
        json={"contact_name": "李四"},
        headers=walker.world.headers["shiling"],
    )
    r = walker.client.patch(
        f"/api/v1/campaigns/{walker.world.campaign_id}",
        json={"rules": {"invitees_min": 12}},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 200, r.text
    sup = walker.client.get("/api/v1/audit", headers=walker.world.headers["supervisor"]).json()
    lines = [(i["entity"], i["actor_name"], i["action"]) for i in sup["items"]]
    assert lines[:3] == [
        ("campaign", "supervisor", "update"),
        ("unit", "shiling", "update"),
        ("unit", "housing", "update"),
    ]
    campaign_line = sup["items"][0]
    assert campaign_line["before"]["rules"]["invitees_min"] == 10
    assert campaign_line["after"]["rules"]["invitees_min"] == 12
    assert sup["items"][2]["before"] == {"head_email": None}
    assert sup["items"][2]["after"] == {"head_email": "head@zhujian.example"}
    staff = walker.client.get("/api/v1/audit", headers=walker.world.headers["housing"]).json()
    assert {(i["entity"], i["actor_name"]) for i in staff["items"]} == {("unit", "housing")}


def test_event_edits_are_in_the_audit_trail_too(walker: Walker) -> None:
    """Invitee edits appear in /audit as event lines, scoped to the unit."""
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=5, deputies=10)
    items = walker.client.get(
        "/api/v1/audit?entity=event", headers=walker.world.headers["housing"]
    ).json()["items"]
    assert [i["action"] for i in items] == ["edit.invitees", "create"]
    assert len(items[0]["after"]["added"]) == 15
    assert all("phone" not in p for p in items[0]["after"]["added"])


def test_the_unit_cli_sets_contacts_with_the_api_s_validation(tmp_path) -> None:
    """`openday unit set` writes a valid e-mail (and an audit line), refuses a CR/LF one."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "OPENDAY_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    env["OPENDAY_VAR_DIR"] = str(tmp_path / "var")
    env["COLUMNS"] = "200"  # the table folds long cells on a narrow terminal

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("migrate").returncode == 0
    assert cli("demo").returncode == 0
    ok = cli("unit", "set", "区住建局", "--contact-email", "zhujian@yanjiang.example")
    assert ok.returncode == 0, ok.stderr
    bad = cli("unit", "set", "区住建局", "--contact-email", "a@b.cn\r\nBcc: x@y.cn")
    assert bad.returncode == 2 and "contact_email" in bad.stderr
    listed = cli("unit", "list")
    assert "zhujian@yanjiang.example" in listed.stderr + listed.stdout
    missing = cli("unit", "set", "不存在的局", "--contact-name", "王")
    assert missing.returncode == 2 and "不存在" in missing.stderr


def test_account_changes_are_audited(walker: Walker) -> None:
    """Creating, disabling and re-enabling a staffer leave audit lines naming the security
    administrator; the audit administrator's reading of them is a line of its own."""
    h = walker.world.headers["secadmin"]
    r = walker.client.post(
        "/api/v1/users",
        json={"username": "zhang", "role": "unit_staff", "unit_id": walker.world.units[HOUSING]},
        headers=h,
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    assert walker.client.post(f"/api/v1/users/{uid}/disable", headers=h).status_code == 200
    assert walker.client.post(f"/api/v1/users/{uid}/enable", headers=h).status_code == 200
    auditor = walker.world.headers["auditor"]
    items = walker.client.get("/api/v1/audit?entity=account", headers=auditor).json()["items"]
    assert [(i["action"], i["actor_name"]) for i in items] == [
        ("duty_audit_read", "auditor"),
        ("enable", "secadmin"),
        ("disable", "secadmin"),
        ("create", "secadmin"),
    ]
    assert items[2]["before"] == {"is_active": True} and items[2]["after"] == {"is_active": False}
    assert "password" not in str(items)
