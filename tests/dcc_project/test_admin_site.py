"""The admin site carries the product's Chinese name, not Django's default header."""

import pytest


@pytest.mark.django_db
def test_login_page_shows_the_product_header(client):
    body = client.get("/admin/login/").content.decode()
    assert "DCC AI外呼" in body
    assert "Django 管理" not in body and "Django administration" not in body
