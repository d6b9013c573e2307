from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile

from core.fields import OneOfField
from imports.csvfile import MAX_FILE_BYTES
from imports.models import ImportKind


class ImportForm(forms.Form):
    kind = OneOfField(choices=ImportKind.choices)
    file = forms.FileField(error_messages={"required": "Choose a CSV file."})
    dry_run = forms.BooleanField(required=False, initial=True)
    send_invites = forms.BooleanField(required=False)

    def clean_file(self) -> UploadedFile:
        file: UploadedFile = self.cleaned_data["file"]
        if (file.size or 0) > MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is {file.size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes (5 MB)."
            )
        return file
