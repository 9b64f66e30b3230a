"""Files the API and the console hand over: the evidence package as a zip download."""

from fastapi import Response

from facesearch.review.export import Package


def zip_download(package: Package, *, status_code: int = 200) -> Response:
    """The package as an attachment, with its SHA-256 in a header so the receiver can check what arrived."""
    return Response(package.data, status_code=status_code, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{package.file_name}"', "X-Content-SHA256": package.sha256})
