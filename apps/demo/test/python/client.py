"""A client of the TeaL dispatcher, built on the original's pydantic models.

    client.py parse-server    reads frames, one per line, on stdin; prints for
                              each its ServerMessage as parsed (see describe())
    client.py parse-client    the same with ClientMessage
    client.py drive BASE_URL PASSWORD STATE FINAL_REDIRECT_URL
                              finds the service through its metadata, opens the
                              WebSocket, has a too-early create refused, creates
                              STATE with FINAL_REDIRECT_URL and registers to it,
                              prints REGISTERED, waits for GO on stdin, calls the
                              callback URL over HTTP (no redirect followed), and
                              prints one JSON line of what it saw
"""

import asyncio
import base64
import json
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import websockets
from pydantic import ValidationError, parse_raw_as

from teal_protocol import (
    CallbackCreation,
    CallbackCreationFailure,
    CallbackRegistration,
    CallbackServerMessage,
    ClientMessage,
    ServerMessage,
)


def describe(value):
    """A parsed model as JSON: datetimes to the millisecond, naive or aware (as UTC)."""
    if isinstance(value, datetime):
        aware = value.tzinfo is not None
        if aware:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        text = value.isoformat(timespec="milliseconds")
        return {"datetime": text, "aware": aware}
    if hasattr(value, "__fields__"):
        return {name: describe(getattr(value, name)) for name in value.__fields__}
    if isinstance(value, dict):
        return {key: describe(item) for key, item in value.items()}
    if isinstance(value, str):
        # AnyHttpUrl is a str subclass: its plain text.
        return str(value)
    return value


def parse_lines(model):
    for line in sys.stdin:
        line = line.rstrip("\n")
        try:
            parsed = parse_raw_as(model, line)
        except ValidationError as error:
            print(json.dumps({"error": str(error.errors()[0]["loc"])}), flush=True)
            continue
        except ValueError:
            print(json.dumps({"error": "not JSON"}), flush=True)
            continue
        print(json.dumps(describe(parsed)), flush=True)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http_get(url, follow=True):
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, response.headers, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8")


async def drive(base_url, password, state, final_redirect_url):
    status, _, body = await asyncio.to_thread(http_get, base_url + "/.well-known/teapots-teal-metadata")
    assert status == 200, status
    metadata = json.loads(body)
    credentials = base64.b64encode(f"anonymous:{password}".encode("ascii")).decode("ascii")
    seen = {"metadata": metadata}
    async with websockets.connect(
        metadata["websocket_url"], extra_headers={"Authorization": f"Basic {credentials}"}
    ) as socket:
        too_early = ClientMessage(
            create=CallbackCreation(
                type="callback", state=state, expires_at=datetime.utcnow() + timedelta(seconds=2)
            )
        )
        await socket.send(too_early.json())
        failure = parse_raw_as(ServerMessage, await asyncio.wait_for(socket.recv(), 30))
        assert isinstance(failure, CallbackCreationFailure), failure
        seen["failure"] = describe(failure)

        message = ClientMessage(
            create=CallbackCreation(
                type="callback",
                state=state,
                final_redirect_url=final_redirect_url,
                expires_at=datetime.utcnow() + timedelta(minutes=5),
            ),
            register_to=CallbackRegistration(type="callback", state=state),
        )
        await socket.send(message.json())
        print("REGISTERED", flush=True)
        go = await asyncio.to_thread(sys.stdin.readline)
        assert go.strip() == "GO", go

        callback = f"{metadata['callback_url']}?state={state}&code=the-code"
        status, headers, _ = await asyncio.to_thread(http_get, callback, False)
        seen["callback"] = {"status": status, "location": headers.get("Location")}

        frame = parse_raw_as(ServerMessage, await asyncio.wait_for(socket.recv(), 30))
        assert isinstance(frame, CallbackServerMessage), frame
        seen["frame"] = describe(frame)
        # What the original's clients do with a timestamp: raises on an aware datetime.
        seen["age_seconds"] = (datetime.utcnow() - frame.timestamp).total_seconds()
    print(json.dumps(seen), flush=True)


def main(argv):
    if argv == ["parse-server"]:
        parse_lines(ServerMessage)
    elif argv == ["parse-client"]:
        parse_lines(ClientMessage)
    elif len(argv) == 5 and argv[0] == "drive":
        asyncio.run(drive(*argv[1:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
