"""Admin of the followups app: the lead import page and organization scoping of leads, follow-ups, users."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from followups.demo import supervisor_group
from followups.models import Lead, User
from tests.factories import FollowUpFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:followups_lead_import")
LEADS = reverse("admin:followups_lead_changelist")
HEADER = ["leads_id", "leads_user_name", "leads_user_phone", "leads_product", "leads_type", "leads_create_time"]


@pytest.fixture
def supervisor(org):
    user = UserFactory(organization=org, is_staff=True)
    user.groups.add(supervisor_group())
    return user


@pytest.fixture
def client_sv(supervisor):
    client = Client()
    client.force_login(supervisor)
    return client


@pytest.fixture
def client_admin(db):
    client = Client()
    client.force_login(UserFactory(organization=None, is_staff=True, is_superuser=True))
    return client


def xlsx_upload(rows, name="leads.xlsx") -> SimpleUploadedFile:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def csv_upload(rows, name="leads.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8"))


# --- lead import page ------------------------------------------------------------------------------------------


def test_changelist_links_to_the_import_page(client_sv):
    html = client_sv.get(LEADS).content.decode()
    assert 'id="lead-import-link"' in html and IMPORT in html


def test_import_page_form_hooks(client_sv):
    response = client_sv.get(IMPORT)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="lead-import-form"' in html and 'type="file" name="file"' in html and 'name="_import"' in html
    assert 'name="organization"' not in html  # a supervisor imports into their own organization
    assert 'class="breadcrumbs"' in html


def test_supervisor_imports_into_their_organization_and_sees_the_report(client_sv, org, other_org):
    LeadFactory(organization=other_org, leads_id="X1", leads_user_name="别家")
    LeadFactory(organization=org, leads_id="X2", leads_user_name="旧名", leads_user_phone="17000000002")
    upload = xlsx_upload(
        [
            ["X1", "新客户", 17000000001.0, "星越L", "H级", "2026-01-01 10:00:00"],
            ["X2", "新名", "17000000002", "", "", ""],
            ["X3", "坏号码", "12345", "", "", ""],
        ]
    )
    response = client_sv.post(IMPORT, {"file": upload, "_import": "1"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="import-report"' in html
    report = response.context["report"]
    assert (report.total_rows, report.imported, report.updated, report.error_count) == (3, 1, 1, 1)
    assert '<strong id="report-imported">1</strong>' in html
    assert '<td class="row-number">4</td>' in html
    assert Lead.objects.get(organization=org, leads_id="X1").leads_user_phone == "17000000001"
    assert Lead.objects.get(organization=other_org, leads_id="X1").leads_user_name == "别家"
    assert "17000000001" not in html  # no full phone number on the report page


def test_an_organization_field_in_the_post_cannot_redirect_a_supervisors_import(client_sv, org, other_org):
    response = client_sv.post(
        IMPORT, {"file": csv_upload([["Y1", "", "17000000001"]]), "organization": str(other_org.pk), "_import": "1"}
    )
    assert response.status_code == 200
    assert Lead.objects.filter(organization=org, leads_id="Y1").exists()
    assert not Lead.objects.filter(organization=other_org).exists()


def test_file_errors_are_shown_on_the_form(client_sv, settings):
    response = client_sv.post(IMPORT, {"file": SimpleUploadedFile("leads.txt", b"x"), "_import": "1"})
    assert response.status_code == 200 and "file" in response.context["form"].errors
    response = client_sv.post(IMPORT, {"file": SimpleUploadedFile("leads.xlsx", b"not a zip"), "_import": "1"})
    assert "file" in response.context["form"].errors and response.context["report"] is None
    settings.LEAD_IMPORT_MAX_BYTES = 50
    response = client_sv.post(IMPORT, {"file": csv_upload([["Z", "", "17000000001"]] * 5), "_import": "1"})
    assert "MB" in " ".join(response.context["form"].errors["file"])
    assert not Lead.objects.exists()


def test_superuser_without_organization_picks_one(client_admin, org, other_org):
    assert 'name="organization"' in client_admin.get(IMPORT).content.decode()
    response = client_admin.post(IMPORT, {"file": csv_upload([["S1", "", "17000000001"]]), "_import": "1"})
    assert "organization" in response.context["form"].errors
    client_admin.post(
        IMPORT, {"file": csv_upload([["S1", "", "17000000001"]]), "organization": str(other_org.pk), "_import": "1"}
    )
    assert Lead.objects.filter(organization=other_org, leads_id="S1").exists()


def test_import_needs_add_and_change_permission(org):
    user = UserFactory(organization=org, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_lead"))
    client = Client()
    client.force_login(user)
    assert client.get(IMPORT).status_code == 403
    assert 'id="lead-import-link"' not in client.get(LEADS).content.decode()
    assert client.post(IMPORT, {"file": csv_upload([["P1", "", "17000000001"]]), "_import": "1"}).status_code == 403
    assert not Lead.objects.exists()


# --- scoping ---------------------------------------------------------------------------------------------------


def test_supervisor_sees_only_their_organizations_leads_and_follow_ups(client_sv, org, other_org):
    mine = LeadFactory(organization=org, leads_id="MINE-1")
    theirs = LeadFactory(organization=other_org, leads_id="THEIRS-1")
    FollowUpFactory(lead=mine, leads_remark="我的跟进")
    their_follow = FollowUpFactory(lead=theirs, leads_remark="别家跟进")

    html = client_sv.get(LEADS).content.decode()
    assert "MINE-1" in html and "THEIRS-1" not in html
    assert other_org.name not in html  # no organization filter listing other tenants
    assert client_sv.get(reverse("admin:followups_lead_change", args=[theirs.pk])).status_code == 302
    follow_list = client_sv.get(reverse("admin:followups_followup_changelist"))
    assert follow_list.context["cl"].result_count == 1
    assert client_sv.get(reverse("admin:followups_followup_change", args=[their_follow.pk])).status_code == 302


def test_lead_page_shows_the_full_phone_only_with_the_permission(org):
    lead = LeadFactory(organization=org, leads_user_phone="17012345678")
    url = reverse("admin:followups_lead_change", args=[lead.pk])
    allowed = UserFactory(organization=org)
    allowed.groups.add(supervisor_group())
    limited = UserFactory(organization=org)
    limited.user_permissions.add(*Permission.objects.filter(codename__in=["view_lead", "change_lead"]))
    client = Client()
    client.force_login(allowed)
    assert "17012345678" in client.get(url).content.decode()
    client.force_login(limited)
    html = client.get(url).content.decode()
    assert "17012345678" not in html and "170****5678" in html
    # Saving the page without the phone field keeps the stored number.
    response = client.post(url, {"organization": org.pk, "leads_id": lead.leads_id, "leads_user_name": "改名",
                                 "leads_product": "", "leads_type": "", "leads_create_time_0": "2026-01-01",
                                 "leads_create_time_1": "10:00:00"})
    assert response.status_code == 302, response.content.decode()[:2000]
    lead.refresh_from_db()
    assert (lead.leads_user_name, lead.leads_user_phone) == ("改名", "17012345678")


def test_users_and_organizations_are_scoped_for_supervisors(org, other_org):
    boss = UserFactory(organization=org, username="boss")
    boss.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user", "view_organization"])
    )
    UserFactory(organization=org, username="colleague")
    stranger = UserFactory(organization=other_org, username="stranger")
    client = Client()
    client.force_login(boss)
    html = client.get(reverse("admin:followups_user_changelist")).content.decode()
    assert "colleague" in html and "stranger" not in html
    assert client.get(reverse("admin:followups_user_change", args=[stranger.pk])).status_code == 302
    orgs = client.get(reverse("admin:followups_organization_changelist"))
    assert orgs.context["cl"].result_count == 1
    assert client.get(reverse("admin:followups_organization_add")).status_code == 403
    # A supervisor cannot make anyone a superuser through the user page.
    colleague = User.objects.get(username="colleague")
    page = client.get(reverse("admin:followups_user_change", args=[colleague.pk]))
    assert "is_superuser" in page.context["adminform"].readonly_fields


def test_superuser_sees_every_organization(client_admin, org, other_org):
    LeadFactory(organization=org, leads_id="A-1")
    LeadFactory(organization=other_org, leads_id="B-1")
    html = client_admin.get(LEADS).content.decode()
    assert "A-1" in html and "B-1" in html
