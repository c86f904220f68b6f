"""The MQTT listener as a background thread with its own event loop, beside the HTTP server.

The socket is bound in the constructor, so a busy port is an ``EmulatorError`` before anything
starts and ``port`` is the real one at once (0 picks a free port). Two timers run on the loop:
one writes the batched last touches and message counts to the store every second, the other
records each GID's online count every minute (``history_interval_s``). A client id put on the
connect blacklist through the API has its live connection closed at once (``watch_blacklist``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.emulator.mqtt.auth import DeviceAuthenticator
from reconciler.emulator.mqtt.broker import Broker, BrokerOptions, Connection, logger
from reconciler.emulator.mqtt.sessions import QueueLimits
from reconciler.emulator.store import EmulatorStore
from reconciler.errors import EmulatorError


@dataclass(frozen=True)
class MqttOptions:
    flush_interval_s: float = 1.0
    history_interval_s: float = 60.0
    connect_timeout_s: float = 10.0
    queue_limits: QueueLimits = field(default_factory=QueueLimits)


class MqttServer:
    """MQTT 3.1.1 on ``host:port``; ``start()`` serves in the background, ``stop()`` ends it."""

    def __init__(
        self,
        store: EmulatorStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        options: MqttOptions | None = None,
    ) -> None:
        self.store = store
        self.options = options or MqttOptions()
        self.authenticator = DeviceAuthenticator(store)
        try:
            self._socket = socket.create_server((host, port), backlog=256)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise EmulatorError(f"cannot listen for MQTT on {host}:{port}: {reason}") from exc
        self._socket.setblocking(False)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self.broker: Broker | None = None

    @property
    def host(self) -> str:
        return str(self._socket.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> MqttServer:
        if self._thread is not None:
            return self
        # Sessions of an earlier process died with it; its clients are offline now.
        self.store.reset_live_clients()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=f"emulator-mqtt-{self.port}", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._failure is not None:
            self._thread.join()
            self._thread = None
            raise EmulatorError(f"the MQTT listener failed to start: {self._failure}")
        return self

    def stop(self) -> None:
        if self._thread is not None and self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended on an error
                self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join()
        self._thread = None
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> MqttServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the loop thread ----------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as exc:  # reported by start() when it happens before ready
            self._failure = exc
            if ready.is_set():
                logger.exception("the MQTT listener stopped on an error")
        finally:
            ready.set()
            loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        broker = Broker(
            self.store,
            self.authenticator,
            BrokerOptions(
                connect_timeout_s=self.options.connect_timeout_s,
                queue_limits=self.options.queue_limits,
            ),
        )
        self.broker = broker
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Connection(broker), sock=self._socket)

        def blacklisted(instance_id: str, client_id: str) -> None:
            # Told on the HTTP thread that blacklisted it; the broker lives on this loop.
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(broker.blacklisted, instance_id, client_id)

        stop_watching = self.store.watch_blacklist(blacklisted)
        timers = [
            asyncio.create_task(self._every(self.options.flush_interval_s, broker.flush)),
            asyncio.create_task(self._every_boundary(self.options.history_interval_s)),
        ]
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            stop_watching()
            server.close()
            for timer in timers:
                timer.cancel()
            broker.close_all()
            # Let connection_lost run for every aborted connection, so each is recorded.
            deadline = loop.time() + 5.0
            while broker.connections and loop.time() < deadline:
                await asyncio.sleep(0.01)
            broker.flush()

    @staticmethod
    async def _every(interval: float, job: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                job()
            except Exception:
                logger.exception("MQTT bookkeeping failed")

    async def _every_boundary(self, interval: float) -> None:
        """Record the online counts at each multiple of ``interval`` (whole minutes by default)."""
        while True:
            await asyncio.sleep(interval - time.time() % interval)
            at_ms = round(time.time() / interval) * round(interval * 1000)
            try:
                self.store.record_online_counts(at_ms)
            except Exception:
                logger.exception("recording the online history failed")
