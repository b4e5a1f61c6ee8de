"""Pages of data requests: the public list, asking when signed in, answering as the publisher."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import PASSWORD, csrf_of, login, make_user
from factories_opendata import make_publisher


def test_ask_and_answer_through_the_pages(client: TestClient, db: Session) -> None:
    pub = make_publisher(db, name="省生态环境厅")
    anon_page = client.get("/opendata/requests")
    assert anon_page.status_code == 200 and "后可提交数据需求" in anon_page.text
    citizen = make_user(db)
    login(client, citizen.username, PASSWORD)
    page = client.get("/opendata/requests")
    empty = client.post("/opendata/requests", data={"title": " ", "csrf_token": csrf_of(page.text)})
    assert empty.status_code == 400 and "不能为空" in empty.text
    made = client.post(
        "/opendata/requests",
        data={
            "title": "空气质量<script>小时数据",
            "purpose": "科研",
            "organization": pub.org,
            "csrf_token": csrf_of(page.text),
        },
    )
    assert made.status_code == 303
    shown = client.get(made.headers["location"])
    assert "空气质量&lt;script&gt;小时数据" in shown.text and "省生态环境厅" in shown.text
    assert "答复需求" not in shown.text
    forged = client.post(made.headers["location"] + "/answer", data={"status": "planned", "answer": "x"})
    assert forged.status_code in (400, 403)
    client.post("/logout", data={"csrf_token": csrf_of(shown.text)})
    client.cookies.clear()
    login(client, pub.actor.username, PASSWORD)
    as_admin = client.get(made.headers["location"])
    assert "答复需求" in as_admin.text
    answered = client.post(
        made.headers["location"] + "/answer",
        data={"status": "planned", "answer": "将于下季度开放", "csrf_token": csrf_of(as_admin.text)},
    )
    assert answered.status_code == 303
    listed = client.get("/opendata/requests", params={"status": "planned"})
    assert "将于下季度开放" in listed.text and "已列入开放计划" in listed.text
