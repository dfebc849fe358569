"""The Python original's handler, measured beside the TypeScript adapter.

Written as teal.amq does it: per handler one robust connection and one
channel (aio-pika 8 turns publisher confirms on by default, so `send`
returns once RabbitMQ confirmed), the exchanges declared with aio-pika's
defaults (direct, not durable), an exclusive server-named queue bound per
key, consumed by a callback that parses the pydantic 1.x model and acks.

    peer.py < {"url", "prefix", "warm_up", "sequential", "pipelined", "in_flight"}

(on stdin, so that the URL's password stays out of the process list). A
receiving and a sending handler on the exchange prefix; `warm_up` untimed
round trips (the TypeScript side makes as many), `sequential` awaited
send -> callback round trips, then `pipelined` messages sent by `in_flight`
concurrent awaited sends. Prints one JSON line: the sequential rate with its
p50 and p99 in microseconds, and the pipelined rate.
"""

import asyncio
import json
import math
import sys
import time
from datetime import datetime

import aio_pika
from pydantic import BaseModel, Field


class Message(BaseModel):
    timestamp: datetime = Field(default_factory=datetime.utcnow)


class CallbackMessage(Message):
    url: str
    state: str


CALLBACKS = "callbacks"


class AMQHandler:
    """teal.amq's AMQHandler, for callback messages."""

    def __init__(self, connection, channel, exchange_prefix):
        self.connection = connection
        self.channel = channel
        self.exchange_prefix = exchange_prefix
        self.callback = None
        self._exchanges = {}
        self._queue = None

    @classmethod
    async def connect(cls, url, exchange_prefix):
        connection = await aio_pika.connect_robust(url)
        return cls(connection, await connection.channel(), exchange_prefix)

    async def get_exchange(self, name, *, type_):
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = await self.channel.declare_exchange(self.exchange_prefix + name, type_)
            self._exchanges[name] = exchange
        return exchange

    async def get_queue(self):
        if self._queue is None:
            self._queue = await self.channel.declare_queue(exclusive=True)
            await self._queue.consume(self.process)
        return self._queue

    async def process(self, incoming_message):
        async with incoming_message.process():
            message = CallbackMessage.parse_raw(incoming_message.body)
            if self.callback is not None:
                self.callback(message)

    async def bind_callback_state(self, state):
        exchange = await self.get_exchange(CALLBACKS, type_=aio_pika.ExchangeType.DIRECT)
        queue = await self.get_queue()
        await queue.bind(exchange, routing_key=state)

    async def send(self, message):
        exchange = await self.get_exchange(CALLBACKS, type_=aio_pika.ExchangeType.DIRECT)
        await exchange.publish(
            aio_pika.Message(body=message.json().encode("utf-8")),
            routing_key=message.state,
        )

    async def close(self):
        await self.connection.close()


def callbacks(count, state):
    return [
        CallbackMessage(url=f"https://app.test/callback?state={state}&code=c{i}", state=state)
        for i in range(count)
    ]


def percentile(ordered, p):
    """The p-th percentile of sorted values (nearest rank), as bench/src/stats.ts."""
    rank = math.ceil(p / 100 * len(ordered)) - 1
    return ordered[min(len(ordered) - 1, max(0, rank))]


async def sequential(sender, receiver, count):
    arrived = asyncio.Event()
    receiver.callback = lambda message: arrived.set()
    samples = []
    started = time.perf_counter()
    for message in callbacks(count, "seq"):
        arrived.clear()
        start = time.perf_counter()
        await sender.send(message)
        await arrived.wait()
        samples.append((time.perf_counter() - start) * 1e6)
    elapsed = time.perf_counter() - started
    samples.sort()
    return count / elapsed, percentile(samples, 50), percentile(samples, 99)


async def pipelined(sender, receiver, count, in_flight):
    messages = callbacks(count, "pipe")
    every_one = asyncio.get_running_loop().create_future()
    seen = 0

    def on_message(message):
        nonlocal seen
        seen += 1
        if seen == count:
            every_one.set_result(None)

    receiver.callback = on_message
    following = 0

    async def lane():
        nonlocal following
        while following < count:
            message = messages[following]
            following += 1
            await sender.send(message)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(in_flight, count))))
    await every_one
    return count / (time.perf_counter() - start)


async def run(url, prefix, warm_up, sequential_count, pipelined_count, in_flight):
    receiver = await AMQHandler.connect(url, prefix)
    sender = await AMQHandler.connect(url, prefix)
    try:
        await receiver.bind_callback_state("seq")
        await receiver.bind_callback_state("pipe")
        if warm_up > 0:
            await sequential(sender, receiver, warm_up)
        rate, p50, p99 = await sequential(sender, receiver, sequential_count)
        pipelined_rate = await pipelined(sender, receiver, pipelined_count, in_flight)
    finally:
        await sender.close()
        await receiver.close()
    figures = {
        "sequential msgs/s": rate,
        "p50 µs": p50,
        "p99 µs": p99,
        "pipelined msgs/s": pipelined_rate,
    }
    print(json.dumps(figures), flush=True)


def main():
    if sys.stdin.isatty():
        sys.exit(__doc__)
    spec = json.loads(sys.stdin.read())
    asyncio.run(
        run(
            spec["url"],
            spec["prefix"],
            spec["warm_up"],
            spec["sequential"],
            spec["pipelined"],
            spec["in_flight"],
        )
    )


if __name__ == "__main__":
    main()
