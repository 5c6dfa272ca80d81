def test_health(stack):
    r = stack.api("GET", "/health")
    assert r.status_code == 200
    assert r.json()["data"]["database"] == "up"


def test_register_login_profile(stack):
    u = stack.new_user(nickname="Ann")
    r = stack.api("GET", "/users/profile", token=u["token"])
    assert r.status_code == 200, r.text
    assert r.json()["data"]["nickname"] == "Ann"
