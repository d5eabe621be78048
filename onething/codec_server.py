"""The remote codec endpoint the Temporal Web UI (and ``temporal`` CLI) call to show encrypted
payloads to people allowed to see them.

Protocol (Temporal's remote codec): ``POST /encode`` and ``POST /decode`` with a JSON body
``{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}`` answered in the
same form. The UI sends ``X-Namespace`` and, when configured to, ``Authorization``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from onething.codec import DecryptionError, EncryptionConfigError, codec_from_settings
from onething.logs import get_logger
from onething.settings import Settings

log = get_logger(__name__)

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def _parse(body: bytes) -> Payloads:
    try:
        return json_format.Parse(body, Payloads())
    except json_format.ParseError as exc:
        raise HTTPException(
            status_code=400,
            detail=f"body: expected {{'payloads': [{{'metadata': ..., 'data': ...}}]}}: {exc}",
        ) from None


def build_app(
    *, codec: PayloadCodec, cors_origins: Sequence[str], auth_token: str | None = None
) -> FastAPI:
    """The endpoint around one codec. With ``auth_token`` every encode/decode call needs
    ``Authorization: Bearer <token>``."""
    app = FastAPI(title="onething codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors_origins),
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        # The UI's "include cross-origin credentials" option sends cookies with the call.
        allow_credentials=True,
    )

    def authorize(request: Request) -> None:
        if not auth_token:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), auth_token.encode()
        ):
            raise HTTPException(
                status_code=401,
                detail="Authorization: a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def apply(request: Request, transform: Transform, action: str) -> Response:
        authorize(request)
        payloads = _parse(await request.body())
        try:
            out = await transform(payloads.payloads)
        except DecryptionError as exc:
            raise HTTPException(status_code=400, detail=f"payloads: {exc}") from None
        # Counts and namespace only: payload contents are personal data.
        log.info(
            "codec",
            action=action,
            payloads=len(out),
            namespace=request.headers.get("x-namespace", ""),
        )
        return Response(
            content=json_format.MessageToJson(Payloads(payloads=out)),
            media_type="application/json",
        )

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await apply(request, codec.encode, "encode")

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await apply(request, codec.decode, "decode")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def app_from_settings(settings: Settings) -> FastAPI:
    codec = codec_from_settings(settings)
    if codec is None:
        raise EncryptionConfigError(
            "ONETHING_ENCRYPTION_KEYS is empty: the codec server has no key to decode with"
        )
    token = settings.codec_auth_token.get_secret_value() if settings.codec_auth_token else ""
    return build_app(
        codec=codec, cors_origins=settings.codec_cors_origins, auth_token=token or None
    )


def serve(settings: Settings, *, host: str, port: int) -> None:
    import uvicorn

    app = app_from_settings(settings)
    log.info("codec server", host=host, port=port, origins=settings.codec_cors_origins)
    # uvicorn's access log prints request lines only (no bodies), which is harmless.
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())
