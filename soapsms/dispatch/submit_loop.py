"""The sender thread: hands claimed messages to their route's connectors and
turns each answer into the policy's decision (soapsms.dispatch.policy).

A connector blocks while its window is full, so claiming goes on meanwhile;
its answers arrive in its own thread and are queued for the recorder."""

from __future__ import annotations

import functools
import queue
import time
from concurrent.futures import Future

from soapsms import metrics
from soapsms.errors import ConnectorDown

from . import policy
from .connector_pool import ConnectorPool
from .connectors.base import Connector, Submission, SubmitResult
from .pipeline import IDLE, Attempt, Pipeline


class SubmitLoop:
    """Submits until the claim loop is done and nothing is left to send."""

    def __init__(self, pipeline: Pipeline, pool: ConnectorPool) -> None:
        self.pipeline = pipeline
        self.pool = pool

    def run(self) -> None:
        while True:
            try:
                attempt = self.pipeline.to_send.get(timeout=IDLE)
            except queue.Empty:
                if self.pipeline.done.is_set():
                    return
                continue
            self.submit(attempt)

    def submit(self, attempt: Attempt) -> None:
        """Hand the message to the next connector of its route that is up."""
        job = attempt.job
        route = self.pool.route(job)
        if not route:
            self._act(
                attempt, policy.decide(job, attempt.tried, policy.Unserved.NO_ROUTE)
            )
            return
        submission = Submission(
            message_id=job.message_id,
            recipient=job.recipient,
            sender=job.sender,
            encoding=job.encoding,
            segments=job.segments,
            expires_at=job.expires_at,
            done=job.done,
        )
        while attempt.index < len(route):
            connector = route[attempt.index]
            attempt.index += 1
            try:
                if not connector.is_up() or self.pool.paused(connector.name):
                    raise ConnectorDown(connector.name)
                future = connector.submit(submission)
            except ConnectorDown:
                self.pool.note(connector, up=False)
                decision = policy.decide(
                    job,
                    attempt.tried,
                    policy.Unserved.DOWN,
                    connector=connector.name,
                    left=len(route) - attempt.index,
                )
                if isinstance(decision, policy.SubmitNext):
                    attempt.tried = decision.tried
                    continue
                self._act(attempt, decision)
                return
            self.pool.handed(connector.name, future)
            self.pool.note(connector, up=True)
            attempt.handed_at = time.monotonic()
            future.add_done_callback(
                functools.partial(self._answered, attempt, connector)
            )
            return
        self._act(attempt, policy.exhausted(job, attempt.tried))

    def _answered(
        self, attempt: Attempt, connector: Connector, future: Future[SubmitResult]
    ) -> None:
        """A connector's answer (called in the connector's thread): quick."""
        try:
            answer: SubmitResult | BaseException = future.result()
        except Exception as exc:  # lost connection mid-window and the like
            answer = exc
        result = policy.as_result(answer)
        latency = time.monotonic() - attempt.handed_at  # before it is handed on
        decision = policy.decide(
            attempt.job,
            attempt.tried,
            result,
            connector=connector.name,
            left=len(self.pool.route(attempt.job)) - attempt.index,
        )
        parts = policy.new_parts(attempt.job, result)
        if parts:
            self.pipeline.accepted_parts(connector.name, parts)
        self._act(attempt, decision)
        # Counted once the answer is handed on: a failing metrics file must
        # not leave the message in flight.
        counters = metrics.get()
        counters.submit_latency.labels(connector.name).observe(latency)
        counters.submits.labels(
            connector.name,
            "accepted"
            if result.accepted
            else ("retry" if result.retry else "rejected"),
        ).inc()

    def _act(self, attempt: Attempt, decision: policy.Decision) -> None:
        if isinstance(decision, policy.SubmitNext):
            attempt.tried = decision.tried
            self.pipeline.to_send.put(attempt)
        else:
            self.pipeline.outcomes.put(decision.outcome)
