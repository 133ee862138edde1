"""Admin half of the tenant-isolation matrix: a supervisor of organization A in the admin, aimed at B's objects.

Every route of the admin site is enumerated from the URL resolver and classified (``test_every_admin_route_is_
classified`` fails for a new route that is not). For every registered model with a path to an organization
(found by walking foreign keys, so a new model cannot slip through), B's object gets the change, delete and
history pages, a POST to change and delete it, every changelist action on it, the old-style object URL and
"view on site" — each must be refused (302 back to the index, 403 or 404) and B's objects stay unchanged. Every
page A can open (changelists with and without search, add forms with their foreign-key choices, the dashboard,
the monitor page, the task-create form and its live count, the lead import, autocomplete) must not contain any
of B's names, phone numbers (full or masked), task names, remarks, recording bytes or API token.

A is a staff user with every permission of the project's apps (the strongest non-superuser).
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse

from followups.models import Organization, User
from tests.security.conftest import Tenant
from tests.security.routes import admin_routes
from tests.security.test_tenant_isolation import body_texts, client_for, snapshot

pytestmark = pytest.mark.django_db

MODEL_VIEWS = ("changelist", "add", "change", "delete", "history")
OBJECT_VIEWS = ("change", "delete", "history")
REFUSED = frozenset({302, 403, 404})

# Admin routes that are not per-model pages, and how they are probed.
SITE_VIEWS = {
    "admin:index": "page",
    "admin:app_list": "app_list",
    "admin:login": "page",
    "admin:logout": "exempt",  # POST-only; ends the session
    "admin:password_change": "page",
    "admin:password_change_done": "page",
    "admin:jsi18n": "page",
    "admin:autocomplete": "autocomplete",
    "admin:view_on_site": "view_on_site",
    "admin:auth_user_password_change": "user_password",
    "admin:dcc_dashboard": "page",
    "admin:dcc_monitor": "page",
    "admin:followups_lead_import": "page",
}


def org_path(model, depth: int = 3, _seen=()) -> str | None:
    """The lookup from ``model`` to ``followups.Organization`` through forward foreign keys, if there is one."""
    if model is Organization:
        return "pk"
    if depth == 0:
        return None
    for field in model._meta.get_fields():
        if (
            not isinstance(field, (models.ForeignKey, models.OneToOneField))
            or field.auto_created
            and not field.concrete
        ):
            continue
        related = field.related_model
        if related is Organization:
            return field.name
        if related in _seen or related is model:
            continue
        rest = org_path(related, depth - 1, (*_seen, model))
        if rest and rest != "pk":
            return f"{field.name}__{rest}"
    return None


def registered_models() -> dict:
    return {model: model_admin for model, model_admin in admin.site._registry.items()}


def tenant_models() -> dict:
    """Registered models that belong to an organization, with their lookup path."""
    found = {}
    for model in registered_models():
        path = org_path(model)
        if path:
            found[model] = path
    return found


def b_object(model, path: str, tenant: Tenant):
    value = tenant.organization.pk if path == "pk" else tenant.organization
    return model._default_manager.filter(**{path: value}).order_by("pk").first()


def admin_object_id(obj):
    """The id the admin's URLs use: DRF's token admin addresses a token by its user's id."""
    return obj.user_id if obj._meta.label_lower == "authtoken.tokenproxy" else obj.pk


def url_name(model, view: str) -> str:
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"


@pytest.fixture
def b_secrets(tenant_b: Tenant) -> Tenant:
    """B's API token is one more thing that must never be shown to A."""
    tenant_b.secrets.append(tenant_b.token.key)
    return tenant_b


def full_snapshot(tenant: Tenant) -> dict:
    state = snapshot(tenant)
    state["users"] = list(User.objects.filter(organization=tenant.organization).values_list("pk", "password"))
    state["tokens"] = sorted(
        tenant.token.__class__.objects.filter(user__organization=tenant.organization).values_list("key", flat=True)
    )
    state["organization"] = list(Organization.objects.filter(pk=tenant.organization.pk).values_list("name", "code"))
    return state


def test_every_admin_route_is_classified():
    """A new admin page must be added here (SITE_VIEWS) or be a standard page of a registered model."""
    known = set(SITE_VIEWS)
    for model in registered_models():
        known |= {url_name(model, view) for view in MODEL_VIEWS}
    unclassified = []
    for route in admin_routes():
        if route.name in known or route.name.startswith("admin:<"):  # unnamed: old-style object URLs, catch-all
            continue
        unclassified.append(f"{route.name} ({route.pattern})")
    assert not unclassified, f"admin routes without tenant-isolation probes: {unclassified}"


def test_every_tenant_model_has_an_object_of_b(tenant_b: Tenant):
    """The fixture holds an object of B for every organization-owned model the admin shows (else: extend it)."""
    missing = [model._meta.label for model, path in tenant_models().items() if b_object(model, path, tenant_b) is None]
    assert not missing, missing
    labels = {model._meta.label_lower for model in tenant_models()}
    assert {"calltasks.calltask", "calltasks.leadtask", "followups.lead", "followups.followup"} <= labels


def test_admin_object_pages_of_b_are_refused(tenant_a: Tenant, b_secrets: Tenant):
    tenant_b = b_secrets
    client = client_for(tenant_a, session=True)
    before = full_snapshot(tenant_b)
    failures, probes = [], 0

    def check(label: str, response, expect=REFUSED):
        nonlocal probes
        probes += 1
        text = body_texts(response)
        if response.status_code not in expect:
            failures.append(f"{label} → {response.status_code}")
        if response.status_code == 302 and str(tenant_b_obj_pk) in response.get("Location", "").split("?")[0]:
            failures.append(f"{label} redirected to B's object: {response['Location']}")
        if tenant_b.leaked_in(text):
            failures.append(f"{label} leaked {tenant_b.leaked_in(text)}")
        if full_snapshot(tenant_b) != before:
            failures.append(f"{label} changed B's objects")

    for model, path in sorted(tenant_models().items(), key=lambda item: item[0]._meta.label):
        obj = b_object(model, path, tenant_b)
        tenant_b_obj_pk = admin_object_id(obj)
        label = model._meta.label_lower
        for view in OBJECT_VIEWS:
            url = reverse(url_name(model, view), args=[tenant_b_obj_pk])
            check(f"GET {label} {view}", client.get(url))
        # The old-style object URL only redirects (no data) to the change page, which must refuse.
        old_style = client.get(f"/admin/{model._meta.app_label}/{model._meta.model_name}/{tenant_b_obj_pk}/")
        assert old_style.status_code in (301, 302) and not tenant_b.leaked_in(body_texts(old_style))
        check(f"GET {label} old-style URL, redirect followed", client.get(old_style["Location"]))
        change_url = reverse(url_name(model, "change"), args=[tenant_b_obj_pk])
        check(f"POST {label} change", client.post(change_url, {"task_name": "改名", "leads_user_name": "改名"}))
        delete_url = reverse(url_name(model, "delete"), args=[tenant_b_obj_pk])
        check(f"POST {label} delete", client.post(delete_url, {"post": "yes"}))
        ct = ContentType.objects.get_for_model(model)
        check(f"GET {label} view on site", client.get(reverse("admin:view_on_site", args=[ct.pk, obj.pk])))
        # Every changelist action (including the confirmation step) applied to B's object changes nothing.
        changelist = reverse(url_name(model, "changelist"))
        request = client.get(changelist).wsgi_request
        actions = admin.site._registry[model].get_actions(request) if hasattr(request, "user") else {}
        for action in actions:
            for extra in ({}, {"post": "yes", "confirm": "yes"}):
                response = client.post(
                    changelist, {"action": action, "_selected_action": [tenant_b_obj_pk], "index": 0, **extra}
                )
                check(f"POST {label} action {action} {extra}", response, REFUSED | {200})
    user_pw = reverse("admin:auth_user_password_change", args=[tenant_b.user.pk])
    tenant_b_obj_pk = tenant_b.user.pk
    check("GET B's password page", client.get(user_pw))
    check("POST B's password", client.post(user_pw, {"password1": "Hijack-2026!x", "password2": "Hijack-2026!x"}))
    assert not failures, "\n".join(failures)
    assert probes >= 8 * len(tenant_models())


def test_admin_pages_a_can_open_show_nothing_of_b(tenant_a: Tenant, b_secrets: Tenant):
    tenant_b = b_secrets
    client = client_for(tenant_a, session=True)
    pages = []
    for model in registered_models():
        changelist = reverse(url_name(model, "changelist"))
        pages.append(changelist)
        pages += [f"{changelist}?q={term}" for term in ("乙", tenant_b.leads[0].leads_user_phone[-4:], "SEC-B")]
        pages.append(f"{changelist}?_popup=1&_to_field=id")
        pages.append(reverse(url_name(model, "add")))
    pages += [reverse(name) for name, kind in SITE_VIEWS.items() if kind == "page"]
    pages += [reverse("admin:app_list", args=[app]) for app in {m._meta.app_label for m in registered_models()}]
    for model, model_admin in registered_models().items():
        for field in getattr(model_admin, "autocomplete_fields", ()):
            pages.append(
                f"{reverse('admin:autocomplete')}?app_label={model._meta.app_label}"
                f"&model_name={model._meta.model_name}&field_name={field}&term="
            )
    lead_ids = ",".join(lead.leads_id for lead in tenant_b.leads)
    add_task = reverse("admin:calltasks_calltask_add")
    pages.append(f"{add_task}?_count=1&leads_ids={lead_ids}")
    failures = []
    for page in pages:
        response = client.get(page)
        text = body_texts(response)
        if response.status_code >= 500:
            failures.append(f"GET {page} → {response.status_code}")
        if tenant_b.leaked_in(text):
            failures.append(f"GET {page} leaked {tenant_b.leaked_in(text)}")
    assert not failures, "\n".join(failures)
    count = client.get(f"{add_task}?_count=1&leads_ids={lead_ids}")
    assert count.status_code in (200, 400) and count.json().get("count", 0) == 0, count.content[:300]


def test_admin_changelists_show_a_its_own_objects(tenant_a: Tenant, tenant_b: Tenant):
    """Positive control: the scoped changelists are not simply empty."""
    client = client_for(tenant_a, session=True)
    expected = {
        "calltasks.calltask": tenant_a.done_task.task_name,
        "calltasks.leadtask": tenant_a.recording_row.leads_name,
        "followups.lead": tenant_a.leads[0].leads_user_name,
        "followups.followup": tenant_a.leads[0].leads_user_name,
        "followups.user": tenant_a.user.username,
    }
    for model in registered_models():
        if model._meta.label_lower in expected:
            text = body_texts(client.get(reverse(url_name(model, "changelist"))))
            assert expected[model._meta.label_lower] in text, model._meta.label
    row = client.get(reverse("admin:calltasks_leadtask_change", args=[tenant_a.recording_row.pk]))
    assert row.status_code == 200 and f"/recordings/{tenant_a.recording_row.pk}/" in body_texts(row)
