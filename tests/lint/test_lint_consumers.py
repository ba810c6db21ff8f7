"""FW14x: acknowledging a message before processing it; auto-ack consumers."""

from __future__ import annotations

import pytest
from rule_cases import rule_tests

FLAGGED = [
    pytest.param(
        """
        def on_message(ch, method, properties, body):
            ch.basic_ack(delivery_tag=method.delivery_tag)
            order = json.loads(body)
            charge(order)
        """,
        [("FW140", 3)],
        id="pika-callback",
    ),
    pytest.param(
        """
        async def consume(queue):
            async with queue.iterator() as it:
                async for message in it:
                    await message.ack()
                    await process(message.body)
        """,
        [("FW140", 5)],
        id="aio-pika-iterator",
    ),
    pytest.param(
        """
        from kafka import KafkaConsumer
        consumer = KafkaConsumer("orders", enable_auto_commit=False)
        for record in consumer:
            consumer.commit()
            handle(record)
        """,
        [("FW140", 5)],
        id="kafka-commit-first",
    ),
    pytest.param(
        """
        def handle(body, message):
            if message.headers.get("fast"):
                message.ack()
            process(body)
        def stream(messages):
            for body, message in messages:
                message.ack()
                yield body
        """,
        [("FW140", 4), ("FW140", 8)],
        id="ack-falls-through-a-branch-and-yield",
    ),
    pytest.param(
        """
        channel.basic_consume(queue="orders", on_message_callback=cb, auto_ack=True)
        consumer = Consumer(conn, queues=[q], no_ack=True)
        c = confluent_kafka.Consumer({"group.id": "g", "enable.auto.commit": True})
        """,
        [("FW141", 2), ("FW141", 3), ("FW141", 4)],
        id="auto-ack-consumers",
    ),
]

QUIET = [
    pytest.param(
        """
        def on_message(ch, method, properties, body):
            charge(json.loads(body))
            ch.basic_ack(delivery_tag=method.delivery_tag)
            log.info("done")
        """,
        id="ack-after-work",
    ),
    pytest.param(
        """
        def on_message(ch, method, properties, body):
            if not valid(body):
                ch.basic_ack(delivery_tag=method.delivery_tag)
                return
            try:
                charge(body)
            except Exception:
                ch.basic_nack(delivery_tag=method.delivery_tag)
                raise
            ch.basic_ack(delivery_tag=method.delivery_tag)
        """,
        id="drop-invalid-then-return",
    ),
    pytest.param(
        """
        async def consume(queue):
            async for message in queue:
                async with message.process():
                    await handle(message.body)
        class Channel:
            def basic_ack(self, delivery_tag):
                self._impl.basic_ack(delivery_tag)
                self._flush_output()
            def ack_later(self, tag):
                super().basic_ack(tag)
                self.bookkeeping(tag)
        """,
        id="process-context-and-client-plumbing",
    ),
    pytest.param(
        """
        channel.basic_consume(queue="orders", on_message_callback=cb, auto_ack=False)
        for m in messages:
            handle(m)
            m.ack()
        """,
        id="manual-ack-and-ack-at-loop-end",
    ),
    pytest.param(
        """
        class Request:
            def on_failure(self, exc_info):
                self.message.ack()
                self.backend.mark_as_failure(self.id, exc_info)
            def on_retry(self, exc_info):
                self.message.ack()
                self.publish_retry(exc_info)
        """,
        id="completion-hooks-run-after-processing",
    ),
]


test_flagged, test_near_miss = rule_tests(("FW14",), FLAGGED, QUIET)
