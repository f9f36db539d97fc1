"""Generated images over HTTP, only to those who may see them: ``GET /files/images/{call}/{n}``.

Why not Streamlit's ``/media`` URLs: those answer anyone who has the URL, signed in or not, and
outlive the session by minutes. This route reads the session cookie on every request and serves
the bytes to the image's owner, an admin of the workspace it was made in, or an operator; anyone
else gets the same 404 as for an image that does not exist. ``?download=1`` asks the browser to
save it, under a name that carries no internal id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from workbench import bootstrap
from workbench.bootstrap import Services
from workbench.images.store import StoredImage
from workbench.web.identity import request_user

IMAGE_ROUTE = "/files/images/{hold_id:int}/{index:int}"


def image_path(hold_id: int, index: int) -> str:
    return f"/files/images/{hold_id}/{index}"


def download_name(image: StoredImage, suffix: str) -> str:
    """``workbench-image-2026-11-30-1.png``: the day it was made and its place in the call."""
    made = datetime.fromtimestamp(image.path.stat().st_mtime, UTC)
    return f"workbench-image-{made:%Y-%m-%d}-{image.index + 1}{suffix}"


def may_open(svc: Services, user_id: int, image: StoredImage) -> bool:
    """The owner, an admin of the workspace the image was made in, or an operator."""
    if image.user_id == user_id:
        return True
    if svc.ledger.actor(user_id).is_operator:
        return True
    membership = svc.ledger.membership(image.workspace_id, user_id)
    return membership is not None and membership.role == "admin"


def _serve(svc: Services, request: Request, hold_id: int, index: int) -> Response:
    signed_in = request_user(svc, request)
    stored = svc.gateway.images.load(hold_id) if signed_in is not None else []
    image = next((i for i in stored if i.index == index), None)
    if signed_in is None or image is None or not may_open(svc, signed_in.user.id, image):
        # One answer for "not signed in", "not yours" and "no such image": ids are not probed.
        return PlainTextResponse("No such image.", status_code=404)
    media_type = image.media_type
    headers = {
        # Private: never kept by a shared cache; short, so a revoked session stops seeing it soon.
        "Cache-Control": "private, max-age=300",
        "X-Content-Type-Options": "nosniff",
    }
    if request.query_params.get("download"):
        name = download_name(image, image.path.suffix)
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(image.read(), media_type=media_type, headers=headers)


async def serve_image(request: Request) -> Response:
    hold_id = int(request.path_params["hold_id"])
    index = int(request.path_params["index"])
    return await run_in_threadpool(_serve, bootstrap.services(), request, hold_id, index)


def routes() -> list[BaseRoute]:
    return [Route(IMAGE_ROUTE, serve_image, methods=["GET"])]
