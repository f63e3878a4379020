from __future__ import annotations

import msgspec


class PanicOut(msgspec.Struct):
    message: str
    download_url: str
    expires_in: int
