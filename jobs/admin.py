"""The Django admin for jobs and runs.

Every write goes through jobs.services, as the API's do: the form checks a change with
`check_new` / `check_update` (so a refusal is shown on the form, naming the field), and
saving, enabling, disabling and deleting call the same service functions as the API.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from jobs import services
from jobs.models import Job, JobState, Run

admin.site.site_header = "Traitor administration"
admin.site.site_title = "Traitor administration"

# The API names the services use in their messages, back to the form's fields.
_FORM_FIELD = {api: model for model, api in services.API_NAMES.items()}


class JobForm(forms.ModelForm):
    class Meta:
        model = Job
        fields = services.EDITABLE_FIELDS
        widgets = {
            "script": forms.Textarea(attrs={"rows": 20, "cols": 100, "spellcheck": "false"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            if self.instance._state.adding:
                services.check_new(_fields(cleaned))
            else:
                services.check_update(self.instance.pk, _changes(self, cleaned))
        except services.JobError as exc:
            field = _FORM_FIELD.get(exc.field or "", exc.field)
            self.add_error(field if field in self.fields else None, exc.message)
        return cleaned


def _fields(cleaned: dict[str, Any]) -> dict[str, Any]:
    return {name: cleaned[name] for name in services.EDITABLE_FIELDS if name in cleaned}


def _changes(form: forms.ModelForm, cleaned: dict[str, Any]) -> dict[str, Any]:
    return {name: cleaned[name] for name in form.changed_data if name in services.EDITABLE_FIELDS}


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    form = JobForm
    list_display = ("name", "kind", "when", "timezone", "status", "next_fire_at",
                    "last_exec_time", "updated_at")  # fmt: skip
    list_filter = ("state", "exec_type", "cluster")
    search_fields = ("name", "description")
    readonly_fields = ("id", "cluster", "state", "next_fire_at", "last_exec_time", "version",
                       "created_at", "updated_at")  # fmt: skip
    fieldsets = (
        (None, {"fields": ("name", "description", "exec_type", "cron", "exec_at", "timezone")}),
        ("Script", {"fields": ("script",)}),
        (
            "Behaviour",
            {"fields": ("catch_up", "allow_overlap", *services.LIMIT_FIELDS)},
        ),  # fmt: skip
        (
            "Schedule (read-only: use the actions to enable or disable)",
            {"fields": readonly_fields},
        ),  # fmt: skip
    )
    actions = ("enable_jobs", "disable_jobs")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        # The change list never needs the scripts.
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "jobs_job_changelist":
            return queryset.defer("script")
        return queryset

    @admin.display(description="type", ordering="exec_type")
    def kind(self, job: Job) -> str:
        return job.get_exec_type_display()

    @admin.display(description="cron / execAt")
    def when(self, job: Job) -> str:
        return job.cron if job.is_timing else str(job.exec_at or "")

    @admin.display(description="state", ordering="state")
    def status(self, job: Job) -> str:
        return job.get_state_display()

    def save_model(self, request: HttpRequest, obj: Job, form: forms.ModelForm, change: bool):
        try:
            if change:
                saved = services.update_job(obj.pk, _changes(form, form.cleaned_data))
            else:
                saved = services.create_job(_fields(form.cleaned_data))
        except services.JobError as exc:
            # Checked by the form a moment ago; only a concurrent change gets here.
            messages.error(request, f"Not saved: {exc.message}")
            return
        # The admin goes on to log and redirect with this object.
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Job) -> None:
        try:
            services.delete_job(obj.pk)
        except services.JobNotFound:
            pass  # already gone: what the user wanted

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        for job_id in queryset.values_list("pk", flat=True):
            self.delete_model(request, Job(pk=job_id))

    @admin.action(description="Enable the selected jobs (schedule them)")
    def enable_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable the selected jobs (take them off the schedule)")
    def disable_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Job], enable: bool) -> None:
        done = 0
        for job in queryset.only("pk", "name"):
            try:
                result = services.set_enabled(job.pk, enable)
            except services.JobError as exc:
                messages.error(request, f"{job.name}: {exc.message}")
                continue
            done += int(result.state == (JobState.ENABLED if enable else JobState.STOPPED))
        if done:
            verb = "enabled" if enable else "disabled"
            messages.success(request, f"{done} job{'s' if done != 1 else ''} {verb}.")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Runs are written by the scheduler and the sandbox; the admin only shows them."""

    list_display = ("id", "job", "trigger", "status", "scheduled_for", "started_at",
                    "finished_at", "late_ms", "node")  # fmt: skip
    list_filter = ("status", "trigger")
    list_select_related = ("job",)
    search_fields = ("job__name", "=job__id", "=id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Run | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Run]:
        # Runs are listed by the job's name only: its script stays in the database.
        return super().get_queryset(request).defer("job__script")
