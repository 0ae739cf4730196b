"""Import and export jobs. Each is a `audience.jobs.Job` row: the source of truth for progress."""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from audience.jobs import Job


class ImportKind(models.TextChoices):
    PEOPLE = "people", "People"
    DNC = "dnc", "Do Not Contact"


class ImportStage(models.TextChoices):
    # The job's status (queued, running, done…) is the status of the work of its current stage.
    MAP = "map", "Mapping"
    ANALYZE = "analyze", "Analysis"
    IMPORT = "import", "Import"


class ImportJob(Job):
    kind = models.CharField(max_length=16, choices=ImportKind.choices, default=ImportKind.PEOPLE)
    stage = models.CharField(max_length=16, choices=ImportStage.choices, default=ImportStage.MAP)
    # The uploaded file, kept through default_storage so a worker on another machine reads it.
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500)
    file_size = models.PositiveBigIntegerField(default=0)
    file_format = models.CharField(max_length=8)  # csv, xlsx, xls, ods (after unzipping)
    zip_member = models.CharField(max_length=255, blank=True, default="")
    ignored_files = models.JSONField(default=list, blank=True)
    encoding = models.CharField(max_length=32, blank=True, default="")
    delimiter = models.CharField(max_length=4, blank=True, default="")
    skip_rows = models.PositiveIntegerField(default=0)
    # False: the first row is data (a .txt of one number a line); the columns are "Column 1"…
    has_header = models.BooleanField(default=True)
    headers = models.JSONField(default=list, blank=True)
    # The first rows as read at upload (or after a reading change), for the mapping screen: a
    # view of that screen never reads the file again.
    preview = models.JSONField(default=list, blank=True)
    # One field key per column ("" = skipped): "phone", "first_name", "custom.Plan", "contact"…
    mapping = models.JSONField(default=list, blank=True)
    # people: {"type", "existing", "tags": [...], "default_tag": bool}; dnc: {"accounts": [ids]}
    options = models.JSONField(default=dict, blank=True)
    analysis = models.JSONField(default=dict, blank=True)
    rejected_path = models.CharField(max_length=500, blank=True, default="")
    # Final counts of the import; created + updated + unchanged + rejected == rows_read.
    rows_read = models.PositiveBigIntegerField(default=0)
    created = models.PositiveBigIntegerField(default=0)
    updated = models.PositiveBigIntegerField(default=0)
    unchanged = models.PositiveBigIntegerField(default=0)
    rejected = models.PositiveBigIntegerField(default=0)
    # Rows of the file already written by committed chunks: a resumed import starts here.
    resume_row = models.PositiveBigIntegerField(default=0)

    class Meta(Job.Meta):
        indexes = [models.Index(fields=["account", "-id"], name="import_job_account")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import of {self.file_name}"

    def get_absolute_url(self) -> str:
        return reverse("imports:detail", args=[self.pk])

    @property
    def job_title(self) -> str:
        step = "analysis" if self.stage == ImportStage.ANALYZE else "import"
        return f"The {step} of {self.file_name}"

    @property
    def is_analyzed(self) -> bool:
        return self.stage == ImportStage.ANALYZE and self.status == "done"

    @property
    def can_remap(self) -> bool:
        """An analysis that failed (a byte the encoding can't read, a row csv can't): the person
        may go back to the mapping step and read the file differently."""
        return self.stage == ImportStage.ANALYZE and self.status == "failed"

    @property
    def is_imported(self) -> bool:
        return self.stage == ImportStage.IMPORT and self.status == "done"


class ExportKind(models.TextChoices):
    PEOPLE = "people", "People"
    DNC = "dnc", "Do Not Contact"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (.xlsx)"


class ExportJob(Job):
    kind = models.CharField(max_length=16, choices=ExportKind.choices)
    format = models.CharField(max_length=8, choices=ExportFormat.choices, default=ExportFormat.CSV)
    # What to export: a People selection (audience.selection.Selection JSON), a segment id, or the
    # Do Not Contact filter {"ids": [...]} / {"query": "..."}.
    selection = models.JSONField(default=dict, blank=True)
    segment_id = models.PositiveBigIntegerField(null=True, blank=True)
    file_path = models.CharField(max_length=500, blank=True, default="")

    class Meta(Job.Meta):
        indexes = [models.Index(fields=["account", "-id"], name="export_job_account")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} export ({self.format})"

    def get_absolute_url(self) -> str:
        return reverse("imports:export_detail", args=[self.pk])

    @property
    def job_title(self) -> str:
        return f"Your {self.get_kind_display()} export"

    @property
    def download_name(self) -> str:
        return f"{self.kind}-export-{self.created_at:%Y%m%d-%H%M}.{self.format}"
