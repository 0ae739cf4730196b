"""`manage.py import_file FILE --kind people|dnc --account NAME …`: the import pipeline from the
command line (admins, scheduled jobs). Exit 0 when the import completed, 2 when the file is refused."""

from __future__ import annotations

import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audience.jobs import JobStatus
from audience.models import Account
from imports import files, mapping, services
from imports.models import ImportJob


class Command(BaseCommand):
    help = "Import a file of people or Do Not Contact entries through the import pipeline."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--kind", choices=["people", "dnc"], required=True)
        parser.add_argument("--account", required=True, help="the account's name")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="Header=field",
            help="map a column (over the suggested mapping; Header= skips it)",
        )
        parser.add_argument(
            "--no-suggest", action="store_true", help="map only the --map columns (no suggestions)"
        )
        parser.add_argument("--skip-rows", type=int, default=0)
        header = parser.add_mutually_exclusive_group()
        header.add_argument(
            "--no-header",
            dest="has_header",
            action="store_false",
            default=None,
            help="the first row is data (default: detected)",
        )
        header.add_argument(
            "--header", dest="has_header", action="store_true", help="the first row is a header"
        )
        parser.add_argument("--encoding", default="")
        parser.add_argument("--delimiter", default="")
        parser.add_argument("--accounts", default="", help="Do Not Contact: account names, comma-separated")
        parser.add_argument("--type", choices=["lead", "customer"], default="lead")
        parser.add_argument("--existing", choices=["keep", "rewrite"], default="keep")
        parser.add_argument("--tag", action="append", default=[])
        parser.add_argument("--no-default-tag", action="store_true")
        parser.add_argument("--dry-run", action="store_true", help="analyze only; change nothing")

    def handle(self, *args, **options):
        account = Account.objects.filter(name=options["account"]).first()
        if account is None:
            raise CommandError(f"There is no account named {options['account']!r}.", returncode=2)
        path = options["file"]
        if options["skip_rows"] < 0:
            raise CommandError(
                f"--skip-rows {options['skip_rows']}: skip 0 rows or more (the rows above the header).",
                returncode=2,
            )
        try:
            with open(path, "rb") as stream:
                job = services.import_job_create(
                    account=account,
                    user=None,
                    kind=options["kind"],
                    name=os.path.basename(path),
                    stream=stream,
                    size=os.path.getsize(path),
                )
            if (
                options["skip_rows"]
                or options["encoding"]
                or options["delimiter"]
                or options["has_header"] is not None
            ):
                services.import_job_configure(
                    job=job,
                    encoding=options["encoding"],
                    delimiter=options["delimiter"],
                    skip_rows=options["skip_rows"],
                    has_header=options["has_header"],
                )
            # As the screen: the suggestions first, --map adds to or overrides them.
            fields = mapping.mapping_from_pairs(
                headers=job.headers,
                pairs=options["map"],
                base=None if options["no_suggest"] else job.mapping,
            )
            services.import_job_map(job=job, fields=fields, analyze=False)
            run_options = {
                "type": options["type"],
                "existing": options["existing"],
                "tags": options["tag"],
                "default_tag": not options["no_default_tag"],
                "accounts": self._accounts(options["accounts"], account),
            }
            services.options_clean(job=job, user=None, options=run_options)
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror}.", returncode=2) from None
        except files.FileRefused as error:
            raise CommandError(error.message, returncode=2) from None
        except ValidationError as error:
            raise CommandError(" ".join(error.messages), returncode=2) from None
        job = services.import_job_analyze(job_id=job.pk)
        if job.status == JobStatus.FAILED:
            raise CommandError(job.message, returncode=2)
        self._analysis(job)
        if options["dry_run"]:
            a = job.analysis
            updated = a["existing_changed"] if options["existing"] == "rewrite" else 0
            self.stdout.write("Dry run: nothing was changed. An import would give:")
            self.stdout.write(
                f"created={a['new']} updated={updated} unchanged={a['existing'] - updated} rejected={a['rejected']}"
            )
            return
        services.import_job_start(job=job, user=None, options=run_options, run=False)
        job = services.import_job_run(job_id=job.pk)
        job = ImportJob.objects.get(pk=job.pk)
        if job.status != JobStatus.DONE:
            raise CommandError(
                job.message or f"The import ended {job.get_status_display().lower()}.", returncode=1
            )
        self.stdout.write(f"Imported {job.rows_read} rows of {job.file_name}.")
        self.stdout.write(services.import_report_line(job))

    def _accounts(self, names: str, account: Account) -> list[int]:
        if not names:
            return [account.pk]
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        found = dict(Account.objects.filter(name__in=wanted).values_list("name", "pk"))
        missing = [n for n in wanted if n not in found]
        if missing:
            raise CommandError(f"There is no account named {', '.join(missing)}.", returncode=2)
        return [found[n] for n in wanted]

    def _analysis(self, job: ImportJob) -> None:
        a = job.analysis
        if job.zip_member:
            self.stdout.write(f"Read {job.zip_member} from {job.file_name}.")
        for ignored in job.ignored_files:
            self.stdout.write(f"Ignored {ignored} (a .zip import uses its first file only).")
        self.stdout.write(
            f"Rows: {a['rows']}  valid: {a['valid']}  rejected: {a['rejected']}  "
            f"new: {a['new']}  existing: {a['existing']} ({a['existing_changed']} would change if rewritten)"
        )
        for reason, count in a["reasons"].items():
            self.stdout.write(f"  rejected, {reason}: {count}")
        if a["rejected"] and job.rejected_path:
            self.stdout.write(f"Rejected rows: {job.rejected_path}")
