"""A Python TeaL AMQ peer for the interop test, written as teal.amq does it.

aio-pika declares the exchanges with its defaults (direct, not durable, not
auto-delete) and the messages are pydantic 1.x models mirroring teal.amq's.

    peer.py send URL PREFIX      reads [{"exchange", "fields"}] as JSON on stdin,
                                 builds each model and publishes model.json()
    peer.py receive URL PREFIX EXCHANGE KEY COUNT
                                 prints READY once bound, then for each message
                                 its parsed model as one JSON line (datetimes in
                                 UTC, ms, Z) and a line META {"headers", "body"}:
                                 its string headers and its body as received
"""

import asyncio
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import aio_pika

# teal.amq's message models, shared by every Python peer of the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "messages" / "test" / "python"))
from teal_amq_models import (  # noqa: E402
    CallbackMessage,
    OpenIDCIBACallbackMessage,
    PowensWebhookMessage,
)


MODELS = {
    "callbacks": (CallbackMessage, "state"),
    "openid_ciba_callbacks": (OpenIDCIBACallbackMessage, "request_id"),
    "powens_domain_webhooks": (PowensWebhookMessage, "domain"),
}


async def declare_exchanges(channel, prefix):
    return {
        name: await channel.declare_exchange(prefix + name, aio_pika.ExchangeType.DIRECT)
        for name in MODELS
    }


def utc_text(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        text = value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: utc_text(item) for key, item in value.items()}
    return value


def text_headers(headers):
    """The string headers of a message (pamqp may hand long strings over as bytes)."""
    texts = {}
    for name, value in (headers or {}).items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(value, str):
            texts[name] = value
    return texts


async def send(url, prefix):
    specs = json.loads(sys.stdin.read())
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        exchanges = await declare_exchanges(channel, prefix)
        for spec in specs:
            model, key_field = MODELS[spec["exchange"]]
            message = model(**spec["fields"])
            await exchanges[spec["exchange"]].publish(
                aio_pika.Message(body=message.json().encode("utf-8")),
                routing_key=getattr(message, key_field),
            )
    print("SENT", flush=True)


async def receive(url, prefix, exchange_name, key, count):
    model, _ = MODELS[exchange_name]
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        exchanges = await declare_exchanges(channel, prefix)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchanges[exchange_name], routing_key=key)
        print("READY", flush=True)
        received = 0
        async with queue.iterator() as messages:
            async for incoming in messages:
                async with incoming.process():
                    parsed = model.parse_raw(incoming.body)
                    print(json.dumps(utc_text(parsed.dict()), sort_keys=True), flush=True)
                    meta = {"headers": text_headers(incoming.headers), "body": incoming.body.decode("utf-8")}
                    print("META", json.dumps(meta, sort_keys=True), flush=True)
                received += 1
                if received >= count:
                    break


def main(argv):
    if len(argv) >= 3 and argv[0] == "send":
        asyncio.run(send(argv[1], argv[2]))
    elif len(argv) >= 6 and argv[0] == "receive":
        asyncio.run(receive(argv[1], argv[2], argv[3], argv[4], int(argv[5])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
